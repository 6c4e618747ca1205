"""Shipping: reserved units leave, a shipment is recorded, and for a store order a command to
fulfil it in the store is written in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence

from attrs import frozen

from core.errors import DomainError, InvalidInput, NotFound, PlatformRejected
from core.model import OutboundItem, OutboundOrder, OutboxCommand, Shipment, ShipmentLine, User
from core.model import stock as rules
from core.ports import StorePlatform, UnitOfWork
from core.services import _skips as skips
from core.services import inventory
from core.services._context import Context, raise_alert, require_staff
from core.services._ledger import move
from core.services.integrations import StoreContext, session_for
from core.services.worker import OutboxApply, Skip, done
from core.store import (
    FulfillmentLines,
    FulfillmentRequest,
    StoreFulfillmentOrder,
    StoreFulfillments,
    StoreSession,
    Tracking,
)

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


def push_fulfillment(sc: StoreContext, command: OutboxCommand) -> OutboxApply:
    """Worker handler for ``fulfillment.create``: fulfil exactly the shipped fulfillment-order
    lines in the store, with tracking, once per fulfillment order.

    Runs outside any transaction: it reads what to fulfil, reads the store's fulfillment
    orders, creates one store fulfillment per location whose lines the store does not show
    fulfilled yet, and returns what the worker records in its transaction (which re-checks
    that the shipment was not marked meanwhile). Fulfilling is not idempotent in the store,
    so the fulfillment orders are read before anything is created: a location whose units
    the store already shows as fulfilled (an earlier attempt succeeded there but its answer
    was lost, or failed at another location) is not fulfilled again. A location whose lines
    the store shows more fulfilled than the order's recorded parcels explain is told apart
    by the tracking number (``_already_there``): two parcels of one line pushed by two
    workers at once must not both take the first one's units for their own.
    """
    shipment_id = str(command.payload.get("shipment_id", ""))
    with sc.ctx.uow() as uow:
        shipment = uow.shipments.get(shipment_id)
        if shipment is None:
            return done(Skip("the shipment no longer exists"))
        if shipment.sync_state == "synced":
            return done(Skip("already fulfilled in the store"))
        order = uow.orders.get(shipment.order_id)
        if order is None or order.external is None:
            return done(Skip("not a store order"))
        integration = uow.integrations.peek(order.external.integration_id)
        # the order's other parcels recorded as fulfilled: their units are in the store now
        recorded = _units(_siblings(uow, shipment, ("synced",)))
    if integration is None or not integration.is_connected:
        return _not_connected(shipment.id)
    store = sc.platform(integration.platform)
    session = session_for(sc, integration.id)
    fulfillment_orders = {
        fo.id: fo for fo in store.fulfillment_orders(session, order.external.external_order_id)
    }
    # every other parcel that is or may be in the store, read after the store was: a parcel
    # whose fulfilment the store showed existed here before it was created there
    with sc.ctx.uow() as uow:
        siblings = _siblings(uow, shipment, ("synced", "pending"))
    known = _units(siblings)
    # location -> fulfillment order -> (line, quantity); per location (item, units, fulfilled)
    by_location: dict[str, dict[str, list[tuple[str, int]]]] = {}
    counts: dict[str, list[tuple[OutboundItem, int, int]]] = {}
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
        maybe_there = fulfilled_in_store >= recorded.get(item.id, 0) + line.quantity
        if fo.status == "CANCELLED" or (fo.status == "CLOSED" and not maybe_there):
            return _rejected_by_store(sc, integration.id, order, shipment.id, fo.status)
        location = fo.location_id or ""
        counts.setdefault(location, []).append((item, line.quantity, fulfilled_in_store))
        by_location.setdefault(location, {}).setdefault(fo.id, []).append(
            (fo_line.id, line.quantity)
        )
    seen = _StoreFulfillments(store, session, order.external.external_order_id)
    pending_locations = {
        location
        for location, lines in counts.items()
        if not _already_there(
            shipment,
            location,
            lines,
            recorded=recorded,
            known=known,
            siblings=siblings,
            seen=seen,
            first_attempt=command.attempts <= 1,
        )
    }
    ids: list[str] = []
    tracking_url: str | None = None
    for location, by_fo in sorted(by_location.items()):
        if location not in pending_locations:
            continue  # the store shows these units fulfilled: never twice
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
        tracking_url = tracking_url or result.tracking_url
    external = ",".join(ids) or "already-fulfilled"

    def apply(uow: UnitOfWork, current: OutboxCommand) -> Skip | None:
        fresh = uow.shipments.get(shipment_id)
        if fresh is None or fresh.sync_state == "synced":
            return Skip("already fulfilled in the store")
        if tracking_url and not fresh.tracking_url:
            fresh.tracking_url = tracking_url
        _mark_synced(uow, sc, fresh, external)
        # the units that left the store's on hand, by location: sent by this push, or found
        # there (sent by an attempt whose answer was lost, or fulfilled by the merchant) and
        # not yet taken off what storelink believes the store has either
        located = []
        for line in fresh.lines:
            item = order.item(line.item_id)
            if item is None:
                continue
            location = _location_of(fulfillment_orders, item.external_fulfillment_order_id)
            located.append((item, line.quantity, location))
        inventory.fulfilled_in_store(uow, sc.ctx, integration.id, order.warehouse_id, located)
        if ids:
            current.result = {"fulfillments": ids}
        return None

    return apply


def _siblings(uow: UnitOfWork, shipment: Shipment, states: tuple[str, ...]) -> list[Shipment]:
    return [
        s
        for s in uow.shipments.for_order(shipment.order_id)
        if s.id != shipment.id and s.sync_state in states
    ]


def _units(shipments: Sequence[Shipment]) -> dict[str, int]:
    units: dict[str, int] = {}
    for shipment in shipments:
        for line in shipment.lines:
            units[line.item_id] = units.get(line.item_id, 0) + line.quantity
    return units


class _StoreFulfillments:
    """The order's fulfillments in the store, read once and only if needed."""

    def __init__(self, store: StorePlatform, session: StoreSession, order_id: str) -> None:
        self._store = store
        self._session = session
        self._order_id = order_id
        self._found: StoreFulfillments | None = None

    def get(self) -> StoreFulfillments:
        if self._found is None:
            self._found = self._store.order_fulfillments(self._session, self._order_id)
        return self._found


def _already_there(
    shipment: Shipment,
    location: str,
    lines: Sequence[tuple[OutboundItem, int, int]],
    *,
    recorded: dict[str, int],
    known: dict[str, int],
    siblings: Sequence[Shipment],
    seen: _StoreFulfillments,
    first_attempt: bool,
) -> bool:
    """Does the store already have this parcel's fulfilment at ``location``?

    ``lines``: (item, units, units the store shows fulfilled on its line). ``recorded``:
    units of the parcels recorded as fulfilled before the store was read; ``known``: units of
    every other parcel, read after it. Only when the store shows more fulfilled units than
    the recorded parcels explain can this one be there; those units may also be another
    parcel's whose push is under way, or the merchant's. So the store's fulfillments are
    read and this parcel's is looked for by its tracking number and lines. Not found: it is
    not there, unless the store shows units beyond every parcel of the order (the merchant
    fulfilled them; never fulfil twice). When that cannot be told (another parcel has the
    same tracking number, or the order has more fulfillments than one read returns), a
    first attempt cannot be there yet, and a retry takes the units for its own, as a
    fulfilment is never sent twice.
    """
    if any(fulfilled < recorded.get(item.id, 0) + units for item, units, fulfilled in lines):
        return False
    beyond_every_parcel = all(
        fulfilled >= known.get(item.id, 0) + units for item, units, fulfilled in lines
    )
    number = shipment.tracking_number.strip()
    found = seen.get() if all(s.tracking_number.strip() != number for s in siblings) else None
    if found is None or not found.complete:
        return beyond_every_parcel or not first_attempt
    wanted: dict[str, int] = {}
    for item, units, _ in lines:
        key = item.external_line_id or ""
        wanted[key] = wanted.get(key, 0) + units
    for fulfillment in found.fulfillments:
        if fulfillment.status.upper() in ("CANCELLED", "ERROR", "FAILURE"):
            continue
        if fulfillment.location_id not in (None, "", location):
            continue
        if number not in (n.strip() for n in fulfillment.tracking_numbers):
            continue
        got: dict[str, int] = {}
        for line_item_id, units in fulfillment.lines:
            got[line_item_id] = got.get(line_item_id, 0) + units
        if got == wanted:
            return True
    return beyond_every_parcel


def _location_of(fulfillment_orders: dict[str, StoreFulfillmentOrder], fo_id: str | None) -> str:
    fo = fulfillment_orders.get(fo_id or "")
    return (fo.location_id or "") if fo else ""


def _not_connected(shipment_id: str) -> OutboxApply:
    def apply(uow: UnitOfWork, _command: OutboxCommand) -> Skip | None:
        shipment = uow.shipments.get(shipment_id)
        if shipment is not None and shipment.sync_state != "synced":
            shipment.sync_state = "failed"
            shipment.sync_error = "the store is not connected"
            uow.shipments.update(shipment)
        return Skip(skips.STORE_NOT_CONNECTED)

    return apply


def _rejected_by_store(
    sc: StoreContext, integration_id: str, order: OutboundOrder, shipment_id: str, status: str
) -> OutboxApply:
    def apply(uow: UnitOfWork, _command: OutboxCommand) -> Skip | None:
        shipment = uow.shipments.get(shipment_id)
        if shipment is None or shipment.sync_state == "synced":
            return Skip("already fulfilled in the store")
        return _cannot_fulfil(
            uow, sc, integration_id=integration_id, order=order, shipment=shipment, fo_status=status
        )

    return apply


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
        order_id=order.id,
    )
    return Skip(shipment.sync_error)


def _mark_synced(uow: UnitOfWork, sc: StoreContext, shipment: Shipment, external: str) -> None:
    shipment.sync_state = "synced"
    shipment.synced_at = sc.ctx.clock.now()
    shipment.sync_error = None
    shipment.external_fulfillment_id = external
    uow.shipments.update(shipment)
