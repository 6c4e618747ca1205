"""Schema migrations: applied once, in order, by one process at a time, never silently
re-interpreted. Each test gets an empty database of its own."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

import tests.pg
from adapters.postgres import (
    DATABASE_UNAVAILABLE,
    Migration,
    MigrationError,
    load_migrations,
    migrate,
)
from core.errors import StorelinkError

pytestmark = pytest.mark.postgres


@pytest.fixture
def empty_database(pg_database):  # pg_database: fail clearly when there is no server
    with tests.pg.fresh_database("storelink_migrations") as url:
        yield url


def _recorded(url):
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
        ).fetchall()


def _tables(url):
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchall()
    return {row[0] for row in rows}


def test_the_shipped_migrations_are_numbered_files_in_order():
    migrations = load_migrations()

    assert migrations[0].name == "0001_initial"
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert all(m.name.startswith(f"{m.version:04d}_") for m in migrations)


def test_migrating_a_new_database_applies_every_migration_and_records_it(empty_database):
    shipped = load_migrations()

    applied = migrate(empty_database)

    assert applied == [m.name for m in shipped]
    assert _recorded(empty_database) == [(m.version, m.name, m.checksum) for m in shipped]
    assert {"orders", "order_items", "inbox_events", "stock_movements"} <= _tables(empty_database)


def test_migrating_again_applies_nothing_and_changes_nothing(empty_database):
    migrate(empty_database)
    recorded = _recorded(empty_database)

    assert migrate(empty_database) == []
    assert _recorded(empty_database) == recorded


def test_processes_migrating_at_once_apply_each_migration_exactly_once(empty_database):
    start = threading.Barrier(4)

    def run(_):
        start.wait()
        return migrate(empty_database)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, range(4)))

    names = [m.name for m in load_migrations()]
    assert sorted(name for result in results for name in result) == sorted(names)
    assert results.count([]) == 3
    assert [row[1] for row in _recorded(empty_database)] == names


def _m(version, sql):
    return Migration(version, f"{version:04d}_step", sql)


def test_pending_migrations_are_applied_in_version_order(empty_database):
    first = _m(1, "CREATE TABLE a (id int)")
    second = _m(2, "ALTER TABLE a ADD COLUMN b int")  # fails unless after the first
    assert migrate(empty_database, [first]) == ["0001_step"]

    assert migrate(empty_database, [second, first]) == ["0002_step"]
    assert migrate(empty_database, [first, second, _m(3, "CREATE TABLE c (id int)")]) == [
        "0003_step"
    ]


def test_a_failing_migration_leaves_no_trace_and_stops_the_run(empty_database):
    good = _m(1, "CREATE TABLE a (id int)")
    broken = _m(2, "CREATE TABLE b (id int); CREATE TABLE a (id int)")  # a exists: fails
    after = _m(3, "CREATE TABLE c (id int)")

    with pytest.raises(MigrationError, match="migration 0002_step failed and was not applied"):
        migrate(empty_database, [good, broken, after])

    assert [row[0] for row in _recorded(empty_database)] == [1]
    assert {"a", "b", "c"} & _tables(empty_database) == {"a"}

    fixed = _m(2, "CREATE TABLE b (id int)")
    assert migrate(empty_database, [good, fixed, after]) == ["0002_step", "0003_step"]


def test_a_migration_changed_after_it_was_applied_is_refused(empty_database):
    original = _m(1, "CREATE TABLE a (id int)")
    migrate(empty_database, [original])
    edited = _m(1, "CREATE TABLE a (id bigint)")

    with pytest.raises(MigrationError, match="0001_step was applied and its file has changed"):
        migrate(empty_database, [edited, _m(2, "CREATE TABLE b (id int)")])

    assert [row[0] for row in _recorded(empty_database)] == [1]
    assert "b" not in _tables(empty_database)


def test_a_changed_shipped_migration_is_refused(empty_database):
    migrate(empty_database)
    with psycopg.connect(empty_database) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")

    with pytest.raises(MigrationError, match="0001_initial was applied and its file has changed"):
        migrate(empty_database)


def test_migrating_an_unreachable_database_is_a_database_unavailable_error():
    with pytest.raises(StorelinkError) as raised:
        migrate("host=127.0.0.1 port=1 dbname=storelink user=storelink connect_timeout=1")

    assert raised.value.code == DATABASE_UNAVAILABLE


def test_0004_keeps_the_numbering_stores_use_and_links_alerts_to_what_they_concern(
    empty_database,
):
    before = [m for m in load_migrations() if m.version < 4]
    migrate(empty_database, before)
    with psycopg.connect(empty_database) as conn:
        conn.execute(
            "INSERT INTO clients (id, name, created_at) VALUES"
            " ('c1', 'One store', now()), ('c2', 'Two stores', now())"
        )
        conn.execute(
            "INSERT INTO warehouses (id, code, name, created_at) VALUES ('w', 'W', 'W', now())"
        )
        conn.execute(
            "INSERT INTO integrations"
            " (id, client_id, platform, shop_domain, created_at, updated_at)"
            " VALUES ('i1', 'c1', 'shopify', 'acme.myshopify.com', now(), now()),"
            " ('i2', 'c2', 'shopify', 'demo-outdoors.myshopify.com', now(), now()),"
            " ('i3', 'c2', 'shopify', 'outlet.myshopify.com', now(), now())"
        )
        conn.execute(
            "INSERT INTO orders (id, client_id, warehouse_id, number, created_at, updated_at)"
            " VALUES ('o1', 'c1', 'w', 'SH-1001', now(), now())"
        )
        conn.execute(
            "INSERT INTO inbox_events (id, platform, topic, delivery_id, received_at,"
            " next_attempt_at) VALUES ('e1', 'shopify', 'orders/create', 'd1', now(), now())"
        )
        conn.execute(
            "INSERT INTO alerts (id, severity, code, message, created_at, subject_id) VALUES"
            " ('a1', 'warning', 'order_on_hold', 'held', now(), 'o1'),"
            " ('a2', 'error', 'queue_item_dead', 'dead', now(), 'e1'),"
            " ('a3', 'error', 'inventory_sync_problem', 'stock', now(), 'm1')"
        )

    assert migrate(empty_database) == [m.name for m in load_migrations() if m.version >= 4]

    with psycopg.connect(empty_database) as conn:
        prefixes = conn.execute("SELECT id, order_prefix FROM integrations ORDER BY id").fetchall()
        links = conn.execute("SELECT id, order_id, event_id FROM alerts ORDER BY id").fetchall()
    assert prefixes == [("i1", "SH-"), ("i2", "SH-DEMO-OUTDOORS-"), ("i3", "SH-OUTLET-")]
    assert links == [("a1", "o1", None), ("a2", None, "e1"), ("a3", None, None)]
