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
) -> Alert:
    alert = Alert(
        id=ctx.ids.new_id(),
        severity=severity,
        code=code,
        message=message,
        created_at=ctx.clock.now(),
        client_id=client_id,
        integration_id=integration_id,
        subject_id=subject_id,
    )
    uow.alerts.add(alert)
    return alert
