"""Every reading and writing operation of the port against the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.shopify import ShopifyPlatform
from core.errors import PlatformRejected
from core.model.orders import Address
from core.store import (
    FulfillmentLines,
    FulfillmentRequest,
    InventoryBatch,
    InventoryQuantity,
    StoreSession,
    Tracking,
)

from .conftest import SHOP, stock

ADDRESS = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "address1": "12 St James's Square",
    "city": "London",
    "zip": "SW1Y 4JH",
    "country_code": "GB",
    "phone": "+44 20 7946 0000",
}
AN_HOUR_AGO = timedelta(hours=1)


def test_shop_info_describes_the_shop_and_its_primary_location(
    platform: ShopifyPlatform, session: StoreSession, primary_location: int
) -> None:
    info = platform.shop_info(session)
    assert (info.shop, info.name, info.currency) == (SHOP, "Acme Outfitters", "USD")
    assert info.primary_location_id == str(primary_location)


def test_locations_list_every_location_and_mark_the_primary(
    platform: ShopifyPlatform, control: Any, session: StoreSession, primary_location: int
) -> None:
    second = control.create_location(SHOP, "Overflow", fulfills_online_orders=False)
    locations = {loc.id: loc for loc in platform.locations(session)}
    assert set(locations) == {str(primary_location), str(second["id"])}
    assert locations[str(primary_location)].is_primary
    assert not locations[str(second["id"])].is_primary
    assert not locations[str(second["id"])].fulfills_online_orders


def test_the_catalog_is_read_in_cursor_pages_with_inventory_item_ids(
    make_platform: Callable[..., ShopifyPlatform],
    control: Any,
    session: StoreSession,
    primary_location: int,
) -> None:
    platform = make_platform(catalog_page_size=40)
    products = [
        {"title": f"Product {p}", "variants": [{"sku": f"SKU-{p}-{v}"} for v in range(5)]}
        for p in range(20)
    ]
    created = control.create_products(SHOP, products)
    expected = {
        str(v["id"]): (str(v["inventory_item_id"]), v["sku"])
        for p in created
        for v in p["variants"]
    }
    seen: dict[str, tuple[str | None, str | None]] = {}
    cursor: str | None = None
    pages = 0
    while True:
        page = platform.catalog(session, cursor)
        pages += 1
        for variant in page.variants:
            assert variant.variant_id not in seen
            seen[variant.variant_id] = (variant.inventory_item_id, variant.sku)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected
    assert pages == 3  # 100 variants, 40 a page


def test_a_bulk_export_reads_the_same_catalog_as_paging(
    platform: ShopifyPlatform, control: Any, session: StoreSession
) -> None:
    control.create_products(
        SHOP,
        [
            {"title": f"P{p}", "variants": [{"sku": f"B-{p}-{v}"} for v in range(3)]}
            for p in range(10)
        ],
    )
    paged = platform.catalog(session).variants
    bulk = platform.bulk_catalog(session, poll_seconds=0.05)
    assert sorted(bulk, key=lambda v: v.variant_id) == sorted(paged, key=lambda v: v.variant_id)
    assert len(paged) == 30


def _order(control: Any, skus: list[str], **options: Any) -> dict[str, Any]:
    order: dict[str, Any] = control.place_order(
        SHOP, [{"sku": sku, "quantity": 2} for sku in skus], **options
    )
    return order


def test_orders_updated_since_a_time_come_in_pages_oldest_change_first(
    platform: ShopifyPlatform,
    control: Any,
    session: StoreSession,
    primary_location: int,
) -> None:
    stock(control, primary_location, "TEE-1", on_hand=1000)
    placed = [_order(control, ["TEE-1"]) for _ in range(23)]
    since = datetime.now(UTC) - AN_HOUR_AGO
    found: list[str] = []
    cursor: str | None = None
    while True:
        page = platform.orders_updated_since(session, since, cursor)
        found.extend(o.id for o in page.orders)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert found == [str(o["id"]) for o in placed]


def test_orders_changed_before_the_time_are_left_out(
    platform: ShopifyPlatform, control: Any, session: StoreSession, primary_location: int
) -> None:
    stock(control, primary_location, "TEE-1")
    _order(control, ["TEE-1"])
    page = platform.orders_updated_since(session, datetime.now(UTC) + timedelta(days=1))
    assert page.orders == ()


def test_an_order_read_over_graphql_carries_what_the_importer_needs(
    platform: ShopifyPlatform, control: Any, session: StoreSession, primary_location: int
) -> None:
    variants = stock(control, primary_location, "TEE-1", "TEE-2", barcode="4006381333931")
    placed = _order(
        control,
        ["TEE-1", "TEE-2"],
        email="ada@example.com",
        shipping_address=ADDRESS,
        shipping_method="Express",
        tags=["rush", "vip"],
        note="ring twice",
    )
    order = platform.order(session, str(placed["id"]))
    assert order is not None
    assert (order.id, order.name, order.number) == (
        str(placed["id"]),
        placed["name"],
        str(placed["order_number"]),
    )
    assert order.email == "ada@example.com"
    assert order.tags == ("rush", "vip")
    assert order.note == "ring twice"
    assert "Express" in order.shipping_methods
    assert order.shipping_address == Address(
        name="Ada Lovelace",
        address1="12 St James's Square",
        city="London",
        zip="SW1Y 4JH",
        country="United Kingdom",
        country_code="GB",
        phone="+44 20 7946 0000",
    )
    assert [(line.sku, line.quantity, line.variant_id) for line in order.lines] == [
        ("TEE-1", 2, str(variants[0]["id"])),
        ("TEE-2", 2, str(variants[1]["id"])),
    ]
    assert all(line.barcode == "4006381333931" for line in order.lines)
    assert all(line.fulfillable_quantity == 2 for line in order.lines)


def test_an_order_with_more_lines_than_one_page_is_read_whole(
    platform: ShopifyPlatform, control: Any, session: StoreSession, primary_location: int
) -> None:
    skus = [f"LINE-{n:02}" for n in range(40)]
    stock(control, primary_location, *skus)
    placed = _order(control, skus)
    order = platform.order(session, str(placed["id"]))
    assert order is not None
    assert [line.sku for line in order.lines] == skus


def test_an_unknown_order_is_none(platform: ShopifyPlatform, session: StoreSession) -> None:
    assert platform.order(session, "999999999") is None


def test_fulfillment_orders_follow_the_locations_the_lines_were_assigned_to(
    platform: ShopifyPlatform, control: Any, session: StoreSession, primary_location: int
) -> None:
    other = control.create_location(SHOP, "East")["id"]
    stock(control, primary_location, "WEST-1")
    stock(control, other, "EAST-1")
    placed = control.place_order(
        SHOP,
        [
            {"sku": "WEST-1", "quantity": 1, "location_id": primary_location},
            {"sku": "EAST-1", "quantity": 3, "location_id": other},
        ],
    )
    fulfillment_orders = platform.fulfillment_orders(session, str(placed["id"]))
    by_location = {fo.location_id: fo for fo in fulfillment_orders}
    assert set(by_location) == {str(primary_location), str(other)}
    east = by_location[str(other)]
    assert east.status == "OPEN"
    assert east.order_id == str(placed["id"])
    assert [(line.sku, line.total_quantity, line.remaining_quantity) for line in east.lines] == [
        ("EAST-1", 3, 3)
    ]
    line_ids = {str(li["id"]) for li in placed["line_items"]}
    assert {line.line_item_id for fo in fulfillment_orders for line in fo.lines} == line_ids


def test_a_fulfillment_of_chosen_lines_records_tracking_and_leaves_the_rest_open(
    platform: ShopifyPlatform, control: Any, session: StoreSession, primary_location: int
) -> None:
    stock(control, primary_location, "TEE-1", "TEE-2")
    placed = _order(control, ["TEE-1", "TEE-2"])
    (fo,) = platform.fulfillment_orders(session, str(placed["id"]))
    first = fo.lines[0]
    result = platform.create_fulfillment(
        session,
        FulfillmentRequest(
            order_id=str(placed["id"]),
            lines_by_fulfillment_order=(FulfillmentLines(fo.id, ((first.id, 1),)),),
            tracking=Tracking(company="UPS", number="1Z999AA10123456784"),
            notify_customer=False,
        ),
    )
    assert result.fulfillment_id
    assert "1Z999AA10123456784" in (result.tracking_url or "")
    (recorded,) = control.fulfillments(SHOP, placed["id"])
    assert recorded["tracking_number"] == "1Z999AA10123456784"
    assert recorded["tracking_company"] == "UPS"
    (after,) = platform.fulfillment_orders(session, str(placed["id"]))
    remaining = {line.id: line.remaining_quantity for line in after.lines}
    assert remaining == {first.id: 1, fo.lines[1].id: 2}


def test_an_orders_fulfillments_are_read_with_their_tracking_numbers_and_lines(
    platform: ShopifyPlatform, control: Any, session: StoreSession, primary_location: int
) -> None:
    stock(control, primary_location, "TEE-1", "TEE-2")
    placed = _order(control, ["TEE-1", "TEE-2"])
    order_id = str(placed["id"])
    assert platform.order_fulfillments(session, order_id).fulfillments == ()
    (fo,) = platform.fulfillment_orders(session, order_id)
    first = fo.lines[0]
    for number in ("1ZFIRST", "1ZSECOND"):
        platform.create_fulfillment(
            session,
            FulfillmentRequest(
                order_id=order_id,
                lines_by_fulfillment_order=(FulfillmentLines(fo.id, ((first.id, 1),)),),
                tracking=Tracking(company="UPS", number=number),
                notify_customer=False,
            ),
        )
    read = platform.order_fulfillments(session, order_id)
    assert read.complete
    assert [(f.tracking_numbers, f.lines, f.location_id) for f in read.fulfillments] == [
        (("1ZFIRST",), ((first.line_item_id, 1),), str(primary_location)),
        (("1ZSECOND",), ((first.line_item_id, 1),), str(primary_location)),
    ]
    assert {f.status for f in read.fulfillments} == {"SUCCESS"}
    assert platform.order_fulfillments(session, "999999").fulfillments == ()


def test_fulfilling_more_than_remains_is_a_rejection(
    platform: ShopifyPlatform, control: Any, session: StoreSession, primary_location: int
) -> None:
    stock(control, primary_location, "TEE-1")
    placed = _order(control, ["TEE-1"])
    (fo,) = platform.fulfillment_orders(session, str(placed["id"]))
    with pytest.raises(PlatformRejected):
        platform.create_fulfillment(
            session,
            FulfillmentRequest(
                order_id=str(placed["id"]),
                lines_by_fulfillment_order=(FulfillmentLines(fo.id, ((fo.lines[0].id, 5),)),),
                tracking=Tracking(company="UPS", number="1Z1"),
            ),
        )
    assert control.fulfillments(SHOP, placed["id"]) == []


def _level(control: Any, location: int, sku: str) -> int:
    return int(control.inventory_level(SHOP, location_id=location, sku=sku)["available"])


def test_an_inventory_batch_sets_every_quantity_it_names(
    platform: ShopifyPlatform, control: Any, session: StoreSession, primary_location: int
) -> None:
    variants = stock(control, primary_location, "A", "B", "C", on_hand=5)
    batch = InventoryBatch(
        idempotency_key="batch-1",
        quantities=tuple(
            InventoryQuantity(str(v["inventory_item_id"]), str(primary_location), 20 + n, 5)
            for n, v in enumerate(variants)
        ),
    )
    result = platform.set_inventory(session, batch)
    assert [i.status for i in result.items] == ["applied"] * 3
    assert [_level(control, primary_location, sku) for sku in "ABC"] == [20, 21, 22]


def test_a_full_batch_of_250_quantities_is_one_mutation(
    platform: ShopifyPlatform, control: Any, session: StoreSession, primary_location: int
) -> None:
    products = [
        {
            "title": f"P{p}",
            "variants": [
                {"sku": f"F-{p}-{v}", "inventory": {str(primary_location): 1}} for v in range(25)
            ],
        }
        for p in range(10)
    ]
    items = [
        v["inventory_item_id"]
        for p in control.create_products(SHOP, products)
        for v in p["variants"]
    ]
    control.clear_calls()
    batch = InventoryBatch(
        idempotency_key="full",
        quantities=tuple(InventoryQuantity(str(i), str(primary_location), 7, 1) for i in items),
    )
    assert len(platform.set_inventory(session, batch).applied) == 250
    (call,) = control.calls(SHOP, operation_name="InventorySetQuantities")
    assert call["idempotency_keys"] == ["full"]
    assert call["actual_cost"] == 10


def test_subscriptions_are_created_listed_and_deleted(
    platform: ShopifyPlatform, control: Any, session: StoreSession
) -> None:
    uri = "https://app.example/api/webhooks/shopify/42"
    created = [
        platform.create_webhook_subscription(session, t, uri) for t in platform.webhook_topics()
    ]
    listed = platform.webhook_subscriptions(session)
    assert sorted((s.topic, s.uri) for s in listed) == sorted(
        (t, uri) for t in platform.webhook_topics()
    )
    assert {s.id for s in listed} == {s.id for s in created}
    again = platform.create_webhook_subscription(session, "orders/create", uri)
    assert again.id in {s.id for s in created}
    assert len(platform.webhook_subscriptions(session)) == len(created)
    for subscription in created:
        platform.delete_webhook_subscription(session, subscription.id)
    assert platform.webhook_subscriptions(session) == []
    platform.delete_webhook_subscription(session, created[0].id)  # already gone: fine
    assert control.webhooks(SHOP) == []
