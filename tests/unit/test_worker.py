"""The queue loop: handlers run once, failures retry with backoff, the last failure is dead
with an alert, a dead worker's lease expires, and staff can replay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from adapters.system import ManualClock
from core.errors import (
    PayloadError,
    PlatformAuthError,
    PlatformRejected,
    PlatformThrottled,
    PlatformUnavailable,
)
from core.model import InboxEvent, Integration, OutboxCommand
from core.ports import UnitOfWork
from core.services import Context
from core.services.worker import Backoff, Handlers, Skip, Worker, in_transaction, retry


def _event(ctx: Context, delivery: str = "d1", topic: str = "test/topic", **kw: object) -> str:
    now = ctx.clock.now()
    event = InboxEvent(
        id=ctx.ids.new_id(),
        platform="test",
        topic=topic,
        delivery_id=delivery,
        received_at=now,
        next_attempt_at=now,
        payload={"n": 1},
        **kw,
    )  # type: ignore[arg-type]
    with ctx.uow() as uow:
        assert uow.inbox.add(event)
        uow.commit()
    return event.id


def _get(ctx: Context, event_id: str) -> InboxEvent:
    with ctx.uow() as uow:
        event = uow.inbox.get(event_id)
    assert event is not None
    return event


class Recorder:
    def __init__(self, failures: list[Exception] | None = None) -> None:
        self.calls: list[str] = []
        self.failures = list(failures or [])

    def __call__(self, uow: UnitOfWork, event: InboxEvent) -> Skip | None:
        self.calls.append(event.id)
        if self.failures:
            raise self.failures.pop(0)
        return None


def _worker(ctx: Context, handler: Recorder, worker_id: str = "w1", **kw: object) -> Worker:
    return Worker(
        ctx,
        Handlers(inbox={"test/topic": in_transaction(handler)}),
        worker_id=worker_id,
        backoff=Backoff(base_seconds=10, cap_seconds=100),
        rand=lambda: 0.0,
        **kw,
    )  # type: ignore[arg-type]


def test_a_due_event_is_handled_once_and_marked_processed(ctx: Context) -> None:
    event_id = _event(ctx)
    handler = Recorder()
    worker = _worker(ctx, handler)
    assert worker.run_once().processed == 1
    assert worker.run_once().total == 0
    event = _get(ctx, event_id)
    assert (event.status, event.attempts, event.locked_by, handler.calls) == (
        "processed",
        1,
        None,
        [event_id],
    )


def test_a_failure_is_retried_after_exponential_backoff_with_jitter(
    ctx: Context, clock: ManualClock
) -> None:
    event_id = _event(ctx)
    handler = Recorder([PlatformUnavailable("store down"), PlatformUnavailable("still down")])
    worker = _worker(ctx, handler)
    start = clock.now()
    assert worker.run_once().retried == 1
    first = _get(ctx, event_id)
    assert first.status == "failed"
    assert first.next_attempt_at == start + timedelta(seconds=5)  # 10 * 2**0 * jitter 0.5
    assert "store down" in (first.error or "")
    assert worker.run_once().total == 0  # not due yet
    clock.advance(5)
    assert worker.run_once().retried == 1
    assert _get(ctx, event_id).next_attempt_at == clock.now() + timedelta(seconds=10)
    clock.advance(10)
    assert worker.run_once().processed == 1
    assert _get(ctx, event_id).status == "processed"
    assert _get(ctx, event_id).error is None


def test_backoff_is_capped() -> None:
    backoff = Backoff(base_seconds=10, cap_seconds=100)
    assert backoff.delay(30, lambda: 0.999999) == pytest.approx(100, rel=1e-3)
    assert backoff.delay(1, lambda: 0.0) == 5


def test_throttling_waits_at_least_as_long_as_the_store_asks(
    ctx: Context, clock: ManualClock
) -> None:
    event_id = _event(ctx)
    worker = _worker(ctx, Recorder([PlatformThrottled("slow down", retry_after=42)]))
    worker.run_once()
    assert _get(ctx, event_id).next_attempt_at == clock.now() + timedelta(seconds=42)


def test_after_the_last_attempt_the_event_is_dead_with_an_alert(
    ctx: Context, clock: ManualClock
) -> None:
    event_id = _event(ctx, max_attempts=2)
    worker = _worker(ctx, Recorder([RuntimeError("bug 1"), RuntimeError("bug 2")]))
    assert worker.run_once().retried == 1
    clock.advance(1000)
    assert worker.run_once().dead == 1
    event = _get(ctx, event_id)
    assert event.status == "dead"
    with ctx.uow() as uow:
        alerts = uow.alerts.list()
    assert [(a.code, a.subject_id) for a in alerts] == [("queue_item_dead", event_id)]
    assert "bug 2" in alerts[0].message


def test_a_payload_that_cannot_be_parsed_is_dead_at_once(ctx: Context) -> None:
    event_id = _event(ctx)
    worker = _worker(ctx, Recorder([PayloadError("order has no id")]))
    assert worker.run_once().dead == 1
    assert _get(ctx, event_id).attempts == 1


def test_an_event_of_a_topic_nothing_handles_is_skipped_with_its_reason_and_no_alert(
    ctx: Context,
) -> None:
    event_id = _event(ctx, topic="orders/paid")
    assert _worker(ctx, Recorder()).run_once().skipped == 1
    event = _get(ctx, event_id)
    assert (event.status, event.error) == ("skipped", "topic orders/paid is not handled")
    with ctx.uow() as uow:
        assert uow.alerts.list() == []


def test_a_command_without_a_handler_is_dead_not_silently_dropped(ctx: Context) -> None:
    now = ctx.clock.now()
    with ctx.uow() as uow:
        uow.outbox.add(
            OutboxCommand(
                id="c1",
                kind="unknown.kind",
                idempotency_key="u1",
                created_at=now,
                next_attempt_at=now,
            )
        )
        uow.commit()
    assert _worker(ctx, Recorder()).run_once().dead == 1
    with ctx.uow() as uow:
        command = uow.outbox.get("c1")
    assert command is not None
    assert "no handler" in (command.error or "")


def test_a_store_refusal_is_dead_at_once_with_an_alert(ctx: Context) -> None:
    event_id = _event(ctx)
    worker = _worker(ctx, Recorder([PlatformRejected("the fulfillment order is closed")]))
    assert worker.run_once().dead == 1
    assert _get(ctx, event_id).attempts == 1
    with ctx.uow() as uow:
        assert [a.code for a in uow.alerts.list()] == ["queue_item_dead"]


def test_revoked_credentials_stop_at_once_and_put_the_store_in_error(ctx: Context) -> None:
    now = ctx.clock.now()
    integration = Integration(
        id="i1",
        client_id="c1",
        platform="shopify",
        shop_domain="a.myshopify.com",
        created_at=now,
        updated_at=now,
        status="active",
        credentials="sealed",
    )
    with ctx.uow() as uow:
        uow.integrations.add(integration)
        uow.commit()
    event_id = _event(ctx, integration_id="i1")
    worker = _worker(ctx, Recorder([PlatformAuthError("401: invalid API key or access token")]))
    assert worker.run_once().dead == 1
    assert _get(ctx, event_id).attempts == 1
    with ctx.uow() as uow:
        found = uow.integrations.peek("i1")
        codes = sorted(a.code for a in uow.alerts.list())
    assert found is not None
    assert found.status == "error"
    assert "reconnect" in (found.last_error or "")
    assert codes == ["queue_item_dead", "store_auth_failed"]


def test_a_store_outage_is_retried_not_dead(ctx: Context) -> None:
    _event(ctx)
    worker = _worker(ctx, Recorder([PlatformUnavailable("503")]))
    assert worker.run_once().retried == 1


def test_a_handler_that_skips_records_why(ctx: Context) -> None:
    event_id = _event(ctx)
    worker = Worker(
        ctx,
        Handlers(inbox={"test/topic": in_transaction(lambda uow, e: Skip("test order"))}),
        worker_id="w1",
    )
    assert worker.run_once().skipped == 1
    event = _get(ctx, event_id)
    assert (event.status, event.error) == ("skipped", "test order")


def test_a_failed_handler_leaves_no_partial_changes(ctx: Context) -> None:
    event_id = _event(ctx)

    def half_then_fail(uow: UnitOfWork, event: InboxEvent) -> None:
        now = ctx.clock.now()
        uow.outbox.add(
            OutboxCommand(
                id="c1", kind="k", idempotency_key="k1", created_at=now, next_attempt_at=now
            )
        )
        raise PlatformUnavailable("boom")

    Worker(
        ctx, Handlers(inbox={"test/topic": in_transaction(half_then_fail)}), worker_id="w1"
    ).run_once()
    with ctx.uow() as uow:
        assert uow.outbox.list() == []
    assert _get(ctx, event_id).status == "failed"


def test_an_item_whose_worker_died_is_claimed_again_after_the_lease(
    ctx: Context, clock: ManualClock
) -> None:
    event_id = _event(ctx)
    with ctx.uow() as uow:  # worker "dead" claims and never finishes
        assert [
            e.id
            for e in uow.inbox.claim_due(clock.now(), limit=5, lease_seconds=60, worker_id="dead")
        ] == [event_id]
        uow.commit()
    handler = Recorder()
    survivor = _worker(ctx, handler, worker_id="w2")
    assert survivor.run_once().total == 0
    clock.advance(61)
    assert survivor.run_once().processed == 1
    assert _get(ctx, event_id).attempts == 2


def test_a_worker_that_lost_its_lease_does_not_overwrite_the_new_owner(
    ctx: Context, clock: ManualClock
) -> None:
    event_id = _event(ctx)
    slow = _worker(ctx, Recorder(), worker_id="slow", lease_seconds=10)
    with ctx.uow() as uow:
        claimed = uow.inbox.claim_due(clock.now(), limit=1, lease_seconds=10, worker_id="slow")
        uow.commit()
    clock.advance(11)
    with ctx.uow() as uow:  # another worker takes over after the lease
        uow.inbox.claim_due(clock.now(), limit=1, lease_seconds=10, worker_id="fast")
        uow.commit()
    assert slow._work(claimed[0]) == "lost"
    event = _get(ctx, event_id)
    assert (event.status, event.locked_by) == ("processing", "fast")


def test_items_late_in_a_slow_batch_are_not_worked_twice(ctx: Context, clock: ManualClock) -> None:
    """Found by the chaos run (a store budget that kept every call waiting): a worker claimed
    a batch and worked it slowly; once the claim's lease had run out another worker took the
    batch's remaining items, the one being worked included, and both worked them (a
    fulfilment sent twice: the store refused the second, a dead command and an alert). The
    lease now starts afresh when an item's turn comes; an item taken before its turn is
    left to the other worker."""
    first, second, third = _event(ctx, "d1"), _event(ctx, "d2"), _event(ctx, "d3")
    calls: list[tuple[str, str]] = []
    workers: dict[str, Worker] = {}

    def handler(name: str) -> Any:
        def prepare(event: InboxEvent) -> Any:  # the phase that calls the store
            calls.append((name, event.id))
            if name == "slow":
                clock.advance(6 if event.id == first else 5)
                if event.id == second:  # 11 s after the claim: its 10 s lease ran out
                    workers["other"].run_once()
            return lambda _uow, _event: None

        return prepare

    for name in ("slow", "other"):
        workers[name] = Worker(
            ctx, Handlers(inbox={"test/topic": handler(name)}), worker_id=name, lease_seconds=10
        )
    report = workers["slow"].run_once()
    assert calls == [("slow", first), ("slow", second), ("other", third)]
    assert (report.processed, report.lost) == (2, 1)
    assert {_get(ctx, e).status for e in (first, second, third)} == {"processed"}


def test_staff_can_replay_a_dead_event(ctx: Context) -> None:
    event_id = _event(ctx)
    handler = Recorder([PayloadError("bad")])
    worker = _worker(ctx, handler)
    worker.run_once()
    assert _get(ctx, event_id).status == "dead"
    retry(ctx, kind="inbox", item_id=event_id)
    assert worker.run_once().processed == 1
    assert len(handler.calls) == 2


def test_outbox_commands_run_their_kind_handler(ctx: Context) -> None:
    now = ctx.clock.now()
    with ctx.uow() as uow:
        uow.outbox.add(
            OutboxCommand(
                id="c1",
                kind="say",
                idempotency_key="say:1",
                created_at=now,
                next_attempt_at=now,
                payload={"x": 2},
            )
        )
        uow.commit()
    seen: list[dict[str, object]] = []
    worker = Worker(
        ctx,
        Handlers(outbox={"say": in_transaction(lambda uow, c: seen.append(c.payload))}),
        worker_id="w",
    )
    assert worker.drain().processed == 1
    with ctx.uow() as uow:
        command = uow.outbox.get("c1")
    assert command is not None
    assert command.status == "done"
    assert seen == [{"x": 2}]


class _Tracked:
    """A unit-of-work factory that counts the transactions open right now."""

    def __init__(self, ctx: Context) -> None:
        self.inner = ctx.uow
        self.open = 0

    def __call__(self) -> UnitOfWork:
        tracked = self
        uow = self.inner()

        class _Counting:
            def __enter__(self) -> UnitOfWork:
                tracked.open += 1
                return uow.__enter__()

            def __exit__(self, *exc: object) -> None:
                tracked.open -= 1
                uow.__exit__(*exc)  # type: ignore[arg-type]

        return _Counting()  # type: ignore[return-value]


def test_a_handler_calls_the_store_with_no_transaction_open_and_applies_in_one(
    ctx: Context,
) -> None:
    tracked = _Tracked(ctx)
    ctx = Context(uow=tracked, clock=ctx.clock, ids=ctx.ids)
    event_id = _event(ctx)
    seen: dict[str, int] = {}

    def prepare(event: InboxEvent):  # type: ignore[no-untyped-def]
        seen["open while calling the store"] = tracked.open

        def apply(uow: UnitOfWork, current: InboxEvent) -> None:
            seen["open while applying"] = tracked.open
            assert current.id == event.id

        return apply

    assert (
        Worker(ctx, Handlers(inbox={"test/topic": prepare}), worker_id="w1").run_once().processed
        == 1
    )
    assert seen == {"open while calling the store": 0, "open while applying": 1}
    assert _get(ctx, event_id).status == "processed"


def test_an_item_whose_lease_was_lost_while_calling_the_store_applies_nothing(
    ctx: Context, clock: ManualClock
) -> None:
    event_id = _event(ctx)
    applied: list[str] = []

    def prepare(event: InboxEvent):  # type: ignore[no-untyped-def]
        clock.advance(timedelta(seconds=400))  # the store was slow: the lease ran out
        with ctx.uow() as uow:  # and another worker claimed the event meanwhile
            assert [
                e.id
                for e in uow.inbox.claim_due(
                    clock.now(), limit=5, lease_seconds=300, worker_id="w2"
                )
            ] == [event.id]
            uow.commit()
        return lambda uow, current: applied.append(current.id)

    report = Worker(ctx, Handlers(inbox={"test/topic": prepare}), worker_id="w1").run_once()
    assert report.lost == 1
    assert applied == []
    assert _get(ctx, event_id).locked_by == "w2"
