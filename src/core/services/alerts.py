"""The alerts inbox: what needs an operator's eye, for whom, and what it is about.

An alert is ``open`` until someone acknowledges it (seen, being handled) and ``resolved``
when someone resolves it or the core sees its cause fixed (a store reconnected, a held order
released, a failed event worked on a later attempt). Client users see their own client's
alerts; alerts of no client (the worker's, about no store) are staff's. Another tenant's
alert answers like a missing one.
"""

from __future__ import annotations

from core.errors import InvalidInput, NotFound
from core.model import ALERT_STATUSES, Alert, AlertStatus, User
from core.services._context import Context

MAX_PAGE = 500


def _visible(actor: User, alert: Alert | None) -> Alert:
    if alert is None or not (
        actor.is_staff or (alert.client_id is not None and alert.client_id == actor.client_id)
    ):
        raise NotFound("alert not found")
    return alert


def list_alerts(
    ctx: Context,
    actor: User,
    *,
    status: AlertStatus | None = None,
    integration_id: str | None = None,
    kind: str | None = None,
    client_id: str | None = None,
    order_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Alert]:
    """Alerts newest first, filtered by status (``open``, ``acknowledged``, ``resolved``),
    store, kind (the alert's ``code``), client (staff) or order. Each names what it concerns:
    ``integration_id``, ``order_id``, ``event_id``."""
    if status is not None and status not in ALERT_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(ALERT_STATUSES)}")
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise InvalidInput(f"limit must be 1 to {MAX_PAGE} and offset not negative")
    if not actor.is_staff:
        if client_id is not None and client_id != actor.client_id:
            return []
        client_id = actor.client_id
        if client_id is None:
            return []
    with ctx.uow() as uow:
        return uow.alerts.list(
            client_id=client_id,
            integration_id=integration_id,
            code=kind,
            status=status,
            order_id=order_id,
            limit=limit,
            offset=offset,
        )


def get_alert(ctx: Context, actor: User, alert_id: str) -> Alert:
    with ctx.uow() as uow:
        return _visible(actor, uow.alerts.get(alert_id))


def _change(ctx: Context, actor: User, alert_id: str, apply: str) -> Alert:
    with ctx.uow() as uow:
        alert = _visible(actor, uow.alerts.get(alert_id))
        now = ctx.clock.now()
        if apply == "acknowledge" and alert.resolved_at is None and alert.acknowledged_at is None:
            alert.acknowledged_at, alert.acknowledged_by = now, actor.id
        elif apply == "resolve" and alert.resolved_at is None:
            alert.resolved_at, alert.resolved_by = now, actor.id
        else:
            return alert  # already so: nothing to record
        uow.alerts.update(alert)
        uow.commit()
    return alert


def acknowledge(ctx: Context, actor: User, alert_id: str) -> Alert:
    """Someone has seen it and is on it: out of the open list, still unresolved. Repeating
    it (or acknowledging a resolved alert) changes nothing."""
    return _change(ctx, actor, alert_id, "acknowledge")


def resolve(ctx: Context, actor: User, alert_id: str) -> Alert:
    """Done by hand (``resolved_by`` names who). Repeating it changes nothing."""
    return _change(ctx, actor, alert_id, "resolve")
