"""Jobs: long work asked for once, run once by a worker, with progress a reader sees move.

The state machine (queued -> running -> done | failed; back to queued when postponed), asking
twice while one is pending, and the worker's side: progress written as it goes, a job left
running by a dead worker taken again once its lease ran out, a stalled worker that lost its
job not overwriting the new owner's outcome."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from adapters.system import ManualClock
from core.errors import DomainError, IllegalTransition, NotFound, PermissionDenied
from core.model import MAX_JOB_PROBLEMS, Client, Integration, Job, User
from core.ports import Cipher
from core.services import Context, jobs
from core.services.integrations import StoreContext
from core.services.worker import (
    Handlers,
    JobLost,
    JobOutcome,
    JobProgress,
    Postpone,
    Progress,
    Worker,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LEASE = 60.0


def _job(**fields: object) -> Job:
    values: dict[str, object] = {
        "id": "job-1",
        "kind": "order_sync",
        "integration_id": "store-1",
        "created_at": T0,
        "next_attempt_at": T0,
        "updated_at": T0,
    }
    return Job(**(values | fields))  # type: ignore[arg-type]


def _later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- the state machine --------------------------------------------------------------------------


def test_a_queued_job_starts_running_under_the_workers_lease_as_its_first_attempt() -> None:
    job = _job()
    job.start("w1", T0, _later(LEASE))
    assert (job.status, job.attempts, job.locked_by) == ("running", 1, "w1")
    assert (job.started_at, job.locked_until) == (T0, _later(LEASE))


def test_a_running_job_cannot_be_started_again_until_its_lease_ran_out() -> None:
    job = _job()
    job.start("w1", T0, _later(LEASE))
    with pytest.raises(IllegalTransition):
        job.start("w2", _later(LEASE - 1), _later(2 * LEASE))
    job.start("w2", _later(LEASE), _later(2 * LEASE))
    assert (job.locked_by, job.attempts, job.started_at) == ("w2", 2, T0)


def test_progress_is_kept_and_renews_the_lease_while_running_only() -> None:
    job = _job()
    with pytest.raises(IllegalTransition):
        job.report({"read": 1}, T0, _later(LEASE))
    job.start("w1", T0, _later(LEASE))
    job.report({"read": 5, "imported": 2}, _later(10), _later(10 + LEASE))
    assert job.progress == {"read": 5, "imported": 2}
    assert (job.locked_until, job.updated_at) == (_later(10 + LEASE), _later(10))


def test_a_finished_job_keeps_its_counts_and_a_bounded_list_of_problems() -> None:
    job = _job()
    job.start("w1", T0, _later(LEASE))
    problems = [f"order {n}: refused" for n in range(MAX_JOB_PROBLEMS + 10)]
    job.finish({"read": 60, "failed": 60}, problems, _later(5))
    assert (job.status, job.progress["failed"], len(job.problems)) == ("done", 60, MAX_JOB_PROBLEMS)
    assert (job.locked_by, job.locked_until, job.finished_at) == (None, None, _later(5))
    for change in (
        lambda: job.fail("late", _later(6)),
        lambda: job.report({}, _later(6), _later(7)),
        lambda: job.finish({}, [], _later(6)),
        lambda: job.postpone(_later(9), _later(6)),
    ):
        with pytest.raises(IllegalTransition):
            change()


def test_a_job_fails_with_its_error_whether_queued_or_running() -> None:
    queued = _job()
    queued.fail("the store is gone", T0)
    running = _job()
    running.start("w1", T0, _later(LEASE))
    running.fail("platform_unavailable: 503", _later(1))
    assert (queued.status, queued.error) == ("failed", "the store is gone")
    assert (running.status, running.locked_by, running.finished_at) == ("failed", None, _later(1))


def test_a_postponed_job_waits_in_the_queue_and_the_attempt_does_not_count() -> None:
    job = _job()
    job.start("w1", T0, _later(LEASE))
    job.postpone(_later(5), _later(1))
    assert (job.status, job.attempts, job.next_attempt_at, job.locked_by) == (
        "queued",
        0,
        _later(5),
        None,
    )


# --- asking for a job ---------------------------------------------------------------------------


@pytest.fixture
def sc(ctx: Context) -> StoreContext:
    return StoreContext(ctx=ctx, cipher=cast("Cipher", None), platforms={}, app_url="")


def _store(ctx: Context, client: Client, *, connected: bool = True) -> Integration:
    now = ctx.clock.now()
    integration = Integration(
        id=ctx.ids.new_id(),
        client_id=client.id,
        platform="shopify",
        shop_domain="acme.myshopify.com",
        created_at=now,
        updated_at=now,
        status="active" if connected else "disconnected",
        credentials="sealed" if connected else None,
    )
    with ctx.uow() as uow:
        uow.integrations.add(integration)
        uow.commit()
    return integration


def _user(client: Client, role: str = "owner", *, other: bool = False) -> User:
    return User(
        id=f"{role}-{other}",
        email=f"{role}@example.com",
        password_hash="",
        created_at=T0,
        client_id="someone-else" if other else client.id,
        role=role,  # type: ignore[arg-type]
    )


def test_asking_again_while_a_job_is_pending_returns_that_job(
    sc: StoreContext, client: Client
) -> None:
    store = _store(sc.ctx, client)
    owner = _user(client)
    first, created = jobs.request(sc, owner, store.id, "order_sync")
    again, created_again = jobs.request(sc, owner, store.id, "order_sync")
    other_kind, _ = jobs.request(sc, owner, store.id, "catalogue_refresh")
    assert (created, created_again) == (True, False)
    assert again.id == first.id
    assert other_kind.id != first.id
    assert (first.status, first.requested_by) == ("queued", owner.id)


def test_once_a_job_ended_asking_again_queues_a_new_one(
    sc: StoreContext, client: Client, clock: ManualClock
) -> None:
    store = _store(sc.ctx, client)
    owner = _user(client)
    first, _ = jobs.request(sc, owner, store.id, "order_sync")
    _worker(sc.ctx, {"order_sync": _counting()}).drain()
    second, created = jobs.request(sc, owner, store.id, "order_sync")
    assert created
    assert second.id != first.id
    listed = jobs.list_jobs(sc, owner, store.id, kind="order_sync")
    assert [j.id for j in listed] == [second.id, first.id]


def test_only_the_stores_managers_may_ask_and_another_tenant_finds_nothing(
    sc: StoreContext, client: Client
) -> None:
    store = _store(sc.ctx, client)
    with pytest.raises(PermissionDenied):
        jobs.request(sc, _user(client, "member"), store.id, "order_sync")
    with pytest.raises(NotFound):
        jobs.request(sc, _user(client, other=True), store.id, "order_sync")
    job, _ = jobs.request(sc, _user(client), store.id, "order_sync")
    with pytest.raises(NotFound):
        jobs.get_job(sc, _user(client, other=True), store.id, job.id)
    assert jobs.get_job(sc, _user(client, "member"), store.id, job.id).id == job.id


def test_a_store_that_is_not_connected_gets_no_job(sc: StoreContext, client: Client) -> None:
    store = _store(sc.ctx, client, connected=False)
    with pytest.raises(DomainError) as refused:
        jobs.request(sc, _user(client), store.id, "inventory_push")
    assert refused.value.code == "integration_not_connected"


# --- the worker ---------------------------------------------------------------------------------


def _worker(ctx: Context, runners: Mapping[str, object], worker_id: str = "w1") -> Worker:
    return Worker(
        ctx,
        Handlers(jobs=runners),  # type: ignore[arg-type]
        worker_id=worker_id,
        lease_seconds=LEASE,
    )


def _counting(
    steps: int = 3, during: Callable[[int], None] | None = None
) -> Callable[[Job, Progress], JobOutcome]:
    def run(job: Job, progress: Progress) -> JobOutcome:
        for n in range(1, steps + 1):
            progress({"read": n})
            if during is not None:
                during(n)
        return JobOutcome({"read": steps, "imported": steps})

    return run


def _add(ctx: Context, **fields: object) -> Job:
    job = _job(id=ctx.ids.new_id(), created_at=ctx.clock.now(), **fields)
    job.next_attempt_at = job.updated_at = ctx.clock.now()
    with ctx.uow() as uow:
        assert uow.jobs.add(job)
        uow.commit()
    return job


def _read(ctx: Context, job_id: str) -> Job:
    with ctx.uow() as uow:
        job = uow.jobs.peek(job_id)
    assert job is not None
    return job


def test_a_reader_sees_a_running_jobs_counts_before_it_ends(ctx: Context) -> None:
    job = _add(ctx)
    seen: list[tuple[str, dict[str, int]]] = []

    def look(_n: int) -> None:
        current = _read(ctx, job.id)
        seen.append((current.status, current.progress))

    report = _worker(ctx, {"order_sync": _counting(1, look)}).drain()
    assert seen == [("running", {"read": 1})]
    done = _read(ctx, job.id)
    assert (done.status, done.progress, done.attempts) == ("done", {"read": 1, "imported": 1}, 1)
    assert report.processed == 1


def test_a_job_left_running_by_a_dead_worker_is_run_again_once_its_lease_ran_out(
    ctx: Context, clock: ManualClock
) -> None:
    job = _add(ctx)
    with ctx.uow() as uow:  # a worker claims it and dies
        (claimed,) = uow.jobs.claim_due(clock.now(), limit=1, lease_seconds=LEASE, worker_id="x")
        uow.commit()
    assert claimed.id == job.id
    survivor = _worker(ctx, {"order_sync": _counting()}, "w2")
    assert survivor.drain().total == 0  # its lease still runs
    clock.advance(LEASE)
    assert survivor.drain().processed == 1
    done = _read(ctx, job.id)
    assert (done.status, done.attempts, done.progress["imported"]) == ("done", 2, 3)


def test_a_job_whose_workers_keep_dying_fails_after_its_last_attempt(
    ctx: Context, clock: ManualClock
) -> None:
    job = _add(ctx, max_attempts=2)
    for _ in range(2):
        with ctx.uow() as uow:
            assert uow.jobs.claim_due(clock.now(), limit=1, lease_seconds=LEASE, worker_id="dies")
            uow.commit()
        clock.advance(LEASE)
    ran: list[str] = []
    report = _worker(ctx, {"order_sync": lambda j, _p: ran.append(j.id)}).drain()
    failed = _read(ctx, job.id)
    assert (failed.status, failed.error) == ("failed", "the worker running it stopped 2 times")
    assert (ran, report.dead) == ([], 1)


def test_a_worker_that_lost_its_job_leaves_the_new_owners_outcome(
    ctx: Context, clock: ManualClock
) -> None:
    job = _add(ctx)
    other = _worker(ctx, {"order_sync": _counting(2)}, "w2")

    def stall(n: int) -> None:
        if n == 1:  # w1 stalls past its lease; w2 takes the job and finishes it
            clock.advance(LEASE + 1)
            assert other.drain().processed == 1

    report = _worker(ctx, {"order_sync": _counting(3, stall)}, "w1").drain()
    assert report.lost == 1
    done = _read(ctx, job.id)
    assert (done.status, done.progress, done.attempts) == ("done", {"read": 2, "imported": 2}, 2)


def test_progress_written_after_the_job_was_taken_stops_the_run(
    ctx: Context, clock: ManualClock
) -> None:
    job = _add(ctx)
    with ctx.uow() as uow:
        (claimed,) = uow.jobs.claim_due(clock.now(), limit=1, lease_seconds=LEASE, worker_id="w1")
        uow.commit()
    clock.advance(LEASE + 1)
    with ctx.uow() as uow:
        uow.jobs.claim_due(clock.now(), limit=1, lease_seconds=LEASE, worker_id="w2")
        uow.commit()
    progress = JobProgress(ctx, claimed.id, "w1", LEASE)
    with pytest.raises(JobLost):
        progress({"read": 1})
    assert _read(ctx, job.id).locked_by == "w2"


def test_a_failing_job_records_the_error_and_is_not_run_again(ctx: Context) -> None:
    job = _add(ctx)
    calls: list[str] = []

    def broken(j: Job, _progress: Progress) -> JobOutcome:
        calls.append(j.id)
        raise DomainError("the store said no", code="refused")

    worker = _worker(ctx, {"order_sync": broken})
    assert worker.drain().dead == 1
    assert worker.drain().total == 0
    failed = _read(ctx, job.id)
    assert (failed.status, failed.error, calls) == (
        "failed",
        "refused: the store said no",
        [job.id],
    )


def test_a_postponed_job_runs_when_its_time_comes(ctx: Context, clock: ManualClock) -> None:
    job = _add(ctx, kind="inventory_push")
    busy = [True]

    def push(_j: Job, _progress: Progress) -> JobOutcome:
        if busy.pop(0) if busy else False:
            raise Postpone(5, "another push is running")
        return JobOutcome({"updated": 1})

    worker = _worker(ctx, {"inventory_push": push})
    assert worker.drain().retried == 1
    waiting = _read(ctx, job.id)
    assert (waiting.status, waiting.attempts) == ("queued", 0)
    assert worker.drain().total == 0
    clock.advance(5)
    assert worker.drain().processed == 1
    assert _read(ctx, job.id).progress == {"updated": 1}
