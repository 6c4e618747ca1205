"""Inventory mutations under Shopify's 2026 rules, and quantities moving with orders."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.shopify.sandbox import SandboxServer

from .conftest import SHOP, GraphQL, stock_product

SET = """
mutation Set($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup {
      id reason referenceDocumentUri changes { name delta quantityAfterChange }
    }
    userErrors { code field message }
  }
}
"""

SET_WITHOUT_KEY = """
mutation Set($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}
"""

ACTIVATE = """
mutation Activate($item: ID!, $location: ID!, $onHand: Int) {
  inventoryActivate(inventoryItemId: $item, locationId: $location, onHand: $onHand)
    @idempotent(key: "activate-1") {
    inventoryLevel { id quantities(names: ["on_hand", "available"]) { name quantity } }
    userErrors { field message }
  }
}
"""


def _quantity(
    item_id: int, location_id: int, quantity: int, change_from: Any = ...
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "inventoryItemId": f"gid://shopify/InventoryItem/{item_id}",
        "locationId": f"gid://shopify/Location/{location_id}",
        "quantity": quantity,
    }
    if change_from is not ...:
        entry["changeFromQuantity"] = change_from
    return entry


def _input(*quantities: dict[str, Any], name: str = "available") -> dict[str, Any]:
    return {
        "name": name,
        "reason": "correction",
        "referenceDocumentUri": "logistics://storelink/batch/1",
        "quantities": list(quantities),
    }


def _level(sandbox: SandboxServer, sku: str, location_id: int) -> dict[str, Any]:
    return sandbox.control.inventory_level(SHOP, location_id=location_id, sku=sku)


@pytest.fixture
def primary(shop: dict[str, Any]) -> int:
    return int(shop["primary_location_id"])


def test_setting_available_moves_on_hand_and_reports_both_changes(
    sandbox: SandboxServer, gql: GraphQL, primary: int
) -> None:
    variant = stock_product(sandbox, "TEE", 10)
    sandbox.control.place_order(SHOP, [{"sku": "TEE", "quantity": 3}])  # 3 committed
    result = gql.data(
        SET, {"input": _input(_quantity(variant["inventory_item_id"], primary, 20, 7)), "key": "k1"}
    )["inventorySetQuantities"]
    assert result["userErrors"] == []
    group = result["inventoryAdjustmentGroup"]
    assert group["reason"] == "correction"
    assert group["referenceDocumentUri"] == "logistics://storelink/batch/1"
    assert {c["name"]: (c["delta"], c["quantityAfterChange"]) for c in group["changes"]} == {
        "available": (13, 20),
        "on_hand": (13, 23),
    }
    level = _level(sandbox, "TEE", primary)
    assert (level["available"], level["on_hand"], level["committed"]) == (20, 23, 3)


def test_setting_on_hand_keeps_committed_units_out_of_available(
    sandbox: SandboxServer, gql: GraphQL, primary: int
) -> None:
    variant = stock_product(sandbox, "TEE", 10)
    sandbox.control.place_order(SHOP, [{"sku": "TEE", "quantity": 4}])
    result = gql.data(
        SET,
        {
            "input": _input(
                _quantity(variant["inventory_item_id"], primary, 5, 10), name="on_hand"
            ),
            "key": "k-on-hand",
        },
    )["inventorySetQuantities"]
    assert result["userErrors"] == []
    level = _level(sandbox, "TEE", primary)
    assert (level["on_hand"], level["available"]) == (5, 1)


def test_the_idempotent_directive_is_mandatory(
    sandbox: SandboxServer, gql: GraphQL, primary: int
) -> None:
    variant = stock_product(sandbox, "TEE", 10)
    body = gql(
        SET_WITHOUT_KEY, {"input": _input(_quantity(variant["inventory_item_id"], primary, 1, 10))}
    )
    assert "data" not in body
    assert "@idempotent" in body["errors"][0]["message"]
    assert _level(sandbox, "TEE", primary)["available"] == 10


def test_change_from_quantity_must_be_present_in_every_quantity(
    sandbox: SandboxServer, gql: GraphQL, primary: int
) -> None:
    first = stock_product(sandbox, "A", 10)
    second = stock_product(sandbox, "B", 10)
    body = gql(
        SET,
        {
            "input": _input(
                _quantity(first["inventory_item_id"], primary, 1, 10),
                _quantity(second["inventory_item_id"], primary, 1),
            ),
            "key": "k-missing",
        },
    )
    assert body["data"] == {"inventorySetQuantities": None}
    assert "changeFromQuantity is required" in body["errors"][0]["message"]
    assert _level(sandbox, "A", primary)["available"] == 10


def test_an_explicit_null_change_from_skips_the_compare(
    sandbox: SandboxServer, gql: GraphQL, primary: int
) -> None:
    variant = stock_product(sandbox, "TEE", 10)
    result = gql.data(
        SET,
        {"input": _input(_quantity(variant["inventory_item_id"], primary, 4, None)), "key": "k"},
    )["inventorySetQuantities"]
    assert result["userErrors"] == []
    assert _level(sandbox, "TEE", primary)["available"] == 4


def test_a_stale_compare_fails_the_whole_batch_and_names_each_stale_item(
    sandbox: SandboxServer, gql: GraphQL, primary: int
) -> None:
    fresh = stock_product(sandbox, "FRESH", 10)
    stale = stock_product(sandbox, "STALE", 10)
    result = gql.data(
        SET,
        {
            "input": _input(
                _quantity(fresh["inventory_item_id"], primary, 8, 10),
                _quantity(stale["inventory_item_id"], primary, 8, 9),
            ),
            "key": "k-stale",
        },
    )["inventorySetQuantities"]
    assert result["inventoryAdjustmentGroup"] is None
    [error] = result["userErrors"]
    assert error["code"] == "CHANGE_FROM_QUANTITY_STALE"
    assert error["field"] == ["input", "quantities", "1", "changeFromQuantity"]
    assert _level(sandbox, "FRESH", primary)["available"] == 10  # nothing applied
    assert _level(sandbox, "STALE", primary)["available"] == 10


def test_more_than_250_quantities_are_refused(
    sandbox: SandboxServer, gql: GraphQL, primary: int
) -> None:
    variant = stock_product(sandbox, "TEE", 10)
    quantities = [_quantity(variant["inventory_item_id"], primary, 1, None)] * 251
    body = gql(SET, {"input": _input(*quantities), "key": "k-big"})
    assert body["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"
    assert "251" in body["errors"][0]["message"]
    assert _level(sandbox, "TEE", primary)["available"] == 10


def test_250_quantities_are_accepted(sandbox: SandboxServer, gql: GraphQL, primary: int) -> None:
    products = sandbox.control.create_products(
        SHOP,
        [
            {"title": f"P{i}", "variants": [{"sku": f"P{i}", "inventory": {str(primary): 1}}]}
            for i in range(250)
        ],
    )
    quantities = [_quantity(p["variants"][0]["inventory_item_id"], primary, 5, 1) for p in products]
    result = gql.data(SET, {"input": _input(*quantities), "key": "k-250"})["inventorySetQuantities"]
    assert result["userErrors"] == []
    assert _level(sandbox, "P249", primary)["available"] == 5


def test_replaying_the_same_key_and_input_returns_the_first_result_without_applying_again(
    sandbox: SandboxServer, gql: GraphQL, primary: int
) -> None:
    variant = stock_product(sandbox, "TEE", 10)
    variables = {
        "input": _input(_quantity(variant["inventory_item_id"], primary, 15, 10)),
        "key": "k",
    }
    first = gql.data(SET, variables)["inventorySetQuantities"]
    sandbox.control.set_inventory(SHOP, sku="TEE", location_id=primary, available=15)
    replay = gql.data(SET, variables)["inventorySetQuantities"]
    assert replay == first
    assert replay["userErrors"] == []  # not stale: the first answer, not a second attempt
    calls = sandbox.control.calls(SHOP, root_field="inventorySetQuantities")
    assert [c["idempotency_keys"] for c in calls] == [["k"], ["k"]]


def test_the_same_key_with_other_input_is_a_parameter_mismatch(
    sandbox: SandboxServer, gql: GraphQL, primary: int
) -> None:
    variant = stock_product(sandbox, "TEE", 10)
    item = variant["inventory_item_id"]
    gql.data(SET, {"input": _input(_quantity(item, primary, 15, 10)), "key": "k"})
    result = gql.data(SET, {"input": _input(_quantity(item, primary, 16, 15)), "key": "k"})
    [error] = result["inventorySetQuantities"]["userErrors"]
    assert error["code"] == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"
    assert _level(sandbox, "TEE", primary)["available"] == 15


def test_an_item_not_stocked_at_the_location_is_refused(
    sandbox: SandboxServer, gql: GraphQL, primary: int
) -> None:
    annex = sandbox.control.create_location(SHOP, "Annex")
    variant = stock_product(sandbox, "TEE", 10)
    result = gql.data(
        SET,
        {"input": _input(_quantity(variant["inventory_item_id"], annex["id"], 3, 0)), "key": "k"},
    )["inventorySetQuantities"]
    assert result["userErrors"][0]["code"] == "INVALID_LOCATION"


def test_unknown_items_negative_quantities_and_bad_reasons_are_user_errors(
    sandbox: SandboxServer, gql: GraphQL, primary: int
) -> None:
    variant = stock_product(sandbox, "TEE", 10)
    payload = _input(
        _quantity(1, primary, 3, None), _quantity(variant["inventory_item_id"], primary, -1, None)
    )
    payload["reason"] = "because"
    result = gql.data(SET, {"input": payload, "key": "k"})["inventorySetQuantities"]
    codes = {e["code"] for e in result["userErrors"]}
    assert codes == {"INVALID_REASON", "INVALID_INVENTORY_ITEM", "INVALID_QUANTITY_NEGATIVE"}


def test_activate_stocks_an_item_at_another_location(sandbox: SandboxServer, gql: GraphQL) -> None:
    annex = sandbox.control.create_location(SHOP, "Annex")
    variant = stock_product(sandbox, "TEE", 10)
    variables = {
        "item": f"gid://shopify/InventoryItem/{variant['inventory_item_id']}",
        "location": f"gid://shopify/Location/{annex['id']}",
        "onHand": 4,
    }
    result = gql.data(ACTIVATE, variables)["inventoryActivate"]
    assert result["userErrors"] == []
    assert {q["name"]: q["quantity"] for q in result["inventoryLevel"]["quantities"]} == {
        "on_hand": 4,
        "available": 4,
    }
    assert _level(sandbox, "TEE", annex["id"])["on_hand"] == 4


def test_activate_needs_the_idempotent_directive(sandbox: SandboxServer, gql: GraphQL) -> None:
    variant = stock_product(sandbox, "TEE", 10)
    body = gql(
        "mutation($i: ID!, $l: ID!) { inventoryActivate(inventoryItemId: $i, locationId: $l) "
        "{ userErrors { message } } }",
        {
            "i": f"gid://shopify/InventoryItem/{variant['inventory_item_id']}",
            "l": "gid://shopify/Location/1",
        },
    )
    assert "@idempotent" in body["errors"][0]["message"]


def test_quantities_move_as_an_order_is_placed_fulfilled_and_cancelled(
    sandbox: SandboxServer, primary: int
) -> None:
    stock_product(sandbox, "A", 10)
    stock_product(sandbox, "B", 10)
    order = sandbox.control.place_order(
        SHOP, [{"sku": "A", "quantity": 3}, {"sku": "B", "quantity": 2}]
    )
    a = _level(sandbox, "A", primary)
    assert (a["on_hand"], a["committed"], a["available"]) == (10, 3, 7)
    line_a = next(li for li in order["line_items"] if li["sku"] == "A")
    sandbox.control.fulfill_order(SHOP, order["id"], line_items={line_a["id"]: 3})
    a = _level(sandbox, "A", primary)
    assert (a["on_hand"], a["committed"], a["available"]) == (7, 0, 7)
    sandbox.control.cancel_order(SHOP, order["id"])
    b = _level(sandbox, "B", primary)
    assert (b["on_hand"], b["committed"], b["available"]) == (10, 0, 10)
    assert _level(sandbox, "A", primary)["on_hand"] == 7  # shipped units stay shipped


def test_an_order_cannot_take_more_than_is_available_unless_the_variant_allows_overselling(
    sandbox: SandboxServer, primary: int
) -> None:
    stock_product(sandbox, "LAST", 1)
    stock_product(sandbox, "PREORDER", 0, inventory_policy="CONTINUE")
    with pytest.raises(Exception, match="insufficient_inventory"):
        sandbox.control.place_order(SHOP, [{"sku": "LAST", "quantity": 2}])
    sandbox.control.place_order(SHOP, [{"sku": "PREORDER", "quantity": 2}])
    assert _level(sandbox, "PREORDER", primary)["available"] == -2
    sandbox.control.place_order(SHOP, [{"sku": "LAST", "quantity": 2}], allow_oversell=True)
    assert _level(sandbox, "LAST", primary)["available"] == -1
