"""Scheduled work per integration: what is due, queued as commands so any worker takes it.

``storelink sync`` (cron) either runs the due work itself or, with ``--enqueue``, queues one
command per integration and job; the idempotency key is the job and a time slot, so a cron
that fires twice queues once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from core.model import Integration, OutboxCommand
from core.services import _skips as skips
from core.services import connect, integrations, inventory, order_import
from core.services.integrations import StoreContext
from core.services.worker import OutboxApply, OutboxHandler, Skip, done, record

Job = Literal["orders", "inventory", "tokens", "webhooks"]
JOBS: tuple[Job, ...] = ("orders", "inventory", "tokens", "webhooks")
COMMANDS: dict[Job, str] = {
    "orders": "orders.reconcile",
    "inventory": inventory.SYNC_COMMAND,
    "tokens": "tokens.refresh",
    "webhooks": "webhooks.ensure",
}
ORDERS_EVERY = timedelta(minutes=15)
WEBHOOKS_EVERY = timedelta(hours=6)
TOKENS_AHEAD = timedelta(minutes=15)


def is_due(job: Job, integration: Integration, now: datetime) -> bool:
    if not integration.is_connected:
        return False
    if job == "orders":
        last = integration.orders_synced_at
        return last is None or now - last >= ORDERS_EVERY
    if job == "webhooks":
        last = integration.webhooks_checked_at
        return last is None or now - last >= WEBHOOKS_EVERY
    if job == "inventory":
        return inventory.is_due(integration, now)
    expires = integration.token_expires_at
    return expires is not None and expires - now <= TOKENS_AHEAD


def due(
    sc: StoreContext,
    jobs: tuple[Job, ...],
    integration_id: str | None = None,
    *,
    force: bool = False,
) -> list[tuple[Job, Integration]]:
    now = sc.ctx.clock.now()
    with sc.ctx.uow() as uow:
        found = uow.integrations.list()
    chosen = [i for i in found if integration_id is None or i.id == integration_id]
    return [
        (job, integration)
        for integration in chosen
        for job in jobs
        if integration.is_connected and (force or is_due(job, integration, now))
    ]


def run(sc: StoreContext, job: Job, integration_id: str) -> dict[str, int]:
    """Do one job for one integration now; a summary of counts."""
    if job == "orders":
        report = order_import.reconcile(sc, integration_id)
        return {**report.as_dict(), "errors": len(report.errors)}
    if job == "webhooks":
        return connect.ensure_webhooks(sc, integration_id)
    if job == "inventory":
        pushed = inventory.sync(sc, integration_id, key_seed=sc.ctx.ids.new_id())
        return {
            "updated": pushed.updated,
            "unchanged": pushed.unchanged,
            "failed": pushed.failed,
            "errors": len(pushed.errors),
        }
    integrations.refresh(sc, integration_id)
    return {"refreshed": 1}


def enqueue(sc: StoreContext, job: Job, integration: Integration) -> bool:
    now = sc.ctx.clock.now()
    slot = int(now.timestamp() // 300)  # one per five minutes at most
    kind = COMMANDS[job]
    with sc.ctx.uow() as uow:
        queued = connect.enqueue(
            uow, sc.ctx, integration, kind, key=f"{kind}:{integration.id}:{slot}"
        )
        uow.commit()
    return queued


def handlers(sc: StoreContext) -> dict[str, OutboxHandler]:
    """Each job runs its own short transactions; nothing is held open while it works."""

    def handler(job: Job) -> OutboxHandler:
        def prepare(command: OutboxCommand) -> OutboxApply:
            integration_id = str(command.payload.get("integration_id") or "")
            with sc.ctx.uow() as uow:
                integration = uow.integrations.peek(integration_id)
            if integration is None or not integration.is_connected:
                return done(Skip(skips.INTEGRATION_NOT_CONNECTED))
            counts = dict(run(sc, job, integration_id))
            return record(counts)

        return prepare

    table = {COMMANDS[job]: handler(job) for job in JOBS}
    table.update(inventory.handlers(sc))  # its own: a scheduled sync skips a busy store too
    return table
