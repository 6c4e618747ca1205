"""The queues (inbox of store events, outbox of commands), alerts and sync runs.

A claim locks due rows with ``FOR UPDATE SKIP LOCKED`` and marks them ``processing`` under the
worker's lease in the same statement, so two workers never get the same item and neither
waits for the other. ``PostgresInboxWriter`` stores a webhook's event with one statement in
autocommit: no BEGIN and COMMIT round trips around it.
"""

from __future__ import annotations

import builtins
import codecs
import contextlib
import weakref
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from adapters.postgres._database import PostgresDatabase
from adapters.postgres._rows import ALERTS, INBOX_EVENTS, OUTBOX_COMMANDS, SYNC_RUNS, Row, Table
from adapters.postgres._session import Repository, Session, where
from core.errors import InvalidInput, PayloadError
from core.model import (
    INBOX_CLAIMABLE,
    OUTBOX_CLAIMABLE,
    Alert,
    AlertStatus,
    Backlog,
    InboxEvent,
    InboxStatus,
    OutboxCommand,
    OutboxStatus,
    SyncRun,
)
from core.serialization import load_document


def _claim_query(table: Table[Any], claimable: frozenset[str]) -> sql.Composed:
    # The statuses are written out (not bound) so the planner can use the partial index on
    # due items; they are the model's constants, quoted as literals.
    return sql.SQL(
        "WITH due AS MATERIALIZED ("
        " SELECT id FROM {table}"
        " WHERE (status IN ({claimable}) AND next_attempt_at <= %(now)s)"
        " OR (status = 'processing' AND locked_until <= %(now)s)"
        " ORDER BY next_attempt_at, id"
        " LIMIT %(limit)s"
        " FOR UPDATE SKIP LOCKED)"
        " UPDATE {table} AS t"
        " SET status = 'processing', attempts = t.attempts + 1,"
        " locked_by = %(worker_id)s, locked_until = %(locked_until)s"
        " FROM due WHERE t.id = due.id"
        " RETURNING t.*"
    ).format(
        table=table.ident,
        claimable=sql.SQL(", ").join(sql.Literal(status) for status in sorted(claimable)),
    )


_CLAIM_INBOX = _claim_query(INBOX_EVENTS, INBOX_CLAIMABLE)
_CLAIM_OUTBOX = _claim_query(OUTBOX_COMMANDS, OUTBOX_CLAIMABLE)


def _claim(
    session: Session,
    query: sql.Composed,
    *,
    now: datetime,
    limit: int,
    lease_seconds: float,
    worker_id: str,
) -> builtins.list[dict[str, Any]]:
    if limit <= 0:
        return []
    params = {
        "now": now,
        "limit": limit,
        "worker_id": worker_id,
        "locked_until": now + timedelta(seconds=lease_seconds),
    }
    with session.atomic() as cur:
        cur.execute(query, params)
        rows = cur.fetchall()
    # RETURNING keeps no order: hand them out in the order they were due
    return sorted(rows, key=lambda row: (row["next_attempt_at"], row["id"]))


# Composed once: turning the sql.Composed into text on every call cost more than the rest of
# the statement's preparation (psycopg caches what it derives from a query's text).
_INSERT_INBOX = INBOX_EVENTS.insert(on_conflict_do_nothing=True).as_string()


def _verbatim(document: bytes) -> bytes:
    return document


def _stores_as_is(document: bytes) -> bool:
    """Would ``jsonb`` store exactly what Python's ``json.loads`` read from ``document``?

    Yes for UTF-8 text (no byte order mark, no NUL byte: what json.loads would take for
    UTF-16 or -32) without a ``\\u0000`` escape (a string jsonb refuses to hold; a payload
    holding one is left to the payload's own encoding).
    """
    backslash = document.find(b"\\")  # one byte: found far faster than the escape
    if backslash >= 0 and document.find(b"\\u0000", backslash) >= 0:
        return False
    if b"\x00" in document or document.startswith(codecs.BOM_UTF8):
        return False
    if document.isascii():  # UTF-8 already, and far cheaper to tell than by decoding
        return True
    try:
        document.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_INBOX_FIELDS = INBOX_EVENTS.fields


def _inbox_params(event: InboxEvent, payload_json: bytes | None) -> Row:
    if payload_json is None:
        return INBOX_EVENTS.params(event)
    params: Row = {name: getattr(event, name) for name in _INBOX_FIELDS}
    if payload_json.lstrip(b" \t\n\r")[:1] == b"{" and _stores_as_is(payload_json):
        # PostgreSQL parses the document for jsonb (refusing what is no JSON, which the insert
        # turns into a PayloadError; JSON that opens with a brace is an object), and Python
        # neither walks nor encodes the payload again
        params["payload"] = Jsonb(payload_json, dumps=_verbatim)
    else:
        params["payload"] = Jsonb(load_document(payload_json))
    return params


@contextlib.contextmanager
def _document_refused() -> Iterator[None]:
    """An insert of an event whose payload PostgreSQL cannot read or hold (no JSON, a number
    out of numeric's range: a ``DataError``, translated as a value that cannot be stored)
    raises ``PayloadError``; the event's other values are the core's, never such a value."""
    try:
        yield
    except InvalidInput as exc:
        if not isinstance(exc.__context__, psycopg.DataError):
            raise
        raise PayloadError(f"the payload cannot be stored: {exc.message}") from None


_STATES = {
    "received": "waiting",
    "pending": "waiting",
    "failed": "retrying",
    "processing": "processing",
    "dead": "dead",
}


def _backlog_query(table: Table[Any], arrived: str, statuses: tuple[str, ...]) -> sql.Composed:
    # One pass over the (status, arrival, id) index: a count and the earliest arrival per
    # unfinished status. The statuses are the model's constants, quoted as literals.
    return sql.SQL(
        "SELECT status, count(*) AS n, min({arrived}) AS oldest FROM {table}"
        " WHERE status IN ({statuses}) GROUP BY status"
    ).format(
        table=table.ident,
        arrived=sql.Identifier(arrived),
        statuses=sql.SQL(", ").join(sql.Literal(status) for status in statuses),
    )


_BACKLOG_INBOX = _backlog_query(
    INBOX_EVENTS, "received_at", ("received", "failed", "processing", "dead")
)
_BACKLOG_OUTBOX = _backlog_query(
    OUTBOX_COMMANDS, "created_at", ("pending", "failed", "processing", "dead")
)


def _backlog(session: Session, query: sql.Composed) -> Backlog:
    counts = {"waiting": 0, "retrying": 0, "processing": 0, "dead": 0}
    oldest: datetime | None = None
    for row in session.rows(query):
        state = _STATES[row["status"]]
        counts[state] += int(row["n"])
        if state != "dead" and (oldest is None or row["oldest"] < oldest):
            oldest = row["oldest"]
    return Backlog(**counts, oldest_at=oldest)


class PostgresInboxRepository(Repository):
    def add(self, event: InboxEvent, *, payload_json: bytes | None = None) -> bool:
        with _document_refused():
            params = _inbox_params(event, payload_json)
            inserted = self._s.write(_INSERT_INBOX, params, savepoint=False)
        return inserted == 1

    def get(self, event_id: str) -> InboxEvent | None:
        row = self._s.row("SELECT * FROM inbox_events WHERE id = %s FOR UPDATE", [event_id])
        return None if row is None else INBOX_EVENTS.load(row)

    def claim_due(
        self,
        now: datetime,
        *,
        limit: int,
        lease_seconds: float,
        worker_id: str,
    ) -> builtins.list[InboxEvent]:
        rows = _claim(
            self._s,
            _CLAIM_INBOX,
            now=now,
            limit=limit,
            lease_seconds=lease_seconds,
            worker_id=worker_id,
        )
        return [INBOX_EVENTS.load(row) for row in rows]

    def update(self, event: InboxEvent) -> None:
        self._update(INBOX_EVENTS, event)

    def counts(self, integration_id: str, since: datetime) -> dict[str, int]:
        rows = self._s.rows(
            "SELECT status, count(*) AS n FROM inbox_events"
            " WHERE integration_id = %s AND received_at >= %s GROUP BY status",
            [integration_id, since],
        )
        return {row["status"]: int(row["n"]) for row in rows}

    def backlog(self) -> Backlog:
        return _backlog(self._s, _BACKLOG_INBOX)

    def list(
        self,
        *,
        integration_id: str | None = None,
        status: InboxStatus | None = None,
        limit: int = 100,
        offset: int = 0,
        integration_ids: Sequence[str] | None = None,
        before: tuple[datetime, str] | None = None,
    ) -> builtins.list[InboxEvent]:
        conditions: builtins.list[sql.Composable] = []
        if integration_id is not None:
            conditions.append(sql.SQL("integration_id = %(integration_id)s"))
        if status is not None:
            conditions.append(sql.SQL("status = %(status)s"))
        if integration_ids is not None:
            conditions.append(sql.SQL("integration_id = ANY(%(integration_ids)s::text[])"))
        if before is not None:
            conditions.append(sql.SQL("(received_at, id) < (%(before_at)s, %(before_id)s)"))
        query = (
            sql.SQL("SELECT * FROM inbox_events")
            + where(conditions)
            + sql.SQL(" ORDER BY received_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s")
        )
        params = {
            "integration_id": integration_id,
            "status": status,
            "limit": limit,
            "offset": offset,
            "integration_ids": None if integration_ids is None else list(integration_ids),
            "before_at": before[0] if before else None,
            "before_id": before[1] if before else None,
        }
        return [INBOX_EVENTS.load(row) for row in self._s.rows(query, params)]

    def for_store_order(
        self, integration_id: str, external_order_id: str, *, limit: int = 50
    ) -> builtins.list[InboxEvent]:
        # the expression of ``inbox_events_store_order_idx`` (0006_portal_indexes.sql)
        rows = self._s.rows(
            "SELECT * FROM inbox_events WHERE integration_id = %s"
            " AND coalesce(nullif(payload ->> 'id', ''),"
            "              payload -> 'order_edit' ->> 'order_id') = %s"
            " ORDER BY received_at DESC, id DESC LIMIT %s",
            [integration_id, external_order_id, limit],
        )
        return [INBOX_EVENTS.load(row) for row in rows]


class PostgresInboxWriter:
    """``InboxWriter``: the ``INSERT ... ON CONFLICT DO NOTHING`` of one event, alone, in
    autocommit on a pooled connection. PostgreSQL makes the statement its own transaction,
    durable when it answers, so it is one round trip where a unit of work takes three (BEGIN,
    INSERT, COMMIT); the pool checks the connection on borrow as for any unit of work."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db
        # one cursor per pooled connection, kept for the next insert on it: psycopg then
        # reuses the statement's converted query and the dumpers it found for its values
        self._cursors: weakref.WeakKeyDictionary[psycopg.Connection[Any], psycopg.Cursor[Any]] = (
            weakref.WeakKeyDictionary()
        )

    def add(self, event: InboxEvent, *, payload_json: bytes | None = None) -> bool:
        with _document_refused(), self._db.connection() as conn:  # errors as core errors
            params = _inbox_params(event, payload_json)
            cursor = self._cursors.get(conn)
            if cursor is None:
                cursor = self._cursors[conn] = conn.cursor()
            conn.autocommit = True  # borrowed idle: no transaction open to end
            try:
                inserted = cursor.execute(_INSERT_INBOX, params).rowcount
            finally:
                # as the pool hands connections out; a connection that broke meanwhile refuses
                # (and the pool drops it): the error that broke it is the one to raise
                with contextlib.suppress(psycopg.Error):
                    conn.autocommit = False
        return inserted == 1


class PostgresOutboxRepository(Repository):
    def add(self, command: OutboxCommand) -> bool:
        inserted = self._s.write(
            OUTBOX_COMMANDS.insert(on_conflict_do_nothing=True), OUTBOX_COMMANDS.params(command)
        )
        return inserted == 1

    def get(self, command_id: str) -> OutboxCommand | None:
        row = self._s.row("SELECT * FROM outbox_commands WHERE id = %s FOR UPDATE", [command_id])
        return None if row is None else OUTBOX_COMMANDS.load(row)

    def claim_due(
        self,
        now: datetime,
        *,
        limit: int,
        lease_seconds: float,
        worker_id: str,
    ) -> builtins.list[OutboxCommand]:
        rows = _claim(
            self._s,
            _CLAIM_OUTBOX,
            now=now,
            limit=limit,
            lease_seconds=lease_seconds,
            worker_id=worker_id,
        )
        return [OUTBOX_COMMANDS.load(row) for row in rows]

    def update(self, command: OutboxCommand) -> None:
        self._update(OUTBOX_COMMANDS, command)

    def backlog(self) -> Backlog:
        return _backlog(self._s, _BACKLOG_OUTBOX)

    def list(
        self,
        *,
        integration_id: str | None = None,
        status: OutboxStatus | None = None,
        kind: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[OutboxCommand]:
        conditions: builtins.list[sql.Composable] = []
        if integration_id is not None:
            conditions.append(sql.SQL("integration_id = %(integration_id)s"))
        if status is not None:
            conditions.append(sql.SQL("status = %(status)s"))
        if kind is not None:
            conditions.append(sql.SQL("kind = %(kind)s"))
        query = (
            sql.SQL("SELECT * FROM outbox_commands")
            + where(conditions)
            + sql.SQL(" ORDER BY created_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s")
        )
        params = {
            "integration_id": integration_id,
            "status": status,
            "kind": kind,
            "limit": limit,
            "offset": offset,
        }
        return [OUTBOX_COMMANDS.load(row) for row in self._s.rows(query, params)]


_ALERT_STATUS: dict[str, tuple[sql.Composable, ...]] = {
    "open": (sql.SQL("resolved_at IS NULL"), sql.SQL("acknowledged_at IS NULL")),
    "acknowledged": (sql.SQL("resolved_at IS NULL"), sql.SQL("acknowledged_at IS NOT NULL")),
    "resolved": (sql.SQL("resolved_at IS NOT NULL"),),
}


class PostgresAlertRepository(Repository):
    def add(self, alert: Alert) -> None:
        self._s.write(
            ALERTS.insert(),
            ALERTS.params(alert),
            conflicts={"alerts_pkey": f"alert {alert.id} already exists"},
        )

    def resolve(self, alert_id: str, when: datetime) -> None:
        self._s.write(
            "UPDATE alerts SET resolved_at = %s WHERE id = %s AND resolved_at IS NULL",
            [when, alert_id],
        )

    def get(self, alert_id: str) -> Alert | None:
        row = self._s.row("SELECT * FROM alerts WHERE id = %s FOR UPDATE", [alert_id])
        return None if row is None else ALERTS.load(row)

    def update(self, alert: Alert) -> None:
        self._update(ALERTS, alert)

    def list(
        self,
        *,
        client_id: str | None = None,
        integration_id: str | None = None,
        unresolved_only: bool = False,
        subject_id: str | None = None,
        code: str | None = None,
        limit: int = 100,
        status: AlertStatus | None = None,
        order_id: str | None = None,
        offset: int = 0,
    ) -> builtins.list[Alert]:
        conditions: builtins.list[sql.Composable] = []
        if client_id is not None:
            conditions.append(sql.SQL("client_id = %(client_id)s"))
        if integration_id is not None:
            conditions.append(sql.SQL("integration_id = %(integration_id)s"))
        if unresolved_only:
            conditions.append(sql.SQL("resolved_at IS NULL"))
        if subject_id is not None:
            conditions.append(sql.SQL("subject_id = %(subject_id)s"))
        if code is not None:
            conditions.append(sql.SQL("code = %(code)s"))
        if order_id is not None:
            conditions.append(sql.SQL("order_id = %(order_id)s"))
        conditions.extend(_ALERT_STATUS.get(status or "", ()))
        query = (
            sql.SQL("SELECT * FROM alerts")
            + where(conditions)
            + sql.SQL(" ORDER BY created_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s")
        )
        params = {
            "client_id": client_id,
            "integration_id": integration_id,
            "subject_id": subject_id,
            "code": code,
            "order_id": order_id,
            "limit": limit,
            "offset": offset,
        }
        return [ALERTS.load(row) for row in self._s.rows(query, params)]

    def count_unresolved(self, integration_id: str) -> int:
        row = self._s.row(
            "SELECT count(*) AS n FROM alerts WHERE integration_id = %s AND resolved_at IS NULL",
            [integration_id],
        )
        return 0 if row is None else int(row["n"])


class PostgresSyncRunRepository(Repository):
    def add(self, run: SyncRun) -> None:
        self._s.write(
            SYNC_RUNS.insert(),
            SYNC_RUNS.params(run),
            conflicts={"sync_runs_pkey": f"sync run {run.id} already exists"},
        )

    def update(self, run: SyncRun) -> None:
        self._update(SYNC_RUNS, run)

    def latest(self, integration_id: str, kind: str) -> SyncRun | None:
        row = self._s.row(
            "SELECT * FROM sync_runs WHERE integration_id = %s AND kind = %s"
            " ORDER BY started_at DESC, id DESC LIMIT 1",
            [integration_id, kind],
        )
        return None if row is None else SYNC_RUNS.load(row)

    def list(self, *, integration_id: str | None = None, limit: int = 50) -> builtins.list[SyncRun]:
        conditions: builtins.list[sql.Composable] = []
        if integration_id is not None:
            conditions.append(sql.SQL("integration_id = %(integration_id)s"))
        query = (
            sql.SQL("SELECT * FROM sync_runs")
            + where(conditions)
            + sql.SQL(" ORDER BY started_at DESC, id DESC LIMIT %(limit)s")
        )
        params = {"integration_id": integration_id, "limit": limit}
        return [SYNC_RUNS.load(row) for row in self._s.rows(query, params)]
