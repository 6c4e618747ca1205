"""Shipping: reserved units leave, a shipment is recorded, and for a store order a command to
fulfil it in the store is written in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence

from attrs import frozen

from core.errors import DomainError, InvalidInput, NotFound
from core.model import OutboundOrder, OutboxCommand, Shipment, ShipmentLine, User
from core.model import stock as rules
from core.services._context import Context, require_staff
from core.services._ledger import move

FULFILLMENT_COMMAND = "fulfillment.create"


@frozen
class ShipLine:
    item_id: str
    quantity: int


def _chosen_lines(order: OutboundOrder, lines: Sequence[ShipLine] | None) -> list[ShipmentLine]:
    if lines is None:
        chosen = [ShipmentLine(i.id, i.remaining) for i in order.items if i.remaining > 0]
        if not chosen:
            raise DomainError(f"order {order.number} has nothing left to ship")
        return chosen
    if not lines:
        raise InvalidInput("lines, when given, must not be empty")
    seen: set[str] = set()
    chosen = []
    for index, line in enumerate(lines):
        item = order.item(line.item_id)
        if item is None:
            raise InvalidInput(f"lines[{index}]: item {line.item_id!r} is not on this order")
        if line.item_id in seen:
            raise InvalidInput(f"lines[{index}]: item {line.item_id!r} is listed twice")
        seen.add(line.item_id)
        if isinstance(line.quantity, bool) or not isinstance(line.quantity, int):
            raise InvalidInput(f"lines[{index}]: quantity must be a whole number")
        if not 0 < line.quantity <= item.remaining:
            raise InvalidInput(
                f"lines[{index}]: quantity must be 1 to {item.remaining} (what is left to ship)"
            )
        chosen.append(ShipmentLine(item.id, line.quantity))
    return chosen


def ship(
    ctx: Context,
    actor: User,
    order_id: str,
    *,
    carrier: str,
    tracking_number: str,
    tracking_url: str | None = None,
    lines: Sequence[ShipLine] | None = None,
) -> Shipment:
    """Ship the whole order or the chosen lines. The order is ``shipped`` once every line is."""
    require_staff(actor)
    carrier = carrier.strip() if isinstance(carrier, str) else ""
    tracking_number = tracking_number.strip() if isinstance(tracking_number, str) else ""
    if not carrier or len(carrier) > 100:
        raise InvalidInput("carrier must be 1-100 characters")
    if not tracking_number or len(tracking_number) > 100:
        raise InvalidInput("tracking_number must be 1-100 characters")
    if tracking_url is not None and (
        not tracking_url.startswith(("https://", "http://")) or len(tracking_url) > 2000
    ):
        raise InvalidInput("tracking_url must be an http(s) URL")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        order = uow.orders.get(order_id)
        if order is None:
            raise NotFound("order not found")
        if not order.holds_reservations:
            raise DomainError(
                f"order {order.number} is {order.status}; only allocated, picking or packing "
                "orders can ship",
                code="not_shippable",
            )
        chosen = _chosen_lines(order, lines)
        for line in chosen:
            item = order.item(line.item_id)
            if item is None or item.product_id is None:  # allocated orders are fully mapped
                raise DomainError(f"order {order.number} has an unmapped line")
            move(
                uow,
                ctx,
                product_id=item.product_id,
                warehouse_id=order.warehouse_id,
                rule=rules.ship,
                quantity=line.quantity,
                reason=f"order {order.number} via {carrier} {tracking_number}",
                order_id=order.id,
            )
            item.shipped_quantity += line.quantity
        if order.status == "allocated":
            order.transition("picking", now)
        if order.status == "picking":
            order.transition("packing", now)
        if order.fully_shipped:
            order.transition("shipped", now)
        order.updated_at = now
        shipment = Shipment(
            id=ctx.ids.new_id(),
            order_id=order.id,
            client_id=order.client_id,
            lines=chosen,
            carrier=carrier,
            tracking_number=tracking_number,
            tracking_url=tracking_url,
            created_at=now,
            sync_state="pending" if order.external is not None else "not_required",
        )
        uow.orders.update(order)
        uow.shipments.add(shipment)
        if order.external is not None:
            uow.outbox.add(
                OutboxCommand(
                    id=ctx.ids.new_id(),
                    kind=FULFILLMENT_COMMAND,
                    idempotency_key=f"{FULFILLMENT_COMMAND}:{shipment.id}",
                    created_at=now,
                    next_attempt_at=now,
                    integration_id=order.external.integration_id,
                    payload={"shipment_id": shipment.id, "order_id": order.id},
                )
            )
        uow.commit()
    return shipment
