"""The core of the portal's daily work on the in-memory adapters: store orders that reuse a
known id are refused, numbering is fixed per store, held orders release themselves when
their lines get mapped, alerts are listed, handled and resolved when their cause is fixed,
and events say what they became and whether retrying can help."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.crypto import AesGcmCipher, generate_key_spec
from adapters.system import ManualClock
from core.errors import InvalidInput, NotFound, StoreOrderConflict
from core.model import (
    Address,
    CatalogVariant,
    Client,
    InboxEvent,
    Integration,
    LocationMapping,
    OutboundOrder,
    User,
    Warehouse,
)
from core.serialization import dump_order
from core.services import SYSTEM, Context, alerts, events, mapping, order_import, orders
from core.services import stock as stock_services
from core.services._skips import AUTO_IMPORT_OFF
from core.services.integrations import StoreContext, choose_order_prefix
from core.services.worker import Handlers, Worker, in_transaction, retry, retryable
from core.store import StoreFulfillmentOrder, StoreFulfillmentOrderLine, StoreOrder, StoreOrderLine

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
LOCATION = "655441491"


@pytest.fixture
def sc(ctx: Context) -> StoreContext:
    cipher = AesGcmCipher.from_spec(generate_key_spec("k1"))
    return StoreContext(ctx=ctx, cipher=cipher, platforms={}, app_url="http://app.test")


def _store(ctx: Context, client: Client, warehouse: Warehouse, shop: str = "acme") -> Integration:
    with ctx.uow() as uow:
        integration = Integration(
            id=ctx.ids.new_id(),
            client_id=client.id,
            platform="shopify",
            shop_domain=f"{shop}.myshopify.com",
            created_at=T0,
            updated_at=T0,
            status="active",
            credentials="sealed",
            order_prefix=choose_order_prefix(uow, client.id, "shopify", f"{shop}.myshopify.com"),
        )
        uow.integrations.add(integration)
        uow.locations.add(
            LocationMapping(
                id=ctx.ids.new_id(),
                integration_id=integration.id,
                external_location_id=LOCATION,
                name="Main",
                warehouse_id=warehouse.id,
                is_default=True,
            )
        )
        uow.commit()
    return integration


@pytest.fixture
def store(ctx: Context, client: Client, warehouse: Warehouse) -> Integration:
    return _store(ctx, client, warehouse)


def _product(ctx: Context, client: Client, warehouse: Warehouse, sku: str, on_hand: int) -> str:
    product = stock_services.create_product(
        ctx, SYSTEM, client_id=client.id, sku=sku, name=f"Product {sku}"
    )
    stock_services.receive_stock(
        ctx, SYSTEM, product_id=product.id, warehouse_id=warehouse.id, quantity=on_hand
    )
    return product.id


def _order(
    order_id: str = "450789469",
    *,
    number: str = "1001",
    created_at: datetime = T0,
    updated_at: datetime | None = None,
    lines: tuple[tuple[str, str, int], ...] = (("V-TENT", "TENT-1", 2),),  # variant, sku, qty
    city: str = "London",
) -> tuple[StoreOrder, list[StoreFulfillmentOrder]]:

    store_lines = tuple(
        StoreOrderLine(id=f"L{n}", quantity=q, variant_id=v, sku=s, title=f"Item {s}")
        for n, (v, s, q) in enumerate(lines)
    )
    order = StoreOrder(
        id=order_id,
        updated_at=updated_at or created_at,
        lines=store_lines,
        number=number,
        name=f"#{number}",
        created_at=created_at,
        shipping_address=Address(name="Ada", city=city),
    )
    fo = StoreFulfillmentOrder(
        id=f"FO{order_id}",
        order_id=order_id,
        location_id=LOCATION,
        status="OPEN",
        lines=tuple(
            StoreFulfillmentOrderLine(
                id=f"FOL{n}",
                line_item_id=line.id,
                total_quantity=line.quantity,
                remaining_quantity=line.quantity,
                variant_id=line.variant_id,
                sku=line.sku,
            )
            for n, line in enumerate(store_lines)
        ),
    )
    return order, [fo]


def _apply(sc: StoreContext, store: Integration, state: tuple[StoreOrder, list[Any]]) -> Any:
    with sc.ctx.uow() as uow:
        result = order_import.apply_order(uow, sc, store, state[0], state[1])
        uow.commit()
    return result


def _warehouse_order(ctx: Context, store: Integration, order_id: str) -> OutboundOrder:
    with ctx.uow() as uow:
        found = uow.orders.get_by_external(store.id, order_id)
    assert found is not None
    return found


def _reconciled(ctx: Context, store: Integration, order: StoreOrder, **fields: Any) -> str:
    event = InboxEvent(
        id=ctx.ids.new_id(),
        platform="shopify",
        topic="orders/updated",
        delivery_id=f"reconcile:{ctx.ids.new_id()}",
        received_at=ctx.clock.now(),
        next_attempt_at=ctx.clock.now(),
        payload=dump_order(order),
        integration_id=store.id,
        source="reconcile",
        **fields,
    )
    with ctx.uow() as uow:
        uow.inbox.add(event)
        uow.commit()
    return event.id


# --- 1. a store order under a known id that is another order ------------------------------------


def test_a_store_order_reusing_a_known_id_with_another_number_never_overwrites_the_order(
    sc: StoreContext, store: Integration, client: Client, warehouse: Warehouse
) -> None:
    _product(sc.ctx, client, warehouse, "TENT-1", 10)
    _product(sc.ctx, client, warehouse, "MAT-1", 10)
    _apply(sc, store, _order())
    before = _warehouse_order(sc.ctx, store, "450789469")

    impostor = _order(
        number="1004",
        created_at=T0 + timedelta(days=1),
        lines=(("V-MAT", "MAT-1", 5),),
        city="Paris",
    )
    with pytest.raises(StoreOrderConflict) as refused:
        _apply(sc, store, impostor)

    assert refused.value.order_id == before.id
    assert "1004" in refused.value.message
    assert before.number in refused.value.message
    after = _warehouse_order(sc.ctx, store, "450789469")
    assert after == before  # lines, address, status: untouched


def test_a_store_order_reusing_a_known_id_with_another_creation_time_is_refused(
    sc: StoreContext, store: Integration, client: Client, warehouse: Warehouse
) -> None:
    _product(sc.ctx, client, warehouse, "TENT-1", 10)
    _apply(sc, store, _order())
    with pytest.raises(StoreOrderConflict, match="created"):
        _apply(sc, store, _order(created_at=T0 + timedelta(hours=3)))


def test_the_same_store_order_changed_later_still_updates_its_warehouse_order(
    sc: StoreContext, store: Integration, client: Client, warehouse: Warehouse
) -> None:
    _product(sc.ctx, client, warehouse, "TENT-1", 10)
    _apply(sc, store, _order())
    result = _apply(sc, store, _order(updated_at=T0 + timedelta(hours=1), city="Leeds"))
    assert result.outcome == "updated"
    order = _warehouse_order(sc.ctx, store, "450789469")
    assert order.ship_to is not None
    assert order.ship_to.city == "Leeds"
    assert order.external_created_at == T0


def test_a_refused_store_order_ends_dead_at_once_with_an_alert_linking_the_order(
    sc: StoreContext, store: Integration, client: Client, warehouse: Warehouse
) -> None:
    _product(sc.ctx, client, warehouse, "TENT-1", 10)
    _apply(sc, store, _order())
    existing = _warehouse_order(sc.ctx, store, "450789469")
    impostor = _order(number="1004", created_at=T0 + timedelta(days=1))
    event_id = _reconciled(sc.ctx, store, impostor[0])

    def apply(uow: Any, event: InboxEvent) -> None:
        order_import.apply_order(uow, sc, store, impostor[0], impostor[1])

    worker = Worker(
        sc.ctx, Handlers(inbox={"orders/updated": in_transaction(apply)}), worker_id="w1"
    )
    report = worker.drain()

    assert (report.dead, report.retried) == (1, 0)
    with sc.ctx.uow() as uow:
        event = uow.inbox.get(event_id)
        raised = uow.alerts.list(code="store_order_identity_conflict")
    assert event is not None
    assert event.status == "dead"
    assert event.attempts == 1
    assert (event.error or "").startswith("store_order_identity_conflict:")
    assert [(a.order_id, a.event_id, a.integration_id) for a in raised] == [
        (existing.id, event_id, store.id)
    ]
    assert worker.drain().total == 0  # not retried by itself


# --- 3. numbering fixed per store --------------------------------------------------------------


def test_a_clients_first_store_numbers_sh_and_later_stores_their_own_prefix_for_good(
    sc: StoreContext, store: Integration, client: Client, warehouse: Warehouse
) -> None:
    _product(sc.ctx, client, warehouse, "TENT-1", 10)
    _apply(sc, store, _order("1"))
    outlet = _store(sc.ctx, client, warehouse, "outlet")
    _apply(sc, store, _order("2", number="1002"))
    _apply(sc, outlet, _order("3", number="1001"))
    outlet_again = _store(sc.ctx, client, warehouse, "outlet.eu")  # same name, another shop

    assert (store.order_prefix, outlet.order_prefix) == ("SH-", "SH-OUTLET-")
    assert outlet_again.order_prefix == "SH-OUTLET-2-"
    numbers = {_warehouse_order(sc.ctx, s, oid).number for s, oid in ((store, "1"), (store, "2"))}
    assert numbers == {"SH-1001", "SH-1002"}  # the second store changed nothing here
    assert _warehouse_order(sc.ctx, outlet, "3").number == "SH-OUTLET-1001"


def test_another_clients_first_store_numbers_sh_too(
    ctx: Context, store: Integration, warehouse: Warehouse
) -> None:
    from core.services import tenancy

    other = tenancy.create_client(ctx, SYSTEM, name="Other client")
    assert _store(ctx, other, warehouse).order_prefix == "SH-"


# --- 4. held orders fix themselves -------------------------------------------------------------


def _catalog(ctx: Context, store: Integration, variant: str, sku: str) -> None:
    with ctx.uow() as uow:
        uow.catalog.upsert(
            [CatalogVariant(store.id, variant, T0, sku=sku, title=sku, product_title=sku)]
        )
        uow.commit()


def test_mapping_the_unmapped_variant_rebuilds_and_releases_the_held_order_and_its_alert(
    sc: StoreContext, store: Integration, client: Client, warehouse: Warehouse
) -> None:
    _apply(sc, store, _order(lines=(("V-NEW", "NEW-1", 2),)))
    held = _warehouse_order(sc.ctx, store, "450789469")
    assert held.status == "on_hold"
    assert [(u.integration_id, u.external_variant_id) for u in orders.unmapped_lines(held)] == [
        (store.id, "V-NEW")
    ]
    [hold_alert] = alerts.list_alerts(sc.ctx, SYSTEM, kind="order_on_hold")
    assert hold_alert.order_id == held.id
    product = stock_services.create_product(
        sc.ctx, SYSTEM, client_id=client.id, sku="WIDGET", name="The widget"
    )
    stock_services.receive_stock(
        sc.ctx, SYSTEM, product_id=product.id, warehouse_id=warehouse.id, quantity=5
    )
    _catalog(sc.ctx, store, "V-NEW", "NEW-1")

    mapping.map_variant(
        sc.ctx, SYSTEM, store.id, external_variant_id="V-NEW", product_id=product.id
    )

    order = _warehouse_order(sc.ctx, store, "450789469")
    assert (order.status, order.hold_reason) == ("allocated", None)
    assert [(i.product_id, i.sku, i.name) for i in order.items] == [
        (product.id, "WIDGET", "The widget")
    ]
    assert orders.unmapped_lines(order) == []
    assert alerts.get_alert(sc.ctx, SYSTEM, hold_alert.id).status == "resolved"
    with sc.ctx.uow() as uow:
        level = uow.stock.get_level(product.id, warehouse.id)
    assert level is not None
    assert level.reserved == 2


def test_auto_mapping_releases_held_orders_whose_lines_it_maps(
    sc: StoreContext, store: Integration, client: Client, warehouse: Warehouse
) -> None:
    _apply(sc, store, _order(lines=(("V-NEW", "NEW-1", 1),)))
    _catalog(sc.ctx, store, "V-NEW", "NEW-1")
    stock_services.create_product(sc.ctx, SYSTEM, client_id=client.id, sku="new-1", name="New")

    assert mapping.auto_map(sc.ctx, store.id).mapped == 1
    order = _warehouse_order(sc.ctx, store, "450789469")
    assert order.status == "pending"  # released; no stock yet to allocate
    assert order.hold_reason is None


def test_an_order_with_lines_still_unmapped_stays_held_with_only_those_named(
    sc: StoreContext, store: Integration, client: Client, warehouse: Warehouse
) -> None:
    _apply(sc, store, _order(lines=(("V-A", "A-1", 1), ("V-B", "B-1", 1))))
    _catalog(sc.ctx, store, "V-A", "A-1")
    product = stock_services.create_product(sc.ctx, SYSTEM, client_id=client.id, sku="X", name="X")

    mapping.map_variant(sc.ctx, SYSTEM, store.id, external_variant_id="V-A", product_id=product.id)

    order = _warehouse_order(sc.ctx, store, "450789469")
    assert order.status == "on_hold"
    assert "V-B" in (order.hold_reason or "")
    assert "V-A" not in (order.hold_reason or "")
    assert alerts.list_alerts(sc.ctx, SYSTEM, status="open", kind="order_on_hold") != []


def test_an_order_held_by_staff_is_not_released_by_a_mapping(
    sc: StoreContext, store: Integration, client: Client, warehouse: Warehouse
) -> None:
    _product(sc.ctx, client, warehouse, "TENT-1", 10)
    _apply(sc, store, _order())
    order = _warehouse_order(sc.ctx, store, "450789469")
    orders.advance(sc.ctx, SYSTEM, order.id, status="on_hold")
    _catalog(sc.ctx, store, "V-OTHER", "TENT-1")
    mapping.auto_map(sc.ctx, store.id)
    assert _warehouse_order(sc.ctx, store, "450789469").status == "on_hold"


# --- 5. alerts ---------------------------------------------------------------------------------


@pytest.fixture
def people(ctx: Context, client: Client) -> dict[str, Any]:
    from core.services import tenancy

    other = tenancy.create_client(ctx, SYSTEM, name="Someone else")

    def user(client_id: str) -> User:
        return User(
            id=ctx.ids.new_id(),
            email="x@y.z",
            password_hash="",
            created_at=T0,
            client_id=client_id,
            role="member",
        )

    return {"mine": user(client.id), "theirs": user(other.id), "other_client": other}


def test_client_users_see_and_handle_only_their_own_clients_alerts(
    sc: StoreContext, store: Integration, people: dict[str, Any]
) -> None:
    _apply(sc, store, _order(lines=(("V-NEW", "NEW-1", 1),)))  # holds: an alert for the client
    from core.services import raise_alert

    with sc.ctx.uow() as uow:
        raise_alert(uow, sc.ctx, severity="error", code="queue_item_dead", message="no client")
        uow.commit()
    mine, theirs = people["mine"], people["theirs"]

    [held] = alerts.list_alerts(sc.ctx, mine)
    assert held.code == "order_on_hold"
    assert alerts.list_alerts(sc.ctx, theirs) == []
    assert alerts.list_alerts(sc.ctx, mine, client_id=people["other_client"].id) == []
    assert len(alerts.list_alerts(sc.ctx, SYSTEM)) == 2  # staff: also the one of no client
    with pytest.raises(NotFound):
        alerts.acknowledge(sc.ctx, theirs, held.id)

    seen = alerts.acknowledge(sc.ctx, mine, held.id)
    assert (seen.status, seen.acknowledged_by) == ("acknowledged", mine.id)
    assert alerts.list_alerts(sc.ctx, mine, status="open") == []
    assert [a.id for a in alerts.list_alerts(sc.ctx, mine, status="acknowledged")] == [held.id]
    done = alerts.resolve(sc.ctx, mine, held.id)
    assert (done.status, done.resolved_by) == ("resolved", mine.id)
    assert alerts.acknowledge(sc.ctx, mine, held.id).acknowledged_at == seen.acknowledged_at
    with pytest.raises(InvalidInput):
        alerts.list_alerts(sc.ctx, mine, status="closed")  # type: ignore[arg-type]


def test_releasing_or_cancelling_a_held_order_resolves_its_hold_alert(
    sc: StoreContext, store: Integration, client: Client, warehouse: Warehouse
) -> None:
    _apply(sc, store, _order("1", lines=(("V-NEW", "NEW-1", 1),)))
    _apply(sc, store, _order("2", number="1002", lines=(("V-NEW", "NEW-1", 1),)))
    stock_services.create_product(sc.ctx, SYSTEM, client_id=client.id, sku="NEW-1", name="New")
    first, second = (_warehouse_order(sc.ctx, store, oid) for oid in ("1", "2"))

    orders.release_hold(sc.ctx, SYSTEM, first.id)  # the line now resolves by SKU
    orders.cancel_order(sc.ctx, SYSTEM, second.id, reason="customer asked")

    assert alerts.list_alerts(sc.ctx, SYSTEM, kind="order_on_hold", status="open") == []
    assert len(alerts.list_alerts(sc.ctx, SYSTEM, kind="order_on_hold", status="resolved")) == 2


def test_an_event_that_works_on_a_later_attempt_resolves_the_alert_its_failure_raised(
    ctx: Context, clock: ManualClock
) -> None:
    failures = [RuntimeError("boom")]

    def flaky(uow: Any, event: InboxEvent) -> None:
        if failures:
            raise failures.pop()

    event = InboxEvent(
        id=ctx.ids.new_id(),
        platform="shopify",
        topic="t",
        delivery_id="d1",
        received_at=clock.now(),
        next_attempt_at=clock.now(),
        max_attempts=1,
    )
    with ctx.uow() as uow:
        uow.inbox.add(event)
        uow.commit()
    worker = Worker(ctx, Handlers(inbox={"t": in_transaction(flaky)}), worker_id="w1")
    assert worker.drain().dead == 1
    [dead] = alerts.list_alerts(ctx, SYSTEM, kind="queue_item_dead")
    assert (dead.status, dead.event_id) == ("open", event.id)

    retry(ctx, kind="inbox", item_id=event.id)
    assert worker.drain().processed == 1
    assert alerts.get_alert(ctx, SYSTEM, dead.id).status == "resolved"


# --- 6. events ---------------------------------------------------------------------------------


def test_events_name_their_warehouse_order_and_whether_retrying_can_change_anything(
    sc: StoreContext,
    store: Integration,
    client: Client,
    warehouse: Warehouse,
    people: dict[str, Any],
) -> None:
    clock = sc.ctx.clock
    assert isinstance(clock, ManualClock)
    _product(sc.ctx, client, warehouse, "TENT-1", 10)
    state = _order()
    _apply(sc, store, state)
    imported = _reconciled(sc.ctx, store, state[0], status="processed")
    clock.advance(timedelta(seconds=1))
    up_to_date = _reconciled(sc.ctx, store, state[0], status="skipped", error="already up to date")
    clock.advance(timedelta(seconds=1))
    off = _reconciled(
        sc.ctx, store, _order("9", number="1009")[0], status="skipped", error=AUTO_IMPORT_OFF
    )
    clock.advance(timedelta(seconds=1))
    dead = _reconciled(sc.ctx, store, _order("8", number="1008")[0], status="dead", error="x")

    page = events.list_events(sc, people["mine"], limit=3)
    rows = {r.event.id: r for r in page.rows}
    assert list(rows) == [dead, off, up_to_date]
    assert page.next_cursor is not None
    rest = events.list_events(sc, people["mine"], limit=3, cursor=page.next_cursor)
    assert [r.event.id for r in rest.rows] == [imported]
    assert rest.next_cursor is None
    order = _warehouse_order(sc.ctx, store, "450789469")
    assert rest.rows[0].order is not None
    assert rest.rows[0].order.id == order.id
    assert rows[up_to_date].order is not None
    assert rows[up_to_date].order.number == "SH-1001"
    assert rows[off].order is None
    assert {i: r.retryable for i, r in rows.items()} == {dead: True, off: True, up_to_date: False}
    assert rest.rows[0].retryable is False
    assert events.list_events(sc, people["theirs"]).rows == []
    with pytest.raises(NotFound):
        events.list_events(sc, people["theirs"], integration_id=store.id)
    with pytest.raises(NotFound):
        events.get_event(sc, people["theirs"], dead)
    assert [r.event.id for r in events.list_events(sc, SYSTEM, status="dead").rows] == [dead]
    with pytest.raises(InvalidInput):
        events.list_events(sc, SYSTEM, cursor="not a cursor")


def test_retrying_refuses_what_retrying_cannot_change(sc: StoreContext, store: Integration) -> None:
    state = _order()
    up_to_date = _reconciled(sc.ctx, store, state[0], status="skipped", error="already up to date")
    processed = _reconciled(sc.ctx, store, state[0], status="processed")
    off = _reconciled(sc.ctx, store, state[0], status="skipped", error=AUTO_IMPORT_OFF)

    for event_id in (up_to_date, processed):
        with pytest.raises(InvalidInput) as refused:
            events.retry_event(sc, SYSTEM, event_id)
        assert refused.value.code == "not_retryable"
    again = events.retry_event(sc, SYSTEM, off)
    assert again.status == "received"
    assert not retryable(again)  # waiting for the worker: nothing to retry yet
