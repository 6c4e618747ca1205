"""Orders on the floor: allocation, waiting for stock, holds, partial and full shipments."""

from __future__ import annotations

import pytest

from core.errors import DomainError, InsufficientStock, InvalidInput, NotFound, PermissionDenied
from core.model import Client, ExternalRef, OutboundItem, OutboundOrder, User, Warehouse
from core.services import SYSTEM, Context, fulfillment, orders, tenancy
from core.services import stock as stock_services
from core.services.fulfillment import ShipLine
from core.services.orders import NewItem


def _level(ctx: Context, product_id: str, warehouse_id: str) -> tuple[int, int]:
    with ctx.uow() as uow:
        level = uow.stock.get_level(product_id, warehouse_id)
    return (level.on_hand, level.reserved) if level else (0, 0)


@pytest.fixture
def products(ctx: Context, client: Client) -> dict[str, str]:
    out = {}
    for sku in ("TENT-1", "MAT-2"):
        out[sku] = stock_services.create_product(
            ctx, SYSTEM, client_id=client.id, sku=sku, name=sku.title(), barcode=f"0{len(out)}"
        ).id
    return out


def _order(ctx: Context, client: Client, warehouse: Warehouse, **qty: int) -> OutboundOrder:
    items = [NewItem(quantity=q, sku=sku.replace("_", "-")) for sku, q in qty.items()]
    return orders.create_order(
        ctx, SYSTEM, client_id=client.id, warehouse_id=warehouse.id, items=items
    )


def test_an_order_with_stock_is_allocated_and_reserves_it(
    ctx: Context, client: Client, warehouse: Warehouse, products: dict[str, str]
) -> None:
    stock_services.receive_stock(
        ctx, SYSTEM, product_id=products["TENT-1"], warehouse_id=warehouse.id, quantity=5
    )
    order = _order(ctx, client, warehouse, TENT_1=3)
    assert order.status == "allocated"
    assert _level(ctx, products["TENT-1"], warehouse.id) == (5, 3)


def test_an_order_without_enough_stock_waits_and_is_allocated_when_stock_arrives_rush_first(
    ctx: Context, client: Client, warehouse: Warehouse, products: dict[str, str]
) -> None:
    normal = _order(ctx, client, warehouse, TENT_1=2)
    rush = orders.create_order(
        ctx,
        SYSTEM,
        client_id=client.id,
        warehouse_id=warehouse.id,
        items=[NewItem(quantity=2, sku="TENT-1")],
        rush=True,
    )
    assert (normal.status, rush.status) == ("pending", "pending")
    stock_services.receive_stock(
        ctx, SYSTEM, product_id=products["TENT-1"], warehouse_id=warehouse.id, quantity=3
    )
    assert orders.get_order(ctx, SYSTEM, rush.id)[0].status == "allocated"
    assert orders.get_order(ctx, SYSTEM, normal.id)[0].status == "pending"
    assert _level(ctx, products["TENT-1"], warehouse.id) == (3, 2)


def test_allocation_is_all_or_nothing_across_lines(
    ctx: Context, client: Client, warehouse: Warehouse, products: dict[str, str]
) -> None:
    stock_services.receive_stock(
        ctx, SYSTEM, product_id=products["TENT-1"], warehouse_id=warehouse.id, quantity=9
    )
    order = _order(ctx, client, warehouse, TENT_1=1, MAT_2=1)
    assert order.status == "pending"
    assert _level(ctx, products["TENT-1"], warehouse.id) == (9, 0)


def test_partial_shipment_keeps_the_rest_reserved_and_the_last_one_ships_the_order(
    ctx: Context, client: Client, warehouse: Warehouse, products: dict[str, str]
) -> None:
    for pid in products.values():
        stock_services.receive_stock(
            ctx, SYSTEM, product_id=pid, warehouse_id=warehouse.id, quantity=10
        )
    order = _order(ctx, client, warehouse, TENT_1=3, MAT_2=1)
    tent = next(i for i in order.items if i.sku == "TENT-1")
    first = fulfillment.ship(
        ctx,
        SYSTEM,
        order.id,
        carrier="UPS",
        tracking_number="1Z1",
        lines=[ShipLine(tent.id, 2)],
    )
    after_first, _ = orders.get_order(ctx, SYSTEM, order.id)
    assert after_first.status == "packing"
    assert _level(ctx, products["TENT-1"], warehouse.id) == (8, 1)
    assert first.sync_state == "not_required"  # a manual order has no store to tell
    fulfillment.ship(ctx, SYSTEM, order.id, carrier="UPS", tracking_number="1Z2")
    shipped, shipments = orders.get_order(ctx, SYSTEM, order.id)
    assert shipped.status == "shipped"
    assert [s.tracking_number for s in shipments] == ["1Z1", "1Z2"]
    assert _level(ctx, products["TENT-1"], warehouse.id) == (7, 0)
    assert _level(ctx, products["MAT-2"], warehouse.id) == (9, 0)


def test_shipping_more_than_is_left_is_refused_and_changes_nothing(
    ctx: Context, client: Client, warehouse: Warehouse, products: dict[str, str]
) -> None:
    stock_services.receive_stock(
        ctx, SYSTEM, product_id=products["TENT-1"], warehouse_id=warehouse.id, quantity=3
    )
    order = _order(ctx, client, warehouse, TENT_1=3)
    with pytest.raises(InvalidInput, match="quantity must be 1 to 3"):
        fulfillment.ship(
            ctx,
            SYSTEM,
            order.id,
            carrier="UPS",
            tracking_number="1",
            lines=[ShipLine(order.items[0].id, 4)],
        )
    with pytest.raises(InvalidInput, match="not on this order"):
        fulfillment.ship(
            ctx, SYSTEM, order.id, carrier="UPS", tracking_number="1", lines=[ShipLine("nope", 1)]
        )
    assert orders.get_order(ctx, SYSTEM, order.id)[0].status == "allocated"
    assert _level(ctx, products["TENT-1"], warehouse.id) == (3, 3)


def test_a_pending_order_cannot_ship(
    ctx: Context, client: Client, warehouse: Warehouse, products: dict[str, str]
) -> None:
    order = _order(ctx, client, warehouse, TENT_1=1)
    with pytest.raises(DomainError, match="only allocated"):
        fulfillment.ship(ctx, SYSTEM, order.id, carrier="UPS", tracking_number="1")


def test_cancelling_releases_the_reservation(
    ctx: Context, client: Client, warehouse: Warehouse, products: dict[str, str]
) -> None:
    stock_services.receive_stock(
        ctx, SYSTEM, product_id=products["TENT-1"], warehouse_id=warehouse.id, quantity=4
    )
    order = _order(ctx, client, warehouse, TENT_1=4)
    cancelled = orders.cancel_order(ctx, SYSTEM, order.id, reason="customer changed mind")
    assert cancelled.status == "cancelled"
    assert _level(ctx, products["TENT-1"], warehouse.id) == (4, 0)


def test_adjusting_below_what_orders_reserved_is_refused(
    ctx: Context, client: Client, warehouse: Warehouse, products: dict[str, str]
) -> None:
    stock_services.receive_stock(
        ctx, SYSTEM, product_id=products["TENT-1"], warehouse_id=warehouse.id, quantity=4
    )
    _order(ctx, client, warehouse, TENT_1=3)
    with pytest.raises(InsufficientStock):
        stock_services.adjust_stock(
            ctx,
            SYSTEM,
            product_id=products["TENT-1"],
            warehouse_id=warehouse.id,
            quantity=-2,
            reason="damaged",
        )
    assert _level(ctx, products["TENT-1"], warehouse.id) == (4, 3)


def _held_store_order(ctx: Context, client: Client, warehouse: Warehouse) -> OutboundOrder:
    now = ctx.clock.now()
    order = OutboundOrder(
        id=ctx.ids.new_id(),
        client_id=client.id,
        warehouse_id=warehouse.id,
        number="SH-1001",
        created_at=now,
        updated_at=now,
        source="shopify",
        status="on_hold",
        hold_reason="unmapped lines: NEW-SKU",
        external=ExternalRef("shopify", "integration-1", "450789469", "1001"),
        items=[
            OutboundItem(
                id=ctx.ids.new_id(),
                product_id=None,
                sku="new-sku",
                name="New",
                quantity=2,
                external_variant_id="39072856",
            )
        ],
    )
    with ctx.uow() as uow:
        uow.orders.add(order)
        uow.commit()
    return order


def test_releasing_a_hold_with_lines_still_unmapped_is_refused(
    ctx: Context, client: Client, warehouse: Warehouse, products: dict[str, str]
) -> None:
    order = _held_store_order(ctx, client, warehouse)
    with pytest.raises(DomainError) as err:
        orders.release_hold(ctx, SYSTEM, order.id)
    assert err.value.code == "unmapped_lines"
    assert orders.get_order(ctx, SYSTEM, order.id)[0].status == "on_hold"


def test_releasing_a_hold_after_the_product_exists_maps_the_line_and_allocates(
    ctx: Context, client: Client, warehouse: Warehouse, products: dict[str, str]
) -> None:
    order = _held_store_order(ctx, client, warehouse)
    product = stock_services.create_product(
        ctx, SYSTEM, client_id=client.id, sku="NEW-SKU", name="New"
    )
    stock_services.receive_stock(
        ctx, SYSTEM, product_id=product.id, warehouse_id=warehouse.id, quantity=2
    )
    released = orders.release_hold(ctx, SYSTEM, order.id)
    assert released.status == "allocated"
    assert released.items[0].product_id == product.id  # SKU matched case-insensitively
    assert released.hold_reason is None


def test_another_clients_order_is_not_found_for_a_client_user(
    ctx: Context, hasher: object, client: Client, warehouse: Warehouse, products: dict[str, str]
) -> None:
    order = _order(ctx, client, warehouse, TENT_1=1)
    other = tenancy.create_client(ctx, SYSTEM, name="Other Co")
    outsider = User(
        id="u2",
        email="x@other.test",
        password_hash="",
        created_at=ctx.clock.now(),
        client_id=other.id,
        role="owner",
    )
    insider = User(
        id="u1",
        email="x@acme.test",
        password_hash="",
        created_at=ctx.clock.now(),
        client_id=client.id,
        role="member",
    )
    with pytest.raises(NotFound):
        orders.get_order(ctx, outsider, order.id)
    assert orders.list_orders(ctx, outsider) == []
    assert orders.list_orders(ctx, outsider, client_id=client.id) == []
    assert orders.get_order(ctx, insider, order.id)[0].id == order.id
    with pytest.raises(PermissionDenied):
        fulfillment.ship(ctx, insider, order.id, carrier="UPS", tracking_number="1")


def test_a_duplicate_sku_for_one_client_is_a_conflict_but_fine_for_another(
    ctx: Context, client: Client, products: dict[str, str]
) -> None:
    from core.errors import Conflict

    with pytest.raises(Conflict):
        stock_services.create_product(ctx, SYSTEM, client_id=client.id, sku="tent-1", name="x")
    other = tenancy.create_client(ctx, SYSTEM, name="Other Co")
    stock_services.create_product(ctx, SYSTEM, client_id=other.id, sku="TENT-1", name="x")
