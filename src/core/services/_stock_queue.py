"""Queueing stock pushes: the commands that ``inventory`` handles, kept apart so the services
that change settings can queue them without importing the push machinery."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.model import OutboxCommand
from core.ports import UnitOfWork
from core.services._context import Context

PUSH_COMMAND = "inventory.push"  # push what changed (queued by stock movements)
SYNC_COMMAND = "inventory.sync"  # read the store, repair drift, push everything
DEBOUNCE = timedelta(seconds=0.5)


def queue_push(
    uow: UnitOfWork, ctx: Context, integration_id: str, *, follow_up: bool = False
) -> bool:
    """One push per integration and debounce slot: a burst becomes a few batched pushes.
    ``follow_up``: for changes a running push did not take, in the next slot (this slot's
    push may be the one that is running)."""
    now = ctx.clock.now()
    step = DEBOUNCE.total_seconds()
    slot = int(now.timestamp() // step) + (1 if follow_up else 0)
    due = datetime.fromtimestamp((slot + 1) * step, tz=now.tzinfo)
    return uow.outbox.add(
        OutboxCommand(
            id=ctx.ids.new_id(),
            kind=PUSH_COMMAND,
            idempotency_key=f"{PUSH_COMMAND}:{integration_id}:{slot}",
            created_at=now,
            next_attempt_at=due,
            integration_id=integration_id,
            payload={"integration_id": integration_id},
        )
    )


def queue_sync(uow: UnitOfWork, ctx: Context, integration_id: str, *, why: str) -> bool:
    """A full sync (drift repair and push of everything), e.g. after the buffer changed."""
    now = ctx.clock.now()
    return uow.outbox.add(
        OutboxCommand(
            id=ctx.ids.new_id(),
            kind=SYNC_COMMAND,
            idempotency_key=f"{SYNC_COMMAND}:{integration_id}:{why}:{ctx.ids.new_id()}",
            created_at=now,
            next_attempt_at=now,
            integration_id=integration_id,
            payload={"integration_id": integration_id, "why": why},
        )
    )
