"""Whatever happens in the store and the warehouse, and whatever the store's API does, the store
never offers more than the warehouse can ship for it, and after activity stops and one sync it
offers exactly that.

Hypothesis drives random interleavings against the simulated Shopify over real HTTP and
PostgreSQL: store orders placed (imported at once, late, or only by reconciliation), receipts,
count corrections, manual orders of another source, shipments with their store fulfilments,
cancellations in the store, a merchant lowering stock in the store admin, buffer changes, a
worker that read before and sends after another change (``slow push``), under faults: 5xx
before or after the store applied a mutation, duplicated webhooks, throttling. After **every**
step it reads the store and checks

    max(0, store available) <= max(0, on hand - other sources' reservations - buffer
                                       - this store's orders not shipped, imported or not)

A step that lowers what the warehouse can ship without the store knowing (a count correction
down, another source's order, a larger buffer, a merchant raising stock in the store admin)
includes the push or repair that tells the store, with faults held back for it: until then
no system can keep the bound, and how fast it gets there is measured in benchmarks/.

The same property run with the compare-and-set removed, or with the store told ``available``
instead of on hand (so un-imported orders are not accounted for), finds a counterexample.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import tests.pg
from adapters.shopify import ShopifyPlatform
from adapters.shopify.sandbox import SandboxConfig, SandboxServer
from adapters.shopify.sandbox.client import SandboxControlError
from core.errors import StorelinkError
from core.model import RESERVING_STATUSES, Integration
from core.services import SYSTEM, fulfillment, integrations, inventory, order_import, orders
from core.services import stock as stock_services
from core.services.orders import NewItem
from tests.e2e.conftest import Stack, _Dispatch, make_stack

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

SKUS = ("TENT", "LAMP")
SHOP = "stock.myshopify.com"


@pytest.fixture(scope="module")
def stock_sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(auto_approve=True, webhook_retry_schedule=(0.02, 0.05), random_seed=5)
    with SandboxServer(config) as server:
        yield server


@pytest.fixture(scope="module")
def worlds(
    pg_database: tests.pg.ScratchDatabase,
    stock_sandbox: SandboxServer,
    app_server: tuple[str, _Dispatch],
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[], Any]:
    """A fresh world per example: an empty database and store."""

    def build() -> Any:
        return make_stack(
            pg_database, stock_sandbox, app_server, Path(tmp_path_factory.mktemp("stock"))
        )

    return build


class World:
    """One example's stack, its connected store, and what the test did."""

    def __init__(self, stack: Stack, integration: Integration) -> None:
        self.stack = stack
        self.integration = integration
        self.placed: list[int] = []  # store order ids
        self.manual: list[str] = []
        self.location = stack.control.shop(SHOP)["primary_location_id"]
        self.products = {}
        with stack.services.ctx.uow() as uow:
            for sku in SKUS:
                product = uow.products.get_by_sku(stack.client.id, sku)
                assert product is not None
                self.products[sku] = product.id

    @property
    def ctx(self):  # type: ignore[no-untyped-def]
        return self.stack.services.ctx

    def store_available(self, sku: str) -> int:
        return int(
            self.stack.control.inventory_level(SHOP, location_id=self.location, sku=sku)[
                "available"
            ]
        )

    def can_ship(self, sku: str) -> int:
        """What the warehouse can still ship for this store (the right-hand side)."""
        product_id = self.products[sku]
        with self.ctx.uow() as uow:
            level = uow.stock.get_level(product_id, self.stack.warehouse.id)
            ours = uow.orders.list(integration_id=self.integration.id, limit=10_000)
            shipments = {o.id: uow.shipments.for_order(o.id) for o in ours}
            buffer = uow.integrations.peek(self.integration.id).settings.inventory_buffer  # type: ignore[union-attr]
        on_hand, reserved = (level.on_hand, level.reserved) if level else (0, 0)
        reserved_here = sum(
            i.remaining
            for o in ours
            if o.status in RESERVING_STATUSES
            for i in o.items
            if i.product_id == product_id
        )
        # this store's orders not shipped: open in the store, less what the warehouse shipped
        # and the store has not heard of yet (a cancelled store order counts nothing)
        unreported: dict[str, int] = {}
        for o in ours:
            for shipment in shipments[o.id]:
                if shipment.sync_state == "synced" or o.external is None:
                    continue
                for line in shipment.lines:
                    item = o.item(line.item_id)
                    if item is not None and item.product_id == product_id:
                        key = o.external.external_order_id
                        unreported[key] = unreported.get(key, 0) + line.quantity
        not_shipped = 0
        for order in self.stack.control.orders(SHOP):
            if order["cancelled_at"] is not None:
                continue
            open_here = sum(
                int(li["fulfillable_quantity"]) for li in order["line_items"] if li["sku"] == sku
            )
            not_shipped += max(0, open_here - unreported.get(str(order["id"]), 0))
        return on_hand - (reserved - reserved_here) - buffer - not_shipped

    def check(self, step: object) -> None:
        for sku in SKUS:
            store, bound = self.store_available(sku), self.can_ship(sku)
            assert max(0, store) <= max(0, bound), (
                f"after {step}: the store offers {store} of {sku}, the warehouse can ship {bound}"
            )

    def settle(self, *, faults: dict[str, Any] | None = None, rounds: int = 3) -> None:
        control = self.stack.control
        if faults is not None:
            control.clear_faults()
        try:
            self.stack.settle(rounds=rounds)
        finally:
            if faults is not None:
                control.set_faults(**faults)

    def time_passes(self) -> None:
        """Every retry whose backoff is running becomes due (minutes pass)."""
        now = self.ctx.clock.now() - timedelta(seconds=1)
        with self.ctx.uow() as uow:
            for status in ("failed",):
                for command in uow.outbox.list(status=status, limit=1000):  # type: ignore[arg-type]
                    locked = uow.outbox.get(command.id)
                    if locked is not None:
                        locked.next_attempt_at = now
                        uow.outbox.update(locked)
                for event in uow.inbox.list(status=status, limit=1000):  # type: ignore[arg-type]
                    found = uow.inbox.get(event.id)
                    if found is not None:
                        found.next_attempt_at = now
                        uow.inbox.update(found)
            uow.commit()


Op = tuple[str, int, int]
ops = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "place",
                "place_unimported",
                "receive",
                "adjust_down",
                "manual_order",
                "ship",
                "store_cancel",
                "merchant_lower",
                "merchant_raise",
                "buffer",
                "work",
                "reconcile",
                "slow_push",
            ]
        ),
        st.integers(0, 1),
        st.integers(1, 4),
    ),
    min_size=3,
    max_size=14,
)
store_faults = st.fixed_dictionaries(
    {
        "error_rate": st.sampled_from([0.0, 0.0, 0.2, 0.4]),
        "error_mode": st.sampled_from(["before", "after"]),
        "webhook_duplicate_rate": st.sampled_from([0.0, 0.5]),
        "random_seed": st.integers(0, 10_000),
    }
)
stock = st.fixed_dictionaries({sku: st.integers(0, 8) for sku in SKUS})


def _step(world: World, op: Op, faults: dict[str, Any]) -> None:
    kind, which, n = op
    sku = SKUS[which]
    stack, control, ctx = world.stack, world.stack.control, world.ctx
    product_id = world.products[sku]
    warehouse_id = stack.warehouse.id
    if kind in ("place", "place_unimported"):
        if kind == "place_unimported":
            control.set_faults(**{**faults, "webhook_drop_rate": 1.0})
        try:
            world.placed.append(control.place_order(SHOP, [{"sku": sku, "quantity": n}])["id"])
        except SandboxControlError:
            pass  # the store refuses what it does not have to sell
        finally:
            control.set_faults(**faults)
        if kind == "place":
            world.settle(rounds=2)
    elif kind == "receive":
        stock_services.receive_stock(
            ctx, SYSTEM, warehouse_id=warehouse_id, product_id=product_id, quantity=n
        )
    elif kind == "adjust_down":
        try:
            stock_services.adjust_stock(
                ctx,
                SYSTEM,
                warehouse_id=warehouse_id,
                product_id=product_id,
                quantity=-n,
                reason="damaged",
            )
        except StorelinkError:
            return
        world.settle(faults=faults)
    elif kind == "manual_order":
        order = orders.create_order(
            ctx,
            SYSTEM,
            client_id=stack.client.id,
            warehouse_id=warehouse_id,
            items=[NewItem(quantity=n, product_id=product_id)],
        )
        world.manual.append(order.id)
        world.settle(faults=faults)
    elif kind == "ship":
        with ctx.uow() as uow:
            ready = [
                o
                for o in uow.orders.list(integration_id=world.integration.id, limit=1000)
                if o.status in RESERVING_STATUSES
            ]
        if ready:
            target = ready[n % len(ready)]
            fulfillment.ship(ctx, SYSTEM, target.id, carrier="UPS", tracking_number=f"1Z{n}")
    elif kind == "store_cancel":
        if world.placed:
            order_id = world.placed[n % len(world.placed)]
            current = control.order(SHOP, order_id)
            if current["cancelled_at"] is None and not current["fulfillment_status"]:
                control.cancel_order(SHOP, order_id)
    elif kind == "merchant_lower":
        level = control.inventory_level(SHOP, location_id=world.location, sku=sku)
        control.set_inventory(
            SHOP, location_id=world.location, sku=sku, on_hand=max(0, level["on_hand"] - n)
        )
    elif kind == "merchant_raise":
        level = control.inventory_level(SHOP, location_id=world.location, sku=sku)
        control.set_inventory(
            SHOP, location_id=world.location, sku=sku, on_hand=level["on_hand"] + n
        )
        control.clear_faults()
        try:  # the drift repair puts it right
            inventory.sync(stack.services.store, world.integration.id, key_seed=f"raise{n}")
        finally:
            control.set_faults(**faults)
    elif kind == "buffer":
        integrations.update_settings(ctx, SYSTEM, world.integration.id, {"inventory_buffer": n - 1})
        world.settle(faults=faults)
    elif kind == "work":
        world.time_passes()
        world.settle()
    elif kind == "reconcile":
        order_import.reconcile(stack.services.store, world.integration.id)
    elif kind == "slow_push":
        # a worker reads what to push (a receipt), then the store and the warehouse move on
        # (a shipment and its fulfilment), then the worker's push arrives
        stock_services.receive_stock(
            ctx, SYSTEM, warehouse_id=warehouse_id, product_id=product_id, quantity=1
        )
        with ctx.uow() as uow:
            integration = uow.integrations.peek(world.integration.id)
            assert integration is not None
            stale = inventory._plan(uow, integration, None)
        _step(world, ("ship", which, n), faults)
        world.settle(rounds=2)
        with contextlib.suppress(StorelinkError):  # a fault: retried later, as by the worker
            inventory._push(stack.services.store, stale, key_seed=f"slow{n}")


def _run(
    world_factory: Callable[..., Any],
    ops: list[Op],
    faults: dict[str, Any],
    warehouse: dict[str, int],
    store: dict[str, int],
) -> None:
    with world_factory() as stack:
        _quick_retries(stack)
        stack.shop("stock", store)
        for sku, quantity in warehouse.items():
            stack.product(sku, on_hand=quantity)
        integration = stack.connect("stock")
        stack.settle()
        world = World(stack, integration)
        world.check("connecting")
        stack.control.set_faults(**faults)
        try:
            for op in ops:
                with contextlib.suppress(StorelinkError):  # a store fault in a direct call
                    _step(world, op, faults)
                world.check(op)
        finally:
            stack.control.clear_faults()
        # quiescence: every retry runs, every order is imported, one full sync
        for _ in range(3):
            world.time_passes()
            stack.settle()
        order_import.reconcile(stack.services.store, integration.id)
        stack.settle()
        inventory.sync(stack.services.store, integration.id, key_seed="final")
        stack.settle()
        for sku in SKUS:
            store_available, bound = world.store_available(sku), world.can_ship(sku)
            assert max(0, store_available) == max(0, bound), (sku, store_available, bound)


def _quick_retries(stack: Stack) -> None:
    """The same adapter with retries a hundred times quicker, so faulty examples run fast."""
    slow = stack.services.platforms["shopify"]
    assert isinstance(slow, ShopifyPlatform)
    config = attrs.evolve(
        slow.config, backoff_base_seconds=0.005, backoff_cap_seconds=0.05, bulk_poll_seconds=0.05
    )
    fast = ShopifyPlatform(config=config, rate_limiter=slow.rate_limiter, clock=slow.clock)
    stack.services.platforms["shopify"] = fast  # type: ignore[index]
    stack.services.on_close(fast.close)


PROPERTY = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY
@given(ops=ops, faults=store_faults, warehouse=stock, store=stock)
def test_the_store_never_offers_more_than_the_warehouse_can_ship(
    worlds: Callable[..., Any],
    ops: list[Op],
    faults: dict[str, Any],
    warehouse: dict[str, int],
    store: dict[str, int],
) -> None:
    _run(worlds, ops, faults, warehouse, store)


# --- the property finds the bug when a rule is removed ----------------------------------------


def _search(worlds: Callable[..., Any]) -> None:
    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        phases=[Phase.generate],  # a counterexample is enough; no shrinking
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(ops=ops, warehouse=stock, store=stock)
    def search(ops: list[Op], warehouse: dict[str, int], store: dict[str, int]) -> None:
        _run(worlds, ops, {"error_rate": 0.0}, warehouse, store)

    search()


def test_without_compare_and_set_a_slow_push_oversells(
    worlds: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = inventory._Push.send

    def blind(self, wanted, *, seed):  # type: ignore[no-untyped-def]
        self.known = dict.fromkeys(self.known)  # changeFromQuantity: null, no compare
        return original(self, wanted, seed=seed)

    monkeypatch.setattr(inventory._Push, "send", blind)
    with pytest.raises(AssertionError, match="the store offers"):
        _search(worlds)


def test_telling_the_store_available_instead_of_on_hand_oversells_unimported_orders(
    worlds: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapters.shopify._graphql import GraphQLClient

    def naive_targets(all_slots, levels, units, buffer):  # type: ignore[no-untyped-def]
        # what a naive sync does: what the warehouse has free, minus the buffer, as available
        wanted = {}
        for slot in all_slots:
            if slot.synced:
                level = levels.get((slot.mapping.product_id, slot.warehouse_id))
                wanted[slot.key] = max(0, (level.available if level else 0) - buffer)
        return wanted

    original = GraphQLClient.query

    def as_available(self, session, operation, variables, *args, **kwargs):  # type: ignore[no-untyped-def]
        if operation == "InventorySetQuantities":
            given_input = dict(variables["input"])
            given_input["name"] = "available"
            given_input["quantities"] = [
                {**q, "changeFromQuantity": None} for q in given_input["quantities"]
            ]
            variables = {**variables, "input": given_input}
        return original(self, session, operation, variables, *args, **kwargs)

    monkeypatch.setattr(inventory, "targets", naive_targets)
    monkeypatch.setattr(GraphQLClient, "query", as_available)
    with pytest.raises(AssertionError, match="the store offers"):
        _search(worlds)
