"""The Admin GraphQL API: auth, the real schema, the resolvers an integration uses, paging."""

from __future__ import annotations

from typing import Any

import httpx

from adapters.shopify.sandbox import SandboxServer

from .conftest import ADDRESS, SHOP, GraphQL, stock_product

SHOP_QUERY = """
query Shop {
  shop { id name email myshopifyDomain currencyCode ianaTimezone plan { displayName shopifyPlus } }
  location { id name isPrimary }
}
"""

VARIANTS = """
query Variants($first: Int!, $after: String, $query: String) {
  productVariants(first: $first, after: $after, query: $query) {
    edges { cursor node {
      id legacyResourceId sku barcode title price updatedAt
      product { id title }
      inventoryItem {
        id tracked requiresShipping
        inventoryLevel(locationId: $location) { quantities(names: ["available"]) { quantity } }
      }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

VARIANT_PAGE = """
query Variants($first: Int!, $after: String, $query: String) {
  productVariants(first: $first, after: $after, query: $query) {
    nodes { id sku barcode product { id title } inventoryItem { id tracked requiresShipping } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

ORDERS = """
query Orders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes { id name updatedAt cancelledAt displayFulfillmentStatus }
    pageInfo { hasNextPage endCursor }
  }
}
"""

ORDER = """
query Order($id: ID!) {
  order(id: $id) {
    id name number email test tags note displayFulfillmentStatus displayFinancialStatus
    shippingAddress { name address1 city zip countryCodeV2 phone }
    shippingLine { title code }
    lineItems(first: 20) {
      nodes { id sku quantity currentQuantity requiresShipping variant { id } }
    }
    fulfillmentOrders(first: 5) {
      nodes {
        id status
        assignedLocation { name location { id } }
        lineItems(first: 20) {
          nodes { id totalQuantity remainingQuantity lineItem { id } variant { id sku } }
        }
      }
    }
  }
}
"""


def test_a_query_without_a_token_is_unauthorized(
    sandbox: SandboxServer, shop: dict[str, Any], http: httpx.Client
) -> None:
    response = http.post(sandbox.graphql_url(SHOP), json={"query": SHOP_QUERY})
    assert response.status_code == 401
    assert response.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }


def test_a_token_of_another_shop_is_unauthorized(sandbox: SandboxServer, gql: GraphQL) -> None:
    sandbox.control.create_shop("other.myshopify.com")
    response = gql.post(SHOP_QUERY, shop="other.myshopify.com")
    assert response.status_code == 401


def test_an_unknown_shop_answers_404(gql: GraphQL) -> None:
    assert gql.post(SHOP_QUERY, shop="nobody.myshopify.com").status_code == 404


def test_shop_and_primary_location_are_readable(gql: GraphQL, shop: dict[str, Any]) -> None:
    data = gql.data(SHOP_QUERY)
    assert data["shop"]["name"] == "Acme Outfitters"
    assert data["shop"]["myshopifyDomain"] == SHOP
    assert data["shop"]["currencyCode"] == "USD"
    assert data["shop"]["plan"] == {"displayName": "Basic", "shopifyPlus": False}
    assert data["location"]["id"] == f"gid://shopify/Location/{shop['primary_location_id']}"
    assert data["location"]["isPrimary"] is True


def test_a_field_shopify_does_not_have_fails_validation(gql: GraphQL) -> None:
    body = gql("{ shop { name inventoryCount } }")
    assert "data" not in body
    assert "Cannot query field 'inventoryCount' on type 'Shop'" in body["errors"][0]["message"]


def test_a_syntax_error_is_a_graphql_error_not_a_crash(gql: GraphQL) -> None:
    body = gql("{ shop { name ")
    assert body["errors"][0]["message"].startswith("Syntax Error")


def test_a_schema_field_the_sandbox_does_not_simulate_is_a_clear_error(gql: GraphQL) -> None:
    body = gql("{ shop { name richTextEditorUrl } }")
    assert body["data"] is None  # the field is non-null, so its parent goes null
    error = body["errors"][0]
    assert error["extensions"]["code"] == "NOT_IMPLEMENTED_IN_SANDBOX"
    assert "Shop.richTextEditorUrl" in error["message"]
    assert error["path"] == ["shop", "richTextEditorUrl"]


def test_a_missing_query_is_a_400_like_shopify(
    sandbox: SandboxServer, token: str, http: httpx.Client
) -> None:
    response = http.post(
        sandbox.graphql_url(SHOP), json={}, headers={"X-Shopify-Access-Token": token}
    )
    assert response.status_code == 400
    assert response.json() == {"errors": {"query": "Required parameter missing or invalid"}}


def test_locations_list_active_ones_with_their_flags(sandbox: SandboxServer, gql: GraphQL) -> None:
    second = sandbox.control.create_location(SHOP, "Annex", fulfills_online_orders=False)
    closed = sandbox.control.create_location(SHOP, "Closed store")
    sandbox.control.update_location(SHOP, closed["id"], active=False)
    data = gql.data("{ locations(first: 10) { nodes { id name isActive fulfillsOnlineOrders } } }")
    nodes = data["locations"]["nodes"]
    assert [n["name"] for n in nodes] == ["Annex", "Main warehouse"]  # sorted by name
    annex = next(n for n in nodes if n["name"] == "Annex")
    assert annex == {
        "id": f"gid://shopify/Location/{second['id']}",
        "name": "Annex",
        "isActive": True,
        "fulfillsOnlineOrders": False,
    }
    everything = gql.data("{ locations(first: 10, includeInactive: true) { nodes { name } } }")
    assert len(everything["locations"]["nodes"]) == 3


def test_variants_page_through_with_cursors_until_the_last_page(
    sandbox: SandboxServer, gql: GraphQL
) -> None:
    for i in range(7):
        stock_product(sandbox, f"SKU-{i}", i)
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        data = gql.data(VARIANT_PAGE, {"first": 3, "after": after})
        connection = data["productVariants"]
        seen += [n["sku"] for n in connection["nodes"]]
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert pages == 3
    assert seen == [f"SKU-{i}" for i in range(7)]


def test_variants_carry_inventory_item_ids_and_levels(
    sandbox: SandboxServer, gql: GraphQL, shop: dict[str, Any]
) -> None:
    variant = stock_product(sandbox, "TEE-M", 12, barcode="0123456789012")
    query = VARIANTS.replace("$query: String)", "$query: String, $location: ID!)")
    data = gql.data(
        query,
        {"first": 5, "location": f"gid://shopify/Location/{shop['primary_location_id']}"},
    )
    node = data["productVariants"]["edges"][0]["node"]
    assert node["id"] == f"gid://shopify/ProductVariant/{variant['id']}"
    assert node["legacyResourceId"] == str(variant["id"])
    assert node["barcode"] == "0123456789012"
    assert (
        node["inventoryItem"]["id"] == f"gid://shopify/InventoryItem/{variant['inventory_item_id']}"
    )
    assert node["inventoryItem"]["tracked"] is True
    assert node["inventoryItem"]["inventoryLevel"]["quantities"] == [{"quantity": 12}]


def test_variants_filter_by_sku_and_by_updated_at(sandbox: SandboxServer, gql: GraphQL) -> None:
    stock_product(sandbox, "A-1", 1)
    sandbox.control.advance_clock(60)
    later = stock_product(sandbox, "B-2", 1)
    by_sku = gql.data(VARIANT_PAGE, {"first": 10, "query": "sku:B-2"})
    assert [n["sku"] for n in by_sku["productVariants"]["nodes"]] == ["B-2"]
    recent = gql.data(VARIANT_PAGE, {"first": 10, "query": "updated_at:>'2026-11-02T09:30:30Z'"})
    assert [n["id"] for n in recent["productVariants"]["nodes"]] == [
        f"gid://shopify/ProductVariant/{later['id']}"
    ]


def test_products_list_their_variants(sandbox: SandboxServer, gql: GraphQL) -> None:
    sandbox.control.create_product(
        SHOP, "Hoodie", [{"sku": "H-S", "title": "S"}, {"sku": "H-L", "title": "L"}]
    )
    data = gql.data(
        "{ products(first: 5) { nodes { title variantsCount { count } "
        "variants(first: 5) { nodes { sku title } } } } }"
    )
    product = data["products"]["nodes"][0]
    assert product["title"] == "Hoodie"
    assert product["variantsCount"] == {"count": 2}
    assert product["variants"]["nodes"] == [
        {"sku": "H-S", "title": "S"},
        {"sku": "H-L", "title": "L"},
    ]


def test_inventory_item_levels_report_named_quantities(
    sandbox: SandboxServer, gql: GraphQL, shop: dict[str, Any]
) -> None:
    variant = stock_product(sandbox, "CAP", 9)
    sandbox.control.place_order(SHOP, [{"sku": "CAP", "quantity": 2}])
    data = gql.data(
        """query($id: ID!) { inventoryItem(id: $id) { sku inventoryLevels(first: 5) { nodes {
            location { id } quantities(names: ["available", "on_hand", "committed", "reserved"]) {
              name quantity } } } } }""",
        {"id": f"gid://shopify/InventoryItem/{variant['inventory_item_id']}"},
    )
    level = data["inventoryItem"]["inventoryLevels"]["nodes"][0]
    assert level["location"]["id"] == f"gid://shopify/Location/{shop['primary_location_id']}"
    assert {q["name"]: q["quantity"] for q in level["quantities"]} == {
        "available": 7,
        "on_hand": 9,
        "committed": 2,
        "reserved": 0,
    }


def test_an_unknown_quantity_name_is_an_error(sandbox: SandboxServer, gql: GraphQL) -> None:
    variant = stock_product(sandbox, "CAP", 9)
    body = gql(
        """query($id: ID!) { inventoryItem(id: $id) { inventoryLevels(first: 5) { nodes {
            quantities(names: ["sellable"]) { quantity } } } } }""",
        {"id": f"gid://shopify/InventoryItem/{variant['inventory_item_id']}"},
    )
    assert "Invalid quantity name" in body["errors"][0]["message"]


def test_an_order_reads_with_lines_address_and_fulfillment_orders(
    sandbox: SandboxServer, gql: GraphQL, shop: dict[str, Any]
) -> None:
    stock_product(sandbox, "MUG", 5)
    placed = sandbox.control.place_order(
        SHOP,
        [{"sku": "MUG", "quantity": 2}],
        email="ada@example.com",
        shipping_address=ADDRESS,
        tags=["rush", "gift"],
        note="leave at the door",
        shipping_method="Express",
    )
    order = gql.data(ORDER, {"id": placed["admin_graphql_api_id"]})["order"]
    assert (order["name"], order["number"]) == ("#1001", 1001)
    assert order["email"] == "ada@example.com"
    assert order["tags"] == ["rush", "gift"]
    assert order["displayFulfillmentStatus"] == "UNFULFILLED"
    assert order["displayFinancialStatus"] == "PAID"
    assert order["shippingAddress"]["name"] == "Ada Lovelace"
    assert order["shippingAddress"]["countryCodeV2"] == "GB"
    assert order["shippingLine"] == {"title": "Express", "code": "Express"}
    line = order["lineItems"]["nodes"][0]
    assert (line["sku"], line["quantity"], line["currentQuantity"]) == ("MUG", 2, 2)
    [fo] = order["fulfillmentOrders"]["nodes"]
    assert fo["status"] == "OPEN"
    location_gid = f"gid://shopify/Location/{shop['primary_location_id']}"
    assert fo["assignedLocation"]["location"]["id"] == location_gid
    [fo_line] = fo["lineItems"]["nodes"]
    assert fo_line["totalQuantity"] == fo_line["remainingQuantity"] == 2
    assert fo_line["lineItem"]["id"] == line["id"]
    assert fo_line["variant"]["sku"] == "MUG"


def test_a_fulfillment_order_reads_by_id(sandbox: SandboxServer, gql: GraphQL) -> None:
    stock_product(sandbox, "MUG", 5)
    placed = sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 1}])
    [fo] = sandbox.control.fulfillment_orders(SHOP, placed["id"])
    data = gql.data(
        "query($id: ID!) { fulfillmentOrder(id: $id) { id status orderId orderName } }",
        {"id": fo["admin_graphql_api_id"]},
    )
    assert data["fulfillmentOrder"] == {
        "id": fo["admin_graphql_api_id"],
        "status": "OPEN",
        "orderId": placed["admin_graphql_api_id"],
        "orderName": "#1001",
    }


def test_a_missing_object_is_null_and_a_malformed_id_is_an_error(gql: GraphQL) -> None:
    missing = gql.data('{ order(id: "gid://shopify/Order/1") { id } }')
    assert missing == {"order": None}
    body = gql('{ order(id: "1234") { id } }')
    assert body["errors"][0]["message"] == "Invalid global id '1234'"


def test_orders_updated_since_come_sorted_by_update_and_paged(
    sandbox: SandboxServer, gql: GraphQL
) -> None:
    stock_product(sandbox, "MUG", 50)
    ids = []
    for _ in range(4):
        ids.append(sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 1}])["id"])
        sandbox.control.advance_clock(10)
    sandbox.control.update_order(SHOP, ids[0], note="changed")  # the oldest moves to the end
    since = "updated_at:>'2026-11-02T09:30:05Z'"
    first = gql.data(ORDERS, {"first": 2, "query": since})["orders"]
    assert [n["name"] for n in first["nodes"]] == ["#1002", "#1003"]
    assert first["pageInfo"]["hasNextPage"] is True
    second = gql.data(
        ORDERS, {"first": 2, "query": since, "after": first["pageInfo"]["endCursor"]}
    )["orders"]
    assert [n["name"] for n in second["nodes"]] == ["#1004", "#1001"]
    assert second["pageInfo"]["hasNextPage"] is False


def test_orders_older_than_sixty_days_need_read_all_orders(
    sandbox: SandboxServer, gql: GraphQL
) -> None:
    stock_product(sandbox, "MUG", 5)
    sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 1}])
    sandbox.control.advance_clock(61 * 24 * 3600)
    sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 1}])
    fresh_token = sandbox.control.issue_token(SHOP, ["read_orders"], expiring=False)
    nodes = gql.post(ORDERS, {"first": 10}, token=fresh_token["access_token"]).json()
    assert [n["name"] for n in nodes["data"]["orders"]["nodes"]] == ["#1002"]


def test_a_missing_scope_is_access_denied(sandbox: SandboxServer, gql: GraphQL) -> None:
    limited = sandbox.control.issue_token(SHOP, ["read_products"])["access_token"]
    body = gql.post("{ orders(first: 5) { nodes { id } } }", token=limited).json()
    error = body["errors"][0]
    assert error["extensions"]["code"] == "ACCESS_DENIED"
    assert "read_orders" in error["message"]


def test_a_connection_needs_first_or_last_and_at_most_250(gql: GraphQL) -> None:
    missing = gql("{ productVariants { nodes { id } } }")
    assert "you must provide one of first or last" in missing["errors"][0]["message"]
    too_many = gql("{ productVariants(first: 251) { nodes { id } } }")
    assert "between 0 and 250" in too_many["errors"][0]["message"]
    assert "data" not in too_many


def test_webhook_subscriptions_are_created_listed_and_deleted(
    sandbox: SandboxServer, gql: GraphQL
) -> None:
    created = gql.data(
        """mutation { webhookSubscriptionCreate(topic: ORDERS_CREATE,
             webhookSubscription: {uri: "https://app.example/hooks", format: JSON}) {
           webhookSubscription { id topic uri format } userErrors { field message } } }"""
    )["webhookSubscriptionCreate"]
    assert created["userErrors"] == []
    subscription = created["webhookSubscription"]
    assert subscription["topic"] == "ORDERS_CREATE"
    assert subscription["uri"] == "https://app.example/hooks"
    duplicate = gql.data(
        """mutation { webhookSubscriptionCreate(topic: ORDERS_CREATE,
             webhookSubscription: {uri: "https://app.example/hooks"}) {
           webhookSubscription { id } userErrors { field message } } }"""
    )["webhookSubscriptionCreate"]
    assert duplicate["webhookSubscription"] is None
    assert duplicate["userErrors"][0]["message"] == "Address for this topic has already been taken"
    listed = gql.data("{ webhookSubscriptions(first: 10) { nodes { id topic uri } } }")
    assert listed["webhookSubscriptions"]["nodes"] == [
        {"id": subscription["id"], "topic": "ORDERS_CREATE", "uri": "https://app.example/hooks"}
    ]
    assert [w["topic"] for w in sandbox.control.webhooks(SHOP)] == ["orders/create"]
    deleted = gql.data(
        """mutation($id: ID!) { webhookSubscriptionDelete(id: $id) {
             deletedWebhookSubscriptionId userErrors { message } } }""",
        {"id": subscription["id"]},
    )["webhookSubscriptionDelete"]
    assert deleted == {"deletedWebhookSubscriptionId": subscription["id"], "userErrors": []}
    assert sandbox.control.webhooks(SHOP) == []
