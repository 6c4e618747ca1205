"""Every stock movement tells the stores that sell the product, in its own transaction: the
product is marked dirty for each connected store mapping it, and one debounced push is
queued per store that syncs automatically."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.crypto import AesGcmCipher, generate_key_spec
from adapters.memory import MemoryDatabase, MemoryUnitOfWork
from adapters.system import ManualClock, UuidIdGenerator
from core.errors import StorelinkError
from core.model import (
    Integration,
    IntegrationSettings,
    LocationMapping,
    OutboxCommand,
    ProductMapping,
)
from core.services import SYSTEM, Context, fulfillment, inventory, orders, tenancy
from core.services import stock as stock_services
from core.services._stock_queue import PUSH_COMMAND
from core.services.integrations import StoreContext
from core.services.orders import NewItem
from core.services.worker import Skip

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


class Shop:
    """A client with two products and a warehouse, and stores selling some of them."""

    def __init__(self) -> None:
        self.db = MemoryDatabase()
        self.clock = ManualClock(T0)
        self.ctx = Context(
            uow=lambda: MemoryUnitOfWork(self.db), clock=self.clock, ids=UuidIdGenerator()
        )
        self.client = tenancy.create_client(self.ctx, SYSTEM, name="Acme")
        self.warehouse = stock_services.create_warehouse(self.ctx, SYSTEM, code="W1", name="W1")
        self.tee, self.mug = (
            stock_services.create_product(
                self.ctx, SYSTEM, client_id=self.client.id, sku=sku, name=sku
            ).id
            for sku in ("TEE", "MUG")
        )

    def store(
        self, name: str, *, sells: list[str], auto: bool = True, status: str = "active"
    ) -> str:
        integration = Integration(
            id=self.ctx.ids.new_id(),
            client_id=self.client.id,
            platform="shopify",
            shop_domain=f"{name}.myshopify.com",
            created_at=T0,
            updated_at=T0,
            status=status,  # type: ignore[arg-type]
            credentials="sealed",
            settings=IntegrationSettings(auto_sync_inventory=auto),
        )
        with self.ctx.uow() as uow:
            uow.integrations.add(integration)
            uow.locations.add(
                LocationMapping(
                    id=self.ctx.ids.new_id(),
                    integration_id=integration.id,
                    external_location_id="1",
                    name="Main",
                    warehouse_id=self.warehouse.id,
                    is_default=True,
                )
            )
            for n, product_id in enumerate(sells):
                uow.mappings.add(
                    ProductMapping(
                        id=self.ctx.ids.new_id(),
                        integration_id=integration.id,
                        product_id=product_id,
                        external_variant_id=str(100 + n),
                        created_at=T0,
                        external_inventory_item_id=str(900 + n),
                    )
                )
            uow.commit()
        return integration.id

    def dirty(self, integration_id: str) -> set[str]:
        with self.ctx.uow() as uow:
            return {d.product_id for d in uow.inventory.dirty(integration_id)}

    def pushes(self, integration_id: str) -> int:
        with self.ctx.uow() as uow:
            return len(uow.outbox.list(integration_id=integration_id, kind=PUSH_COMMAND))

    def receive(self, product_id: str, quantity: int) -> None:
        stock_services.receive_stock(
            self.ctx,
            SYSTEM,
            warehouse_id=self.warehouse.id,
            product_id=product_id,
            quantity=quantity,
        )


def test_receiving_stock_marks_it_dirty_for_the_stores_that_sell_it_and_queues_one_push() -> None:
    shop = Shop()
    both = shop.store("both", sells=[shop.tee, shop.mug])
    mugs = shop.store("mugs", sells=[shop.mug])
    shop.receive(shop.tee, 5)
    shop.receive(shop.tee, 3)
    assert shop.dirty(both) == {shop.tee}
    assert shop.dirty(mugs) == set()
    assert shop.pushes(both) == 1  # a burst inside one debounce slot is one push
    assert shop.pushes(mugs) == 0
    with shop.ctx.uow() as uow:
        [push] = uow.outbox.list(integration_id=both, kind=PUSH_COMMAND)
    assert push.next_attempt_at > T0  # it waits for the burst to settle


def test_a_later_burst_queues_another_push() -> None:
    shop = Shop()
    store = shop.store("s", sells=[shop.tee])
    shop.receive(shop.tee, 1)
    shop.clock.advance(timedelta(seconds=2))
    shop.receive(shop.tee, 1)
    assert shop.pushes(store) == 2


def test_with_automatic_sync_off_changes_are_marked_but_nothing_is_pushed() -> None:
    shop = Shop()
    store = shop.store("manual", sells=[shop.tee], auto=False)
    shop.receive(shop.tee, 4)
    assert shop.dirty(store) == {shop.tee}
    assert shop.pushes(store) == 0


@pytest.mark.parametrize("status", ["disconnected", "pending"])
def test_a_store_that_is_not_connected_is_not_told(status: str) -> None:
    shop = Shop()
    store = shop.store("gone", sells=[shop.tee], status=status)
    shop.receive(shop.tee, 4)
    assert shop.dirty(store) == set()
    assert shop.pushes(store) == 0


def test_a_refused_movement_marks_nothing() -> None:
    shop = Shop()
    store = shop.store("s", sells=[shop.tee])
    with pytest.raises(StorelinkError):
        stock_services.adjust_stock(
            shop.ctx,
            SYSTEM,
            warehouse_id=shop.warehouse.id,
            product_id=shop.tee,
            quantity=-1,
            reason="count",
        )
    assert shop.dirty(store) == set()
    assert shop.pushes(store) == 0


Operation = tuple[str, int, int]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["receive", "adjust", "order", "ship", "cancel"]),
            st.integers(0, 1),
            st.integers(1, 4),
        ),
        max_size=12,
    )
)
def test_every_kind_of_movement_marks_exactly_the_products_it_moved(
    operations: list[Operation],
) -> None:
    shop = Shop()
    store = shop.store("s", sells=[shop.tee, shop.mug])
    products = (shop.tee, shop.mug)
    moved: set[str] = set()
    order_ids: list[str] = []
    for kind, which, quantity in operations:
        product_id = products[which]
        with shop.ctx.uow() as uow:
            before = len(uow.stock.movements(limit=100_000))
        try:
            if kind == "receive":
                shop.receive(product_id, quantity)
            elif kind == "adjust":
                stock_services.adjust_stock(
                    shop.ctx,
                    SYSTEM,
                    warehouse_id=shop.warehouse.id,
                    product_id=product_id,
                    quantity=-quantity,
                    reason="count",
                )
            elif kind == "order":
                order = orders.create_order(
                    shop.ctx,
                    SYSTEM,
                    client_id=shop.client.id,
                    warehouse_id=shop.warehouse.id,
                    items=[NewItem(quantity=quantity, product_id=product_id)],
                )
                order_ids.append(order.id)
            elif kind == "ship" and order_ids:
                fulfillment.ship(
                    shop.ctx, SYSTEM, order_ids[-1], carrier="DHL", tracking_number="1"
                )
            elif kind == "cancel" and order_ids:
                orders.cancel_order(shop.ctx, SYSTEM, order_ids.pop(0))
        except StorelinkError:
            pass
        with shop.ctx.uow() as uow:
            new = uow.stock.movements(limit=100_000)[before:]
        moved |= {m.product_id for m in new}
        assert shop.dirty(store) == moved


def test_an_earlier_push_claimed_again_waits_for_a_later_one_that_is_running() -> None:
    """Two pushes of one store must never run at once (two could each pass the store's
    compare-and-set with a value that went away and came back). A push only deferred to
    earlier ones, so an earlier push taken again for a retry ran beside a later one."""
    shop = Shop()
    ctx = shop.ctx
    sc = StoreContext(ctx, AesGcmCipher.from_spec(generate_key_spec("k1")), {}, "")
    commands = []
    for n in range(3):
        command = OutboxCommand(
            id=ctx.ids.new_id(),
            kind=PUSH_COMMAND,
            idempotency_key=f"push-{n}",
            created_at=shop.clock.now(),
            next_attempt_at=shop.clock.now(),
            integration_id="store-1",
            payload={"integration_id": "store-1"},
        )
        with ctx.uow() as uow:
            uow.outbox.add(command)
            uow.commit()
        commands.append(command)
    earlier, later, dead = commands
    with ctx.uow() as uow:  # the later push runs; the dead one's worker died long ago
        for command, until in ((later, 300), (dead, -1)):
            claimed = uow.outbox.get(command.id)
            assert claimed is not None
            claimed.status = "processing"
            claimed.locked_by = "w2"
            claimed.locked_until = shop.clock.now() + timedelta(seconds=until)
            uow.outbox.update(claimed)
        uow.commit()
    push = inventory.handlers(sc)[PUSH_COMMAND]
    with ctx.uow() as uow:
        outcome = push(earlier)(uow, earlier)
        uow.commit()
    assert outcome == Skip("another inventory push of this store is running")
