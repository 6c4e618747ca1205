"""Jobs: long work someone asked for (sync a store's orders, refresh its catalogue, push its
inventory), run by a worker rather than inside the request, with progress anyone may read.

A job is ``queued`` until a worker claims it, ``running`` while that worker holds its lease
(renewed each time it reports progress), then ``done`` or ``failed``. A job whose worker died
is ``running`` with an expired lease: another worker claims it again, counting the attempt;
after ``max_attempts`` such claims it fails. At most one job of a kind per integration is
``queued`` or ``running`` (asking again returns that one).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from attrs import define, field

from core.errors import IllegalTransition

JobKind = Literal["order_sync", "catalogue_refresh", "inventory_push"]
JobStatus = Literal["queued", "running", "done", "failed"]

JOB_KINDS: tuple[JobKind, ...] = ("order_sync", "catalogue_refresh", "inventory_push")
PENDING_JOB_STATUSES: frozenset[str] = frozenset({"queued", "running"})
MAX_JOB_PROBLEMS = 50  # per-item problems kept on a job (the counts say how many there were)


@define
class Job:
    id: str
    kind: JobKind
    integration_id: str
    created_at: datetime
    next_attempt_at: datetime  # when a worker may claim it (a postponed job waits)
    updated_at: datetime
    requested_by: str | None = None  # the user's id; "system" for scheduled work
    status: JobStatus = "queued"
    progress: dict[str, int] = field(factory=dict)
    problems: list[str] = field(factory=list)  # items that failed, the job carried on
    error: str | None = None  # why the job itself failed
    attempts: int = 0
    max_attempts: int = 3
    locked_by: str | None = None
    locked_until: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def pending(self) -> bool:
        return self.status in PENDING_JOB_STATUSES

    def _require_running(self, doing: str) -> None:
        if self.status != "running":
            raise IllegalTransition(f"a {self.status} job cannot be {doing}")

    def start(self, worker_id: str, now: datetime, lease_until: datetime) -> None:
        """Claimed by ``worker_id``: queued, or running under a lease that ran out."""
        expired = self.status == "running" and (
            self.locked_until is None or self.locked_until <= now
        )
        if self.status != "queued" and not expired:
            raise IllegalTransition(f"a {self.status} job cannot be started")
        self.status = "running"
        self.attempts += 1
        self.locked_by = worker_id
        self.locked_until = lease_until
        self.started_at = self.started_at or now
        self.updated_at = now

    def report(self, progress: dict[str, int], now: datetime, lease_until: datetime) -> None:
        """Progress so far; the lease starts afresh (the worker is alive)."""
        self._require_running("given progress")
        self.progress = dict(progress)
        self.locked_until = lease_until
        self.updated_at = now

    def finish(self, progress: dict[str, int], problems: list[str], now: datetime) -> None:
        self._require_running("finished")
        self.status = "done"
        self.progress = dict(progress)
        self.problems = problems[:MAX_JOB_PROBLEMS]
        self._release(now)

    def fail(self, error: str, now: datetime) -> None:
        if not self.pending:
            raise IllegalTransition(f"a {self.status} job cannot fail")
        self.status = "failed"
        self.error = error
        self._release(now)
        self.started_at = self.started_at or now

    def postpone(self, until: datetime, now: datetime) -> None:
        """Back to the queue until ``until`` (what it needs is busy); not counted as an
        attempt."""
        self._require_running("postponed")
        self.status = "queued"
        self.attempts = max(0, self.attempts - 1)
        self.next_attempt_at = until
        self.locked_by = None
        self.locked_until = None
        self.updated_at = now

    def _release(self, now: datetime) -> None:
        self.locked_by = None
        self.locked_until = None
        self.finished_at = now
        self.updated_at = now
