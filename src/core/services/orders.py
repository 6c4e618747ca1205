"""Outbound orders: create, allocate, hold and release, move through the floor, cancel."""

from __future__ import annotations

from collections.abc import Sequence

from attrs import frozen

from core.errors import DomainError, InvalidInput, NotFound
from core.model import (
    Address,
    OrderStatus,
    OutboundItem,
    OutboundOrder,
    Shipment,
    User,
)
from core.ports import UnitOfWork
from core.services import allocation
from core.services._context import (
    Context,
    require_client_visible,
    require_staff,
    resolve_alerts,
)
from core.services._paging import every
from core.services._resolve import resolve_product

MAX_ITEMS = 500
MAX_QUANTITY = 1_000_000
HOLD_ALERT = "order_on_hold"
UNMAPPED_PREFIX = "unmapped lines: "
SPLIT_REASON = (
    "lines are assigned to store locations served by different warehouses; move them "
    "to one location in the store or split the shipment by hand"
)


@frozen
class NewItem:
    quantity: int
    product_id: str | None = None
    sku: str | None = None
    unit_price: str | None = None


def _positive_quantity(quantity: object, where: str) -> int:
    if (
        isinstance(quantity, bool)
        or not isinstance(quantity, int)
        or not 0 < quantity <= MAX_QUANTITY
    ):
        raise InvalidInput(f"{where}: quantity must be a whole number from 1 to {MAX_QUANTITY}")
    return quantity


def create_order(
    ctx: Context,
    actor: User,
    *,
    client_id: str,
    warehouse_id: str,
    items: Sequence[NewItem],
    number: str | None = None,
    ship_to: Address | None = None,
    email: str | None = None,
    rush: bool = False,
    notes: str = "",
) -> OutboundOrder:
    """A manual order (phone, e-mail, a B2B transfer). Allocated at once if stock allows."""
    require_staff(actor)
    if not items:
        raise InvalidInput("an order needs at least one item")
    if len(items) > MAX_ITEMS:
        raise InvalidInput(f"an order may have at most {MAX_ITEMS} items")
    if number is not None and (not number.strip() or len(number) > 64):
        raise InvalidInput("order number must be 1-64 characters")
    now = ctx.clock.now()
    order_id = ctx.ids.new_id()
    with ctx.uow() as uow:
        if uow.clients.get(client_id) is None:
            raise NotFound("client not found")
        if uow.warehouses.get(warehouse_id) is None:
            raise NotFound("warehouse not found")
        built: list[OutboundItem] = []
        for index, new in enumerate(items):
            where = f"items[{index}]"
            quantity = _positive_quantity(new.quantity, where)
            if new.product_id:
                product = uow.products.get(new.product_id)
            elif new.sku:
                product = uow.products.get_by_sku(client_id, new.sku)
            else:
                raise InvalidInput(f"{where}: give product_id or sku")
            if product is None or product.client_id != client_id:
                raise NotFound(f"{where}: product not found for this client")
            built.append(
                OutboundItem(
                    id=ctx.ids.new_id(),
                    product_id=product.id,
                    sku=product.sku,
                    name=product.name,
                    quantity=quantity,
                    unit_price=new.unit_price,
                    barcode=product.barcode,
                )
            )
        order = OutboundOrder(
            id=order_id,
            client_id=client_id,
            warehouse_id=warehouse_id,
            number=number.strip() if number else f"M-{order_id.replace('-', '')[-10:].upper()}",
            created_at=now,
            updated_at=now,
            source="manual",
            ship_to=ship_to,
            email=email,
            rush=rush,
            notes=notes,
            items=built,
        )
        allocation.allocate(uow, ctx, order)
        uow.orders.add(order)
        uow.commit()
    return order


def get_order(ctx: Context, actor: User, order_id: str) -> tuple[OutboundOrder, list[Shipment]]:
    with ctx.uow() as uow:
        order = uow.orders.get(order_id)
        if order is None:
            raise NotFound("order not found")
        require_client_visible(actor, order.client_id, "order")
        return order, uow.shipments.for_order(order.id)


def list_orders(
    ctx: Context,
    actor: User,
    *,
    client_id: str | None = None,
    status: OrderStatus | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[OutboundOrder]:
    if not actor.is_staff:
        if client_id is not None and client_id != actor.client_id:
            return []
        client_id = actor.client_id
    with ctx.uow() as uow:
        return uow.orders.list(client_id=client_id, status=status, limit=limit, offset=offset)


def _load_for_staff(uow: UnitOfWork, actor: User, order_id: str) -> OutboundOrder:
    require_staff(actor)
    order = uow.orders.get(order_id)
    if order is None:
        raise NotFound("order not found")
    return order


def hold(uow: UnitOfWork, ctx: Context, order: OutboundOrder, reason: str) -> None:
    """Stop the order for review; what it reserved goes back to stock. The caller saves."""
    if order.status == "on_hold":
        order.hold_reason = reason
        return
    allocation.release(uow, ctx, order, "held")
    order.transition("on_hold", ctx.clock.now())
    order.hold_reason = reason


def cancel(uow: UnitOfWork, ctx: Context, order: OutboundOrder, reason: str) -> None:
    """Cancel before shipping; reservations are released. The caller saves."""
    if order.status == "on_hold":  # nothing left to review
        resolve_alerts(uow, ctx, codes=(HOLD_ALERT,), subject_id=order.id)
    allocation.release(uow, ctx, order, f"cancelled: {reason}" if reason else "cancelled")
    order.transition("cancelled", ctx.clock.now())
    order.hold_reason = None
    if reason:
        order.notes = f"{order.notes}\nCancelled: {reason}".strip()


def cancel_order(ctx: Context, actor: User, order_id: str, *, reason: str = "") -> OutboundOrder:
    with ctx.uow() as uow:
        order = _load_for_staff(uow, actor, order_id)
        cancel(uow, ctx, order, reason)
        uow.orders.update(order)
        uow.commit()
    return order


def resolve_unmapped(uow: UnitOfWork, order: OutboundOrder) -> list[OutboundItem]:
    """Map what can now be mapped; return the items still without a product."""
    integration_id = order.external.integration_id if order.external else None
    for item in order.unmapped_items:
        item.product_id = resolve_product(
            uow,
            client_id=order.client_id,
            integration_id=integration_id,
            variant_id=item.external_variant_id,
            sku=item.sku,
            barcode=item.barcode,
        )
    return order.unmapped_items


def describe_unmapped(items: Sequence[OutboundItem]) -> str:
    parts = []
    for item in items:
        label = item.sku or item.name or "line"
        if item.external_variant_id:
            label += f" (variant {item.external_variant_id})"
        parts.append(label)
    return UNMAPPED_PREFIX + ", ".join(parts)


def release_hold(ctx: Context, actor: User, order_id: str) -> OutboundOrder:
    """Back to ``pending`` once every line is a product; then allocated if stock allows."""
    with ctx.uow() as uow:
        order = _load_for_staff(uow, actor, order_id)
        if order.status != "on_hold":
            raise DomainError(f"order {order.number} is not on hold", code="not_on_hold")
        still = resolve_unmapped(uow, order)
        if still:
            raise DomainError(
                f"order {order.number} still has {describe_unmapped(still)}; map them first",
                code="unmapped_lines",
            )
        _release(uow, ctx, order)
        uow.orders.update(order)
        uow.commit()
    return order


def _release(uow: UnitOfWork, ctx: Context, order: OutboundOrder) -> None:
    """Off hold: pending, then allocated if stock allows; its hold alert is resolved."""
    order.transition("pending", ctx.clock.now())
    order.hold_reason = None
    allocation.allocate(uow, ctx, order)
    resolve_alerts(uow, ctx, codes=(HOLD_ALERT,), subject_id=order.id)


@frozen
class UnmappedLine:
    """A line of a held order that is no product yet: the store variant to map (link to the
    store's products page with ``integration_id`` and ``external_variant_id``)."""

    item_id: str
    sku: str
    name: str
    quantity: int
    integration_id: str | None
    external_variant_id: str | None


def unmapped_lines(order: OutboundOrder) -> list[UnmappedLine]:
    """Why the order is held for mapping, line by line (empty when no line is unmapped)."""
    integration_id = order.external.integration_id if order.external else None
    return [
        UnmappedLine(i.id, i.sku, i.name, i.quantity, integration_id, i.external_variant_id)
        for i in order.unmapped_items
    ]


def release_resolvable_holds(uow: UnitOfWork, ctx: Context, integration_id: str) -> list[str]:
    """After new mappings: every order of the store held only for unmapped lines whose lines
    now all resolve to products is rebuilt (lines become those products) and released (then
    allocated as an import would), its hold alert resolved. One with lines still unmapped
    gets its reason narrowed to them. Orders held for another reason (by staff, or lines at
    locations of several warehouses) stay held. The ids of the released orders."""
    held = list(  # all of them before any is released (releasing moves it off the list)
        every(
            lambda limit, offset: uow.orders.list(
                integration_id=integration_id, status="on_hold", limit=limit, offset=offset
            )
        )
    )
    released: list[str] = []
    for listed in held:
        reason = listed.hold_reason or ""
        if not reason.startswith(UNMAPPED_PREFIX) or not listed.unmapped_items:
            continue
        order = uow.orders.get(listed.id)
        if order is None or order.status != "on_hold":
            continue
        before = len(order.unmapped_items)
        still = resolve_unmapped(uow, order)
        if len(still) == before:
            continue
        for item in order.items:  # as an import names a line: the product's sku and name
            product = uow.products.get(item.product_id) if item.product_id else None
            if product is not None:
                item.sku, item.name = product.sku, product.name
        split = SPLIT_REASON in reason
        if still or split:
            parts = ([describe_unmapped(still)] if still else []) + (
                [SPLIT_REASON] if split else []
            )
            order.hold_reason = "; ".join(parts)
            order.updated_at = ctx.clock.now()
        else:
            _release(uow, ctx, order)
            released.append(order.id)
        uow.orders.update(order)
    return released


def advance(ctx: Context, actor: User, order_id: str, *, status: OrderStatus) -> OutboundOrder:
    """Floor progress: ``allocated -> picking -> packing``, or back to ``on_hold``."""
    if status not in ("picking", "packing", "on_hold", "pending"):
        raise InvalidInput("status must be picking, packing, on_hold or pending")
    with ctx.uow() as uow:
        order = _load_for_staff(uow, actor, order_id)
        if status == "on_hold":
            hold(uow, ctx, order, "held by staff")
        elif status == "pending" and order.status == "allocated":
            allocation.release(uow, ctx, order, "deallocated")
            order.transition("pending", ctx.clock.now())
        else:
            order.transition(status, ctx.clock.now())
        uow.orders.update(order)
        uow.commit()
    return order
