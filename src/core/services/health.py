"""How each connected store is doing: for the health dashboard and for monitoring."""

from __future__ import annotations

from datetime import timedelta

from attrs import frozen

from core.model import Backlog, Integration, User
from core.services._context import Context

WINDOW = timedelta(hours=24)


@frozen
class IntegrationHealth:
    integration: Integration
    backlog: int  # events waiting or being worked
    failed: int  # failing, still retried
    dead: int
    received_24h: int
    error_rate_24h: float  # failed and dead over everything received in the window
    last_orders_sync_error: str | None
    open_alerts: int


def integration_health(ctx: Context, actor: User) -> list[IntegrationHealth]:
    since = ctx.clock.now() - WINDOW
    with ctx.uow() as uow:
        integrations = uow.integrations.list(None if actor.is_staff else actor.client_id)
        report = []
        for integration in integrations:
            counts = uow.inbox.counts(integration.id, since)
            received = sum(counts.values())
            failing = counts.get("failed", 0) + counts.get("dead", 0)
            last_run = uow.sync_runs.latest(integration.id, "orders")
            report.append(
                IntegrationHealth(
                    integration=integration,
                    backlog=counts.get("received", 0) + counts.get("processing", 0),
                    failed=counts.get("failed", 0),
                    dead=counts.get("dead", 0),
                    received_24h=received,
                    error_rate_24h=round(failing / received, 4) if received else 0.0,
                    last_orders_sync_error=last_run.error if last_run else None,
                    open_alerts=uow.alerts.count_unresolved(integration.id),
                )
            )
    return report


def queue_backlog(ctx: Context) -> dict[str, Backlog]:
    """Both queues' unfinished work now (monitoring reads it at every scrape)."""
    with ctx.uow() as uow:
        return {"inbox": uow.inbox.backlog(), "outbox": uow.outbox.backlog()}
