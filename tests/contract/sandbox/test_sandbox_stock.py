"""Stock bookkeeping per location as Shopify keeps it, and what a merchant does to stock.

Orders commit units (available down, on hand unchanged), fulfilments take them from on hand
and committed, cancellations release them; ``inventorySetQuantities`` on ``on_hand`` compares
on hand; merchant edits notify ``inventory_levels/update`` with Shopify's documented fields
only; variants, locations and stocked pairs can disappear as they do in a real store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.shopify.sandbox import SandboxControlError, SandboxServer

from .conftest import SHOP, GraphQL, Receiver, stock_product

FIXTURE_LEVEL = json.loads(
    (
        Path(__file__).parents[2] / "fixtures" / "shopify" / "rest-2026-07" / "inventory_level.json"
    ).read_text()
)[0]["response_body"]["inventory_levels"][0]

SET = """
mutation Set($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id changes { name delta quantityAfterChange } }
    userErrors { code field message }
  }
}
"""
LEVELS = """
query($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on InventoryLevel { id quantities(names: ["on_hand", "available", "committed"]) {
      name quantity } }
  }
}
"""
ITEM = "query($id: ID!) { inventoryItem(id: $id) { id } }"
ITEMS = "{ inventoryItems(first: 50) { nodes { id } } }"
LOCATIONS = "{ locations(first: 10, includeInactive: true) { nodes { id isActive } } }"
SUBSCRIBE = """
mutation($uri: String!) {
  webhookSubscriptionCreate(topic: INVENTORY_LEVELS_UPDATE,
    webhookSubscription: {uri: $uri, format: JSON}) { userErrors { message } }
}
"""


@pytest.fixture
def primary(shop: dict[str, Any]) -> int:
    return int(shop["primary_location_id"])


def _on_hand_input(item: int, location: int, quantity: int, change_from: int | None) -> Any:
    return {
        "name": "on_hand",
        "reason": "correction",
        "quantities": [
            {
                "inventoryItemId": f"gid://shopify/InventoryItem/{item}",
                "locationId": f"gid://shopify/Location/{location}",
                "quantity": quantity,
                "changeFromQuantity": change_from,
            }
        ],
    }


def _quantities(sandbox: SandboxServer, sku: str, location: int) -> tuple[int, int, int]:
    return sandbox.control.quantities(SHOP, location_id=location, sku=sku)


def _level_gid(item: int, location: int) -> str:
    return f"gid://shopify/InventoryLevel/{location}?inventory_item_id={item}"


# --- orders, fulfilments, cancellations ----------------------------------------------------------


def test_an_order_commits_its_units_where_it_is_assigned_and_leaves_on_hand_alone(
    sandbox: SandboxServer, primary: int
) -> None:
    annex = sandbox.control.create_location(SHOP, "Annex")["id"]
    stock_product(sandbox, "TEE", {primary: 10, annex: 6})
    sandbox.control.place_order(SHOP, [{"sku": "TEE", "quantity": 4, "location_id": annex}])
    assert _quantities(sandbox, "TEE", annex) == (6, 2, 4)
    assert _quantities(sandbox, "TEE", primary) == (10, 10, 0)


def test_a_partial_fulfilment_then_a_cancellation_ship_some_units_and_restock_the_rest(
    sandbox: SandboxServer, primary: int
) -> None:
    stock_product(sandbox, "TEE", 10)
    order = sandbox.control.place_order(SHOP, [{"sku": "TEE", "quantity": 5}])
    line = order["line_items"][0]["id"]
    sandbox.control.fulfill_order(SHOP, order["id"], line_items={line: 2})
    assert _quantities(sandbox, "TEE", primary) == (8, 5, 3)  # 2 shipped, 3 still committed
    sandbox.control.cancel_order(SHOP, order["id"])
    assert _quantities(sandbox, "TEE", primary) == (8, 8, 0)  # the 3 are released


def test_fulfilling_an_oversold_order_takes_on_hand_below_zero_as_shopify_allows(
    sandbox: SandboxServer, primary: int
) -> None:
    stock_product(sandbox, "LAST", 1)
    order = sandbox.control.place_order(SHOP, [{"sku": "LAST", "quantity": 3}], allow_oversell=True)
    assert _quantities(sandbox, "LAST", primary) == (1, -2, 3)
    sandbox.control.fulfill_order(SHOP, order["id"])
    assert _quantities(sandbox, "LAST", primary) == (-2, -2, 0)


def test_an_edit_that_lowers_a_line_releases_its_committed_units(
    sandbox: SandboxServer, primary: int
) -> None:
    stock_product(sandbox, "TEE", 10)
    order = sandbox.control.place_order(SHOP, [{"sku": "TEE", "quantity": 4}])
    sandbox.control.edit_order(SHOP, order["id"], quantities={order["line_items"][0]["id"]: 1})
    assert _quantities(sandbox, "TEE", primary) == (10, 9, 1)


# --- setting on hand ------------------------------------------------------------------------------


def test_setting_on_hand_compares_against_on_hand_and_available_follows(
    sandbox: SandboxServer, gql: GraphQL, primary: int
) -> None:
    item = stock_product(sandbox, "TEE", 10)["inventory_item_id"]
    sandbox.control.place_order(SHOP, [{"sku": "TEE", "quantity": 3}])  # available 7
    stale = gql.data(SET, {"input": _on_hand_input(item, primary, 12, 7), "key": "a"})
    (error,) = stale["inventorySetQuantities"]["userErrors"]
    assert error["code"] == "CHANGE_FROM_QUANTITY_STALE"  # 7 is available, not on hand
    applied = gql.data(SET, {"input": _on_hand_input(item, primary, 12, 10), "key": "b"})
    changes = applied["inventorySetQuantities"]["inventoryAdjustmentGroup"]["changes"]
    assert {c["name"]: (c["delta"], c["quantityAfterChange"]) for c in changes} == {
        "on_hand": (2, 12),
        "available": (2, 9),
    }
    assert _quantities(sandbox, "TEE", primary) == (12, 9, 3)


def test_a_lost_answer_of_an_idempotent_set_is_replayed_and_applies_nothing_again(
    sandbox: SandboxServer, gql: GraphQL, primary: int
) -> None:
    item = stock_product(sandbox, "TEE", 10)["inventory_item_id"]
    variables = {"input": _on_hand_input(item, primary, 15, 10), "key": "lost"}
    sandbox.control.set_faults(error_rate=1.0, error_mode="after", error_status=503)
    lost = gql.post(SET, variables)
    assert lost.status_code == 503
    assert _quantities(sandbox, "TEE", primary)[0] == 15  # applied before the answer was lost
    sandbox.control.clear_faults()
    replay = gql.data(SET, variables)["inventorySetQuantities"]
    assert replay["userErrors"] == []  # the first result, not a stale second attempt
    assert replay["inventoryAdjustmentGroup"]["changes"][0]["quantityAfterChange"] == 15
    with sandbox.state.lock:
        groups = list(sandbox.state.shops[SHOP].adjustment_groups.values())
    assert len(groups) == 1
    calls = sandbox.control.calls(SHOP, root_field="inventorySetQuantities")
    assert [c["idempotency_keys"] for c in calls] == [["lost"], ["lost"]]  # applied, replayed
    faults = [c["fault"] for c in sandbox.control.calls(SHOP) if c["fault"]]
    assert faults == ["error_after_apply"]


# --- merchant edits and the webhook -------------------------------------------------------------


def test_merchant_edits_change_the_level_and_notify_with_shopifys_fields_only(
    sandbox: SandboxServer, gql: GraphQL, receiver: Receiver, primary: int
) -> None:
    assert gql.data(SUBSCRIBE, {"uri": receiver.url})["webhookSubscriptionCreate"] == {
        "userErrors": []
    }
    item = stock_product(sandbox, "TEE", 10)["inventory_item_id"]
    sandbox.control.place_order(SHOP, [{"sku": "TEE", "quantity": 2}])
    sandbox.control.flush_webhooks()
    before = len(receiver.of_topic("inventory_levels/update"))
    level = sandbox.control.set_inventory(SHOP, sku="TEE", location_id=primary, on_hand=20)
    assert (level["on_hand"], level["available"], level["committed"]) == (20, 18, 2)
    level = sandbox.control.set_inventory(SHOP, sku="TEE", location_id=primary, available=5)
    assert (level["on_hand"], level["available"], level["committed"]) == (7, 5, 2)
    sandbox.control.flush_webhooks()
    sent = [json.loads(r["body"]) for r in receiver.of_topic("inventory_levels/update")]
    assert len(sent) == before + 2
    assert [p["available"] for p in sent[before:]] == [18, 5]
    for payload in sent:
        assert set(payload) == set(FIXTURE_LEVEL)  # Shopify's REST inventory_level, no more
        assert payload["inventory_item_id"] == item
        assert payload["location_id"] == primary
        assert payload["admin_graphql_api_id"] == _level_gid(item, primary)


def test_the_control_api_reads_every_quantity_of_a_level(
    sandbox: SandboxServer, primary: int
) -> None:
    variant = stock_product(sandbox, "TEE", 10)
    sandbox.control.place_order(SHOP, [{"sku": "TEE", "quantity": 1}])
    (level,) = sandbox.control.inventory(SHOP, variant_id=variant["id"])
    assert {k: level[k] for k in ("on_hand", "available", "committed", "sku", "active")} == {
        "on_hand": 10,
        "available": 9,
        "committed": 1,
        "sku": "TEE",
        "active": True,
    }
    by_item = sandbox.control.inventory_level(
        SHOP, location_id=primary, inventory_item_id=variant["inventory_item_id"]
    )
    assert by_item == level


# --- things that disappear ----------------------------------------------------------------------


def test_a_deleted_variant_takes_its_inventory_item_and_levels_with_it(
    sandbox: SandboxServer, gql: GraphQL, primary: int
) -> None:
    product = sandbox.control.create_product(
        SHOP,
        "Shirt",
        [
            {"sku": "S", "inventory": {str(primary): 5}},
            {"sku": "M", "inventory": {str(primary): 5}},
        ],
    )
    small, medium = product["variants"]
    order = sandbox.control.place_order(SHOP, [{"sku": "S", "quantity": 1}])
    deleted = sandbox.control.delete_variant(SHOP, small["id"])
    assert deleted == {
        "deleted": small["id"],
        "inventory_item_id": small["inventory_item_id"],
        "product_id": product["id"],
        "product_deleted": False,
    }
    gone = f"gid://shopify/InventoryItem/{small['inventory_item_id']}"
    assert gql.data(ITEM, {"id": gone})["inventoryItem"] is None
    assert gone not in {n["id"] for n in gql.data(ITEMS)["inventoryItems"]["nodes"]}
    levels = gql.data(LEVELS, {"ids": [_level_gid(small["inventory_item_id"], primary)]})
    assert levels["nodes"] == [None]
    assert sandbox.control.inventory(SHOP, location_id=primary) == [
        sandbox.control.inventory_level(SHOP, location_id=primary, sku="M")
    ]
    assert [v["sku"] for v in sandbox.control.products(SHOP)[0]["variants"]] == ["M"]
    sandbox.control.cancel_order(SHOP, order["id"])  # its line moves no stock any more
    sandbox.control.delete_variant(SHOP, medium["id"])
    assert sandbox.control.products(SHOP) == []
    with pytest.raises(SandboxControlError) as missing:
        sandbox.control.delete_variant(SHOP, small["id"])
    assert missing.value.status == 404


def test_an_item_can_be_unstocked_at_a_location_but_not_at_its_last_or_with_committed_units(
    sandbox: SandboxServer, gql: GraphQL, primary: int
) -> None:
    annex = sandbox.control.create_location(SHOP, "Annex")["id"]
    item = stock_product(sandbox, "TEE", {primary: 5, annex: 3})["inventory_item_id"]
    sandbox.control.place_order(SHOP, [{"sku": "TEE", "quantity": 1, "location_id": annex}])
    with pytest.raises(SandboxControlError) as committed:
        sandbox.control.unstock(SHOP, location_id=annex, sku="TEE")
    assert (committed.value.status, committed.value.error) == (409, "has_committed")
    unstocked = sandbox.control.unstock(SHOP, location_id=primary, sku="TEE")
    assert unstocked["active"] is False
    assert gql.data(LEVELS, {"ids": [_level_gid(item, primary)]})["nodes"] == [None]
    with pytest.raises(SandboxControlError):
        sandbox.control.inventory_level(SHOP, location_id=primary, sku="TEE")
    stock_product(sandbox, "MUG", 2)
    with pytest.raises(SandboxControlError) as last:
        sandbox.control.unstock(SHOP, location_id=primary, sku="MUG")
    assert (last.value.status, last.value.error) == (409, "last_location")
    # stocking it again starts from nothing
    level = sandbox.control.set_inventory(SHOP, sku="TEE", location_id=primary, available=0)
    assert (level["on_hand"], level["active"]) == (0, True)


def test_a_location_is_deactivated_then_deleted_with_its_levels(
    sandbox: SandboxServer, gql: GraphQL, primary: int
) -> None:
    annex = sandbox.control.create_location(SHOP, "Annex")["id"]
    stock_product(sandbox, "TEE", {primary: 5, annex: 3})
    with pytest.raises(SandboxControlError) as active:
        sandbox.control.delete_location(SHOP, annex)
    assert (active.value.status, active.value.error) == (409, "location_is_active")
    sandbox.control.deactivate_location(SHOP, annex)
    nodes = {n["id"]: n["isActive"] for n in gql.data(LOCATIONS)["locations"]["nodes"]}
    assert nodes[f"gid://shopify/Location/{annex}"] is False
    sandbox.control.delete_location(SHOP, annex)
    nodes = {n["id"]: n["isActive"] for n in gql.data(LOCATIONS)["locations"]["nodes"]}
    assert nodes == {f"gid://shopify/Location/{primary}": True}
    assert [lv["location_id"] for lv in sandbox.control.inventory(SHOP, sku="TEE")] == [primary]
    with pytest.raises(SandboxControlError) as primary_refused:
        sandbox.control.deactivate_location(SHOP, primary)
    assert primary_refused.value.status == 409


def test_a_location_that_orders_name_is_not_deleted(sandbox: SandboxServer, primary: int) -> None:
    annex = sandbox.control.create_location(SHOP, "Annex")["id"]
    stock_product(sandbox, "TEE", {annex: 3})
    sandbox.control.place_order(SHOP, [{"sku": "TEE", "quantity": 1, "location_id": annex}])
    sandbox.control.deactivate_location(SHOP, annex)
    with pytest.raises(SandboxControlError) as refused:
        sandbox.control.delete_location(SHOP, annex)
    assert refused.value.error == "location_has_pending_orders"
