"""What every use case needs: a unit of work factory, a clock, an id generator, where to
record metrics (nowhere unless the composition root says so) and the inbox writer webhook
ingest uses (by default one over the unit of work)."""

from __future__ import annotations

from datetime import UTC, datetime

from attrs import Factory, field, frozen

from core.errors import NotFound, PermissionDenied
from core.model import Alert, AlertSeverity, InboxEvent, User
from core.observability import NoMetrics
from core.ports import Clock, IdGenerator, InboxWriter, Metrics, UnitOfWork, UnitOfWorkFactory

# The actor for work nobody in particular asked for: the worker, the CLI, scheduled syncs.
SYSTEM = User(
    id="system",
    email="system@storelink.invalid",
    password_hash="",
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    is_staff=True,
)


@frozen
class UnitOfWorkInbox:
    """``InboxWriter`` over any unit of work: add the event, commit."""

    uow: UnitOfWorkFactory

    def add(self, event: InboxEvent, *, payload_json: bytes | None = None) -> bool:
        with self.uow() as uow:
            stored = uow.inbox.add(event, payload_json=payload_json)
            uow.commit()
        return stored


@frozen
class Context:
    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    metrics: Metrics = field(factory=NoMetrics)
    inbox: InboxWriter = field(
        default=Factory(lambda ctx: UnitOfWorkInbox(ctx.uow), takes_self=True), kw_only=True
    )


def require_staff(actor: User) -> None:
    if not actor.is_staff:
        raise PermissionDenied("only warehouse staff may do this")


def require_client_visible(actor: User, client_id: str, what: str) -> None:
    """Another tenant's object answers exactly like a missing one."""
    if not actor.can_see_client(client_id):
        raise NotFound(f"{what} not found")


def raise_alert(
    uow: UnitOfWork,
    ctx: Context,
    *,
    severity: AlertSeverity,
    code: str,
    message: str,
    client_id: str | None = None,
    integration_id: str | None = None,
    subject_id: str | None = None,
    order_id: str | None = None,
    event_id: str | None = None,
) -> Alert:
    """Record an alert. ``order_id`` and ``event_id`` say what it concerns (for links);
    ``subject_id`` (by default the order, else the event) is what ``resolve_alerts`` finds."""
    alert = Alert(
        id=ctx.ids.new_id(),
        severity=severity,
        code=code,
        message=message,
        created_at=ctx.clock.now(),
        client_id=client_id,
        integration_id=integration_id,
        subject_id=subject_id or order_id or event_id,
        order_id=order_id,
        event_id=event_id,
    )
    uow.alerts.add(alert)
    return alert


def resolve_alerts(
    uow: UnitOfWork,
    ctx: Context,
    *,
    codes: tuple[str, ...],
    subject_id: str | None = None,
    integration_id: str | None = None,
) -> int:
    """Resolve the unresolved alerts of these kinds about ``subject_id`` (or, without one,
    about the integration): their cause is fixed. How many were resolved."""
    if subject_id is None and integration_id is None:
        raise ValueError("resolve_alerts needs a subject or an integration")
    resolved = 0
    now = ctx.clock.now()
    for code in codes:
        for alert in uow.alerts.list(
            subject_id=subject_id,
            integration_id=integration_id,
            code=code,
            unresolved_only=True,
            limit=1000,
        ):
            uow.alerts.resolve(alert.id, now)
            resolved += 1
    return resolved
