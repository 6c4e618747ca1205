"""Every GraphQL document the adapter can send is valid against Shopify's 2026-10 schema."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import graphql
import pytest
from graphql.validation import NoDeprecatedCustomRule, specified_rules

import adapters.shopify
from adapters.shopify import CATALOG_PAGE_SIZE, DOCUMENTS
from adapters.shopify._cost import estimate_cost
from adapters.shopify._documents import (
    INVENTORY_ITEMS_PAGE_SIZE,
    INVENTORY_LEVELS_BY_ID_SIZE,
    LOCATION_LEVELS_PAGE_SIZE,
    MAX_CATALOG_PAGE_SIZE,
    ORDERS_PAGE_SIZE,
    WEBHOOKS_PAGE_SIZE,
)
from adapters.shopify._platform import _TOPIC_ENUMS, topic_from_enum, topic_to_enum
from adapters.shopify.sandbox.bulk import MAX_CONNECTIONS, MAX_DEPTH, _Connections
from adapters.shopify.sandbox.cost import QueryAnalyzer

SCHEMA = Path(adapters.shopify.__file__).parent / "data" / "admin-graphql-2026-10.json.gz"
RULES = (*specified_rules, NoDeprecatedCustomRule)
# the page sizes the adapter sends for documents whose page size is a variable
VARIABLES: dict[str, dict[str, Any]] = {
    "CatalogVariants": {"first": MAX_CATALOG_PAGE_SIZE},
    "OrdersUpdatedSince": {"first": ORDERS_PAGE_SIZE},
    "Locations": {"first": 100},
    "WebhookSubscriptions": {"first": WEBHOOKS_PAGE_SIZE},
    "InventoryItems": {"first": INVENTORY_ITEMS_PAGE_SIZE},
    "LocationInventoryLevels": {"first": LOCATION_LEVELS_PAGE_SIZE},
    "InventoryLevelsById": {
        "ids": ["gid://shopify/InventoryLevel/1?inventory_item_id=2"] * INVENTORY_LEVELS_BY_ID_SIZE
    },
}
SHOPIFY_MAX_QUERY_COST = 1000


@pytest.fixture(scope="module")
def schema() -> graphql.GraphQLSchema:
    with gzip.open(SCHEMA) as raw:
        built = graphql.build_client_schema(json.load(raw)["data"])
    built._validation_errors = []  # Shopify's schema breaks one strict deprecation rule
    return built


def test_the_registry_holds_every_operation_the_port_needs() -> None:
    assert set(DOCUMENTS) >= {
        "ShopInfo",
        "Locations",
        "CatalogVariants",
        "OrdersUpdatedSince",
        "Order",
        "FulfillmentOrders",
        "FulfillmentCreate",
        "InventorySetQuantities",
        "InventoryLevelsById",
        "InventoryItems",
        "LocationInventoryLevels",
        "InventoryBulk",
        "BulkOperationRunQuery",
        "BulkOperation",
        "ActiveBulkOperations",
        "WebhookSubscriptions",
        "WebhookSubscriptionCreate",
        "WebhookSubscriptionDelete",
    }


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_the_document_is_valid_against_shopifys_schema_without_deprecated_fields(
    schema: graphql.GraphQLSchema, name: str
) -> None:
    errors = graphql.validate(schema, graphql.parse(DOCUMENTS[name]), RULES)
    assert [e.message for e in errors] == []


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_the_document_is_one_operation_named_as_registered(name: str) -> None:
    document = graphql.parse(DOCUMENTS[name])
    operations = [d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode)]
    assert [op.name.value if op.name else None for op in operations] == [name]


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_the_document_stays_under_shopifys_single_query_cost_ceiling(name: str) -> None:
    assert estimate_cost(DOCUMENTS[name], VARIABLES.get(name, {})) <= SHOPIFY_MAX_QUERY_COST


def test_the_schema_check_fails_a_field_shopify_does_not_have(
    schema: graphql.GraphQLSchema,
) -> None:
    bogus = DOCUMENTS["ShopInfo"].replace("myshopifyDomain", "myShopifyDomain")
    errors = graphql.validate(schema, graphql.parse(bogus), RULES)
    assert any("myShopifyDomain" in e.message for e in errors)


def test_the_schema_check_fails_a_deprecated_field(schema: graphql.GraphQLSchema) -> None:
    deprecated = DOCUMENTS["Locations"].replace(
        "fulfillsOnlineOrders", "fulfillsOnlineOrders isPrimary"
    )
    errors = graphql.validate(schema, graphql.parse(deprecated), RULES)
    assert any("isPrimary" in e.message for e in errors)


def test_the_inventory_mutation_passes_its_idempotency_key_as_a_variable(
    schema: graphql.GraphQLSchema,
) -> None:
    document = graphql.parse(DOCUMENTS["InventorySetQuantities"])
    directives = [
        d
        for op in document.definitions
        if isinstance(op, graphql.OperationDefinitionNode)
        for field in op.selection_set.selections
        if isinstance(field, graphql.FieldNode)
        for d in field.directives or ()
    ]
    assert [(d.name.value, [a.name.value for a in d.arguments]) for d in directives] == [
        ("idempotent", ["key"])
    ]
    (argument,) = directives[0].arguments
    assert isinstance(argument.value, graphql.VariableNode)


def test_the_required_quantity_fields_include_change_from_quantity(
    schema: graphql.GraphQLSchema,
) -> None:
    quantity_input = schema.get_type("InventoryQuantityInput")
    assert isinstance(quantity_input, graphql.GraphQLInputObjectType)
    assert "changeFromQuantity" in quantity_input.fields


def test_every_webhook_topic_the_adapter_names_is_a_shopify_topic(
    schema: graphql.GraphQLSchema,
) -> None:
    topics = schema.get_type("WebhookSubscriptionTopic")
    assert isinstance(topics, graphql.GraphQLEnumType)
    assert set(_TOPIC_ENUMS.values()) <= set(topics.values)
    for topic in adapters.shopify.REQUIRED_TOPICS:
        assert topic_to_enum(topic) in topics.values
        assert topic_from_enum(topic_to_enum(topic)) == topic


def test_a_default_catalog_page_requests_a_cost_that_divides_shopifys_buckets() -> None:
    page = estimate_cost(DOCUMENTS["CatalogVariants"], {"first": CATALOG_PAGE_SIZE})
    assert page == 500
    assert all(bucket % page == 0 for bucket in (2_000, 4_000, 20_000))


def test_the_cost_estimate_follows_shopifys_rules() -> None:
    # connection: 2 + first * (node 1 + product 1 + inventoryItem 1)
    assert estimate_cost(DOCUMENTS["CatalogVariants"], {"first": 250}) == 2 + 250 * 3
    assert estimate_cost(DOCUMENTS["CatalogVariants"], {"first": 10}) == 2 + 10 * 3
    assert estimate_cost(DOCUMENTS["ShopInfo"]) == 3  # shop, plan, location
    assert estimate_cost(DOCUMENTS["InventorySetQuantities"]) == 10  # a mutation
    # a list asked for by ids or names costs one object per id or name
    ids = {"ids": ["gid://shopify/InventoryLevel/1?inventory_item_id=2"] * 7}
    assert estimate_cost(DOCUMENTS["InventoryLevelsById"], ids) == 7 * (1 + 3)
    # location 1 + connection 2 + each level (1 + item 1 + 3 quantities)
    assert estimate_cost(DOCUMENTS["LocationInventoryLevels"], {"first": 10}) == 3 + 10 * 5


def test_the_inventory_reads_request_what_the_sandbox_charges(
    schema: graphql.GraphQLSchema,
) -> None:
    """The adapter's estimate agrees with the simulated store's cost model (Shopify's rules)."""
    for name in ("InventoryLevelsById", "LocationInventoryLevels", "InventoryItems"):
        document = graphql.parse(DOCUMENTS[name])
        (operation,) = [
            d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode)
        ]
        analysis = QueryAnalyzer(schema, operation, {}, VARIABLES[name]).analyze()
        assert analysis.errors == []
        assert analysis.requested_cost == estimate_cost(DOCUMENTS[name], VARIABLES[name])
        assert analysis.requested_cost <= SHOPIFY_MAX_QUERY_COST


def test_the_inventory_bulk_query_keeps_to_shopifys_bulk_rules(
    schema: graphql.GraphQLSchema,
) -> None:
    document = graphql.parse(DOCUMENTS["InventoryBulk"])
    (operation,) = document.definitions
    assert isinstance(operation, graphql.OperationDefinitionNode)
    assert not operation.variable_definitions
    counter = _Connections(schema, {})
    assert counter.walk(operation.selection_set, schema.query_type, depth=0) == 1
    assert counter.total <= MAX_CONNECTIONS
    assert counter.deepest == MAX_DEPTH
