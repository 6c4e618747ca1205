"""Stock to the stores: what each store may still sell never exceeds what the warehouse can
still ship for it, and equals it once activity stops.

The store's on hand is what storelink sets; the store subtracts its own commitments (units
of its orders not yet fulfilled, imported here or not). So for the one store location that
sells a product's stock from a warehouse (the *stocking slot*) the target on hand is

    free stock (on hand - every reservation) - buffer
    + this store's reservations of orders placed at that slot (the store commits them too)
    - this store's unreserved open units (pending, on hold) placed at its other slots

floored at 0 (on hand 0 leaves the store nothing to sell whatever it has committed). Every
other synced slot for the same product and warehouse (another store location served by the
same warehouse, another variant mapped to the same product) is set to the units of this
store's open orders placed there, so the store has nothing left to sell there. Why this
holds, and how it meets fulfilments, is in README "Stock to the stores".

Every stock movement marks (integration, product, warehouse) dirty in its own transaction
(``stock_changed``) and queues one debounced push per integration. A push reads what it
needs in a short transaction, talks to the store with none open, and records what the store
accepted in short transactions of its own: the compare-and-set value is the on hand the
store was last told or last seen to have, a stale compare re-reads and recomputes, and the
idempotency key of a batch depends on the command and the batch's content, so a retry of
the same change after an unknown outcome is applied once.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from attrs import define, field, frozen

from core.errors import NotFound, PlatformError
from core.model import (
    Integration,
    InventoryPushState,
    LocationMapping,
    OpenUnits,
    OutboundItem,
    OutboxCommand,
    ProductMapping,
    StockLevel,
    SyncRun,
    User,
)
from core.ports import UnitOfWork
from core.services import _skips as skips
from core.services._context import Context, raise_alert
from core.services._paging import every
from core.services._stock_queue import PUSH_COMMAND, SYNC_COMMAND, queue_push, queue_sync
from core.services.integrations import (
    StoreContext,
    require_manager,
    session_for,
    visible_integration,
)
from core.services.worker import OutboxApply, OutboxHandler, Skip, done, record
from core.store import (
    InventoryBatch,
    InventoryQuantity,
    InventoryResult,
    InventorySnapshot,
    StoreSession,
)

STALE_ROUNDS = 3  # re-read and resend a stale compare at most this often per push
MAX_ERROR = 500
NOT_STOCKED = "the item is not stocked at this store location"
VARIANT_GONE = "the variant no longer exists in the store"
LOCATION_GONE = "the store location no longer exists or is inactive"
_KEYS = uuid.UUID("6f1c9a52-2b7e-4f7e-9a35-5d1e3c0b7a11")

Key = tuple[str, str]  # (mapping id, store location id)

__all__ = [
    "PUSH_COMMAND",
    "SYNC_COMMAND",
    "PushReport",
    "Slot",
    "fulfilled_in_store",
    "handlers",
    "is_due",
    "products_changed",
    "push_changes",
    "queue_push",
    "queue_sync",
    "slots",
    "stock_changed",
    "stocking_slot",
    "sync",
    "sync_now",
    "targets",
]


# --- the target: pure ----------------------------------------------------------------------


@frozen
class Slot:
    """One mapped variant at one store location served by a warehouse."""

    mapping: ProductMapping
    location: LocationMapping

    @property
    def key(self) -> Key:
        return (self.mapping.id, self.location.external_location_id)

    @property
    def warehouse_id(self) -> str:
        return self.location.warehouse_id or ""

    @property
    def synced(self) -> bool:
        """Does storelink set this variant's stock at this location?"""
        return (
            self.mapping.sync_inventory
            and self.location.sync_inventory
            and self.location.active
            and bool(self.mapping.external_inventory_item_id)
        )

    def holds(self, units: OpenUnits) -> bool:
        """Were these units ordered exactly here?"""
        return (
            units.variant_id == self.mapping.external_variant_id
            and units.location_id == self.location.external_location_id
        )


def slots(mappings: Iterable[ProductMapping], locations: Iterable[LocationMapping]) -> list[Slot]:
    """Every (variant, location) pair whose location a warehouse serves."""
    served = [loc for loc in locations if loc.warehouse_id and loc.active]
    return [Slot(m, loc) for m in mappings for loc in served]


def stocking_slot(group: Sequence[Slot]) -> Slot | None:
    """The synced slot that sells a product's stock from one warehouse: the default location
    first, then by location name and id, then the oldest mapping."""
    synced = [s for s in group if s.synced]
    if not synced:
        return None
    return min(
        synced,
        key=lambda s: (
            not s.location.is_default,
            s.location.name,
            s.location.external_location_id,
            s.mapping.created_at,
            s.mapping.id,
        ),
    )


def targets(
    all_slots: Sequence[Slot],
    levels: Mapping[tuple[str, str], StockLevel],
    units: Sequence[OpenUnits],
    buffer: int,
) -> dict[Key, int]:
    """The on hand each synced slot should show (see the module docstring)."""
    groups: dict[tuple[str, str], list[Slot]] = {}
    for slot in all_slots:
        groups.setdefault((slot.mapping.product_id, slot.warehouse_id), []).append(slot)
    open_by_group: dict[tuple[str, str], list[OpenUnits]] = {}
    for u in units:
        open_by_group.setdefault((u.product_id, u.warehouse_id), []).append(u)
    wanted: dict[Key, int] = {}
    for (product_id, warehouse_id), group in groups.items():
        stocking = stocking_slot(group)
        if stocking is None:
            continue
        level = levels.get((product_id, warehouse_id)) or StockLevel(product_id, warehouse_id)
        here = open_by_group.get((product_id, warehouse_id), [])
        at_stocking = [u for u in here if _at_stocking(u, stocking)]
        elsewhere = [u for u in here if not _at_stocking(u, stocking)]
        wanted[stocking.key] = max(
            0,
            level.available
            - buffer
            + sum(u.reserved for u in at_stocking)
            - sum(u.unreserved for u in elsewhere),
        )
        for slot in group:
            if slot.synced and slot is not stocking:
                wanted[slot.key] = sum(u.reserved + u.unreserved for u in here if slot.holds(u))
    return wanted


def _at_stocking(units: OpenUnits, stocking: Slot) -> bool:
    """Units ordered at the stocking slot (lines imported before locations were recorded
    count as there)."""
    return units.variant_id in (None, stocking.mapping.external_variant_id) and (
        units.location_id in (None, stocking.location.external_location_id)
    )


# --- dirty tracking: called by every stock movement ----------------------------------------


def stock_changed(uow: UnitOfWork, ctx: Context, product_id: str, warehouse_id: str) -> None:
    """In the movement's transaction: mark the product dirty for every connected store that
    sells it, and queue one debounced push per store that syncs automatically."""
    now = ctx.clock.now()
    seen: set[str] = set()
    for mapping in uow.mappings.for_product(product_id):
        if mapping.integration_id in seen:
            continue
        seen.add(mapping.integration_id)
        integration = uow.integrations.peek(mapping.integration_id)
        if integration is None or not integration.is_connected:
            continue
        uow.inventory.mark_dirty(integration.id, product_id, warehouse_id, now)
        if integration.settings.auto_sync_inventory:
            queue_push(uow, ctx, integration.id)


def products_changed(
    uow: UnitOfWork, ctx: Context, integration: Integration, product_ids: Iterable[str]
) -> None:
    """A mapping of these products was added, removed or switched on: mark them dirty at
    every warehouse serving the store, and push if the store syncs automatically."""
    warehouses = {
        loc.warehouse_id
        for loc in uow.locations.for_integration(integration.id)
        if loc.warehouse_id
    }
    now = ctx.clock.now()
    marked = False
    for product_id in set(product_ids):
        for warehouse_id in sorted(warehouses):
            uow.inventory.mark_dirty(integration.id, product_id, warehouse_id, now)
            marked = True
    if marked and integration.is_connected and integration.settings.auto_sync_inventory:
        queue_push(uow, ctx, integration.id)


def fulfilled_in_store(
    uow: UnitOfWork,
    ctx: Context,
    integration_id: str,
    warehouse_id: str,
    lines: Iterable[tuple[OutboundItem, int, str]],
) -> None:
    """A store fulfilment lowered the store's on hand of these (item, units, location): what
    storelink believes the store has follows, and the items are pushed again (the target
    already left out the shipped units, so the store showed less than it could meanwhile)."""
    lines = list(lines)
    if not lines:
        return
    states = {(s.mapping_id, s.location_id): s for s in uow.inventory.states(integration_id)}
    changed = []
    for item, units, location_id in lines:
        if item.external_variant_id is None or item.product_id is None:
            continue
        mapping = uow.mappings.get_by_variant(integration_id, item.external_variant_id)
        if mapping is None:
            continue
        state = states.get((mapping.id, location_id))
        if state is not None and state.quantity is not None:
            state.quantity -= units
            changed.append(state)
    uow.inventory.save_states(changed)
    for product_id in {item.product_id for item, _, _ in lines if item.product_id}:
        stock_changed(uow, ctx, product_id, warehouse_id)


# --- pushing -------------------------------------------------------------------------------


@define
class PushReport:
    updated: int = 0  # quantities the store accepted
    unchanged: int = 0  # synced slots already right
    failed: int = 0  # quantities not set (errors and lasting problems)
    calls: int = 0  # store calls made
    errors: list[str] = field(factory=list)
    unfinished: set[str] = field(factory=set)  # products to push again (the store kept changing)

    levels_read: int = 0  # store levels read by a full sync

    def counts(self) -> dict[str, int]:
        """The counts a reader of a running push sees."""
        return {
            "levels_read": self.levels_read,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
        }

    def as_dict(self) -> dict[str, object]:
        return {
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "calls": self.calls,
            "errors": self.errors[:20],
        }


@frozen
class Plan:
    """What one push works from, read in one short transaction."""

    integration: Integration
    slots: dict[Key, Slot]
    targets: dict[Key, int]
    states: dict[Key, InventoryPushState]


def _plan(uow: UnitOfWork, integration: Integration, products: set[str] | None) -> Plan:
    """Read what a push works from. ``uow`` should be a snapshot (``UnitOfWork.snapshot``):
    an order reserved between reading the levels and reading the orders would otherwise be
    added back without having been taken off, and the store told that much too much."""
    mappings = [
        m
        for m in uow.mappings.for_integration(integration.id)
        if products is None or m.product_id in products
    ]
    every = slots(mappings, uow.locations.for_integration(integration.id))
    levels = {
        (level.product_id, level.warehouse_id): level
        for level in uow.stock.levels(client_id=integration.client_id)
        if products is None or level.product_id in products
    }
    units = [
        u
        for u in uow.orders.open_units(integration.id)
        if products is None or u.product_id in products
    ]
    wanted = targets(every, levels, units, integration.settings.inventory_buffer)
    return Plan(
        integration=integration,
        slots={s.key: s for s in every},
        targets=wanted,
        states={(s.mapping_id, s.location_id): s for s in uow.inventory.states(integration.id)},
    )


def _state(plan: Plan, key: Key) -> InventoryPushState:
    return plan.states.get(key) or InventoryPushState(
        mapping_id=key[0], location_id=key[1], integration_id=plan.integration.id
    )


def push_changes(sc: StoreContext, integration_id: str, *, key_seed: str) -> PushReport:
    """Push what changed since the last push (the dirty marks): 0 store calls if nothing did."""
    with sc.ctx.uow() as uow:
        uow.snapshot()  # the plan's reads must agree with each other (see ``_plan``)
        integration = uow.integrations.peek(integration_id)
        if integration is None or not integration.is_connected:
            return PushReport(errors=["the integration is not connected"])
        marks = uow.inventory.dirty(integration_id)
        if not marks:
            return PushReport()
        plan = _plan(uow, integration, {m.product_id for m in marks})
    report = _push(sc, plan, key_seed=key_seed)
    with sc.ctx.uow() as uow:
        uow.inventory.clear_dirty(m for m in marks if m.product_id not in report.unfinished)
        if uow.inventory.dirty(integration_id, limit=1):
            queue_push(uow, sc.ctx, integration_id, follow_up=True)  # changed meanwhile
        uow.commit()
    return report


def _push(
    sc: StoreContext,
    plan: Plan,
    *,
    key_seed: str,
    report: PushReport | None = None,
    progress: Callable[[Mapping[str, int]], None] | None = None,
) -> PushReport:
    """Send every synced slot whose target differs from what the store was last told (into
    ``report`` if given; ``progress`` hears its counts after each batch)."""
    report = report or PushReport()
    wanted: dict[Key, int] = {}
    for key, target in sorted(plan.targets.items()):
        state = plan.states.get(key)
        if state is not None and state.problem is not None:
            report.failed += 1
            report.errors.append(f"{_label(plan, key)}: {state.problem}")
        elif state is not None and state.quantity == target and state.error is None:
            report.unchanged += 1
        else:
            wanted[key] = target
    if progress is not None:
        progress(report.counts())
    if wanted:
        push = _Push(sc, plan, report, session_for(sc, plan.integration.id))
        push.progress = progress
        push.run(wanted, key_seed)
    return report


class _Push:
    """One push's conversation with the store; every outcome is recorded as it comes."""

    def __init__(
        self, sc: StoreContext, plan: Plan, report: PushReport, session: StoreSession
    ) -> None:
        self.sc = sc
        self.plan = plan
        self.report = report
        self.session = session
        self.store = sc.platform(plan.integration.platform)
        self.progress: Callable[[Mapping[str, int]], None] | None = None
        # the compare-and-set value per slot: what the store was last told or seen to have
        self.known: dict[Key, int | None] = {
            k: s.quantity for k, s in plan.states.items() if s.quantity is not None
        }

    def run(self, wanted: dict[Key, int], key_seed: str) -> None:
        unknown = [k for k in wanted if self.known.get(k) is None]
        if unknown:
            self.read(unknown)
            wanted = {k: v for k, v in wanted.items() if self.known.get(k) is not None}
        for round_ in range(STALE_ROUNDS + 1):
            retry = self.send(wanted, seed=f"{key_seed}:{round_}")
            if not retry:
                return
            if round_ == STALE_ROUNDS:
                break
            # re-read the stale ones and recompute them from fresh warehouse numbers
            self.read(sorted(retry))
            with self.sc.ctx.uow() as uow:
                uow.snapshot()
                products = {self.plan.slots[k].mapping.product_id for k in retry}
                fresh = _plan(uow, self.plan.integration, products).targets
            wanted = {}
            for key in retry:
                target = fresh.get(key)
                if target is None or self.known.get(key) is None:
                    continue  # no longer synced, or no longer stocked (recorded)
                if self.known[key] == target:
                    self.report.unchanged += 1
                else:
                    wanted[key] = target
            if not wanted:
                return
        for key in retry:
            self.report.failed += 1
            self.report.unfinished.add(self.plan.slots[key].mapping.product_id)
            self.report.errors.append(f"{_label(self.plan, key)}: the store kept changing")

    def send(self, wanted: dict[Key, int], *, seed: str) -> set[Key]:
        """Send ``wanted`` in batches, recording each batch's outcome at once. The stale and
        not-applied slots come back for another round."""
        keys = sorted(wanted)
        limit = max(1, self.store.inventory_batch_limit)
        retry: set[Key] = set()
        for index in range(0, len(keys), limit):
            chunk = keys[index : index + limit]
            quantities = tuple(
                InventoryQuantity(
                    inventory_item_id=self.plan.slots[k].mapping.external_inventory_item_id or "",
                    location_id=k[1],
                    quantity=wanted[k],
                    change_from=self.known.get(k),
                )
                for k in chunk
            )
            batch = InventoryBatch(
                idempotency_key=_batch_key(self.plan.integration.id, seed, index, quantities),
                quantities=quantities,
                reason="correction",
            )
            self.report.calls += 1
            try:
                result = self.store.set_inventory(self.session, batch)
            except PlatformError as exc:  # the command is retried; say what failed meanwhile
                self.sc.ctx.metrics.inventory_pushed(self.store.name, failed=len(chunk))
                self.failed(chunk, exc.message)
                raise
            statuses = Counter(item.status for item in result.items)
            self.sc.ctx.metrics.inventory_pushed(
                self.store.name,
                applied=statuses["applied"],
                stale=statuses["stale"] + statuses["not_applied"],
                refused=statuses["rejected"],
            )
            retry |= self.recorded(chunk, result)
            if self.progress is not None:
                self.progress(self.report.counts())
        return retry

    def recorded(self, chunk: Sequence[Key], result: InventoryResult) -> set[Key]:
        now = self.sc.ctx.clock.now()
        retry: set[Key] = set()
        states = []
        problems: list[tuple[Key, str]] = []
        for key, item in zip(chunk, result.items, strict=True):
            state = _state(self.plan, key)
            if item.status == "applied":
                state.quantity = self.known[key] = item.quantity.quantity
                state.pushed_at = now
                state.error = state.error_at = None
                self.report.updated += 1
            elif item.status in ("stale", "not_applied"):
                retry.add(key)
                continue
            else:  # the store refused this item for good: record it, do not retry for ever
                message = (item.message or "refused by the store")[:MAX_ERROR]
                if state.problem is None:
                    problems.append((key, message))
                state.problem, state.error_at = message, now
                self.report.failed += 1
                self.report.errors.append(f"{_label(self.plan, key)}: {message}")
            states.append(state)
        self.save(states, problems)
        return retry

    def failed(self, chunk: Sequence[Key], message: str) -> None:
        now = self.sc.ctx.clock.now()
        states = []
        for key in chunk:
            state = _state(self.plan, key)
            state.error, state.error_at = message[:MAX_ERROR], now
            states.append(state)
        self.report.failed += len(chunk)
        self.report.errors.append(message[:MAX_ERROR])
        self.save(states, [])

    def read(self, keys: Sequence[Key]) -> None:
        """The store's on hand of these slots becomes the next compare-and-set value; a pair
        the store does not stock is recorded as a problem."""
        pairs = {
            (self.plan.slots[k].mapping.external_inventory_item_id or "", k[1]): k for k in keys
        }
        self.report.calls += 1
        found: dict[Key, int | None] = dict.fromkeys(keys)
        for level in self.store.inventory_levels(self.session, sorted(pairs)):
            key = pairs.get((level.inventory_item_id, level.location_id))
            if key is not None:
                found[key] = level.on_hand
        now = self.sc.ctx.clock.now()
        states, problems = [], []
        for key, on_hand in found.items():
            self.known[key] = on_hand
            state = _state(self.plan, key)
            state.quantity = on_hand
            if on_hand is None:
                if state.problem is None:
                    problems.append((key, NOT_STOCKED))
                state.problem, state.error_at = NOT_STOCKED, now
                self.report.failed += 1
                self.report.errors.append(f"{_label(self.plan, key)}: {NOT_STOCKED}")
            states.append(state)
        self.save(states, problems)

    def save(self, states: list[InventoryPushState], problems: list[tuple[Key, str]]) -> None:
        with self.sc.ctx.uow() as uow:
            uow.inventory.save_states(_existing(uow, states))
            for key, message in problems:
                _alert_problem(uow, self.sc.ctx, self.plan, key, message)
            uow.commit()


def _batch_key(
    integration_id: str, seed: str, index: int, quantities: Sequence[InventoryQuantity]
) -> str:
    """Same command, same round, same content: same key (a retry applies once); any other
    change gets a new key."""
    content = "|".join(
        f"{q.inventory_item_id}@{q.location_id}={q.quantity}<{q.change_from}" for q in quantities
    )
    digest = hashlib.sha256(content.encode()).hexdigest()
    return str(uuid.uuid5(_KEYS, f"{integration_id}:{seed}:{index}:{digest}"))


def _existing(uow: UnitOfWork, states: list[InventoryPushState]) -> list[InventoryPushState]:
    """Only states whose mapping still exists (it may have been deleted meanwhile): one read
    per integration, not one per mapping."""
    alive = {
        m.id
        for integration_id in {s.integration_id for s in states}
        for m in uow.mappings.for_integration(integration_id)
    }
    return [s for s in states if s.mapping_id in alive]


def _label(plan: Plan, key: Key) -> str:
    slot = plan.slots.get(key)
    if slot is None:
        return f"variant mapping {key[0]} at location {key[1]}"
    what = slot.mapping.sku or f"variant {slot.mapping.external_variant_id}"
    return f"{what} at {slot.location.name or key[1]}"


def _alert_problem(uow: UnitOfWork, ctx: Context, plan: Plan, key: Key, message: str) -> None:
    raise_alert(
        uow,
        ctx,
        severity="warning",
        code="inventory_sync_problem",
        message=f"{plan.integration.shop_domain}: stock of {_label(plan, key)} is not synced: "
        f"{message}",
        client_id=plan.integration.client_id,
        integration_id=plan.integration.id,
        subject_id=key[0],
    )


# --- drift repair and the full sync --------------------------------------------------------


def sync(
    sc: StoreContext,
    integration_id: str,
    *,
    key_seed: str,
    progress: Callable[[Mapping[str, int]], None] | None = None,
) -> PushReport:
    """Read every level of the synced locations from the store (a bulk export for a large
    catalogue), record what the store really has and any lasting problem (variant deleted,
    item not stocked, location gone), then push every synced slot that differs. ``progress``
    hears the counts as they move (``PushReport.counts``)."""
    ctx = sc.ctx
    started = ctx.clock.now()
    with ctx.uow() as uow:
        integration = uow.integrations.peek(integration_id)
        if integration is None:
            raise NotFound("integration not found")
        run = SyncRun(
            id=ctx.ids.new_id(), kind="inventory", started_at=started, integration_id=integration_id
        )
        uow.sync_runs.add(run)
        uow.commit()
        uow.snapshot()
        marks = uow.inventory.dirty(integration_id)  # what this sync takes care of
        plan = _plan(uow, integration, None)
        expected = max(uow.catalog.count(integration_id), len(plan.slots))
    if not integration.is_connected:
        report = PushReport(errors=["the integration is not connected"])
        _finish(sc, run, report)
        return report
    report = PushReport()
    try:
        synced = [k for k, s in plan.slots.items() if s.synced]
        if synced:
            locations = sorted({k[1] for k in synced})
            session = session_for(sc, integration_id)
            store = sc.platform(integration.platform)
            report.calls += 1
            snapshot = store.inventory_snapshot(session, locations, expected_items=expected)
            report.levels_read = len(snapshot.levels)
            if progress is not None:
                progress(report.counts())
            _apply_snapshot(sc, plan, synced, snapshot)
        with ctx.uow() as uow:
            uow.snapshot()
            fresh = _plan(uow, integration, None)
        _push(sc, fresh, key_seed=key_seed, report=report, progress=progress)
    except PlatformError as exc:
        report.errors.append(exc.message)
        _finish(sc, run, report)
        raise
    with ctx.uow() as uow:
        locked = uow.integrations.get(integration_id)
        if locked is not None:
            locked.inventory_synced_at = started
            uow.integrations.update(locked)
        # only the marks read before the plan: a movement during the sync is pushed after it
        uow.inventory.clear_dirty(marks)
        if uow.inventory.dirty(integration_id, limit=1):
            queue_push(uow, sc.ctx, integration_id, follow_up=True)
        uow.commit()
    _finish(sc, run, report)
    return report


def _apply_snapshot(
    sc: StoreContext, plan: Plan, keys: Sequence[Key], snapshot: InventorySnapshot
) -> None:
    on_hand = {(lv.inventory_item_id, lv.location_id): lv.on_hand for lv in snapshot.levels}
    now = sc.ctx.clock.now()
    states = []
    new_problems: list[tuple[Key, str]] = []
    for key in keys:
        slot = plan.slots[key]
        item = slot.mapping.external_inventory_item_id or ""
        state = _state(plan, key)
        before = state.problem
        if item not in snapshot.items:
            state.problem = VARIANT_GONE
            state.quantity = None
        elif key[1] not in snapshot.locations:
            state.problem = LOCATION_GONE
            state.quantity = None
        elif (item, key[1]) not in on_hand:
            state.problem = NOT_STOCKED
            state.quantity = None
        else:
            state.problem = None
            state.quantity = on_hand[(item, key[1])]
        if state.problem is not None:
            state.error_at = now
            if before is None:
                new_problems.append((key, state.problem))
        states.append(state)
    with sc.ctx.uow() as uow:
        uow.inventory.save_states(_existing(uow, states))
        for key, message in new_problems:
            _alert_problem(uow, sc.ctx, plan, key, message)
        uow.commit()


def _finish(sc: StoreContext, run: SyncRun, report: PushReport) -> None:
    with sc.ctx.uow() as uow:
        run.finished_at = sc.ctx.clock.now()
        run.counts = {
            "updated": report.updated,
            "unchanged": report.unchanged,
            "failed": report.failed,
            "calls": report.calls,
        }
        run.error = "; ".join(report.errors)[:1000] or None
        uow.sync_runs.update(run)
        uow.commit()


# --- the API and the worker ----------------------------------------------------------------


def sync_now(sc: StoreContext, actor: User, integration_id: str) -> PushReport:
    """ "Push inventory now" (owner, admin or staff): a full sync, whatever the settings."""
    with sc.ctx.uow() as uow:
        integration = visible_integration(uow, actor, integration_id)
        require_manager(actor, integration)
    return sync(sc, integration_id, key_seed=sc.ctx.ids.new_id())


def is_due(integration: Integration, now: datetime) -> bool:
    """The scheduled full sync: automatic sync on, and the interval passed."""
    if not integration.is_connected or not integration.settings.auto_sync_inventory:
        return False
    last = integration.inventory_synced_at
    interval = timedelta(minutes=integration.settings.sync_inventory_interval_minutes)
    return last is None or now - last >= interval


def _busy(sc: StoreContext, command: OutboxCommand) -> bool:
    """Is another inventory command of this store running (an earlier one, or a later one
    that started while this one waited for a retry)? It takes these changes too (or queues a
    follow-up), so two workers never push one store at once: two pushes at once could each
    pass the store's compare-and-set with a value that went away and came back. One whose
    lease ran out (its worker died) does not count."""
    now = sc.ctx.clock.now()
    with sc.ctx.uow() as uow:
        running = list(  # read inside the unit of work (``every`` reads as it is iterated)
            every(
                lambda limit, offset: uow.outbox.list(
                    integration_id=command.integration_id,
                    status="processing",
                    limit=limit,
                    offset=offset,
                )
            )
        )
        job = uow.jobs.pending(command.integration_id or "", "inventory_push")
    if job is not None and job.status == "running" and _live(job.locked_until, now):
        return True  # "push inventory now" is running
    return any(
        c.id != command.id
        and c.kind in (PUSH_COMMAND, SYNC_COMMAND)
        and (c.id < command.id or _live(c.locked_until, now))
        for c in running
    )


def _live(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and locked_until > now


def push_running(sc: StoreContext, integration_id: str) -> bool:
    """Is an inventory command of this store running (under a lease that has not run out)?
    A "push inventory now" job waits for it, as commands wait for each other."""
    now = sc.ctx.clock.now()
    with sc.ctx.uow() as uow:
        running = list(
            every(
                lambda limit, offset: uow.outbox.list(
                    integration_id=integration_id, status="processing", limit=limit, offset=offset
                )
            )
        )
    return any(
        c.kind in (PUSH_COMMAND, SYNC_COMMAND) and _live(c.locked_until, now) for c in running
    )


def handlers(sc: StoreContext) -> dict[str, OutboxHandler]:
    def push(command: OutboxCommand) -> OutboxApply:
        integration_id = str(command.payload.get("integration_id") or "")
        if _busy(sc, command):
            with sc.ctx.uow() as uow:
                queue_push(uow, sc.ctx, integration_id, follow_up=True)
                uow.commit()
            return done(Skip(skips.PUSH_RUNNING))
        report = push_changes(sc, integration_id, key_seed=command.id)
        return record(report.as_dict())

    def full(command: OutboxCommand) -> OutboxApply:
        integration_id = str(command.payload.get("integration_id") or "")
        report = sync(sc, integration_id, key_seed=command.id)
        return record(report.as_dict())

    return {PUSH_COMMAND: push, SYNC_COMMAND: full}
