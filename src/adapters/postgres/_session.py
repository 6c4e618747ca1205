"""One unit of work's connection: a transaction begun on first use, writes in savepoints.

Every write runs in a savepoint, so a refused write (a duplicate, a broken rule) undoes only
itself: the error reaches the caller as a core error and the unit of work stays usable, as
with the in-memory adapter.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.abc import Params
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

from adapters.postgres._errors import noun, translated
from adapters.postgres._rows import Table
from core.errors import NotFound, StorelinkError

M = TypeVar("M")
Row = dict[str, Any]
Query = str | bytes | sql.SQL | sql.Composed


def where(conditions: list[sql.Composable]) -> sql.Composed:
    """`` WHERE a AND b`` for the conditions given, nothing for none."""
    if not conditions:
        return sql.Composed([])
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions)


def contains_pattern(text: str) -> str:
    """An ``ILIKE`` pattern matching ``text`` anywhere, its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class Session:
    """A connection's current transaction, begun lazily so a unit of work that does nothing
    costs no round trip."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self._tx: tuple[ExitStack, psycopg.Transaction] | None = None

    def _begin(self) -> None:
        if self._tx is None:
            stack = ExitStack()
            with translated():
                tx = stack.enter_context(self._conn.transaction())
            self._tx = (stack, tx)

    def snapshot(self) -> None:
        """Begin a REPEATABLE READ transaction: every read of it sees the data as of its
        first statement (PostgreSQL's default, READ COMMITTED, takes a new view per
        statement)."""
        if self._tx is not None:
            raise RuntimeError("snapshot() must come before the transaction's first statement")
        self._begin()
        with translated():
            self._conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

    def rows(self, query: Query, params: Params | None = None) -> list[Row]:
        self._begin()
        with translated(), self._conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)
            return cur.fetchall()

    def row(self, query: Query, params: Params | None = None) -> Row | None:
        found = self.rows(query, params)
        return found[0] if found else None

    @contextmanager
    def atomic(self, conflicts: Mapping[str, str] | None = None) -> Iterator[psycopg.Cursor[Row]]:
        """A savepoint: the block's statements apply whole or not at all. ``conflicts`` names
        what was duplicate, by constraint, for the ``Conflict`` raised on a unique violation."""
        self._begin()
        with (
            translated(conflicts),
            self._conn.transaction(),
            self._conn.cursor(row_factory=dict_row) as cur,
        ):
            yield cur

    def write(
        self,
        query: Query,
        params: Params | None = None,
        *,
        conflicts: Mapping[str, str] | None = None,
        savepoint: bool = True,
    ) -> int:
        """Run one write in a savepoint; the number of rows it touched.

        ``savepoint=False`` saves two round trips for writes that cannot be refused in a way
        the caller would recover from (``INSERT ... ON CONFLICT DO NOTHING`` of a queue item):
        if one fails anyway, the unit of work cannot commit.
        """
        if savepoint:
            with self.atomic(conflicts) as cur:
                cur.execute(query, params)
                return cur.rowcount
        self._begin()
        with translated(conflicts), self._conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)
            return cur.rowcount

    def commit(self) -> None:
        current, self._tx = self._tx, None
        if current is None:
            return
        stack, tx = current
        if self._conn.info.transaction_status == TransactionStatus.INERROR:
            # PostgreSQL would answer COMMIT with a silent rollback: say so instead
            tx.force_rollback = True
            with translated():
                stack.close()
            raise StorelinkError(
                "the unit of work failed earlier and was rolled back; nothing was saved",
                code="database_error",
            )
        with translated():
            stack.close()

    def rollback(self) -> None:
        current, self._tx = self._tx, None
        if current is None:
            return
        stack, tx = current
        tx.force_rollback = True
        with translated():
            stack.close()


class Repository:
    """Base of the repositories: they share their unit of work's session."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def _update(
        self, table: Table[M], obj: M, *, conflicts: Mapping[str, str] | None = None
    ) -> None:
        """Save every column of an existing row; ``NotFound`` if it was never added."""
        if self._s.write(table.update(), table.params(obj), conflicts=conflicts) == 0:
            raise NotFound(f"that {noun(table.name)} does not exist")
