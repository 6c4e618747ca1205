"""The queue worker: claim due inbox events and outbox commands, run the handler registered
for each, and record the outcome in the same transaction as the handler's changes.

A handler works in two phases so that no store call happens while a transaction holds locks
(a slow store would otherwise pin a pooled connection and the rows it locked for seconds):
it is first called with the claimed item *outside* any transaction, where it may call the
store and run short transactions of its own; it returns an ``Apply`` that the worker runs in
one short transaction together with recording the outcome, after re-checking that it still
holds the item's lease. ``in_transaction`` makes a handler that only touches the database.

A failure is retried with exponential backoff and jitter; after the last attempt the item is
``dead`` and an alert is raised. Bad input (``InvalidInput``, e.g. an unparseable payload) and
a store error that is not ``retryable`` (a refusal, revoked credentials) are dead at once:
retrying cannot help; revoked credentials also put the integration in ``error``. An event of
a topic no handler acts on is ``skipped``, with no alert. A worker that dies mid-item loses
its lease; another worker claims the item again after the lease expires. The lease starts
afresh when an item's turn in its batch comes, so items late in a slow batch are not taken
by another worker while this one will still work them. An item whose lease this worker lost
is left to its new owner.

Every item is worked inside a log context naming it (``event_id`` or ``command_id``), so each
line logged meanwhile, here or in an adapter, says which item it was about; its outcome and
duration go to ``ctx.metrics`` and one log line.

Jobs (``core.model.Job``: long work someone asked for) are claimed one per round, after the
queue items, and run by the runner registered for their kind outside any transaction. The
runner reports progress through a ``JobProgress``, which writes it in a short transaction of
its own (at most every half second) and renews the job's lease; if another worker has taken
the job meanwhile (this one stalled past its lease), the write raises ``JobLost`` and the run
stops. The outcome is recorded in one short transaction: ``done`` with its counts, or
``failed`` with the error. A job is not retried on an error (whoever asked sees it and may ask
again); one whose worker died is claimed again once its lease ran out, and fails once that has
happened ``max_attempts`` times. A runner raises ``Postpone`` when what it needs is busy.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from attrs import define, field, frozen

from core.errors import (
    InvalidInput,
    NotFound,
    PlatformAuthError,
    PlatformError,
    PlatformThrottled,
    StorelinkError,
    StoreOrderConflict,
)
from core.model import InboxEvent, Job, OutboxCommand
from core.observability import log_context
from core.ports import UnitOfWork
from core.services._context import Context, raise_alert, resolve_alerts
from core.services._skips import RETRYABLE_SKIPS
from core.text import storable_text

log = logging.getLogger(__name__)
T = TypeVar("T", InboxEvent, OutboxCommand)

MAX_ERROR_LENGTH = 1000
DEAD_ALERT = "queue_item_dead"
REPLAY_ATTEMPTS = 8  # a replayed item gets this many attempts more


@frozen
class Skip:
    """Returned by a handler that deliberately did nothing (the reason is recorded)."""

    reason: str


InboxApply = Callable[[UnitOfWork, InboxEvent], Skip | None]
OutboxApply = Callable[[UnitOfWork, OutboxCommand], Skip | None]
# Called outside any transaction with the claimed item; returns what to apply in one.
InboxHandler = Callable[[InboxEvent], InboxApply]
OutboxHandler = Callable[[OutboxCommand], OutboxApply]


def in_transaction(
    apply: Callable[[UnitOfWork, T], Skip | None],
) -> Callable[[T], Callable[[UnitOfWork, T], Skip | None]]:
    """A handler that only reads and writes the database: all of it runs in the outcome's
    transaction."""
    return lambda _item: apply


def done(result: Skip | None = None) -> Callable[[UnitOfWork, object], Skip | None]:
    """An ``Apply`` with nothing left to write: the prepare phase did the work."""
    return lambda _uow, _item: result


def record(result: dict[str, Any]) -> OutboxApply:
    """An ``Apply`` that keeps what the prepare phase did as the command's result."""

    def apply(_uow: UnitOfWork, command: OutboxCommand) -> Skip | None:
        command.result = result
        return None

    return apply


@frozen
class JobOutcome:
    """What a job runner did: its final counts, and the items that failed along the way."""

    progress: dict[str, int]
    problems: list[str] = field(factory=list)


class Postpone(Exception):
    """Raised by a job runner that cannot start yet (what it needs is busy)."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.reason = reason


class JobLost(StorelinkError):
    """Another worker holds the job now (this one stalled past its lease)."""

    code = "job_lost"


# How a runner reports its counts so far (the latest call wins; writes are spaced out).
Progress = Callable[[Mapping[str, int]], None]
JobRunner = Callable[[Job, Progress], JobOutcome]


def no_progress(_counts: Mapping[str, int]) -> None:
    """A ``Progress`` that keeps nothing (the CLI, tests)."""


@frozen
class Handlers:
    """Inbox handlers by topic, outbox handlers by command kind, job runners by job kind."""

    inbox: Mapping[str, InboxHandler] = field(factory=dict)
    outbox: Mapping[str, OutboxHandler] = field(factory=dict)
    jobs: Mapping[str, JobRunner] = field(factory=dict)


@frozen
class Backoff:
    """``base * 2**(attempt-1)`` seconds, capped, times a jitter factor in [0.5, 1.0)."""

    base_seconds: float = 5.0
    cap_seconds: float = 3600.0

    def delay(self, attempt: int, rand: Callable[[], float]) -> float:
        raw = min(self.cap_seconds, self.base_seconds * 2.0 ** max(0, attempt - 1))
        return raw * (0.5 + rand() / 2)


@define
class WorkReport:
    processed: int = 0
    skipped: int = 0
    retried: int = 0
    dead: int = 0
    lost: int = 0  # leases lost to another worker

    @property
    def total(self) -> int:
        return self.processed + self.skipped + self.retried + self.dead + self.lost

    def add(self, other: WorkReport) -> None:
        self.processed += other.processed
        self.skipped += other.skipped
        self.retried += other.retried
        self.dead += other.dead
        self.lost += other.lost


Outcome = Literal["processed", "skipped", "retried", "dead", "lost"]
QueueItem = InboxEvent | OutboxCommand
# what an outcome is called in metrics and logs
_REPORTED: Mapping[Outcome, str] = {
    "processed": "done",
    "skipped": "skipped",
    "retried": "retry",
    "dead": "dead",
    "lost": "lost",
}


def _describe(exc: BaseException) -> str:
    """The error as recorded: storable, whatever text of the store's the message quotes."""
    if isinstance(exc, StorelinkError):
        text = f"{exc.code}: {exc.message}"
    else:  # an unexpected bug: name the type, keep the message short
        text = f"{type(exc).__name__}: {exc}"
    return storable_text(text[:MAX_ERROR_LENGTH])


class Worker:
    def __init__(
        self,
        ctx: Context,
        handlers: Handlers,
        *,
        worker_id: str,
        lease_seconds: float = 300.0,
        batch_size: int = 20,
        backoff: Backoff | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.ctx = ctx
        self.handlers = handlers
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size
        self.backoff = backoff or Backoff()
        self.rand = rand
        self._errors: dict[str, str] = {}  # why an item failed, for its log line

    # --- public ---------------------------------------------------------------------------

    def run_once(self) -> WorkReport:
        """Claim one batch from each queue and work it. Returns what happened."""
        report = WorkReport()
        now = self.ctx.clock.now()
        self.ctx.metrics.worker_polled(now)
        with self.ctx.uow() as uow:
            events = uow.inbox.claim_due(
                now,
                limit=self.batch_size,
                lease_seconds=self.lease_seconds,
                worker_id=self.worker_id,
            )
            commands = uow.outbox.claim_due(
                now,
                limit=self.batch_size,
                lease_seconds=self.lease_seconds,
                worker_id=self.worker_id,
            )
            uow.commit()
        items: list[QueueItem] = [*events, *commands]
        for item in items:
            self._count(report, self._observed(item))
        if self.handlers.jobs:
            outcome = self._next_job()
            if outcome is not None:
                self._count(report, outcome)
        return report

    def drain(self, max_rounds: int = 1000) -> WorkReport:
        """Work until nothing is due (tests, ``worker --once``)."""
        total = WorkReport()
        for _ in range(max_rounds):
            report = self.run_once()
            total.add(report)
            if report.total == 0:
                break
        return total

    # --- one item -------------------------------------------------------------------------

    @staticmethod
    def _count(report: WorkReport, outcome: Outcome) -> None:
        setattr(report, outcome, getattr(report, outcome) + 1)

    def _load(self, uow: UnitOfWork, item: QueueItem) -> QueueItem | None:
        """The item, locked, if this worker still holds its lease."""
        current: QueueItem | None
        current = (
            uow.inbox.get(item.id) if isinstance(item, InboxEvent) else uow.outbox.get(item.id)
        )
        if current is None or current.status != "processing" or current.locked_by != self.worker_id:
            return None
        return current

    def _save(self, uow: UnitOfWork, item: QueueItem) -> None:
        if isinstance(item, InboxEvent):
            uow.inbox.update(item)
        else:
            uow.outbox.update(item)

    def _prepare(self, item: QueueItem) -> Callable[[UnitOfWork, QueueItem], Skip | None]:
        """The handler's first phase, outside any transaction."""
        if isinstance(item, InboxEvent):
            on_event = self.handlers.inbox.get(item.topic)
            if on_event is None:  # a topic the store sends that this app does not act on
                return done(Skip(f"topic {item.topic} is not handled"))
            return on_event(item)  # type: ignore[return-value]
        on_command = self.handlers.outbox.get(item.kind)
        if on_command is None:
            raise NotFound(f"no handler for command {item.kind!r}", code="no_handler")
        return on_command(item)  # type: ignore[return-value]

    def _observed(self, item: QueueItem) -> Outcome:
        """``_work`` inside a log context naming the item, timed and counted."""
        if isinstance(item, InboxEvent):
            queue: Literal["inbox", "outbox"] = "inbox"
            kind = item.topic if item.topic in self.handlers.inbox else "unhandled"
            fields = {"event_id": item.id, "topic": item.topic}
        else:
            queue = "outbox"
            kind = item.kind if item.kind in self.handlers.outbox else "unknown"
            fields = {"command_id": item.id, "kind": item.kind}
        with log_context(**fields, integration_id=item.integration_id, attempt=str(item.attempts)):
            started = time.perf_counter()
            try:
                outcome = self._work(item)
            finally:
                error = self._errors.pop(item.id, None)
            seconds = time.perf_counter() - started
            reported = _REPORTED[outcome]
            self.ctx.metrics.work_finished(queue, kind, reported, seconds)
            log.log(
                logging.WARNING if error else logging.INFO,
                "%s %s %s in %.3fs%s",
                queue,
                kind,
                reported,
                seconds,
                f": {error}" if error else "",
            )
        return outcome

    def _renew(self, item: QueueItem) -> bool:
        """Start the item's lease afresh as its turn in the batch comes (a batch is claimed
        at once and worked one item at a time, so the claim's lease may have run out for the
        last ones); false if another worker has taken it meanwhile."""
        with self.ctx.uow() as uow:
            current = self._load(uow, item)
            if current is None:
                return False
            current.locked_until = self.ctx.clock.now() + timedelta(seconds=self.lease_seconds)
            self._save(uow, current)
            uow.commit()
        return True

    def _work(self, item: QueueItem) -> Outcome:
        try:
            if not self._renew(item):
                return "lost"  # its lease ran out before its turn and another worker has it
            apply = self._prepare(item)
            with self.ctx.uow() as uow:
                current = self._load(uow, item)
                if current is None:
                    return "lost"
                result = apply(uow, current)
                now = self.ctx.clock.now()
                current.locked_by = None
                current.locked_until = None
                if isinstance(current, InboxEvent):
                    current.status = "skipped" if isinstance(result, Skip) else "processed"
                    current.processed_at = now
                else:
                    current.status = "done"
                    current.done_at = now
                failed_before = current.error is not None and current.attempts > 1
                current.error = storable_text(result.reason[:MAX_ERROR_LENGTH]) if result else None
                if failed_before:  # what an earlier attempt's failure alerted about is fixed
                    resolve_alerts(
                        uow,
                        self.ctx,
                        codes=(DEAD_ALERT, StoreOrderConflict.code),
                        subject_id=current.id,
                    )
                self._save(uow, current)
                uow.commit()
                return "skipped" if isinstance(result, Skip) else "processed"
        except Exception as exc:  # every failure is recorded, none escapes
            return self._failed(item, exc)

    def _failed(self, item: QueueItem, exc: Exception) -> Outcome:
        if not isinstance(exc, StorelinkError):
            log.exception("handler crashed on %s %s", type(item).__name__, item.id)
        with self.ctx.uow() as uow:
            current = self._load(uow, item)
            if current is None:
                return "lost"
            outcome = record_failure(
                uow, self.ctx, current, exc, backoff=self.backoff, rand=self.rand
            )
            self._errors[item.id] = current.error or ""
            self._save(uow, current)
            uow.commit()
            return outcome

    # --- jobs ------------------------------------------------------------------------------

    def _next_job(self) -> Outcome | None:
        """Claim one due job and run it; None when none is due. Its outcome is reported as
        ``processed`` (done), ``dead`` (failed), ``retried`` (postponed) or ``lost``."""
        with self.ctx.uow() as uow:
            claimed = uow.jobs.claim_due(
                self.ctx.clock.now(),
                limit=1,
                lease_seconds=self.lease_seconds,
                worker_id=self.worker_id,
            )
            uow.commit()
        if not claimed:
            return None
        job = claimed[0]
        fields = {"job_id": job.id, "kind": job.kind, "integration_id": job.integration_id}
        with log_context(**fields, attempt=str(job.attempts)):
            started = time.perf_counter()
            try:
                outcome = self._run_job(job)
            finally:
                error = self._errors.pop(job.id, None)
            seconds = time.perf_counter() - started
            reported = "failed" if outcome == "dead" else _REPORTED[outcome]
            kind = job.kind if job.kind in self.handlers.jobs else "unknown"
            self.ctx.metrics.work_finished("jobs", kind, reported, seconds)
            log.log(
                logging.WARNING if error else logging.INFO,
                "job %s %s in %.3fs%s",
                kind,
                reported,
                seconds,
                f": {error}" if error else "",
            )
        return outcome

    def _run_job(self, job: Job) -> Outcome:
        if job.attempts > job.max_attempts:  # its workers kept dying: a bug, or too big
            error = f"the worker running it stopped {job.attempts - 1} times"
            self._errors[job.id] = error
            return self._end_job(job, lambda _uow, j, now: j.fail(error, now), "dead")
        runner = self.handlers.jobs.get(job.kind)
        progress = JobProgress(self.ctx, job.id, self.worker_id, self.lease_seconds)
        try:
            if runner is None:
                raise NotFound(f"no runner for job {job.kind!r}", code="no_handler")
            result = runner(job, progress)
        except JobLost:
            return "lost"
        except Postpone as wait:
            self._errors[job.id] = f"postponed: {wait.reason}"
            delay = timedelta(seconds=wait.seconds)
            return self._end_job(job, lambda _uow, j, now: j.postpone(now + delay, now), "retried")
        except Exception as exc:  # every failure is recorded, none escapes
            if not isinstance(exc, StorelinkError):
                log.exception("job runner crashed on job %s", job.id)
            error = _describe(exc)
            self._errors[job.id] = error
            refused = exc if isinstance(exc, PlatformAuthError) else None

            def failed(uow: UnitOfWork, current: Job, now: datetime) -> None:
                current.fail(error, now)
                if refused is not None:  # the store no longer takes our token
                    _store_refused_us(uow, self.ctx, current.integration_id, refused)

            return self._end_job(job, failed, "dead")
        return self._end_job(
            job,
            lambda _uow, j, now: j.finish(result.progress, result.problems, now),
            "processed",
        )

    def _end_job(
        self, job: Job, change: Callable[[UnitOfWork, Job, datetime], None], outcome: Outcome
    ) -> Outcome:
        """Record the outcome, if this worker still holds the job."""
        with self.ctx.uow() as uow:
            current = uow.jobs.get(job.id)
            mine = current is not None and current.locked_by == self.worker_id
            if current is None or not mine or current.status != "running":
                return "lost"
            change(uow, current, self.ctx.clock.now())
            uow.jobs.update(current)
            uow.commit()
        return outcome


class JobProgress:
    """A running job's ``Progress``: keeps the latest counts and writes them, with a fresh
    lease, in a short transaction of its own, at most every ``interval`` seconds (the first
    at once). Raises ``JobLost`` if the job is no longer this worker's."""

    def __init__(
        self,
        ctx: Context,
        job_id: str,
        worker_id: str,
        lease_seconds: float,
        *,
        interval: float = 0.5,
    ) -> None:
        self.ctx = ctx
        self.job_id = job_id
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.interval = interval
        self.counts: dict[str, int] = {}
        self._written_at: float | None = None

    def __call__(self, counts: Mapping[str, int]) -> None:
        self.counts = dict(counts)
        moment = time.monotonic()
        if self._written_at is not None and moment - self._written_at < self.interval:
            return
        self._written_at = moment
        self.write()

    def write(self) -> None:
        with self.ctx.uow() as uow:
            job = uow.jobs.get(self.job_id)
            if job is None or job.status != "running" or job.locked_by != self.worker_id:
                raise JobLost(f"job {self.job_id} is no longer this worker's")
            now = self.ctx.clock.now()
            job.report(self.counts, now, now + timedelta(seconds=self.lease_seconds))
            uow.jobs.update(job)
            uow.commit()


def record_failure(
    uow: UnitOfWork,
    ctx: Context,
    item: QueueItem,
    exc: Exception,
    *,
    backoff: Backoff,
    rand: Callable[[], float] = random.random,
) -> Literal["retried", "dead"]:
    """Mark ``item`` (its attempt counted) as failed after ``exc``: ``failed`` and due again
    after a backoff, or ``dead`` with an alert when retrying cannot help or no attempt is
    left. The caller saves the item."""
    now = ctx.clock.now()
    item.error = _describe(exc)
    item.locked_by = None
    item.locked_until = None
    permanent = (
        isinstance(exc, (InvalidInput, StoreOrderConflict))
        or getattr(exc, "code", "") == "no_handler"
        or (isinstance(exc, PlatformError) and not exc.retryable)
    )
    if isinstance(exc, PlatformAuthError) and item.integration_id:
        _store_refused_us(uow, ctx, item.integration_id, exc)
    if permanent or item.attempts >= item.max_attempts:
        item.status = "dead"
        what = f"webhook {item.topic}" if isinstance(item, InboxEvent) else f"command {item.kind}"
        client_id = None
        if item.integration_id:
            integration = uow.integrations.get(item.integration_id)
            client_id = integration.client_id if integration else None
        raise_alert(
            uow,
            ctx,
            severity="error",
            # a refused store order is its own kind of alert, linked to the order it is not
            code=exc.code if isinstance(exc, StoreOrderConflict) else DEAD_ALERT,
            message=f"{what} failed after {item.attempts} attempt(s): {item.error}",
            client_id=client_id,
            integration_id=item.integration_id,
            subject_id=item.id,
            order_id=exc.order_id if isinstance(exc, StoreOrderConflict) else None,
            event_id=item.id if isinstance(item, InboxEvent) else None,
        )
        return "dead"
    delay = backoff.delay(item.attempts, rand)
    if isinstance(exc, PlatformThrottled):
        delay = max(delay, exc.retry_after)
    item.status = "failed"
    item.next_attempt_at = now + timedelta(seconds=delay)
    return "retried"


def _store_refused_us(
    uow: UnitOfWork, ctx: Context, integration_id: str, exc: PlatformAuthError
) -> None:
    """The store no longer accepts our credentials (revoked, app uninstalled): the
    integration is in ``error`` with an alert until someone reconnects it."""
    integration = uow.integrations.get(integration_id)
    if integration is None or integration.status in ("error", "disconnected"):
        return
    now = ctx.clock.now()
    integration.status = "error"
    integration.last_error = f"the store refused our access token ({exc.message}); reconnect it"
    integration.last_error_at = now
    integration.updated_at = now
    uow.integrations.update(integration)
    raise_alert(
        uow,
        ctx,
        severity="error",
        code="store_auth_failed",
        message=f"{integration.shop_domain}: {integration.last_error}",
        client_id=integration.client_id,
        integration_id=integration.id,
    )


def retryable(item: QueueItem) -> bool:
    """Can retrying the item change something? Failed and dead items: yes. Skipped ones only
    when skipped for a reason someone may have fixed since (automatic import was off, no
    store location mapped, the store not connected), not when the answer would be the same
    ("already up to date", "test order")."""
    if item.status in ("failed", "dead"):
        return True
    return item.status == "skipped" and (item.error or "") in RETRYABLE_SKIPS


def retry(ctx: Context, *, kind: Literal["inbox", "outbox"], item_id: str) -> QueueItem:
    """Staff replay of a failed, dead or retryably skipped item (``retryable``): due now,
    with a fresh attempt budget. Anything else is refused (``not_retryable``)."""
    with ctx.uow() as uow:
        item: QueueItem | None = (
            uow.inbox.get(item_id) if kind == "inbox" else uow.outbox.get(item_id)
        )
        if item is None:
            raise NotFound(f"{'event' if kind == 'inbox' else 'command'} not found")
        if not retryable(item):
            why = (
                f"it was skipped ({item.error}) and would be skipped again"
                if item.status == "skipped"
                else f"it is {item.status}"
            )
            raise InvalidInput(  # the portal and the API answer it as bad input (422)
                "only failed or dead items, or items skipped for a reason that may have "
                f"changed, can be retried; {why}",
                code="not_retryable",
            )
        item.status = "received" if isinstance(item, InboxEvent) else "pending"
        item.next_attempt_at = ctx.clock.now()
        item.max_attempts = item.attempts + REPLAY_ATTEMPTS
        item.locked_by = None
        item.locked_until = None
        if isinstance(item, InboxEvent):
            uow.inbox.update(item)
        else:
            uow.outbox.update(item)
        uow.commit()
    return item
