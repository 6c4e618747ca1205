"""The job repository on every adapter, and on PostgreSQL several workers at once.

One queued or running job of a kind per integration; a claim takes due queued jobs and
running ones whose lease ran out, earliest due first, and starts them; progress round-trips;
lists are newest first. Two workers (threads with their own pooled connections) never run one
job twice."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from adapters.system import ManualClock, UuidIdGenerator
from core.model import Integration, Job
from core.services import Context
from core.services.worker import Handlers, JobOutcome, Progress, Worker
from tests.contract.conftest import T0, Make


def _job(make: Make, integration: Integration, **fields: Any) -> Job:
    values: dict[str, Any] = {
        "id": make.id(),
        "kind": "order_sync",
        "integration_id": integration.id,
        "created_at": T0,
        "next_attempt_at": T0,
        "updated_at": T0,
        "requested_by": "user-1",
    }
    return Job(**(values | fields))


@pytest.fixture
def store(make: Make, save: Any) -> Integration:
    client = make.client()
    integration = make.integration(client)
    save(client, integration)
    return integration


def _add(uow_factory: Any, *jobs: Job) -> list[bool]:
    with uow_factory() as uow:
        added = [uow.jobs.add(job) for job in jobs]
        uow.commit()
    return added


def _claim(uow_factory: Any, minutes: float, worker_id: str = "w1", limit: int = 10) -> list[Job]:
    with uow_factory() as uow:
        claimed: list[Job] = uow.jobs.claim_due(
            T0 + timedelta(minutes=minutes), limit=limit, lease_seconds=60, worker_id=worker_id
        )
        uow.commit()
    return claimed


def _get(uow_factory: Any, job_id: str) -> Job:
    with uow_factory() as uow:
        job = uow.jobs.peek(job_id)
    assert job is not None
    return job


def test_a_job_round_trips_with_its_progress_and_problems(uow_factory, make, store):
    job = _job(make, store)
    assert _add(uow_factory, job) == [True]
    job.start("w1", T0, T0 + timedelta(minutes=1))
    job.finish({"read": 225, "imported": 220, "failed": 5}, ["order 1: refused"], make.at(2))
    with uow_factory() as uow:
        uow.jobs.update(job)
        uow.commit()
    assert _get(uow_factory, job.id) == job


def test_one_pending_job_per_store_and_kind(uow_factory, make, store):
    first = _job(make, store)
    assert _add(uow_factory, first, _job(make, store)) == [True, False]
    assert _add(uow_factory, _job(make, store, kind="inventory_push")) == [True]
    with uow_factory() as uow:
        pending = uow.jobs.pending(store.id, "order_sync")
        none = uow.jobs.pending(store.id, "catalogue_refresh")
    assert (pending.id if pending else None, none) == (first.id, None)
    first.fail("gave up", make.at(1))
    with uow_factory() as uow:
        uow.jobs.update(first)
        uow.commit()
    assert _add(uow_factory, _job(make, store)) == [True]  # an ended job holds nothing up


def test_a_claim_takes_due_queued_jobs_earliest_first_and_starts_them(
    uow_factory, make, save, store
):
    client = make.client()
    other = make.integration(client)
    save(client, other)
    late = _job(make, store, next_attempt_at=make.at(5))
    early = _job(make, store, kind="inventory_push", next_attempt_at=make.at(-2))
    now = _job(make, other)
    _add(uow_factory, late, early, now)

    claimed = _claim(uow_factory, 0)

    assert [j.id for j in claimed] == [early.id, now.id]
    assert {(j.status, j.attempts, j.locked_by) for j in claimed} == {("running", 1, "w1")}
    assert all(j.started_at == make.at(0) for j in claimed)
    assert _get(uow_factory, early.id).locked_until == make.at(1)
    assert _claim(uow_factory, 0, "w2") == []


def test_a_running_job_is_claimed_again_only_once_its_lease_ran_out(uow_factory, make, store):
    job = _job(make, store)
    _add(uow_factory, job)
    _claim(uow_factory, 0, "dead")
    assert _claim(uow_factory, 0.5, "w2") == []
    (again,) = _claim(uow_factory, 1, "w2")
    assert (again.locked_by, again.attempts, again.started_at) == ("w2", 2, make.at(0))


def test_ended_jobs_are_never_claimed(uow_factory, make, store):
    done = _job(make, store)
    _add(uow_factory, done)
    (claimed,) = _claim(uow_factory, 0)
    claimed.finish({"read": 1}, [], make.at(0))
    with uow_factory() as uow:
        uow.jobs.update(claimed)
        uow.commit()
    assert _claim(uow_factory, 60) == []


def test_a_claim_takes_at_most_limit_jobs(uow_factory, make, store):
    _add(uow_factory, *(_job(make, store, kind=k) for k in ("order_sync", "inventory_push")))
    assert len(_claim(uow_factory, 0, limit=1)) == 1
    assert len(_claim(uow_factory, 0, limit=0)) == 0


def test_a_stores_jobs_are_listed_newest_first_by_kind(uow_factory, make, store):
    jobs = []
    for minute in range(3):
        job = _job(make, store, created_at=make.at(minute))
        job.fail("x", make.at(minute))
        jobs.append(job)
    push = _job(make, store, kind="inventory_push", created_at=make.at(10))
    _add(uow_factory, *jobs, push)
    with uow_factory() as uow:
        everything = uow.jobs.list(store.id)
        syncs = uow.jobs.list(store.id, kind="order_sync", limit=2)
        nobody = uow.jobs.list("no-such-store")
    assert [j.id for j in everything] == [push.id, jobs[2].id, jobs[1].id, jobs[0].id]
    assert [j.id for j in syncs] == [jobs[2].id, jobs[1].id]
    assert nobody == []


# --- several workers ---------------------------------------------------------------------------


def test_two_workers_never_run_one_job_twice_and_run_them_all(pg_uow_factory, make):
    stores = []
    with pg_uow_factory() as uow:
        for _ in range(12):
            client = make.client()
            integration = make.integration(client)
            uow.clients.add(client)
            uow.integrations.add(integration)
            stores.append(integration)
        uow.commit()
    wanted = [
        _job(make, s, kind=kind)
        for s in stores
        for kind in ("order_sync", "catalogue_refresh", "inventory_push")
    ]
    _add(pg_uow_factory, *wanted)
    ctx = Context(uow=pg_uow_factory, clock=ManualClock(start=T0), ids=UuidIdGenerator())
    runs: list[tuple[str, str]] = []
    lock = threading.Lock()
    start = threading.Barrier(2)

    def runner(worker_id: str) -> Mapping[str, Any]:
        def run(job: Job, progress: Progress) -> JobOutcome:
            progress({"read": 1})
            with lock:
                runs.append((job.id, worker_id))
            return JobOutcome({"read": 1})

        return dict.fromkeys(("order_sync", "catalogue_refresh", "inventory_push"), run)

    def work(worker_id: str) -> int:
        worker = Worker(ctx, Handlers(jobs=runner(worker_id)), worker_id=worker_id)
        start.wait()
        return worker.drain().processed

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(work, ["w1", "w2"]))

    ran = [job_id for job_id, _ in runs]
    assert sorted(ran) == sorted(j.id for j in wanted)  # each once, none left out
    assert sum(done) == len(wanted)
    with pg_uow_factory() as uow:
        statuses = {uow.jobs.peek(j.id).status for j in wanted}  # type: ignore[union-attr]
    assert statuses == {"done"}
