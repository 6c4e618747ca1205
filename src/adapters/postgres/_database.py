"""``PostgresDatabase``: the connection pool every unit of work borrows from."""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Final, Self

import psycopg
from psycopg_pool import ConnectionPool

from adapters.postgres._errors import translated

CHECK_AFTER_IDLE: Final = 2.0
"""Seconds a pooled connection may sit unused before a borrow checks it with a round trip."""


def _configure(conn: psycopg.Connection[Any]) -> None:
    """Every pooled connection speaks UTC (the adapter reads timestamps as UTC regardless)."""
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()


class PostgresDatabase:
    """A ``psycopg_pool.ConnectionPool`` over one database, opened and closed explicitly.

    Built closed (nothing connects at construction); ``open()`` connects and waits until the
    pool has its minimum connections, raising the ``database_unavailable`` error if it cannot.

    A borrowed connection is checked with an empty query (and replaced if that fails) when it
    has not been used successfully for ``check_after_idle`` seconds: a connection lost while
    it sat in the pool (a restarted server, a dropped network) is never handed out, and one
    that just served a block without error is handed out again without that round trip. (A
    connection that broke while in use is discarded by the pool when it comes back.)
    """

    def __init__(
        self,
        conninfo: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 10.0,
        name: str = "storelink",
        check_after_idle: float = CHECK_AFTER_IDLE,
    ) -> None:
        self.check_after_idle = check_after_idle
        # when each connection last came back from a block that raised nothing (monotonic)
        self._fine_at: weakref.WeakKeyDictionary[psycopg.Connection[Any], float] = (
            weakref.WeakKeyDictionary()
        )
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            name=name,
            open=False,
            configure=_configure,
            check=self._check,
            kwargs={"autocommit": False},
        )

    def _check(self, conn: psycopg.Connection[Any]) -> None:
        fine_at = self._fine_at.pop(conn, None)
        if fine_at is not None and time.monotonic() - fine_at < self.check_after_idle:
            return
        ConnectionPool.check_connection(conn)

    def open(self, wait_timeout: float = 30.0) -> None:
        """Connect; raise ``StorelinkError`` (code ``database_unavailable``) if the pool cannot
        get its first connections within ``wait_timeout`` seconds."""
        try:
            with translated():
                self.pool.open()
                self.pool.wait(wait_timeout)
        except BaseException:
            self.pool.close()
            raise

    def close(self) -> None:
        self.pool.close()

    def check(self, timeout: float = 2.0) -> None:
        """For ``/readyz``: a ``SELECT 1`` round trip, or the ``database_unavailable`` error."""
        with translated(), self.pool.connection(timeout=timeout) as conn:
            conn.execute("SELECT 1").fetchone()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection for the length of the block; errors come out as core errors."""
        with translated(), self.pool.connection() as conn:
            yield conn
            self._fine_at[conn] = time.monotonic()  # not reached when the block raised

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
