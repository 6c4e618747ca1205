"""Whatever sequence of stock and order operations happens, the books stay straight:
on_hand >= 0, 0 <= reserved <= on_hand, the ledger sums to the levels, reservations equal what
open orders still need, and a refused operation changes nothing."""

from __future__ import annotations

from collections import Counter

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from adapters.memory import MemoryDatabase, MemoryUnitOfWork
from adapters.system import ManualClock, UuidIdGenerator
from core.errors import StorelinkError
from core.model import RESERVING_STATUSES
from core.services import SYSTEM, Context, fulfillment, orders, tenancy
from core.services import stock as stock_services
from core.services.fulfillment import ShipLine
from core.services.orders import NewItem

SKUS = ("A", "B", "C")


class StockMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.db = MemoryDatabase()
        self.ctx = Context(
            uow=lambda: MemoryUnitOfWork(self.db), clock=ManualClock(), ids=UuidIdGenerator()
        )
        self.client = tenancy.create_client(self.ctx, SYSTEM, name="c")
        self.warehouses = [
            stock_services.create_warehouse(self.ctx, SYSTEM, code=f"W{i}", name=f"W{i}").id
            for i in range(2)
        ]
        self.products = {
            sku: stock_services.create_product(
                self.ctx, SYSTEM, client_id=self.client.id, sku=sku, name=sku
            ).id
            for sku in SKUS
        }
        self.order_ids: list[str] = []

    def _snapshot(self) -> object:
        return {name: dict(table) for name, table in self.db.tables.items()}

    def _attempt(self, operation: object) -> None:
        before = self._snapshot()
        try:
            operation()  # type: ignore[operator]
        except StorelinkError:
            assert self._snapshot() == before, "a refused operation changed something"

    @rule(sku=st.sampled_from(SKUS), wh=st.integers(0, 1), quantity=st.integers(-3, 12))
    def receive(self, sku: str, wh: int, quantity: int) -> None:
        self._attempt(
            lambda: stock_services.receive_stock(
                self.ctx,
                SYSTEM,
                product_id=self.products[sku],
                warehouse_id=self.warehouses[wh],
                quantity=quantity,
            )
        )

    @rule(sku=st.sampled_from(SKUS), wh=st.integers(0, 1), change=st.integers(-10, 10))
    def adjust(self, sku: str, wh: int, change: int) -> None:
        self._attempt(
            lambda: stock_services.adjust_stock(
                self.ctx,
                SYSTEM,
                product_id=self.products[sku],
                warehouse_id=self.warehouses[wh],
                quantity=change,
                reason="count",
            )
        )

    @rule(
        wh=st.integers(0, 1),
        lines=st.dictionaries(st.sampled_from(SKUS), st.integers(1, 6), min_size=1),
    )
    def place_order(self, wh: int, lines: dict[str, int]) -> None:
        def place() -> None:
            order = orders.create_order(
                self.ctx,
                SYSTEM,
                client_id=self.client.id,
                warehouse_id=self.warehouses[wh],
                items=[NewItem(quantity=q, sku=sku) for sku, q in lines.items()],
            )
            self.order_ids.append(order.id)

        self._attempt(place)

    @rule(pick=st.integers(0, 50))
    def cancel(self, pick: int) -> None:
        if self.order_ids:
            order_id = self.order_ids[pick % len(self.order_ids)]
            self._attempt(lambda: orders.cancel_order(self.ctx, SYSTEM, order_id))

    @rule(pick=st.integers(0, 50), part=st.integers(0, 6), all_lines=st.booleans())
    def ship(self, pick: int, part: int, all_lines: bool) -> None:
        if not self.order_ids:
            return
        order_id = self.order_ids[pick % len(self.order_ids)]
        order, _ = orders.get_order(self.ctx, SYSTEM, order_id)
        lines = None if all_lines else [ShipLine(order.items[0].id, part)]
        self._attempt(
            lambda: fulfillment.ship(
                self.ctx, SYSTEM, order_id, carrier="UPS", tracking_number="1Z", lines=lines
            )
        )

    @rule(
        pick=st.integers(0, 50),
        status=st.sampled_from(["picking", "packing", "on_hold", "pending"]),
    )
    def advance(self, pick: int, status: str) -> None:
        if self.order_ids:
            order_id = self.order_ids[pick % len(self.order_ids)]
            self._attempt(lambda: orders.advance(self.ctx, SYSTEM, order_id, status=status))  # type: ignore[arg-type]

    @rule(pick=st.integers(0, 50))
    def release_hold(self, pick: int) -> None:
        if self.order_ids:
            order_id = self.order_ids[pick % len(self.order_ids)]
            self._attempt(lambda: orders.release_hold(self.ctx, SYSTEM, order_id))

    @invariant()
    def books_balance(self) -> None:
        with self.ctx.uow() as uow:
            levels = uow.stock.levels()
            movements = uow.stock.movements(limit=1_000_000)
            open_orders = [
                o for o in uow.orders.list(limit=10_000) if o.status in RESERVING_STATUSES
            ]
        ledger: Counter[tuple[str, str, str]] = Counter()
        for m in movements:
            ledger[(m.product_id, m.warehouse_id, "on_hand")] += m.on_hand_delta
            ledger[(m.product_id, m.warehouse_id, "reserved")] += m.reserved_delta
        needed: Counter[tuple[str, str]] = Counter()
        for order in open_orders:
            for item in order.items:
                assert item.product_id is not None
                needed[(item.product_id, order.warehouse_id)] += item.remaining
        for level in levels:
            key = (level.product_id, level.warehouse_id)
            assert level.on_hand >= 0
            assert 0 <= level.reserved <= level.on_hand
            assert ledger[(*key, "on_hand")] == level.on_hand
            assert ledger[(*key, "reserved")] == level.reserved
            assert needed[key] == level.reserved
        assert sum(needed.values()) == sum(level.reserved for level in levels)


StockMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestStockBooks = StockMachine.TestCase
