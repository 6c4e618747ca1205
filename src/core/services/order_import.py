"""Store orders become warehouse orders exactly once, whatever the webhooks do.

A webhook is treated as a hint that an order changed, not as the truth: the handler reads the
order and its fulfillment orders from the store and converges the warehouse order on that
state. Repeats, late arrivals and reordering are therefore harmless, and reconciliation
(``reconcile``) feeds the orders it finds through the same function. The guard against going
backwards is the store's ``updated_at``: a state older than or equal to what was applied
changes nothing.

What becomes work: only fulfillment-order lines assigned to a mapped location (a store location
with a warehouse), still to fulfil and needing shipping. Lines map to products by variant
mapping, then SKU (case-insensitive), then a barcode naming exactly one product; an unmapped
line holds the order with the reason and an alert. Test, draft, cancelled and already
fulfilled orders are skipped with a recorded reason. Changes in the store (address, quantities,
lines) apply until picking starts; after that they raise an alert instead. A cancellation
before shipping cancels and releases the stock; after shipping it raises an alert.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal

from attrs import define, field, frozen

from core.errors import (
    PlatformAuthError,
    PlatformError,
    PlatformUnavailable,
    StoreOrderConflict,
)
from core.model import (
    EDITABLE_STATUSES,
    ExternalRef,
    InboxEvent,
    Integration,
    LocationMapping,
    OutboundItem,
    OutboundOrder,
    SyncRun,
)
from core.ports import UnitOfWork
from core.serialization import dump_order
from core.services import _skips as skips
from core.services import allocation
from core.services._context import raise_alert, resolve_alerts
from core.services._paging import every
from core.services._resolve import resolve_product
from core.services.integrations import StoreContext, platform_code, session_for
from core.services.orders import HOLD_ALERT, SPLIT_REASON, cancel, describe_unmapped, hold
from core.services.worker import Backoff, record_failure
from core.store import StoreFulfillmentOrder, StoreOrder, StoreSession
from core.text import storable_json, storable_text

Outcome = Literal["imported", "updated", "cancelled", "closed", "skipped", "unchanged"]

AUTO_IMPORT_OFF = skips.AUTO_IMPORT_OFF
OPEN_FULFILLMENT_STATUSES = frozenset({"OPEN", "IN_PROGRESS"})
SETTLED: frozenset[str] = frozenset({"shipped", "cancelled"})  # the store changes nothing more
RECONCILE_OVERLAP = timedelta(minutes=10)
RECONCILE_FIRST_WINDOW = timedelta(days=7)
DATABASE_UNAVAILABLE = "database_unavailable"  # the code database adapters give their outages
_RUSH_WORDS = re.compile(
    r"\b(rush|express|expedited|priority|overnight|next[ -]?day|same[ -]?day)\b", re.IGNORECASE
)


@frozen
class ImportResult:
    outcome: Outcome
    reason: str = ""
    order_id: str | None = None

    @property
    def changed(self) -> bool:
        return self.outcome in ("imported", "updated", "cancelled", "closed")


@frozen
class WantedLine:
    """One fulfillment-order line the warehouse should ship."""

    fulfillment_order_id: str
    fulfillment_order_line_id: str
    line_item_id: str
    quantity: int
    warehouse_id: str
    location_id: str
    location_is_default: bool
    variant_id: str | None
    sku: str | None
    title: str
    unit_price: str | None
    barcode: str | None


def is_rush(order: StoreOrder) -> bool:
    return any(_RUSH_WORDS.search(text) for text in (*order.tags, *order.shipping_methods))


def wanted_lines(
    order: StoreOrder,
    fulfillment_orders: Sequence[StoreFulfillmentOrder],
    locations: Sequence[LocationMapping],
) -> list[WantedLine]:
    """The lines at mapped locations that still need shipping, in a stable order."""
    by_location = {m.external_location_id: m for m in locations if m.warehouse_id and m.active}
    lines_by_id = {line.id: line for line in order.lines}
    wanted: list[WantedLine] = []
    for fo in fulfillment_orders:
        location = by_location.get(fo.location_id or "")
        if location is None or fo.status not in OPEN_FULFILLMENT_STATUSES:
            continue
        for fo_line in fo.lines:
            line = lines_by_id.get(fo_line.line_item_id)
            requires_shipping = fo_line.requires_shipping and (
                line is None or line.requires_shipping
            )
            if fo_line.remaining_quantity <= 0 or not requires_shipping:
                continue
            wanted.append(
                WantedLine(
                    fulfillment_order_id=fo.id,
                    fulfillment_order_line_id=fo_line.id,
                    line_item_id=fo_line.line_item_id,
                    quantity=fo_line.remaining_quantity,
                    warehouse_id=location.warehouse_id or "",
                    location_id=location.external_location_id,
                    location_is_default=location.is_default,
                    variant_id=fo_line.variant_id or (line.variant_id if line else None),
                    sku=fo_line.sku or (line.sku if line else None),
                    title=line.title if line else "",
                    unit_price=line.unit_price if line else None,
                    barcode=line.barcode if line else None,
                )
            )
    return sorted(wanted, key=lambda w: (w.fulfillment_order_id, w.fulfillment_order_line_id))


def _warehouse_for(lines: Sequence[WantedLine]) -> tuple[str, bool]:
    """The order's warehouse (the default location's if it has lines, else the one with the
    most units) and whether the lines span several warehouses."""
    units: dict[str, int] = {}
    default: str | None = None
    for line in lines:
        units[line.warehouse_id] = units.get(line.warehouse_id, 0) + line.quantity
        if line.location_is_default:
            default = line.warehouse_id
    chosen = default or max(sorted(units), key=lambda w: units[w])
    return chosen, len(units) > 1


def _order_number(uow: UnitOfWork, integration: Integration, order: StoreOrder) -> str:
    """The store's number behind the store's prefix (``SH-1001``, ``SH-OUTLET-1001``), fixed
    per store when it was connected; a number taken already (a store that was reset) gets
    the store's order id too."""
    number = order.number or order.name.lstrip("#") or order.id
    prefix = integration.order_prefix or f"{platform_code(integration.platform)}-"
    wanted = f"{prefix}{number}"
    if uow.orders.number_taken(integration.client_id, wanted):
        wanted = f"{wanted}-{order.id}"
    return wanted


def _identity_conflict(existing: OutboundOrder, order: StoreOrder) -> str | None:
    """``None`` when ``order`` is the store order ``existing`` was imported from; otherwise
    how it differs. A store order keeps its number and creation time for life, so another
    number or creation time under the same id is another order."""
    ours = (existing.external.external_number if existing.external else "").lstrip("#")
    theirs = (order.number or order.name).lstrip("#")
    differences = []
    if ours and theirs and ours != theirs:
        differences.append(f"its number is {theirs}, not {ours}")
    created = existing.external_created_at
    if created is not None and order.created_at is not None and created != order.created_at:
        differences.append(
            f"it was created {order.created_at.isoformat()}, not {created.isoformat()}"
        )
    return "; ".join(differences) or None


def check_identity(existing: OutboundOrder, order: StoreOrder) -> None:
    """Refuse ``order`` if it is not the store order ``existing`` came from (the store gave
    its id to another order): nothing of it may be applied over the warehouse order."""
    difference = _identity_conflict(existing, order)
    if difference is not None:
        raise StoreOrderConflict(
            f"store order {order.id} is not the order imported as {existing.number}: "
            f"{difference}. The store reused the id (was it reset or restored?); the order "
            f"was refused and {existing.number} left as it was",
            order_id=existing.id,
        )


def _items(
    uow: UnitOfWork,
    integration: Integration,
    lines: Sequence[WantedLine],
    existing: Sequence[OutboundItem],
    new_id: object,
) -> list[OutboundItem]:
    kept = {i.external_fulfillment_order_line_id: i for i in existing}
    items: list[OutboundItem] = []
    for line in lines:
        product_id = resolve_product(
            uow,
            client_id=integration.client_id,
            integration_id=integration.id,
            variant_id=line.variant_id,
            sku=line.sku,
            barcode=line.barcode,
        )
        sku = line.sku or ""
        name = line.title
        if product_id is not None:
            product = uow.products.get(product_id)
            if product is not None:
                sku, name = product.sku, product.name
        previous = kept.get(line.fulfillment_order_line_id)
        items.append(
            OutboundItem(
                id=previous.id if previous else new_id(),  # type: ignore[operator]
                product_id=product_id,
                sku=sku or (line.sku or ""),
                name=name or sku,
                quantity=line.quantity,
                unit_price=line.unit_price,
                external_line_id=line.line_item_id,
                external_variant_id=line.variant_id,
                external_fulfillment_order_id=line.fulfillment_order_id,
                external_fulfillment_order_line_id=line.fulfillment_order_line_id,
                barcode=line.barcode,
                external_location_id=line.location_id,
            )
        )
    return items


def _hold_reason(order: OutboundOrder, split: bool) -> str | None:
    reasons = []
    if order.unmapped_items:
        reasons.append(describe_unmapped(order.unmapped_items))
    if split:
        reasons.append(SPLIT_REASON)
    return "; ".join(reasons) or None


def _settle(
    uow: UnitOfWork,
    sc: StoreContext,
    integration: Integration,
    order: OutboundOrder,
    split: bool,
    *,
    was_held: bool,
) -> None:
    """Hold (with an alert the first time) or allocate a pending order."""
    reason = _hold_reason(order, split)
    if reason is not None:
        hold(uow, sc.ctx, order, reason)
        if not was_held:
            raise_alert(
                uow,
                sc.ctx,
                severity="warning",
                code=HOLD_ALERT,
                message=f"order {order.number} is on hold: {reason}",
                client_id=order.client_id,
                integration_id=integration.id,
                order_id=order.id,
            )
        return
    allocation.allocate(uow, sc.ctx, order)


def _apply_new(
    uow: UnitOfWork,
    sc: StoreContext,
    integration: Integration,
    order: StoreOrder,
    lines: list[WantedLine],
    *,
    manual: bool,
) -> ImportResult:
    if order.test:
        return ImportResult("skipped", "test order")
    if order.draft:
        return ImportResult("skipped", "draft order")
    if order.cancelled_at is not None:
        return ImportResult("skipped", "cancelled in the store before it was imported")
    if not lines:
        if order.fulfillment_status == "fulfilled":
            return ImportResult("skipped", "already fulfilled in the store")
        return ImportResult("skipped", skips.NO_MAPPED_LOCATION)
    if not integration.settings.auto_import_orders and not manual:
        return ImportResult("skipped", AUTO_IMPORT_OFF)
    now = sc.ctx.clock.now()
    warehouse_id, split = _warehouse_for(lines)
    outbound = OutboundOrder(
        id=sc.ctx.ids.new_id(),
        client_id=integration.client_id,
        warehouse_id=warehouse_id,
        number=_order_number(uow, integration, order),
        created_at=now,
        updated_at=now,
        source=integration.platform,
        external=ExternalRef(
            integration.platform, integration.id, order.id, order.number or order.name
        ),
        ship_to=order.shipping_address,
        email=order.email,
        rush=is_rush(order),
        notes=order.note or "",
        items=_items(uow, integration, lines, [], sc.ctx.ids.new_id),
        external_updated_at=order.updated_at,
        currency=order.currency,
        external_created_at=order.created_at,
    )
    _settle(uow, sc, integration, outbound, split, was_held=False)
    uow.orders.add(outbound)
    return ImportResult("imported", outbound.status, outbound.id)


def _apply_existing(
    uow: UnitOfWork,
    sc: StoreContext,
    integration: Integration,
    *,
    existing: OutboundOrder,
    order: StoreOrder,
    lines: list[WantedLine],
    fulfilled: dict[str, int],
) -> ImportResult:
    ctx = sc.ctx
    existing.external_updated_at = order.updated_at
    shipped_some = any(i.shipped_quantity for i in existing.items)
    if order.cancelled_at is not None and shipped_some:
        _alert_once(
            uow,
            sc,
            integration,
            order=existing,
            code="cancelled_after_shipping",
            message=f"order {existing.number} was cancelled in the store after it shipped "
            "(in part or whole); nothing was changed in the warehouse",
        )
        if existing.status != "shipped":
            uow.orders.update(existing)
            return ImportResult("unchanged", "cancelled after shipping: alert raised", existing.id)
    if existing.status in ("shipped", "cancelled"):
        uow.orders.update(existing)
        return ImportResult("unchanged", f"the warehouse order is {existing.status}", existing.id)
    if order.cancelled_at is not None:
        cancel(uow, ctx, existing, "cancelled in the store")
        uow.orders.update(existing)
        return ImportResult("cancelled", "cancelled in the store", existing.id)
    if existing.status not in EDITABLE_STATUSES:
        # units shipped here that this state of the store does not show fulfilled yet (a
        # push under way, an answer lost, or a state read before the fulfilment): the store
        # still wants them as far as this state goes
        not_shown = {
            item.id: max(0, item.shipped_quantity - fulfilled.get(line_id or "", 0))
            for item in existing.items
            for line_id in (item.external_fulfillment_order_line_id,)
        }
        if _differs(existing, order, lines, not_shown):
            _alert_once(
                uow,
                sc,
                integration,
                order=existing,
                code="changed_after_picking",
                message=f"order {existing.number} changed in the store after picking started; "
                "check the address and lines by hand",
            )
        uow.orders.update(existing)
        return ImportResult("unchanged", f"already {existing.status}", existing.id)
    if not lines:
        allocation.release(uow, ctx, existing, "no lines left")
        if order.fulfillment_status == "fulfilled":
            close_fulfilled_elsewhere(existing, ctx.clock.now())
            uow.orders.update(existing)
            return ImportResult("closed", "fulfilled outside the warehouse", existing.id)
        existing.transition("cancelled", ctx.clock.now())
        existing.hold_reason = None
        existing.notes = f"{existing.notes}\nCancelled: no lines left for the warehouse".strip()
        uow.orders.update(existing)
        return ImportResult("cancelled", "no lines left for the warehouse", existing.id)
    # A held order is rebuilt even when nothing changed: a mapping may have appeared since.
    unchanged = not _differs(existing, order, lines) and (
        existing.email,
        existing.rush,
        existing.notes,
    ) == (order.email, is_rush(order), order.note or existing.notes)
    if unchanged and existing.status != "on_hold":
        uow.orders.update(existing)
        return ImportResult("unchanged", "nothing changed", existing.id)
    was_held = existing.status == "on_hold"
    old_reason = existing.hold_reason
    allocation.release(uow, ctx, existing, "store order changed")
    if existing.status != "pending":
        existing.transition("pending", ctx.clock.now())
    warehouse_id, split = _warehouse_for(lines)
    existing.warehouse_id = warehouse_id
    existing.items = _items(uow, integration, lines, existing.items, ctx.ids.new_id)
    existing.hold_reason = None
    existing.ship_to = order.shipping_address
    existing.email = order.email
    existing.rush = is_rush(order)
    existing.notes = order.note or existing.notes
    existing.updated_at = ctx.clock.now()
    _settle(
        uow,
        sc,
        integration,
        existing,
        split,
        was_held=was_held and old_reason == _hold_reason(existing, split),
    )
    uow.orders.update(existing)
    return ImportResult("updated", existing.status, existing.id)


def _differs(
    existing: OutboundOrder,
    order: StoreOrder,
    lines: Sequence[WantedLine],
    unsynced: dict[str, int] | None = None,
) -> bool:
    """Does the store want something else than the warehouse will ship? Units shipped here
    that this state of the store does not show fulfilled (``unsynced``, per item) still
    count as wanted by the store."""
    if existing.ship_to != order.shipping_address:
        return True
    pending = unsynced or {}
    expected = {
        i.external_fulfillment_order_line_id: i.remaining + pending.get(i.id, 0)
        for i in existing.items
        if i.remaining + pending.get(i.id, 0) > 0
    }
    return expected != {w.fulfillment_order_line_id: w.quantity for w in lines}


def _looks_applied(existing: OutboundOrder, current: StoreOrder) -> bool:
    """Is ``current`` (a reconciled read) visibly what was already applied? Saves reading
    the fulfillment orders of every unchanged order a reconciliation window holds. Only an
    older-or-equal timestamp with the same address, state and per-line quantities counts."""
    if existing.status in SETTLED and current.cancelled_at is None:
        return True  # nothing but a cancellation changes a shipped or cancelled order
    applied = existing.external_updated_at
    if applied is None or current.updated_at > applied:
        return False
    if existing.status in SETTLED:
        return True
    if current.cancelled_at is not None or existing.ship_to != current.shipping_address:
        return False
    ours: dict[str, int] = {}
    for item in existing.items:
        ours[item.external_line_id or ""] = ours.get(item.external_line_id or "", 0) + item.quantity
    theirs = {
        line.id: line.fulfillable_quantity
        for line in current.lines
        if line.requires_shipping and (line.fulfillable_quantity or 0) > 0
    }
    return ours == theirs


def _alert_once(
    uow: UnitOfWork,
    sc: StoreContext,
    integration: Integration,
    *,
    order: OutboundOrder,
    code: str,
    message: str,
) -> None:
    """One open alert per order and problem, however often the store repeats itself."""
    if uow.alerts.list(
        integration_id=integration.id,
        unresolved_only=True,
        subject_id=order.id,
        code=code,
        limit=1,
    ):
        return
    raise_alert(
        uow,
        sc.ctx,
        severity="warning",
        code=code,
        message=message,
        client_id=order.client_id,
        integration_id=integration.id,
        order_id=order.id,
    )


def close_fulfilled_elsewhere(order: OutboundOrder, now: datetime) -> None:
    """The store fulfilled it without us: the order is done, nothing left the warehouse.

    Not a status-machine transition (no stock moved); callers release reservations first.
    """
    order.status = "shipped"
    order.hold_reason = None
    order.updated_at = now
    order.notes = f"{order.notes}\nFulfilled outside the warehouse".strip()


def apply_order(
    uow: UnitOfWork,
    sc: StoreContext,
    integration: Integration,
    order: StoreOrder,
    fulfillment_orders: Sequence[StoreFulfillmentOrder],
    *,
    manual: bool = False,
) -> ImportResult:
    """Converge the warehouse order on the store's state ``order`` (in ``uow``)."""
    existing = uow.orders.get_by_external(integration.id, order.id)
    was_on_hold = existing is not None and existing.status == "on_hold"
    if existing is not None:
        check_identity(existing, order)
        if existing.external_created_at is None:  # imported before creation times were kept
            existing.external_created_at = order.created_at
    # Store timestamps have one-second resolution: an equal one may be a later change of the
    # same second, so only an older state is ignored; applying an equal state again is a no-op.
    if (
        existing is not None
        and existing.external_updated_at is not None
        and order.updated_at < existing.external_updated_at
    ):
        return ImportResult("unchanged", "a newer version is already applied", existing.id)
    lines = wanted_lines(order, fulfillment_orders, uow.locations.for_integration(integration.id))
    if existing is None:
        result = _apply_new(uow, sc, integration, order, lines, manual=manual)
    else:
        fulfilled = {  # units the store shows fulfilled, per fulfillment-order line
            line.id: line.total_quantity - line.remaining_quantity
            for fo in fulfillment_orders
            for line in fo.lines
        }
        result = _apply_existing(
            uow, sc, integration, existing=existing, order=order, lines=lines, fulfilled=fulfilled
        )
    if was_on_hold and existing is not None and existing.status != "on_hold":
        resolve_alerts(uow, sc.ctx, codes=(HOLD_ALERT,), subject_id=existing.id)
    if result.changed:
        # from the store's change (its creation, for a new order) to the warehouse's
        changed_at = order.created_at if result.outcome == "imported" else None
        latency = sc.ctx.clock.now() - (changed_at or order.updated_at)
        sc.ctx.metrics.order_applied(
            integration.platform, result.outcome, max(0.0, latency.total_seconds())
        )
    return result


@frozen
class StoreState:
    """An order as the store shows it now, with its fulfillment orders."""

    order: StoreOrder
    fulfillment_orders: tuple[StoreFulfillmentOrder, ...]


def read_order(
    sc: StoreContext,
    integration: Integration,
    order_id: str,
    *,
    seen_at: datetime | None = None,
    seen_cancelled: bool = False,
    current: StoreOrder | None = None,
    session: StoreSession | None = None,
    seen: StoreOrder | None = None,
) -> StoreState | ImportResult:
    """Outside any transaction: read the order (unless given) and its fulfillment orders from
    the store, or say why no store read is needed.

    ``seen_at`` is the ``updated_at`` of the webhook that prompted this: a state already
    applied at or after it needs no store call; a store answer older than it means the store
    has not caught up yet, so the event is retried shortly. ``apply_order`` re-checks the
    timestamps under the order's row lock, so a state read here that another worker overtook
    in the meantime changes nothing. A warehouse order that is shipped or cancelled takes no
    store change but a cancellation (``seen_cancelled``: the webhook's order is cancelled),
    so any other webhook about it needs no store call either.

    ``seen`` is the order as the webhook showed it: one that is not the order imported under
    its id (``check_identity``) is refused before anything else, as is such a ``current``.
    """
    if seen_at is not None or current is not None:
        with sc.ctx.uow() as uow:
            existing = uow.orders.peek_external(integration.id, order_id)
        if existing is not None:
            for shown in (seen, current):
                if shown is not None:
                    check_identity(existing, shown)
            applied = existing.external_updated_at
            if seen_at is not None and applied is not None and seen_at < applied:
                return ImportResult("unchanged", "a newer version is already applied", existing.id)
            if seen_at is not None and not seen_cancelled and existing.status in SETTLED:
                return ImportResult(
                    "unchanged", f"the warehouse order is {existing.status}", existing.id
                )
            if current is not None and _looks_applied(existing, current):
                return ImportResult("unchanged", "already up to date", existing.id)
    store = sc.platform(integration.platform)
    session = session or session_for(sc, integration.id)
    if current is None:
        current = store.order(session, order_id)
        if current is None:
            return ImportResult("skipped", "the order no longer exists in the store")
    if seen_at is not None and current.updated_at < seen_at:
        raise PlatformUnavailable(
            f"the store still shows order {order_id} as of {current.updated_at.isoformat()}, "
            f"older than the webhook ({seen_at.isoformat()}); retrying",
            operation="order",
        )
    return StoreState(current, tuple(store.fulfillment_orders(session, order_id)))


def apply_state(
    uow: UnitOfWork,
    sc: StoreContext,
    integration: Integration,
    state: StoreState | ImportResult,
    *,
    manual: bool = False,
) -> ImportResult:
    """In ``uow``: apply what ``read_order`` found (a ready result passes through)."""
    if isinstance(state, ImportResult):
        return state
    return apply_order(uow, sc, integration, state.order, state.fulfillment_orders, manual=manual)


# --- reconciliation ----------------------------------------------------------------------------


@define
class ReconcileReport:
    read: int = 0  # orders read from the store
    imported: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[str] = field(factory=list)  # the store or database failed: window kept
    failed: list[str] = field(factory=list)  # orders kept as failed events: window moves on

    def count(self, result: ImportResult) -> None:
        if result.outcome == "imported":
            self.imported += 1
        elif result.changed:
            self.updated += 1
        else:
            self.skipped += 1

    def as_dict(self) -> dict[str, int]:
        return {
            "imported": self.imported,
            "updated": self.updated,
            "skipped": self.skipped,
            "failed": len(self.failed),
        }

    def progress(self) -> dict[str, int]:
        """The counts a reader of a running sync sees."""
        return {"read": self.read, **self.as_dict(), "errors": len(self.errors)}


def _passing(exc: Exception) -> bool:
    """Is ``exc`` a failure of the store or the database rather than of this one order (down,
    throttled, our access refused), so that reading the same window again later helps?"""
    if isinstance(exc, PlatformError):
        return exc.retryable or isinstance(exc, PlatformAuthError)
    return getattr(exc, "code", "") == DATABASE_UNAVAILABLE


def _message(order_id: str, exc: Exception) -> str:
    return storable_text(f"order {order_id}: {getattr(exc, 'message', exc)}")


def reconcile(
    sc: StoreContext,
    integration_id: str,
    *,
    manual: bool = False,
    progress: Callable[[Mapping[str, int]], None] | None = None,
) -> ReconcileReport:
    """Feed every order updated since the watermark (minus an overlap) through the same
    import as webhooks; with ``manual``, also import what was skipped while automatic import
    was off. ``progress`` is given the counts so far after each order.

    An order that fails for a reason of its own (a payload or a value that cannot be used, a
    refusal, a bug) is kept as a failed inbox event, listed with the store's events and
    retried by the worker (then ``dead`` with an alert), so it never holds up the others. The
    watermark moves to the start of this run unless the store or the database failed. A run
    the store stops altogether (a page that cannot be read) is finished with the error, which
    is raised."""
    ctx = sc.ctx
    started = ctx.clock.now()
    report = ReconcileReport()
    with ctx.uow() as uow:
        integration = uow.integrations.peek(integration_id)
        run = SyncRun(
            id=ctx.ids.new_id(), kind="orders", started_at=started, integration_id=integration_id
        )
        uow.sync_runs.add(run)
        uow.commit()
    if integration is None or not integration.is_connected:
        _finish(sc, run, report, "the integration is not connected")
        return report
    try:
        _reconcile_all(sc, integration, started, report, manual=manual, progress=progress)
    except Exception as exc:
        reason = getattr(exc, "message", None) or type(exc).__name__
        _finish(sc, run, report, storable_text(f"the sync stopped: {reason}")[:1000])
        raise
    with ctx.uow() as uow:
        locked = uow.integrations.get(integration_id)
        if locked is not None and not report.errors:
            locked.orders_synced_at = started
            uow.integrations.update(locked)
        uow.commit()
    problems = [*report.errors, *report.failed]
    _finish(sc, run, report, "; ".join(problems)[:1000] or None)
    return report


def _reconcile_all(
    sc: StoreContext,
    integration: Integration,
    started: datetime,
    report: ReconcileReport,
    *,
    manual: bool,
    progress: Callable[[Mapping[str, int]], None] | None,
) -> None:
    since = (
        integration.orders_synced_at - RECONCILE_OVERLAP
        if integration.orders_synced_at is not None
        else started - RECONCILE_FIRST_WINDOW
    )
    store = sc.platform(integration.platform)
    session = session_for(sc, integration.id)
    cursor: str | None = None
    while True:
        page = store.orders_updated_since(session, since, cursor)
        for order in page.orders:
            report.read += 1
            _reconcile_one(sc, integration, order, session, report, manual=manual)
            if progress is not None:
                progress(report.progress())
        cursor = page.next_cursor
        if cursor is None:
            break
    if manual:
        _import_skipped(sc, integration, report)
        if progress is not None:
            progress(report.progress())


def _reconcile_one(
    sc: StoreContext,
    integration: Integration,
    order: StoreOrder,
    session: StoreSession,
    report: ReconcileReport,
    *,
    manual: bool,
) -> None:
    """One order of the window, recorded as a reconciled inbox event."""
    ctx = sc.ctx
    event = InboxEvent(
        id=ctx.ids.new_id(),
        platform=integration.platform,
        topic="orders/updated",
        delivery_id=f"reconcile:{integration.id}:{order.id}:{order.updated_at.isoformat()}",
        received_at=ctx.clock.now(),
        next_attempt_at=ctx.clock.now(),
        payload=storable_json(dump_order(order)),
        integration_id=integration.id,
        shop_domain=integration.shop_domain,
        source="reconcile",
        status="processing",
        attempts=1,
    )
    try:
        state = read_order(sc, integration, order.id, current=order, session=session)
        with ctx.uow() as uow:
            fresh = uow.inbox.add(event)
            result = apply_state(uow, sc, integration, state, manual=manual)
            if fresh:
                event.status = "processed" if result.changed else "skipped"
                event.error = None if result.changed else result.reason
                event.processed_at = ctx.clock.now()
                uow.inbox.update(event)
            uow.commit()
        report.count(result)
    except Exception as exc:  # one bad order must not stop the others
        if _passing(exc):
            report.errors.append(_message(order.id, exc))
            return
        try:
            with ctx.uow() as uow:
                if uow.inbox.add(event):  # a failure seen again is already kept
                    record_failure(uow, ctx, event, exc, backoff=Backoff())
                    uow.inbox.update(event)
                uow.commit()
        except Exception as again:  # not even the failure could be kept: read it again
            report.errors.append(_message(order.id, again))
            return
        report.failed.append(_message(order.id, exc))


def _import_skipped(sc: StoreContext, integration: Integration, report: ReconcileReport) -> None:
    """Orders whose webhooks were kept but skipped while automatic import was off: every
    page of them. One that fails stays skipped (the next manual sync tries it again)."""

    def page(limit: int, offset: int) -> list[InboxEvent]:
        with sc.ctx.uow() as uow:
            return uow.inbox.list(
                integration_id=integration.id, status="skipped", limit=limit, offset=offset
            )

    done: set[str] = set()
    for event in every(page):  # importing one keeps it skipped: the pages do not shift
        if event.error != AUTO_IMPORT_OFF:
            continue
        edit = event.payload.get("order_edit")
        order_id = str(
            event.payload.get("id")
            or (edit.get("order_id") if isinstance(edit, dict) else "")
            or ""
        )
        if not order_id or order_id in done:
            continue
        done.add(order_id)
        try:
            state = read_order(sc, integration, order_id)
            with sc.ctx.uow() as uow:
                result = apply_state(uow, sc, integration, state, manual=True)
                stored = uow.inbox.get(event.id)
                if stored is not None:
                    stored.error = f"imported by a manual sync: {result.outcome}"
                    uow.inbox.update(stored)
                uow.commit()
            report.count(result)
        except Exception as exc:  # keep going; the error is reported
            problems = report.errors if _passing(exc) else report.failed
            problems.append(_message(order_id, exc))


def _finish(sc: StoreContext, run: SyncRun, report: ReconcileReport, error: str | None) -> None:
    with sc.ctx.uow() as uow:
        run.finished_at = sc.ctx.clock.now()
        run.counts = report.as_dict()
        run.error = error
        uow.sync_runs.update(run)
        uow.commit()
