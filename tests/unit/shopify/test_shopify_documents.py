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
    MAX_CATALOG_PAGE_SIZE,
    ORDERS_PAGE_SIZE,
    WEBHOOKS_PAGE_SIZE,
)
from adapters.shopify._platform import _TOPIC_ENUMS, topic_from_enum, topic_to_enum

SCHEMA = Path(adapters.shopify.__file__).parent / "data" / "admin-graphql-2026-10.json.gz"
RULES = (*specified_rules, NoDeprecatedCustomRule)
# the page sizes the adapter sends for documents whose page size is a variable
VARIABLES: dict[str, dict[str, Any]] = {
    "CatalogVariants": {"first": MAX_CATALOG_PAGE_SIZE},
    "OrdersUpdatedSince": {"first": ORDERS_PAGE_SIZE},
    "Locations": {"first": 100},
    "WebhookSubscriptions": {"first": WEBHOOKS_PAGE_SIZE},
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
