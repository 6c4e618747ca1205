"""Long work as jobs: an order sync, a catalogue refresh, a full inventory push.

Asking (``request``) only records a queued job, so the request that asked answers at once;
a worker runs it (``runners``) and writes its progress as it goes, which anyone who may see
the store reads (``get_job``, ``list_jobs``). Asking again while the store has a queued or
running job of that kind returns that job. ``run`` is the work itself, what the worker and
``storelink sync`` both call.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.errors import Conflict, DomainError, NotFound
from core.model import Job, JobKind, User
from core.services import inventory, mapping, order_import
from core.services.integrations import StoreContext, require_manager, visible_integration
from core.services.worker import JobOutcome, JobRunner, Postpone, Progress, no_progress

__all__ = ["get_job", "list_jobs", "request", "run", "runners"]

BUSY_RETRY_SECONDS = 5.0  # a push waits this long for another push of the store to end
MAX_LISTED = 100


def request(sc: StoreContext, actor: User, integration_id: str, kind: JobKind) -> tuple[Job, bool]:
    """Queue a job of ``kind`` for the store (its owner, admin or staff); the job, and whether
    it is new (``False``: the one already queued or running). A store that is not connected
    is refused (``integration_not_connected``)."""
    ctx = sc.ctx
    with ctx.uow() as uow:
        integration = visible_integration(uow, actor, integration_id)
        require_manager(actor, integration)
        if not integration.is_connected:
            raise DomainError(
                f"{integration.shop_domain} is not connected; reconnect it first",
                code="integration_not_connected",
            )
        existing = uow.jobs.pending(integration_id, kind)
        if existing is not None:
            return existing, False
        now = ctx.clock.now()
        job = Job(
            id=ctx.ids.new_id(),
            kind=kind,
            integration_id=integration_id,
            created_at=now,
            next_attempt_at=now,
            updated_at=now,
            requested_by=actor.id,
        )
        if uow.jobs.add(job):
            uow.commit()
            return job, True
        existing = uow.jobs.pending(integration_id, kind)  # another request came first
    if existing is None:  # ... and its job already ended: rare, asking again will do
        raise Conflict("another request for this job just finished; ask again")
    return existing, False


def get_job(sc: StoreContext, actor: User, integration_id: str, job_id: str) -> Job:
    """One of the store's jobs (another tenant's store, or another store's job: not found)."""
    with sc.ctx.uow() as uow:
        visible_integration(uow, actor, integration_id)
        job = uow.jobs.peek(job_id)
    if job is None or job.integration_id != integration_id:
        raise NotFound("job not found")
    return job


def list_jobs(
    sc: StoreContext,
    actor: User,
    integration_id: str,
    *,
    kind: JobKind | None = None,
    limit: int = 20,
) -> list[Job]:
    """The store's latest jobs, newest first."""
    with sc.ctx.uow() as uow:
        visible_integration(uow, actor, integration_id)
        return uow.jobs.list(integration_id, kind=kind, limit=max(1, min(limit, MAX_LISTED)))


# --- the work ---------------------------------------------------------------------------------


def run(
    sc: StoreContext,
    kind: JobKind,
    integration_id: str,
    *,
    key_seed: str,
    progress: Progress = no_progress,
) -> JobOutcome:
    """Do the work of a job now, reporting counts as they move. ``key_seed`` makes the store
    writes of a run idempotent (a job's id: a rerun after a crash reuses its keys)."""
    with sc.ctx.uow() as uow:
        integration = uow.integrations.peek(integration_id)
    if integration is None:
        raise NotFound("integration not found")
    if not integration.is_connected:
        raise DomainError(
            f"{integration.shop_domain} is not connected", code="integration_not_connected"
        )
    if kind == "order_sync":
        report = order_import.reconcile(sc, integration_id, manual=True, progress=progress)
        return JobOutcome(report.progress(), [*report.errors, *report.failed])
    if kind == "catalogue_refresh":
        read = mapping.refresh_catalog(
            sc, integration_id, progress=lambda n: progress({"variants_read": n})
        )
        auto = mapping.auto_map(sc.ctx, integration_id)
        return JobOutcome(
            {"variants_read": read, "auto_mapped": auto.mapped, "not_mapped": auto.skipped}
        )
    if inventory.push_running(sc, integration_id):
        raise Postpone(BUSY_RETRY_SECONDS, "another inventory push of this store is running")
    pushed = inventory.sync(sc, integration_id, key_seed=key_seed, progress=progress)
    return JobOutcome(pushed.counts(), list(pushed.errors))


def runners(sc: StoreContext) -> Mapping[str, JobRunner]:
    """The worker's runner for each job kind."""

    def runner(kind: JobKind) -> JobRunner:
        return lambda job, progress: run(
            sc, kind, job.integration_id, key_seed=job.id, progress=progress
        )

    return {kind: runner(kind) for kind in ("order_sync", "catalogue_refresh", "inventory_push")}
