"""Shipping: reserved units leave, a shipment is recorded, and for a store order a command to
fulfil it in the store is written in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence

from attrs import frozen

from core.errors import DomainError, InvalidInput, NotFound, PlatformRejected
from core.model import OutboundOrder, OutboxCommand, Shipment, ShipmentLine, User
from core.model import stock as rules
from core.ports import UnitOfWork
from core.services._context import Context, raise_alert, require_staff
from core.services._ledger import move
from core.services.integrations import StoreContext, session_for
from core.services.worker import Skip
from core.store import FulfillmentLines, FulfillmentRequest, Tracking

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


# --- telling the store ---------------------------------------------------------------------


def push_fulfillment(sc: StoreContext, uow: UnitOfWork, command: OutboxCommand) -> Skip | None:
    """Worker handler for ``fulfillment.create``: fulfil exactly the shipped fulfillment-order
    lines in the store, with tracking, once.

    Fulfilling is not idempotent in the store, so before creating anything the handler reads
    the fulfillment orders: when the store already shows this shipment's units as fulfilled (a
    previous attempt succeeded but its answer was lost), it records success without a second
    fulfilment.
    """
    shipment_id = str(command.payload.get("shipment_id", ""))
    shipment = uow.shipments.get(shipment_id)
    if shipment is None:
        return Skip("the shipment no longer exists")
    if shipment.sync_state == "synced":
        return Skip("already fulfilled in the store")
    order = uow.orders.get(shipment.order_id)
    if order is None or order.external is None:
        return Skip("not a store order")
    integration = uow.integrations.peek(order.external.integration_id)
    if integration is None or not integration.is_connected:
        shipment.sync_state = "failed"
        shipment.sync_error = "the store is not connected"
        uow.shipments.update(shipment)
        return Skip("the store is not connected")
    store = sc.platform(integration.platform)
    session = session_for(sc, integration.id)
    fulfillment_orders = {
        fo.id: fo for fo in store.fulfillment_orders(session, order.external.external_order_id)
    }
    synced_others = [
        s
        for s in uow.shipments.for_order(order.id)
        if s.id != shipment.id and s.sync_state == "synced"
    ]
    already: dict[str, int] = {}
    for other in synced_others:
        for line in other.lines:
            already[line.item_id] = already.get(line.item_id, 0) + line.quantity
    # location -> fulfillment order -> (line, quantity): one store call per location
    by_location: dict[str, dict[str, list[tuple[str, int]]]] = {}
    applied_everywhere = True
    for line in shipment.lines:
        item = order.item(line.item_id)
        if item is None or not item.external_fulfillment_order_id:
            raise DomainError(f"shipment line {line.item_id} has no store fulfillment line")
        fo = fulfillment_orders.get(item.external_fulfillment_order_id)
        fo_line = (
            next((x for x in fo.lines if x.id == item.external_fulfillment_order_line_id), None)
            if fo
            else None
        )
        if fo is None or fo_line is None:
            raise PlatformRejected(
                f"the store has no fulfillment order line for {item.sku} any more",
                operation="fulfillment",
            )
        fulfilled_in_store = fo_line.total_quantity - fo_line.remaining_quantity
        already_there = fulfilled_in_store >= already.get(item.id, 0) + line.quantity
        if fo.status == "CANCELLED" or (fo.status == "CLOSED" and not already_there):
            return _cannot_fulfil(
                uow,
                sc,
                integration_id=integration.id,
                order=order,
                shipment=shipment,
                fo_status=fo.status,
            )
        applied_everywhere = applied_everywhere and already_there
        by_fo = by_location.setdefault(fo.location_id or "", {})
        by_fo.setdefault(fo.id, []).append((fo_line.id, line.quantity))
    if applied_everywhere:
        _mark_synced(uow, sc, shipment, "already-fulfilled")
        return None
    ids = []
    for by_fo in by_location.values():
        result = store.create_fulfillment(
            session,
            FulfillmentRequest(
                order_id=order.external.external_order_id,
                lines_by_fulfillment_order=tuple(
                    FulfillmentLines(fo_id, tuple(fo_lines)) for fo_id, fo_lines in by_fo.items()
                ),
                tracking=Tracking(
                    shipment.carrier, shipment.tracking_number, shipment.tracking_url
                ),
                notify_customer=integration.settings.fulfillment_notify_customer,
            ),
        )
        ids.append(result.fulfillment_id)
        if result.tracking_url and not shipment.tracking_url:
            shipment.tracking_url = result.tracking_url
    _mark_synced(uow, sc, shipment, ",".join(ids))
    command.result = {"fulfillments": ids}
    return None


def _cannot_fulfil(
    uow: UnitOfWork,
    sc: StoreContext,
    *,
    integration_id: str,
    order: OutboundOrder,
    shipment: Shipment,
    fo_status: str,
) -> Skip:
    """The store will never accept this fulfilment (its order was cancelled or closed)."""
    shipment.sync_state = "failed"
    shipment.sync_error = f"the store's fulfillment order is {fo_status.lower()}"
    uow.shipments.update(shipment)
    raise_alert(
        uow,
        sc.ctx,
        severity="error",
        code="fulfillment_rejected",
        message=f"order {order.number} shipped ({shipment.carrier} {shipment.tracking_number}) "
        f"but the store's fulfillment order is {fo_status.lower()}; settle it with the merchant",
        client_id=order.client_id,
        integration_id=integration_id,
        subject_id=shipment.id,
    )
    return Skip(shipment.sync_error)


def _mark_synced(uow: UnitOfWork, sc: StoreContext, shipment: Shipment, external: str) -> None:
    shipment.sync_state = "synced"
    shipment.synced_at = sc.ctx.clock.now()
    shipment.sync_error = None
    shipment.external_fulfillment_id = external
    uow.shipments.update(shipment)
