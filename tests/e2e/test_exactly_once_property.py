"""Whatever the store's webhooks do (repeat, arrive late or out of order, never arrive), after
one reconciliation every fulfillable store order exists exactly once as a warehouse order with
the store's latest state, nothing else is open, and stock reservations add up.

Hypothesis drives random sequences of store events (create, address update, quantity edit,
cancel, fulfil in the store admin) with random delivery faults and random moments at which the
worker runs, against the simulated store over real HTTP and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tests.pg
from adapters.shopify.sandbox import SandboxConfig, SandboxServer
from core.model import RESERVING_STATUSES, Integration
from tests.e2e.conftest import Stack, _Dispatch, make_stack

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

SKUS = ("TENT-1", "MAT-2", "LAMP-3")
SHOP = "prop.myshopify.com"


@pytest.fixture(scope="module")
def faulty_sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(
        auto_approve=True,
        webhook_retry_schedule=(0.02, 0.05),
        webhook_reorder_max_hold=0.05,
        random_seed=11,
    )
    with SandboxServer(config) as server:
        yield server


@pytest.fixture(scope="module")
def world(
    pg_database: tests.pg.ScratchDatabase,
    faulty_sandbox: SandboxServer,
    app_server: tuple[str, _Dispatch],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Stack, Integration]]:
    """One connected store for all examples; each example places new orders."""
    with make_stack(
        pg_database, faulty_sandbox, app_server, Path(tmp_path_factory.mktemp("prop"))
    ) as stack:
        stack.shop("prop", dict.fromkeys(SKUS, 1000000))
        for sku in SKUS:
            stack.product(sku, on_hand=1_000_000)
        yield stack, stack.connect("prop")


ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("place"),
            st.integers(0, 3),
            st.lists(
                st.tuples(st.sampled_from(SKUS), st.integers(1, 3)),
                min_size=1,
                max_size=2,
                unique_by=lambda t: t[0],
            ),
        ),
        st.tuples(st.just("address"), st.integers(0, 3), st.sampled_from(["Leeds", "York"])),
        st.tuples(st.just("edit"), st.integers(0, 3), st.integers(0, 2)),
        st.tuples(st.just("cancel"), st.integers(0, 3), st.none()),
        st.tuples(st.just("fulfil"), st.integers(0, 3), st.none()),
        st.tuples(st.just("work"), st.none(), st.none()),
    ),
    min_size=1,
    max_size=12,
)
faults = st.fixed_dictionaries(
    {
        "webhook_drop_rate": st.sampled_from([0.0, 0.3, 0.7]),
        "webhook_duplicate_rate": st.sampled_from([0.0, 0.5]),
        "webhook_reorder_window": st.sampled_from([0, 3]),
        "random_seed": st.integers(0, 10_000),
    }
)


def _apply(stack: Stack, op: tuple[str, Any, Any], placed: dict[int, dict[str, Any]]) -> None:
    kind, slot, arg = op
    control = stack.control
    if kind == "work":
        stack.settle(rounds=2)
        return
    if kind == "place":
        if slot not in placed:
            placed[slot] = control.place_order(
                SHOP,
                [{"sku": sku, "quantity": q} for sku, q in arg],
                shipping_address={"city": "London", "country_code": "GB"},
            )
        return
    order = placed.get(slot)
    if order is None:
        return
    current = control.order(SHOP, order["id"])
    if current["cancelled_at"] is not None or current["fulfillment_status"] == "fulfilled":
        return  # the store allows nothing more on it
    if kind == "address":
        control.update_shipping_address(SHOP, order["id"], city=arg)
    elif kind == "edit":
        line = current["line_items"][0]
        lower = min(arg, int(line.get("current_quantity", line["quantity"])) - 1)
        if lower >= 0 and not current["fulfillment_status"]:
            control.edit_order(SHOP, order["id"], quantities={line["id"]: lower})
    elif kind == "cancel" and not current["fulfillment_status"]:
        control.cancel_order(SHOP, order["id"])
    elif kind == "fulfil":
        control.fulfill_order(SHOP, order["id"], tracking_company="UPS", tracking_number="1Z")


def _expected(store_order: dict[str, Any]) -> dict[str, int] | None:
    """What the warehouse should still ship for a store order (None: nothing open)."""
    if store_order["cancelled_at"] is not None:
        return None
    wanted = {
        li["sku"]: int(li["fulfillable_quantity"])
        for li in store_order["line_items"]
        if int(li["fulfillable_quantity"]) > 0
    }
    return wanted or None


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=ops, delivery=faults)
def test_every_store_order_exists_exactly_once_with_its_latest_state(
    world: tuple[Stack, Integration], ops: list[tuple[str, Any, Any]], delivery: dict[str, Any]
) -> None:
    stack, integration = world
    placed: dict[int, dict[str, Any]] = {}
    stack.control.set_faults(**delivery)
    try:
        for op in ops:
            _apply(stack, op, placed)
        stack.control.flush_webhooks(timeout=20)
    finally:
        stack.control.clear_faults()
    stack.settle()
    with stack.http(stack.owner_token) as web:
        web.post(f"/api/integrations/shopify/{integration.id}/sync-orders").raise_for_status()
    stack.settle()

    for order in placed.values():
        store_order = stack.control.order(SHOP, order["id"])
        expected = _expected(store_order)
        ours = stack.order_for(integration, order["id"])
        if expected is None:
            assert ours is None or ours.status in ("cancelled", "shipped"), (store_order, ours)
            continue
        assert ours is not None, f"store order {order['id']} was never imported"
        assert ours.status in ("allocated", "pending"), ours
        assert {i.sku: i.remaining for i in ours.items if i.remaining} == expected
        assert ours.ship_to is not None
        assert ours.ship_to.city == store_order["shipping_address"]["city"]

    orders = stack.orders()
    external = Counter(o.external.external_order_id for o in orders if o.external)
    assert all(count == 1 for count in external.values())
    reserved_by_orders: Counter[str] = Counter()
    for order in orders:
        if order.status in RESERVING_STATUSES:
            for item in order.items:
                assert item.product_id is not None
                reserved_by_orders[item.product_id] += item.remaining
    with stack.services.ctx.uow() as uow:
        levels = {lvl.product_id: lvl.reserved for lvl in uow.stock.levels()}
    assert {p: r for p, r in levels.items() if r} == {
        p: r for p, r in reserved_by_orders.items() if r
    }
