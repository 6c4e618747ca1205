"""Reading and setting the store's stock through the port, against the sandbox over HTTP.

``inventory_levels`` reads chosen (item, location) pairs; ``inventory_snapshot`` reads the
whole store at some locations, in pages for a small catalogue and as one asynchronous bulk
operation for a large one (both must say the same); ``set_inventory`` sets on hand with a
compare on on hand, so a merchant's edit in between is caught as stale.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from adapters.shopify import DOCUMENTS, ShopifyPlatform
from core.errors import InvalidInput, PlatformUnavailable
from core.store import (
    InventoryBatch,
    InventoryQuantity,
    InventorySnapshot,
    StoreInventoryLevel,
    StoreSession,
)

from .conftest import SHOP, stock

BULK = 10**6  # an expected catalogue size far above the bulk threshold


def _operations(control: Any) -> list[str]:
    return [c["operation_name"] for c in control.calls(SHOP)]


def _level(item: Any, location: int, on_hand: int, available: int, committed: int = 0) -> Any:
    return StoreInventoryLevel(str(item), str(location), on_hand, available, committed)


@pytest.fixture
def bulk_platform(make_platform: Callable[..., ShopifyPlatform]) -> ShopifyPlatform:
    return make_platform(bulk_poll_seconds=0.05, bulk_poll_max_seconds=0.2)


# --- inventory_levels ----------------------------------------------------------------------------


def test_levels_of_chosen_pairs_carry_on_hand_available_and_committed(
    platform: ShopifyPlatform, control: Any, session: StoreSession, primary_location: int
) -> None:
    annex = control.create_location(SHOP, "Annex")["id"]
    tee, mug = stock(control, primary_location, "TEE", "MUG", on_hand=10)
    control.set_inventory(SHOP, sku="TEE", location_id=annex, on_hand=4)
    control.place_order(SHOP, [{"sku": "TEE", "quantity": 3, "location_id": primary_location}])
    pairs = [
        (str(mug["inventory_item_id"]), str(primary_location)),
        (str(tee["inventory_item_id"]), str(primary_location)),
        (str(tee["inventory_item_id"]), str(annex)),
        (str(mug["inventory_item_id"]), str(annex)),  # not stocked there: left out
        (str(tee["inventory_item_id"]), str(primary_location)),  # asked twice: read once
    ]
    assert platform.inventory_levels(session, pairs) == [
        _level(mug["inventory_item_id"], primary_location, 10, 10),
        _level(tee["inventory_item_id"], primary_location, 10, 7, 3),
        _level(tee["inventory_item_id"], annex, 4, 4),
    ]
    assert _operations(control).count("InventoryLevelsById") == 1


def test_pairs_of_a_deleted_variant_an_unstocked_item_or_a_deleted_location_are_left_out(
    platform: ShopifyPlatform, control: Any, session: StoreSession, primary_location: int
) -> None:
    annex = control.create_location(SHOP, "Annex")["id"]
    closed = control.create_location(SHOP, "Closed")["id"]
    gone, kept, moved = stock(control, primary_location, "GONE", "KEPT", "MOVED", on_hand=5)
    control.set_inventory(SHOP, sku="MOVED", location_id=annex, on_hand=2)
    control.set_inventory(SHOP, sku="KEPT", location_id=closed, on_hand=2)
    control.delete_variant(SHOP, gone["id"])
    control.unstock(SHOP, location_id=primary_location, sku="MOVED")
    control.update_location(SHOP, closed, active=False)
    control.delete_location(SHOP, closed)
    pairs = [
        (str(gone["inventory_item_id"]), str(primary_location)),
        (str(moved["inventory_item_id"]), str(primary_location)),
        (str(kept["inventory_item_id"]), str(closed)),
        (str(kept["inventory_item_id"]), str(primary_location)),
        (str(moved["inventory_item_id"]), str(annex)),
    ]
    assert platform.inventory_levels(session, pairs) == [
        _level(kept["inventory_item_id"], primary_location, 5, 5),
        _level(moved["inventory_item_id"], annex, 2, 2),
    ]


def test_any_number_of_pairs_is_read_125_to_a_query(
    platform: ShopifyPlatform, control: Any, session: StoreSession, primary_location: int
) -> None:
    products = [
        {
            "title": f"P{p}",
            "variants": [
                {"sku": f"N-{p}-{v}", "inventory": {str(primary_location): p}} for v in range(30)
            ],
        }
        for p in range(10)
    ]
    created = control.create_products(SHOP, products)
    expected = [
        _level(v["inventory_item_id"], primary_location, p, p)
        for p, product in enumerate(created)
        for v in product["variants"]
    ]
    control.clear_calls()
    pairs = [(lv.inventory_item_id, lv.location_id) for lv in expected]
    assert platform.inventory_levels(session, pairs) == expected
    calls = control.calls(SHOP, operation_name="InventoryLevelsById")
    assert [c["requested_cost"] for c in calls] == [500, 500, 200]  # 300 pairs, 4 points each
    assert platform.inventory_levels(session, []) == []


def test_a_malformed_id_is_refused_before_any_call(
    platform: ShopifyPlatform, control: Any, session: StoreSession
) -> None:
    control.clear_calls()
    with pytest.raises(InvalidInput):
        platform.inventory_levels(session, [("not-an-id", "1")])
    with pytest.raises(InvalidInput):
        platform.inventory_snapshot(session, ["gid://shopify/Order/1"], expected_items=1)
    assert control.calls(SHOP) == []


# --- inventory_snapshot --------------------------------------------------------------------------


def _drifted_store(control: Any, primary: int) -> dict[str, Any]:
    """A store where things went away: a deleted variant, an unstocked pair, an inactive
    location, an untracked variant, committed and shipped units."""
    annex = control.create_location(SHOP, "Annex")["id"]
    closed = control.create_location(SHOP, "Closed")["id"]
    tee, gone, unstocked = stock(control, primary, "TEE", "GONE", "UNSTOCKED", on_hand=10)
    (untracked,) = stock(control, primary, "GIFT", on_hand=3, tracked=False)
    control.set_inventory(SHOP, sku="TEE", location_id=annex, on_hand=6)
    control.set_inventory(SHOP, sku="UNSTOCKED", location_id=annex, on_hand=1)
    control.set_inventory(SHOP, sku="TEE", location_id=closed, on_hand=2)
    order = control.place_order(SHOP, [{"sku": "TEE", "quantity": 4, "location_id": primary}])
    control.fulfill_order(SHOP, order["id"], line_items={order["line_items"][0]["id"]: 1})
    control.delete_variant(SHOP, gone["id"])
    control.unstock(SHOP, location_id=primary, sku="UNSTOCKED")
    control.deactivate_location(SHOP, closed)
    return {
        "annex": annex,
        "closed": closed,
        "tee": tee,
        "gone": gone,
        "unstocked": unstocked,
        "untracked": untracked,
    }


def _expected(store: dict[str, Any], primary: int) -> InventorySnapshot:
    tee, unstocked = store["tee"]["inventory_item_id"], store["unstocked"]["inventory_item_id"]
    return InventorySnapshot(
        levels=tuple(
            sorted(
                [
                    _level(tee, primary, 9, 6, 3),  # 1 of 4 shipped, 3 still committed
                    _level(tee, store["annex"], 6, 6),
                    _level(unstocked, store["annex"], 1, 1),
                ],
                key=lambda lv: (lv.location_id, lv.inventory_item_id),
            )
        ),
        items=frozenset({str(tee), str(unstocked), str(store["untracked"]["inventory_item_id"])}),
        locations=frozenset({str(primary), str(store["annex"])}),
    )


def test_a_small_catalogue_is_read_in_pages_with_what_drifted(
    platform: ShopifyPlatform, control: Any, session: StoreSession, primary_location: int
) -> None:
    store = _drifted_store(control, primary_location)
    control.clear_calls()
    asked = [str(primary_location), str(store["annex"]), str(store["closed"]), "999999"]
    snapshot = platform.inventory_snapshot(session, asked, expected_items=4)
    assert snapshot == _expected(store, primary_location)
    assert str(store["gone"]["inventory_item_id"]) not in snapshot.items  # deleted variant
    assert (str(store["unstocked"]["inventory_item_id"]), str(primary_location)) not in {
        (lv.inventory_item_id, lv.location_id) for lv in snapshot.levels
    }
    assert str(store["closed"]) not in snapshot.locations  # inactive
    assert _operations(control) == [
        "Locations",
        "InventoryItems",
        "LocationInventoryLevels",
        "LocationInventoryLevels",
    ]


def test_a_large_catalogue_is_read_in_one_bulk_operation_that_says_the_same(
    platform: ShopifyPlatform,
    bulk_platform: ShopifyPlatform,
    control: Any,
    session: StoreSession,
    primary_location: int,
) -> None:
    store = _drifted_store(control, primary_location)
    asked = [str(primary_location), str(store["annex"]), str(store["closed"])]
    paged = platform.inventory_snapshot(session, asked, expected_items=4)
    control.update_app(bulk_operation_seconds=0.5)
    control.clear_calls()
    bulk = bulk_platform.inventory_snapshot(session, asked, expected_items=BULK)
    assert bulk == paged == _expected(store, primary_location)
    operations = _operations(control)
    assert operations[:2] == ["Locations", "BulkOperationRunQuery"]
    assert set(operations[2:]) == {"BulkOperation"}
    assert len(operations[2:]) >= 2  # it was still CREATED or RUNNING when first polled
    assert "InventoryItems" not in operations
    (operation,) = control.bulk_operations(SHOP)
    assert operation["status"] == "COMPLETED"
    assert operation["query"] == DOCUMENTS["InventoryBulk"]


def test_the_threshold_chooses_between_paging_and_bulk(
    make_platform: Callable[..., ShopifyPlatform],
    control: Any,
    session: StoreSession,
    primary_location: int,
) -> None:
    stock(control, primary_location, "TEE")
    platform = make_platform(inventory_bulk_threshold=100, bulk_poll_seconds=0.05)
    locations = [str(primary_location)]
    control.clear_calls()
    platform.inventory_snapshot(session, locations, expected_items=100)
    assert "BulkOperationRunQuery" not in _operations(control)
    control.clear_calls()
    platform.inventory_snapshot(session, locations, expected_items=101)
    assert "BulkOperationRunQuery" in _operations(control)


def test_levels_of_many_items_are_read_page_by_page(
    make_platform: Any, control: Any, session: StoreSession, primary_location: int
) -> None:
    platform = make_platform(inventory_bulk_threshold=1000)  # pages up to 1,000 items
    products = [
        {
            "title": f"P{p}",
            "variants": [
                {"sku": f"M-{p}-{v}", "inventory": {str(primary_location): v}} for v in range(30)
            ],
        }
        for p in range(10)
    ]
    created = control.create_products(SHOP, products)
    # some 2,500 points: a Plus bucket, so the test does not wait for a Standard one to refill
    control.update_shop(SHOP, bucket_size=20_000, restore_rate=1_000)
    control.clear_calls()
    snapshot = platform.inventory_snapshot(session, [str(primary_location)], expected_items=300)
    assert len(snapshot.items) == len(snapshot.levels) == 300
    assert {(lv.inventory_item_id, lv.on_hand) for lv in snapshot.levels} == {
        (str(v["inventory_item_id"]), v_index)
        for p in created
        for v_index, v in enumerate(p["variants"])
    }
    assert _operations(control) == [
        "Locations",
        "InventoryItems",  # 250 a page
        "InventoryItems",
        "LocationInventoryLevels",  # 199 a page
        "LocationInventoryLevels",
    ]


def test_a_bulk_read_waits_for_another_bulk_query_of_the_app_then_runs_its_own(
    bulk_platform: ShopifyPlatform, control: Any, session: StoreSession, primary_location: int
) -> None:
    (tee,) = stock(control, primary_location, "TEE", on_hand=7)
    control.update_app(bulk_operation_seconds=0.6)
    other = bulk_platform.graphql.execute(
        session, "BulkOperationRunQuery", {"query": DOCUMENTS["CatalogBulk"]}
    )["bulkOperationRunQuery"]["bulkOperation"]
    control.clear_calls()
    snapshot = bulk_platform.inventory_snapshot(
        session, [str(primary_location)], expected_items=BULK
    )
    assert snapshot.levels == (_level(tee["inventory_item_id"], primary_location, 7, 7),)
    runs = control.calls(SHOP, operation_name="BulkOperationRunQuery")
    assert [r["user_error_codes"] for r in runs] == [["OPERATION_IN_PROGRESS"], []]
    assert "ActiveBulkOperations" in _operations(control)
    statuses = {op["admin_graphql_api_id"]: op["status"] for op in control.bulk_operations(SHOP)}
    assert statuses[other["id"]] == "COMPLETED"
    assert list(statuses.values()) == ["COMPLETED", "COMPLETED"]


def test_a_bulk_read_that_outlasts_its_patience_is_unavailable(
    make_platform: Callable[..., ShopifyPlatform],
    control: Any,
    session: StoreSession,
    primary_location: int,
) -> None:
    stock(control, primary_location, "TEE")
    platform = make_platform(bulk_poll_seconds=0.05, bulk_max_wait_seconds=0.3)
    control.update_app(bulk_operation_seconds=5)
    with pytest.raises(PlatformUnavailable, match="did not finish"):
        platform.inventory_snapshot(session, [str(primary_location)], expected_items=BULK)


def test_a_bulk_read_outside_the_apps_scopes_is_unavailable_with_access_denied(
    make_platform: Callable[..., ShopifyPlatform], control: Any, primary_location: int
) -> None:
    control.create_shop("small.myshopify.com")
    token = control.issue_token("small.myshopify.com", ["read_locations"])["access_token"]
    platform = make_platform(bulk_poll_seconds=0.05)
    session = StoreSession("small.myshopify.com", token)
    with pytest.raises(PlatformUnavailable, match="ACCESS_DENIED"):
        platform.inventory_snapshot(session, [], expected_items=BULK)


# --- set_inventory -------------------------------------------------------------------------------


def test_set_inventory_sets_on_hand_and_the_store_keeps_its_commitments_out_of_available(
    platform: ShopifyPlatform, control: Any, session: StoreSession, primary_location: int
) -> None:
    (tee,) = stock(control, primary_location, "TEE", on_hand=10)
    control.place_order(SHOP, [{"sku": "TEE", "quantity": 4}])  # an order not yet imported
    item, location = str(tee["inventory_item_id"]), str(primary_location)
    result = platform.set_inventory(
        session, InventoryBatch("on-hand-1", (InventoryQuantity(item, location, 25, 10),))
    )
    assert [i.status for i in result.items] == ["applied"]
    assert control.quantities(SHOP, location_id=primary_location, sku="TEE") == (25, 21, 4)
    assert platform.inventory_batch_limit == 250


def test_a_merchant_edit_in_between_is_stale_and_a_re_read_gives_the_new_compare_value(
    platform: ShopifyPlatform, control: Any, session: StoreSession, primary_location: int
) -> None:
    (tee,) = stock(control, primary_location, "TEE", on_hand=10)
    item, location = str(tee["inventory_item_id"]), str(primary_location)
    first = platform.set_inventory(
        session, InventoryBatch("push-1", (InventoryQuantity(item, location, 12, 10),))
    )
    assert first.applied == first.items
    control.set_inventory(SHOP, sku="TEE", location_id=primary_location, on_hand=8)  # merchant
    stale = platform.set_inventory(
        session, InventoryBatch("push-2", (InventoryQuantity(item, location, 15, 12),))
    )
    assert [i.status for i in stale.items] == ["stale"]
    assert control.quantities(SHOP, location_id=primary_location, sku="TEE")[0] == 8
    (now,) = platform.inventory_levels(session, [(item, location)])
    assert now.on_hand == 8
    again = platform.set_inventory(
        session, InventoryBatch("push-3", (InventoryQuantity(item, location, 15, now.on_hand),))
    )
    assert again.applied == again.items
    assert control.quantities(SHOP, location_id=primary_location, sku="TEE") == (15, 15, 0)
