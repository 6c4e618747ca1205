"""``PostgresDatabase``: the connection pool every unit of work borrows from."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg_pool import ConnectionPool

from adapters.postgres._errors import translated


def _configure(conn: psycopg.Connection[Any]) -> None:
    """Every pooled connection speaks UTC (the adapter reads timestamps as UTC regardless)."""
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()


class PostgresDatabase:
    """A ``psycopg_pool.ConnectionPool`` over one database, opened and closed explicitly.

    Built closed (nothing connects at construction); ``open()`` connects and waits until the
    pool has its minimum connections, raising the ``database_unavailable`` error if it cannot.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 10.0,
        name: str = "storelink",
    ) -> None:
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            name=name,
            open=False,
            configure=_configure,
            check=ConnectionPool.check_connection,
            kwargs={"autocommit": False},
        )

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
