"""Queue claims, for the inbox and the outbox alike, on every adapter.

A claim takes due items (claimable and ``next_attempt_at`` passed, or ``processing`` with an
expired lease), earliest due first, marks them ``processing`` under the worker's lease and
counts the attempt. Concurrent workers on PostgreSQL: ``test_uow_postgres.py``.
"""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from core.model import INBOX_CLAIMABLE, OUTBOX_CLAIMABLE


@attrs.frozen
class Queue:
    name: str  # the unit of work's attribute
    claimable: tuple[str, ...]  # statuses claimed once due
    settled: tuple[str, ...]  # statuses never claimed

    def item(self, make, **fields):
        return make.event(**fields) if self.name == "inbox" else make.command(**fields)

    def of(self, uow):
        return getattr(uow, self.name)


QUEUES = [
    Queue("inbox", ("received", "failed"), ("processed", "skipped", "dead")),
    Queue("outbox", ("pending", "failed"), ("done", "dead")),
]


@pytest.fixture(params=QUEUES, ids=lambda queue: queue.name)
def queue(request):
    return request.param


def _add(uow_factory, queue, items):
    with uow_factory() as uow:
        for item in items:
            assert queue.of(uow).add(item) is True
        uow.commit()


def _claim(uow_factory, queue, now, *, limit=10, lease_seconds=60, worker_id="worker-1"):
    with uow_factory() as uow:
        claimed = queue.of(uow).claim_due(
            now, limit=limit, lease_seconds=lease_seconds, worker_id=worker_id
        )
        uow.commit()
    return claimed


def test_the_claimable_statuses_are_the_models(queue):
    claimable = INBOX_CLAIMABLE if queue.name == "inbox" else OUTBOX_CLAIMABLE
    assert set(queue.claimable) == claimable


def test_only_items_that_are_due_are_claimed(uow_factory, make, queue):
    overdue = queue.item(make, next_attempt_at=make.at(-1))
    due_now = queue.item(make, next_attempt_at=make.at(0))
    later = queue.item(make, next_attempt_at=make.at(1))
    _add(uow_factory, queue, [later, due_now, overdue])

    claimed = _claim(uow_factory, queue, make.at(0))

    assert [item.id for item in claimed] == [overdue.id, due_now.id]


def test_a_claim_takes_at_most_limit_items_earliest_due_first(uow_factory, make, queue):
    items = [queue.item(make, next_attempt_at=make.at(-m)) for m in (3, 9, 1, 7, 5)]
    _add(uow_factory, queue, items)

    claimed = _claim(uow_factory, queue, make.at(0), limit=3)

    assert [item.next_attempt_at for item in claimed] == [make.at(-9), make.at(-7), make.at(-5)]


def test_a_claim_marks_items_processing_under_the_lease_and_counts_the_attempt(
    uow_factory, make, queue
):
    item = queue.item(make, attempts=2, status=queue.claimable[-1])
    _add(uow_factory, queue, [item])
    now = make.at(10)

    (claimed,) = _claim(uow_factory, queue, now, lease_seconds=90, worker_id="worker-7")

    expected = attrs.evolve(
        item,
        status="processing",
        attempts=3,
        locked_by="worker-7",
        locked_until=now + timedelta(seconds=90),
    )
    assert claimed == expected
    with uow_factory() as uow:
        assert queue.of(uow).get(item.id) == expected


def test_a_claimed_item_is_not_claimed_again_while_its_lease_runs(uow_factory, make, queue):
    _add(uow_factory, queue, [queue.item(make)])
    assert len(_claim(uow_factory, queue, make.at(0), lease_seconds=60)) == 1

    assert _claim(uow_factory, queue, make.at(0.5), worker_id="worker-2") == []


def test_an_item_whose_worker_died_is_claimable_again_once_its_lease_expired(
    uow_factory, make, queue
):
    item = queue.item(make)
    _add(uow_factory, queue, [item])
    _claim(uow_factory, queue, make.at(0), lease_seconds=60, worker_id="worker-1")
    assert _claim(uow_factory, queue, make.at(0) + timedelta(seconds=59)) == []

    later = make.at(0) + timedelta(seconds=61)
    (again,) = _claim(uow_factory, queue, later, lease_seconds=60, worker_id="worker-2")

    assert (again.id, again.status, again.attempts) == (item.id, "processing", 2)
    assert (again.locked_by, again.locked_until) == ("worker-2", later + timedelta(seconds=60))


def test_every_claimable_status_is_claimed_and_settled_items_never_are(uow_factory, make, queue):
    claimable = [queue.item(make, status=status) for status in queue.claimable]
    settled = [queue.item(make, status=status) for status in queue.settled]
    _add(uow_factory, queue, [*settled, *claimable])

    claimed = _claim(uow_factory, queue, make.at(60), limit=100)

    assert {item.id for item in claimed} == {item.id for item in claimable}


def test_a_processing_item_without_a_lease_is_not_claimed(uow_factory, make, queue):
    _add(uow_factory, queue, [queue.item(make, status="processing", locked_until=None)])

    assert _claim(uow_factory, queue, make.at(60)) == []


def test_a_claim_not_committed_leaves_the_items_claimable(uow_factory, make, queue):
    item = queue.item(make)
    _add(uow_factory, queue, [item])
    with uow_factory() as uow:
        assert (
            len(queue.of(uow).claim_due(make.at(0), limit=5, lease_seconds=60, worker_id="w")) == 1
        )

    with uow_factory() as uow:
        assert queue.of(uow).get(item.id) == item


def test_an_empty_queue_or_a_zero_limit_claims_nothing(uow_factory, make, queue):
    assert _claim(uow_factory, queue, make.at(0)) == []
    _add(uow_factory, queue, [queue.item(make)])

    assert _claim(uow_factory, queue, make.at(0), limit=0) == []
    assert len(_claim(uow_factory, queue, make.at(0), limit=1)) == 1


def _backlog(uow_factory, queue):
    with uow_factory() as uow:
        return queue.of(uow).backlog()


def test_an_empty_queue_has_no_backlog(uow_factory, queue):
    backlog = _backlog(uow_factory, queue)

    assert (backlog.depth, backlog.dead, backlog.oldest_at) == (0, 0, None)


def test_the_backlog_counts_unfinished_items_by_state_and_dates_the_oldest_arrival(
    uow_factory, make, queue
):
    arrival = "received_at" if queue.name == "inbox" else "created_at"
    waiting, retrying = queue.claimable
    items = [
        queue.item(make, status=waiting, **{arrival: make.at(-5)}),
        queue.item(make, status=waiting, **{arrival: make.at(-1)}),
        queue.item(make, status=retrying, **{arrival: make.at(-7)}),
        queue.item(make, status="processing", **{arrival: make.at(-3)}),
        # given up on: counted, but older than everything and still not "the oldest"
        queue.item(make, status="dead", **{arrival: make.at(-60)}),
        queue.item(make, status="dead", **{arrival: make.at(-50)}),
        # finished: not counted at all, however old
        *(
            queue.item(make, status=s, **{arrival: make.at(-90)})
            for s in queue.settled
            if s != "dead"
        ),
    ]
    _add(uow_factory, queue, items)

    backlog = _backlog(uow_factory, queue)

    assert (backlog.waiting, backlog.retrying, backlog.processing, backlog.dead) == (2, 1, 1, 2)
    assert backlog.depth == 4
    assert backlog.oldest_at == make.at(-7)
