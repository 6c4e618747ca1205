"""Allocation: an order takes stock reservations for all its unshipped units, or none."""

from __future__ import annotations

from collections import Counter

from core.model import OutboundOrder
from core.model import stock as rules
from core.ports import UnitOfWork
from core.services._context import Context
from core.services._ledger import move


def _needs(order: OutboundOrder) -> Counter[str]:
    need: Counter[str] = Counter()
    for item in order.items:
        if item.product_id is not None and item.remaining > 0:
            need[item.product_id] += item.remaining
    return need


def allocate(uow: UnitOfWork, ctx: Context, order: OutboundOrder) -> bool:
    """Reserve every unshipped unit at the order's warehouse and mark it ``allocated``.

    All or nothing: with too little stock for any line the order stays ``pending`` (it is
    allocated when stock arrives). An order with unmapped lines is never allocated. Levels are
    locked in product id order, so concurrent allocations cannot deadlock. The caller saves.
    """
    if order.status != "pending" or order.unmapped_items:
        return False
    need = _needs(order)
    for product_id in sorted(need):
        level = uow.stock.get_level(product_id, order.warehouse_id)
        if level is None or level.available < need[product_id]:
            return False
    for product_id in sorted(need):
        move(
            uow,
            ctx,
            product_id=product_id,
            warehouse_id=order.warehouse_id,
            rule=rules.reserve,
            quantity=need[product_id],
            reason=f"order {order.number}",
            order_id=order.id,
        )
    order.transition("allocated", ctx.clock.now())
    return True


def release(uow: UnitOfWork, ctx: Context, order: OutboundOrder, reason: str) -> None:
    """Give back what the order reserved for its unshipped units (the caller moves status)."""
    if not order.holds_reservations:
        return
    need = _needs(order)
    for product_id in sorted(need):
        move(
            uow,
            ctx,
            product_id=product_id,
            warehouse_id=order.warehouse_id,
            rule=rules.release,
            quantity=need[product_id],
            reason=f"order {order.number}: {reason}",
            order_id=order.id,
        )


def allocate_waiting(uow: UnitOfWork, ctx: Context, *, warehouse_id: str, product_id: str) -> int:
    """Allocate pending orders that wait for this product here, rush first then oldest."""
    allocated = 0
    for order_id in uow.orders.awaiting_stock(warehouse_id, product_id):
        level = uow.stock.get_level(product_id, warehouse_id)
        if level is None or level.available <= 0:
            break
        order = uow.orders.get(order_id)
        if order is not None and allocate(uow, ctx, order):
            uow.orders.update(order)
            allocated += 1
    return allocated
