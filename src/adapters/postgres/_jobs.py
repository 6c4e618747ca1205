"""Jobs: one queued or running job of a kind per integration (a partial unique index), claimed
like the queues with ``FOR UPDATE SKIP LOCKED`` so two workers never run one job."""

from __future__ import annotations

import builtins
from datetime import datetime, timedelta

from psycopg import sql

from adapters.postgres._rows import JOBS
from adapters.postgres._session import Repository, where
from core.model import Job, JobKind

_INSERT = JOBS.insert(on_conflict_do_nothing=True)

_CLAIM = sql.SQL(
    "WITH due AS MATERIALIZED ("
    " SELECT id FROM jobs"
    " WHERE (status = 'queued' AND next_attempt_at <= %(now)s)"
    " OR (status = 'running' AND locked_until <= %(now)s)"
    " ORDER BY next_attempt_at, id"
    " LIMIT %(limit)s"
    " FOR UPDATE SKIP LOCKED)"
    " UPDATE jobs AS t"
    " SET status = 'running', attempts = t.attempts + 1,"
    " locked_by = %(worker_id)s, locked_until = %(locked_until)s,"
    " started_at = COALESCE(t.started_at, %(now)s), updated_at = %(now)s"
    " FROM due WHERE t.id = due.id"
    " RETURNING t.*"
)


class PostgresJobRepository(Repository):
    def add(self, job: Job) -> bool:
        # any unique violation is the pending-job index's or a repeated id: nothing stored
        return self._s.write(_INSERT, JOBS.params(job)) == 1

    def get(self, job_id: str) -> Job | None:
        row = self._s.row("SELECT * FROM jobs WHERE id = %s FOR UPDATE", [job_id])
        return None if row is None else JOBS.load(row)

    def peek(self, job_id: str) -> Job | None:
        row = self._s.row("SELECT * FROM jobs WHERE id = %s", [job_id])
        return None if row is None else JOBS.load(row)

    def pending(self, integration_id: str, kind: JobKind) -> Job | None:
        row = self._s.row(
            "SELECT * FROM jobs WHERE integration_id = %s AND kind = %s"
            " AND status IN ('queued', 'running')",
            [integration_id, kind],
        )
        return None if row is None else JOBS.load(row)

    def claim_due(
        self, now: datetime, *, limit: int, lease_seconds: float, worker_id: str
    ) -> builtins.list[Job]:
        if limit <= 0:
            return []
        params = {
            "now": now,
            "limit": limit,
            "worker_id": worker_id,
            "locked_until": now + timedelta(seconds=lease_seconds),
        }
        with self._s.atomic() as cur:
            cur.execute(_CLAIM, params)
            rows = cur.fetchall()
        jobs = [JOBS.load(row) for row in rows]
        return sorted(jobs, key=lambda job: (job.next_attempt_at, job.id))

    def update(self, job: Job) -> None:
        self._update(JOBS, job)

    def list(
        self, integration_id: str, *, kind: JobKind | None = None, limit: int = 20
    ) -> builtins.list[Job]:
        conditions: builtins.list[sql.Composable] = [sql.SQL("integration_id = %(integration_id)s")]
        if kind is not None:
            conditions.append(sql.SQL("kind = %(kind)s"))
        query = (
            sql.SQL("SELECT * FROM jobs")
            + where(conditions)
            + sql.SQL(" ORDER BY created_at DESC, id DESC LIMIT %(limit)s")
        )
        params = {"integration_id": integration_id, "kind": kind, "limit": limit}
        return [JOBS.load(row) for row in self._s.rows(query, params)]
