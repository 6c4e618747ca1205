"""Contract of the ``RateLimiter`` port: ``MemoryRateLimiter``, and ``LimitsRateLimiter`` over
``memory://`` and ``redis://`` storage.

Time is the storage's clock (``time.time``, which ``limits`` and ``MemoryRateLimiter`` read for
their moving window), driven by a ``ManualClock``: windows are a minute long and nothing sleeps.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.ratelimit import (
    UNAVAILABLE,
    FailOpenRateLimiter,
    FallbackRateLimiter,
    LimitsRateLimiter,
    MemoryRateLimiter,
)
from adapters.system import ManualClock
from core.errors import InvalidInput, StorelinkError
from core.ports import Rate, RateLimitDecision, RateLimiter

MakeLimiter = Callable[[], RateLimiter]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    """The clock ``limits`` and the adapter read, frozen at a whole second and moved by hand."""
    manual = ManualClock(start=datetime.fromtimestamp(math.floor(time.time()), UTC))
    monkeypatch.setattr(time, "time", manual.timestamp)
    return manual


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.memory),
        pytest.param("limits-memory", marks=pytest.mark.memory),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def make_limiter(request: pytest.FixtureRequest, clock: ManualClock) -> MakeLimiter:
    """Builds limiters of one deployment: for Redis they share storage, under a fresh prefix."""
    if request.param == "memory":
        return MemoryRateLimiter
    if request.param == "limits-memory":
        return lambda: LimitsRateLimiter("memory://")
    url: str = request.getfixturevalue("redis_url")
    prefix = f"test-{uuid.uuid4().hex}"
    return lambda: LimitsRateLimiter(url, prefix=prefix)


@pytest.fixture
def limiter(make_limiter: MakeLimiter) -> RateLimiter:
    return make_limiter()


def unreachable_redis_url() -> str:
    """A local port that was free a moment ago: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


# --- budgets ------------------------------------------------------------------------------------


def test_a_key_gets_its_amount_and_then_is_refused(limiter: RateLimiter) -> None:
    rate = Rate(3, 60)
    decisions = [limiter.acquire("k", rate) for _ in range(4)]
    assert [(d.allowed, d.remaining) for d in decisions] == [
        (True, 2),
        (True, 1),
        (True, 0),
        (False, 0),
    ]
    assert [d.retry_after for d in decisions[:3]] == [0.0, 0.0, 0.0]


def test_a_refusal_says_when_the_oldest_unit_frees_up(
    limiter: RateLimiter, clock: ManualClock
) -> None:
    rate = Rate(2, 60)
    limiter.acquire("k", rate)
    clock.advance(15)
    limiter.acquire("k", rate)
    clock.advance(10)

    refused = limiter.acquire("k", rate)

    assert not refused.allowed
    assert refused.retry_after == pytest.approx(35, abs=0.01)


def test_waiting_retry_after_is_enough_for_a_single_unit(
    limiter: RateLimiter, clock: ManualClock
) -> None:
    rate = Rate(3, 60)
    for _ in range(3):
        clock.advance(20)
        limiter.acquire("k", rate)
    refused = limiter.acquire("k", rate)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(20, abs=0.01)

    clock.advance(refused.retry_after + 0.001)

    assert limiter.acquire("k", rate).allowed
    again = limiter.acquire("k", rate)
    assert not again.allowed
    assert again.retry_after == pytest.approx(20, abs=0.01)


def test_the_window_moves_rather_than_resetting_at_a_boundary(
    limiter: RateLimiter, clock: ManualClock
) -> None:
    rate = Rate(4, 60)
    clock.advance(50)
    for _ in range(4):
        limiter.acquire("k", rate)
    clock.advance(15)  # a fixed minute window would have started afresh here
    assert not limiter.acquire("k", rate).allowed
    clock.advance(45.001)
    assert limiter.acquire("k", rate, cost=4).allowed


def test_a_cost_above_one_takes_that_many_units(limiter: RateLimiter) -> None:
    rate = Rate(5, 60)
    first = limiter.acquire("k", rate, cost=3)
    refused = limiter.acquire("k", rate, cost=3)
    rest = limiter.acquire("k", rate, cost=2)

    assert (first.allowed, first.remaining) == (True, 2)
    assert (refused.allowed, refused.remaining) == (False, 2)  # a refusal spends nothing
    assert (rest.allowed, rest.remaining) == (True, 0)


def test_a_refused_cost_comes_back_within_one_window_of_retries(
    limiter: RateLimiter, clock: ManualClock
) -> None:
    rate = Rate(6, 60)
    for _ in range(3):
        limiter.acquire("k", rate, cost=2)
        clock.advance(10)
    waited = 0.0
    decision = limiter.acquire("k", rate, cost=4)
    while not decision.allowed:
        assert 0 < decision.retry_after <= 60
        clock.advance(decision.retry_after + 0.001)
        waited += decision.retry_after + 0.001
        decision = limiter.acquire("k", rate, cost=4)
    # Four units need the two oldest pairs gone: they were taken 30 and 20 seconds ago.
    assert waited == pytest.approx(40, abs=0.01)


@pytest.mark.parametrize("cost", [1, 3])
def test_retry_after_is_positive_and_within_the_window_when_refused(
    limiter: RateLimiter, clock: ManualClock, cost: int
) -> None:
    rate = Rate(3, 2)
    limiter.acquire("k", rate, cost=3)
    clock.advance(1.5)
    refused = limiter.acquire("k", rate, cost=cost)
    assert not refused.allowed
    assert 0 < refused.retry_after <= 2
    assert refused.retry_after == pytest.approx(0.5, abs=0.01)


def test_peek_takes_nothing(limiter: RateLimiter) -> None:
    rate = Rate(2, 60)
    for _ in range(5):
        decision = limiter.peek("k", rate)
        assert (decision.allowed, decision.remaining, decision.retry_after) == (True, 2, 0.0)
    assert limiter.acquire("k", rate, cost=2).allowed


def test_peek_says_whether_a_cost_would_fit(limiter: RateLimiter, clock: ManualClock) -> None:
    rate = Rate(4, 60)
    limiter.acquire("k", rate, cost=3)
    clock.advance(12)

    assert limiter.peek("k", rate, cost=1).allowed
    too_much = limiter.peek("k", rate, cost=2)

    assert (too_much.allowed, too_much.remaining) == (False, 1)
    assert too_much.retry_after == pytest.approx(48, abs=0.01)
    assert limiter.acquire("k", rate, cost=1).allowed  # peeking spent nothing


def test_reset_gives_the_whole_budget_back(limiter: RateLimiter) -> None:
    rate = Rate(2, 60)
    limiter.acquire("k", rate, cost=2)
    assert not limiter.peek("k", rate).allowed

    limiter.reset("k", rate)

    assert limiter.peek("k", rate).remaining == 2
    assert limiter.acquire("k", rate, cost=2).allowed


def test_separate_keys_have_separate_budgets(limiter: RateLimiter) -> None:
    rate = Rate(1, 60)
    assert limiter.acquire("webhooks:integration-1", rate).allowed
    assert not limiter.acquire("webhooks:integration-1", rate).allowed
    assert limiter.acquire("webhooks:integration-2", rate).allowed
    limiter.reset("webhooks:integration-2", rate)
    assert not limiter.acquire("webhooks:integration-1", rate).allowed


@pytest.mark.parametrize(
    ("rate", "cost"),
    [(Rate(3, 60), 0), (Rate(3, 60), -1), (Rate(3, 60), 4), (Rate(0, 60), 1), (Rate(3, 0), 1)],
    ids=["zero-cost", "negative-cost", "cost-above-amount", "zero-amount", "zero-period"],
)
def test_a_cost_or_rate_that_can_never_be_met_is_invalid_input(
    limiter: RateLimiter, rate: Rate, cost: int
) -> None:
    with pytest.raises(InvalidInput):
        limiter.acquire("k", rate, cost)
    with pytest.raises(InvalidInput):
        limiter.peek("k", rate, cost)


@settings(
    max_examples=25,
    deadline=None,
    # Each example uses its own key on the shared limiter and clock.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=st.lists(st.tuples(st.integers(0, 30), st.integers(1, 5)), max_size=15))
def test_no_window_ever_holds_more_than_the_amount_and_room_is_never_refused(
    limiter: RateLimiter, clock: ManualClock, steps: list[tuple[int, int]]
) -> None:
    rate = Rate(5, 20)
    key = uuid.uuid4().hex
    granted: list[tuple[float, int]] = []
    for advance, cost in steps:
        now = clock.advance(advance).timestamp()
        decision = limiter.acquire(key, rate, cost)
        # Units granted exactly one period ago may count or not: both answers are right.
        strictly_inside = sum(c for t, c in granted if t > now - rate.per_seconds)
        inside_or_at_edge = sum(c for t, c in granted if t >= now - rate.per_seconds)
        if decision.allowed:
            assert strictly_inside + cost <= rate.amount
            granted.append((now, cost))
        else:
            assert inside_or_at_edge + cost > rate.amount
            assert 0 < decision.retry_after <= rate.per_seconds


# --- sharing ------------------------------------------------------------------------------------


@pytest.mark.redis
def test_two_limiters_on_one_redis_share_the_budget(redis_url: str, clock: ManualClock) -> None:
    prefix = f"test-{uuid.uuid4().hex}"
    web = LimitsRateLimiter(redis_url, prefix=prefix)
    worker = LimitsRateLimiter(redis_url, prefix=prefix)
    rate = Rate(3, 60)

    assert web.acquire("shop-api", rate, cost=2).allowed
    assert worker.peek("shop-api", rate).remaining == 1
    assert worker.acquire("shop-api", rate).allowed
    assert not web.acquire("shop-api", rate).allowed
    worker.reset("shop-api", rate)
    assert web.acquire("shop-api", rate, cost=3).allowed


@pytest.mark.redis
def test_deployments_with_different_prefixes_do_not_share_a_budget(
    redis_url: str, clock: ManualClock
) -> None:
    one = LimitsRateLimiter(redis_url, prefix=f"test-{uuid.uuid4().hex}")
    other = LimitsRateLimiter(redis_url, prefix=f"test-{uuid.uuid4().hex}")
    rate = Rate(1, 60)
    assert one.acquire("k", rate).allowed
    assert other.acquire("k", rate).allowed


@pytest.mark.redis
def test_an_acquire_on_redis_is_one_round_trip_that_limits_reads_alike(
    redis_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redis

    commands: list[object] = []
    execute = redis.Redis.execute_command

    def counted(self: redis.Redis, *args: object, **options: object) -> object:
        commands.append(args[0])
        return execute(self, *args, **options)

    prefix = f"test-{uuid.uuid4().hex}"
    limiter = LimitsRateLimiter(redis_url, prefix=prefix)
    rate = Rate(3, 60)
    limiter.peek("k", rate)  # loads limits' own scripts first
    monkeypatch.setattr(redis.Redis, "execute_command", counted)

    first = limiter.acquire("k", rate, cost=2)
    clock.advance(10)
    second = limiter.acquire("k", rate)
    refused = limiter.acquire("k", rate)

    assert len(commands) == 3  # one script each, found by its hash after the first
    assert (first.allowed, first.remaining) == (True, 1)
    assert (second.allowed, second.remaining) == (True, 0)
    assert (refused.allowed, refused.remaining) == (False, 0)
    assert refused.retry_after == pytest.approx(50, abs=0.01)
    # limits' own scripts, from another limiter of the deployment, see the same window
    other = LimitsRateLimiter(redis_url, prefix=prefix)
    assert other.peek("k", rate).remaining == 0
    clock.advance(50.001)
    assert other.peek("k", rate, cost=2).allowed


@pytest.mark.memory
def test_memory_limiters_keep_a_budget_per_process(clock: ManualClock) -> None:
    one, other = LimitsRateLimiter("memory://"), LimitsRateLimiter("memory://")
    rate = Rate(1, 60)
    assert one.acquire("k", rate).allowed
    assert other.acquire("k", rate).allowed
    assert not one.acquire("k", rate).allowed
    own, another = MemoryRateLimiter(), MemoryRateLimiter()
    assert own.acquire("k", rate).allowed
    assert another.acquire("k", rate).allowed
    assert not own.acquire("k", rate).allowed


@pytest.mark.memory
def test_another_rate_on_the_same_key_is_another_budget_as_in_limits(clock: ManualClock) -> None:
    for limiter in (MemoryRateLimiter(), LimitsRateLimiter("memory://")):
        assert limiter.acquire("k", Rate(1, 60)).allowed
        assert limiter.acquire("k", Rate(2, 60)).allowed
        assert not limiter.acquire("k", Rate(1, 60)).allowed
        limiter.reset("k", Rate(1, 60))
        assert limiter.acquire("k", Rate(1, 60)).allowed
        assert limiter.peek("k", Rate(2, 60)).remaining == 1


@pytest.mark.memory
def test_the_memory_limiter_starts_no_thread_and_forgets_quiet_keys(clock: ManualClock) -> None:
    limiter = MemoryRateLimiter()
    threads = threading.active_count()
    for n in range(1000):
        limiter.acquire(f"store-{n}", Rate(5, 60))
    assert threading.active_count() == threads
    clock.advance(120)
    limiter.acquire("now", Rate(5, 60))  # the first call after a minute sweeps
    assert limiter.peek("store-1", Rate(5, 60)).remaining == 5
    assert len(limiter._windows) == 1  # what it holds: the keys of the last minute only


# --- storage failures ---------------------------------------------------------------------------


def test_an_unreachable_redis_raises_rate_limiter_unavailable() -> None:
    limiter = LimitsRateLimiter(unreachable_redis_url(), timeout=0.5)
    rate = Rate(1, 60)
    for operation in (
        lambda: limiter.acquire("k", rate),
        lambda: limiter.peek("k", rate),
        lambda: limiter.reset("k", rate),
    ):
        with pytest.raises(StorelinkError) as raised:
            operation()
        assert raised.value.code == UNAVAILABLE == "rate_limiter_unavailable"
        assert "127.0.0.1" not in str(raised.value)
    assert limiter.check() is False


@pytest.mark.redis
def test_a_reachable_redis_passes_the_health_check(redis_url: str) -> None:
    assert LimitsRateLimiter(redis_url, prefix=f"test-{uuid.uuid4().hex}").check() is True


def test_failing_open_allows_while_redis_is_unreachable(caplog: pytest.LogCaptureFixture) -> None:
    limiter = FailOpenRateLimiter(LimitsRateLimiter(unreachable_redis_url(), timeout=0.5))
    rate = Rate(1, 60)
    with caplog.at_level(logging.WARNING, logger="adapters.ratelimit"):
        decisions = [limiter.acquire("webhooks:1", rate) for _ in range(3)]
        peeked = limiter.peek("webhooks:1", rate)
        limiter.reset("webhooks:1", rate)

    assert [d.allowed for d in decisions] == [True, True, True]
    assert peeked.allowed
    warnings = [r.getMessage() for r in caplog.records if r.name == "adapters.ratelimit"]
    assert len(warnings) == 5
    assert all("fail open" in warning for warning in warnings)
    assert all("'webhooks:1'" in warning for warning in warnings)


def test_failing_open_still_enforces_the_budget_while_storage_works(clock: ManualClock) -> None:
    limiter = FailOpenRateLimiter(LimitsRateLimiter("memory://"))
    rate = Rate(1, 60)
    assert limiter.acquire("k", rate).allowed
    assert not limiter.acquire("k", rate).allowed


def test_failing_open_does_not_hide_an_invalid_cost() -> None:
    limiter = FailOpenRateLimiter(LimitsRateLimiter(unreachable_redis_url()))
    with pytest.raises(InvalidInput):
        limiter.acquire("k", Rate(1, 60), cost=2)


# --- falling back to per-process budgets -------------------------------------------------------


class SwitchableStorage:
    """A ``RateLimiter`` whose storage can be taken down and brought back; counts its calls."""

    def __init__(self) -> None:
        self.up = True
        self.calls = 0
        self._limiter = LimitsRateLimiter("memory://")

    def _reach(self) -> None:
        self.calls += 1
        if not self.up:
            raise StorelinkError(
                "rate limiter storage unavailable (ConnectionError)", code=UNAVAILABLE
            )

    def acquire(self, key: str, rate: Rate, cost: int = 1) -> RateLimitDecision:
        self._reach()
        return self._limiter.acquire(key, rate, cost)

    def peek(self, key: str, rate: Rate, cost: int = 1) -> RateLimitDecision:
        self._reach()
        return self._limiter.peek(key, rate, cost)

    def reset(self, key: str, rate: Rate) -> None:
        self._reach()
        self._limiter.reset(key, rate)


class Ticks:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "adapters.ratelimit" and r.levelno == level
    ]


def test_the_fallback_keeps_limiting_in_memory_while_redis_is_unreachable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = FallbackRateLimiter(LimitsRateLimiter(unreachable_redis_url(), timeout=0.5))
    rate = Rate(3, 60)
    with caplog.at_level(logging.INFO, logger="adapters.ratelimit"):
        decisions = [limiter.acquire("login:1.2.3.4", rate) for _ in range(4)]
        peeked = limiter.peek("login:1.2.3.4", rate)
        limiter.reset("login:1.2.3.4", rate)
        after_reset = limiter.acquire("login:1.2.3.4", rate)
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[-1].retry_after > 0
    assert not peeked.allowed
    assert after_reset.allowed
    assert limiter.in_outage
    (warning,) = _messages(caplog, logging.WARNING)  # once per outage, not per call
    assert "per-process limits" in warning
    assert "1.2.3.4" not in warning  # keys (addresses, accounts) are not logged


def test_redis_is_asked_again_only_after_the_back_off() -> None:
    storage, ticks = SwitchableStorage(), Ticks()
    limiter = FallbackRateLimiter(storage, backoff=5.0, monotonic=ticks)
    rate = Rate(100, 60)
    storage.up = False
    limiter.acquire("k", rate)
    assert storage.calls == 1
    for _ in range(10):
        limiter.acquire("k", rate)
    ticks.now += 4.9
    limiter.acquire("k", rate)
    assert storage.calls == 1  # the outage costs one attempt per back-off, not one per call
    ticks.now += 0.2
    limiter.acquire("k", rate)
    assert storage.calls == 2
    limiter.acquire("k", rate)
    assert storage.calls == 2


def test_when_redis_answers_again_the_shared_budget_applies_and_that_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage, ticks = SwitchableStorage(), Ticks()
    limiter = FallbackRateLimiter(storage, backoff=5.0, monotonic=ticks)
    rate = Rate(2, 60)
    assert limiter.acquire("k", rate).allowed  # the shared budget: one of two spent
    with caplog.at_level(logging.INFO, logger="adapters.ratelimit"):
        storage.up = False
        assert limiter.acquire("k", rate).allowed  # fallback: a fresh budget of its own
        storage.up = True
        ticks.now += 5.0
        assert limiter.acquire("k", rate).allowed  # shared again: its second unit
        assert not limiter.acquire("k", rate).allowed
        storage.up = False
        ticks.now += 60
        limiter.acquire("k", rate)  # a second outage is announced again
    assert limiter.in_outage
    assert len(_messages(caplog, logging.WARNING)) == 2
    assert len([m for m in _messages(caplog, logging.INFO) if "reachable again" in m]) == 1


def test_the_fallback_does_not_hide_an_invalid_cost() -> None:
    limiter = FallbackRateLimiter(LimitsRateLimiter(unreachable_redis_url()))
    with pytest.raises(InvalidInput):
        limiter.acquire("k", Rate(1, 60), cost=2)


# --- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "memcached://user:hunter2@cache:11211",
        "mongodb://user:hunter2@db:27017",
        "user:hunter2@redis",
        "async+redis://user:hunter2@redis:6379",
    ],
)
def test_an_unsupported_storage_is_refused_without_echoing_the_uri(uri: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        LimitsRateLimiter(uri)
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize("prefix", ["", "has space", "glob*", "x" * 65])
def test_a_prefix_must_be_a_plain_name(prefix: str) -> None:
    with pytest.raises(InvalidInput, match="prefix"):
        LimitsRateLimiter("memory://", prefix=prefix)
