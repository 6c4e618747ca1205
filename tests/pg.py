"""PostgreSQL for tests: a server, a fresh database per test session, a fast reset per test.

The server is ``TEST_DATABASE_URL``'s (any database on it; the role must be allowed to create
databases), else an embedded server started once per process in a temporary directory and
deleted at exit. Each session gets its own uniquely named database, migrated once and dropped
at the end; ``ScratchDatabase.reset()`` empties every table but ``schema_migrations`` in one
round trip.

Use from a conftest::

    @pytest.fixture(scope="session")
    def pg_database() -> Iterator[ScratchDatabase]:
        yield from tests.pg.session_database()
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from functools import partial

import attrs
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from adapters.postgres import PostgresDatabase, migrate, start_embedded
from core.errors import StorelinkError

__all__ = [
    "PostgresUnavailable",
    "ScratchDatabase",
    "fresh_database",
    "scratch_database",
    "server_url",
    "session_database",
]


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL to test against: neither ``TEST_DATABASE_URL`` nor an embedded server."""


_lock = threading.Lock()
_server: list[str] = []  # the one server URL of this process, once known


def _start_embedded() -> str:
    workdir = tempfile.mkdtemp(prefix="storelink-test-pg-")
    # registered before the server's own exit hook, so it runs after the server is deleted
    atexit.register(partial(shutil.rmtree, workdir, ignore_errors=True))
    try:
        return start_embedded(workdir, database="postgres", cleanup="delete").server_conninfo
    except StorelinkError as exc:
        raise PostgresUnavailable(
            "no PostgreSQL for the tests: TEST_DATABASE_URL is not set and the embedded server "
            f"did not start ({exc.message}). Set TEST_DATABASE_URL=postgresql://USER@HOST/DB "
            "for a server where USER may create databases."
        ) from exc


def server_url() -> str:
    """A server URL to create test databases on (started on first use when embedded)."""
    with _lock:
        if not _server:
            _server.append(os.environ.get("TEST_DATABASE_URL") or _start_embedded())
        return _server[0]


def _create(server: str, name: str) -> str:
    try:
        with psycopg.connect(server, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        raise PostgresUnavailable(
            f"cannot create test database {name} on the test server ({type(exc).__name__}: "
            f"{exc.diag.message_primary or str(exc).strip()}); check TEST_DATABASE_URL"
        ) from exc
    return make_conninfo(server, dbname=name)


def _drop(server: str, name: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextlib.contextmanager
def fresh_database(prefix: str = "storelink_test") -> Iterator[str]:
    """An empty, unmigrated database of its own (its conninfo), dropped afterwards."""
    server = server_url()
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    url = _create(server, name)
    try:
        yield url
    finally:
        _drop(server, name)


# Append-only tables refuse DELETE (a trigger); they are truncated, and only when not empty.
_APPEND_ONLY = frozenset({"stock_movements"})


@attrs.define
class ScratchDatabase:
    """A migrated database for one test session, with an open ``PostgresDatabase``."""

    url: str
    db: PostgresDatabase
    _reset: sql.Composed | None = None

    def reset(self) -> None:
        """Empty every table except ``schema_migrations``, in one round trip.

        ``DELETE`` rather than ``TRUNCATE``: on a server with fsync on, truncating the ~20
        tables costs ~0.3 s a test (new files for every table and index), deleting the few
        rows a test wrote ~2 ms. Foreign keys are deferred, so the order does not matter.
        """
        with self.db.pool.connection() as conn:
            if self._reset is None:
                self._reset = self._reset_statement(conn)
            conn.execute(self._reset)

    @staticmethod
    def _reset_statement(conn: psycopg.Connection) -> sql.Composed:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables"
                " WHERE schemaname = current_schema() AND tablename <> 'schema_migrations'"
                " ORDER BY tablename"
            )
        ]
        statements = [
            sql.SQL(
                "DO $$ BEGIN IF EXISTS (SELECT 1 FROM {table}) THEN TRUNCATE {table}; END IF; "
                "END $$"
            ).format(table=sql.Identifier(table))
            for table in tables
            if table in _APPEND_ONLY
        ]
        statements += [
            sql.SQL("DELETE FROM {}").format(sql.Identifier(table))
            for table in tables
            if table not in _APPEND_ONLY
        ]
        return sql.SQL("; ").join(statements)


@contextlib.contextmanager
def scratch_database(*, max_size: int = 8) -> Iterator[ScratchDatabase]:
    """A fresh database, migrated, with an open pool; closed and dropped afterwards."""
    with fresh_database() as url:
        migrate(url)
        db = PostgresDatabase(url, min_size=1, max_size=max_size)
        db.open(wait_timeout=10)
        try:
            yield ScratchDatabase(url, db)
        finally:
            db.close()


def session_database() -> Iterator[ScratchDatabase]:
    """The body of a session-scoped ``pg_database`` fixture: fails the tests that need it,
    with the reason, when no PostgreSQL is available."""
    with contextlib.ExitStack() as stack:
        try:
            database = stack.enter_context(scratch_database())
        except PostgresUnavailable as exc:
            pytest.fail(str(exc), pytrace=False)
        yield database
