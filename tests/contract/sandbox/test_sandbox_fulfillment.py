"""Fulfillment orders per location and fulfillmentCreate under Shopify's rules."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.shopify.sandbox import SandboxControlError, SandboxServer

from .conftest import ADDRESS, SHOP, GraphQL, stock_product

FULFILLMENT_ORDERS = """
query($id: ID!) { order(id: $id) { displayFulfillmentStatus fulfillmentOrders(first: 5) { nodes {
  id status assignedLocation { location { id } }
  lineItems(first: 20) { nodes { id totalQuantity remainingQuantity lineItem { sku } } } } } } }
"""

CREATE = """
mutation($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status name totalQuantity trackingInfo { company number url }
      fulfillmentLineItems(first: 10) { nodes { quantity lineItem { sku } } } }
    userErrors { field message }
  }
}
"""


def _fulfillment_orders(gql: GraphQL, order: dict[str, Any]) -> list[dict[str, Any]]:
    data = gql.data(FULFILLMENT_ORDERS, {"id": order["admin_graphql_api_id"]})
    return list(data["order"]["fulfillmentOrders"]["nodes"])


def _create(gql: GraphQL, *entries: dict[str, Any], **extra: Any) -> dict[str, Any]:
    fulfillment = {"lineItemsByFulfillmentOrder": list(entries), **extra}
    result: dict[str, Any] = gql.data(CREATE, {"fulfillment": fulfillment})["fulfillmentCreate"]
    return result


@pytest.fixture
def two_locations(sandbox: SandboxServer, shop: dict[str, Any]) -> tuple[int, int]:
    annex = sandbox.control.create_location(SHOP, "Annex")
    primary = int(shop["primary_location_id"])
    stock_product(sandbox, "HERE", {primary: 5})
    stock_product(sandbox, "THERE", {annex["id"]: 5})
    return primary, int(annex["id"])


def test_an_order_gets_one_fulfillment_order_per_location(
    sandbox: SandboxServer, gql: GraphQL, two_locations: tuple[int, int]
) -> None:
    primary, annex = two_locations
    order = sandbox.control.place_order(
        SHOP,
        [{"sku": "HERE", "quantity": 1}, {"sku": "THERE", "quantity": 2}],
        shipping_address=ADDRESS,
    )
    fos = _fulfillment_orders(gql, order)
    by_location = {
        fo["assignedLocation"]["location"]["id"]: [
            li["lineItem"]["sku"] for li in fo["lineItems"]["nodes"]
        ]
        for fo in fos
    }
    assert by_location == {
        f"gid://shopify/Location/{primary}": ["HERE"],
        f"gid://shopify/Location/{annex}": ["THERE"],
    }


def test_a_line_can_be_assigned_to_a_location_explicitly(
    sandbox: SandboxServer, gql: GraphQL, two_locations: tuple[int, int]
) -> None:
    _, annex = two_locations
    order = sandbox.control.place_order(
        SHOP, [{"sku": "HERE", "quantity": 1, "location_id": annex}], allow_oversell=True
    )
    [fo] = _fulfillment_orders(gql, order)
    assert fo["assignedLocation"]["location"]["id"] == f"gid://shopify/Location/{annex}"


def test_a_partial_fulfillment_leaves_the_rest_open_with_tracking_recorded(
    sandbox: SandboxServer, gql: GraphQL
) -> None:
    stock_product(sandbox, "MUG", 5)
    order = sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 3}])
    [fo] = _fulfillment_orders(gql, order)
    line = fo["lineItems"]["nodes"][0]
    result = _create(
        gql,
        {
            "fulfillmentOrderId": fo["id"],
            "fulfillmentOrderLineItems": [{"id": line["id"], "quantity": 2}],
        },
        trackingInfo={"company": "UPS", "number": "1Z999AA10123456784"},
        notifyCustomer=True,
    )
    assert result["userErrors"] == []
    fulfillment = result["fulfillment"]
    assert fulfillment["status"] == "SUCCESS"
    assert fulfillment["name"] == "#1001.1"
    assert fulfillment["totalQuantity"] == 2
    assert fulfillment["trackingInfo"] == [
        {
            "company": "UPS",
            "number": "1Z999AA10123456784",
            "url": "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1Z999AA10123456784",
        }
    ]
    [fo] = _fulfillment_orders(gql, order)
    assert fo["status"] == "IN_PROGRESS"
    assert fo["lineItems"]["nodes"][0]["remainingQuantity"] == 1
    stored = sandbox.control.order(SHOP, order["id"])
    assert stored["fulfillment_status"] == "partial"
    assert stored["line_items"][0]["fulfillable_quantity"] == 1
    [record] = sandbox.control.fulfillments(SHOP, order["id"])
    assert record["tracking_number"] == "1Z999AA10123456784"
    assert record["notify_customer"] is True
    assert record["origin"] == "api"


def test_omitting_line_items_fulfils_the_whole_fulfillment_order(
    sandbox: SandboxServer, gql: GraphQL
) -> None:
    stock_product(sandbox, "MUG", 5)
    stock_product(sandbox, "CUP", 5)
    order = sandbox.control.place_order(
        SHOP, [{"sku": "MUG", "quantity": 2}, {"sku": "CUP", "quantity": 1}]
    )
    [fo] = _fulfillment_orders(gql, order)
    result = _create(
        gql,
        {"fulfillmentOrderId": fo["id"]},
        trackingInfo={
            "company": "Local courier",
            "number": "X1",
            "url": "https://track.example/X1",
        },
    )
    assert result["userErrors"] == []
    assert result["fulfillment"]["totalQuantity"] == 3
    assert result["fulfillment"]["trackingInfo"][0]["url"] == "https://track.example/X1"
    [fo] = _fulfillment_orders(gql, order)
    assert fo["status"] == "CLOSED"
    assert sandbox.control.order(SHOP, order["id"])["fulfillment_status"] == "fulfilled"


def test_fulfilling_more_than_remains_is_a_user_error_and_changes_nothing(
    sandbox: SandboxServer, gql: GraphQL
) -> None:
    stock_product(sandbox, "MUG", 5)
    order = sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 2}])
    [fo] = _fulfillment_orders(gql, order)
    line = fo["lineItems"]["nodes"][0]
    result = _create(
        gql,
        {
            "fulfillmentOrderId": fo["id"],
            "fulfillmentOrderLineItems": [{"id": line["id"], "quantity": 3}],
        },
    )
    assert result["fulfillment"] is None
    assert (
        result["userErrors"][0]["message"]
        == "Invalid fulfillment order line item quantity requested."
    )
    assert _fulfillment_orders(gql, order)[0]["lineItems"]["nodes"][0]["remainingQuantity"] == 2


def test_a_closed_fulfillment_order_cannot_be_fulfilled_again(
    sandbox: SandboxServer, gql: GraphQL
) -> None:
    stock_product(sandbox, "MUG", 5)
    order = sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 1}])
    [fo] = _fulfillment_orders(gql, order)
    assert _create(gql, {"fulfillmentOrderId": fo["id"]})["userErrors"] == []
    again = _create(gql, {"fulfillmentOrderId": fo["id"]})
    assert "unfulfillable status" in again["userErrors"][0]["message"]
    assert len(sandbox.control.fulfillments(SHOP, order["id"])) == 1


def test_fulfillment_orders_of_different_locations_cannot_share_a_fulfillment(
    sandbox: SandboxServer, gql: GraphQL, two_locations: tuple[int, int]
) -> None:
    order = sandbox.control.place_order(
        SHOP, [{"sku": "HERE", "quantity": 1}, {"sku": "THERE", "quantity": 1}]
    )
    fos = _fulfillment_orders(gql, order)
    result = _create(gql, *({"fulfillmentOrderId": fo["id"]} for fo in fos))
    assert result["fulfillment"] is None
    assert "same location" in result["userErrors"][0]["message"]


def test_fulfillment_orders_of_different_orders_cannot_share_a_fulfillment(
    sandbox: SandboxServer, gql: GraphQL
) -> None:
    stock_product(sandbox, "MUG", 5)
    first = sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 1}])
    second = sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 1}])
    fos = _fulfillment_orders(gql, first) + _fulfillment_orders(gql, second)
    result = _create(gql, *({"fulfillmentOrderId": fo["id"]} for fo in fos))
    assert "same order" in result["userErrors"][0]["message"]


def test_a_cancelled_order_has_cancelled_fulfillment_orders(
    sandbox: SandboxServer, gql: GraphQL
) -> None:
    stock_product(sandbox, "MUG", 5)
    order = sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 1}])
    cancelled = sandbox.control.cancel_order(SHOP, order["id"], reason="customer")
    assert cancelled["cancelled_at"] is not None
    assert cancelled["cancel_reason"] == "customer"
    assert cancelled["financial_status"] == "refunded"
    [fo] = _fulfillment_orders(gql, order)
    assert fo["status"] == "CANCELLED"
    result = _create(gql, {"fulfillmentOrderId": fo["id"]})
    assert "unfulfillable status" in result["userErrors"][0]["message"]


def test_an_order_edit_lowers_quantities_and_adds_lines(
    sandbox: SandboxServer, gql: GraphQL, shop: dict[str, Any]
) -> None:
    stock_product(sandbox, "MUG", 5)
    stock_product(sandbox, "CUP", 5)
    order = sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 3}])
    line_id = order["line_items"][0]["id"]
    edited = sandbox.control.edit_order(
        SHOP, order["id"], quantities={line_id: 1}, add=[{"sku": "CUP", "quantity": 2}]
    )
    lines = {li["sku"]: li for li in edited["line_items"]}
    assert (lines["MUG"]["quantity"], lines["MUG"]["current_quantity"]) == (3, 1)
    assert lines["MUG"]["fulfillable_quantity"] == 1
    assert lines["CUP"]["current_quantity"] == 2
    remaining = {
        li["lineItem"]["sku"]: li["remainingQuantity"]
        for fo in _fulfillment_orders(gql, order)
        for li in fo["lineItems"]["nodes"]
    }
    assert remaining == {"MUG": 1, "CUP": 2}
    mug = sandbox.control.inventory_level(SHOP, location_id=shop["primary_location_id"], sku="MUG")
    assert mug["committed"] == 1


def test_an_order_edit_cannot_go_below_what_was_fulfilled(
    sandbox: SandboxServer, shop: dict[str, Any]
) -> None:
    stock_product(sandbox, "MUG", 5)
    order = sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 3}])
    line_id = order["line_items"][0]["id"]
    sandbox.control.fulfill_order(SHOP, order["id"], line_items={line_id: 2})
    with pytest.raises(SandboxControlError) as refused:
        sandbox.control.edit_order(SHOP, order["id"], quantities={line_id: 1})
    assert refused.value.status == 422


def test_the_shipping_address_can_be_edited(sandbox: SandboxServer, gql: GraphQL) -> None:
    stock_product(sandbox, "MUG", 5)
    order = sandbox.control.place_order(
        SHOP, [{"sku": "MUG", "quantity": 1}], shipping_address=ADDRESS
    )
    updated = sandbox.control.update_shipping_address(
        SHOP, order["id"], address1="1 New Road", city="Leeds"
    )
    assert updated["shipping_address"]["address1"] == "1 New Road"
    assert updated["shipping_address"]["first_name"] == "Ada"
    data = gql.data(
        "query($id: ID!) { order(id: $id) { shippingAddress { address1 city } } }",
        {"id": order["admin_graphql_api_id"]},
    )
    assert data["order"]["shippingAddress"] == {"address1": "1 New Road", "city": "Leeds"}


def test_a_merchant_fulfilment_in_the_admin_closes_the_order_like_an_app_fulfilment(
    sandbox: SandboxServer, gql: GraphQL
) -> None:
    stock_product(sandbox, "MUG", 5)
    order = sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 2}])
    [fulfillment] = sandbox.control.fulfill_order(
        SHOP, order["id"], tracking_company="USPS", tracking_number="9400"
    )
    assert fulfillment["origin"] == "admin"
    assert (
        fulfillment["tracking_url"]
        == "https://tools.usps.com/go/TrackConfirmAction?qtc_tLabels1=9400"
    )
    stored = sandbox.control.order(SHOP, order["id"])
    assert stored["fulfillment_status"] == "fulfilled"
    assert stored["closed_at"] is not None
    assert _fulfillment_orders(gql, order)[0]["status"] == "CLOSED"
    with pytest.raises(SandboxControlError):
        sandbox.control.cancel_order(SHOP, order["id"])
