"""Work records: the inbox of store events, the outbox of changes to push, alerts, sync runs.

Inbox events and outbox commands are queue items: claimed by one worker at a time under a
lease; a failure is retried with backoff until the last attempt, then the item is ``dead``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from attrs import define, field, frozen

InboxStatus = Literal["received", "processing", "processed", "failed", "skipped", "dead"]
OutboxStatus = Literal["pending", "processing", "done", "failed", "dead"]
AlertSeverity = Literal["info", "warning", "error"]
AlertStatus = Literal["open", "acknowledged", "resolved"]
ALERT_STATUSES: tuple[AlertStatus, ...] = ("open", "acknowledged", "resolved")

# Statuses from which a queue item may be claimed once it is due.
INBOX_CLAIMABLE: frozenset[str] = frozenset({"received", "failed"})
OUTBOX_CLAIMABLE: frozenset[str] = frozenset({"pending", "failed"})


@define
class InboxEvent:
    id: str
    platform: str
    topic: str
    delivery_id: str
    received_at: datetime
    next_attempt_at: datetime
    payload: dict[str, Any] = field(factory=dict)
    integration_id: str | None = None
    shop_domain: str | None = None
    event_id: str | None = None
    source: str = "webhook"  # webhook | reconcile | manual
    status: InboxStatus = "received"
    attempts: int = 0
    max_attempts: int = 8
    locked_until: datetime | None = None
    locked_by: str | None = None
    processed_at: datetime | None = None
    error: str | None = None
    triggered_at: datetime | None = None


@define
class OutboxCommand:
    id: str
    kind: str
    idempotency_key: str
    created_at: datetime
    next_attempt_at: datetime
    payload: dict[str, Any] = field(factory=dict)
    integration_id: str | None = None
    status: OutboxStatus = "pending"
    attempts: int = 0
    max_attempts: int = 8
    locked_until: datetime | None = None
    locked_by: str | None = None
    done_at: datetime | None = None
    error: str | None = None
    result: dict[str, Any] = field(factory=dict)


@frozen
class Backlog:
    """A queue's unfinished work at one moment: what monitoring reads at scrape time.

    ``waiting`` items are due or scheduled (received / pending), ``retrying`` ones failed and
    wait for their next attempt, ``processing`` ones are claimed by a worker; ``dead`` ones
    were given up on until staff replay them. ``oldest_at`` is when the oldest waiting,
    retrying or processing item arrived (received / created), None when there is none.
    """

    waiting: int = 0
    retrying: int = 0
    processing: int = 0
    dead: int = 0
    oldest_at: datetime | None = None

    @property
    def depth(self) -> int:
        """Items the workers still have to finish (dead ones excluded)."""
        return self.waiting + self.retrying + self.processing


@define
class Alert:
    """Something an operator should look at. ``code`` is its kind (``order_on_hold``,
    ``store_auth_failed``, ``queue_item_dead`` ...). What it concerns, for links: the
    integration, the warehouse order (``order_id``), the inbox event (``event_id``);
    ``subject_id`` is the order, event or command it is about (the key repeats use).

    Open until someone acknowledges it (seen, being handled) or it is resolved: by hand, or
    by the core when its cause is fixed (the store reconnected, the order released, the
    event worked on a later attempt)."""

    id: str
    severity: AlertSeverity
    code: str
    message: str
    created_at: datetime
    client_id: str | None = None
    integration_id: str | None = None
    subject_id: str | None = None  # the order, event or command the alert is about
    resolved_at: datetime | None = None
    order_id: str | None = None
    event_id: str | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None  # the user's id
    resolved_by: str | None = None  # the user's id; None when the core resolved it

    @property
    def status(self) -> AlertStatus:
        if self.resolved_at is not None:
            return "resolved"
        return "acknowledged" if self.acknowledged_at is not None else "open"


@define
class SyncRun:
    id: str
    kind: str
    started_at: datetime
    integration_id: str | None = None
    finished_at: datetime | None = None
    counts: dict[str, int] = field(factory=dict)
    error: str | None = None
