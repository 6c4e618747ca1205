"""Shared rate limits: the ``RateLimiter`` port on the ``limits`` library.

Storage is named by a URI: ``memory://`` (one process) or ``redis://...`` (``rediss://``,
``redis+unix://``), where every process of a deployment shares one budget per key. Keys are
namespaced by ``prefix``, so several deployments (or test runs) can share one Redis.

The strategy is ``limits``' moving window: a key may spend ``rate.amount`` units in any
``rate.per_seconds`` seconds, with no burst at a window boundary. It keeps one timestamp per
unit spent, which is cheap for the budgets storelink uses (tens to a few thousand units). On
Redis an ``acquire`` is one script, one round trip: ``limits``' acquire and then its window
count, on the same keys (``limits`` itself takes two scripts for the two).

``MemoryRateLimiter`` is the same moving window in this process's memory, for a deployment of
one process without Redis (and for the fallback below). ``limits``' own ``memory://`` storage
(``LimitsRateLimiter("memory://")``) gives the same answers, but starts a thread every 10 ms
while anything is counted, to expire old units; this one drops them when a key is next used
and sweeps keys gone quiet once a minute, in the calls themselves.

When the storage fails (Redis down, timing out), every method raises
``StorelinkError(code="rate_limiter_unavailable")``; ``LimitsRateLimiter`` never guesses.
How to degrade is the caller's decision, made once in the composition root:

* ``FallbackRateLimiter`` answers from a per-process budget (in memory) while Redis is
  unreachable, and asks Redis again after a short back-off. Logins, API-token failures, OAuth
  starts and webhook signature failures stay limited during an outage (per process rather
  than per deployment), and the API does not go down with Redis.
* ``FailOpenRateLimiter`` allows everything while its storage is unavailable: for budgets
  whose refusal costs more than a flood, such as webhook deliveries (refusing a Shopify
  delivery risks losing it) and the store API budget (the store's own throttling still backs
  it up). Over a ``FallbackRateLimiter`` it never needs to.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final, TypeVar

from attrs import define, field, frozen
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import ConfigurationError, StorageError
from limits.storage import RedisStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from limits.util import WindowStats
from redis.commands.core import Script

from core.errors import InvalidInput, StorelinkError
from core.ports import Rate, RateLimitDecision, RateLimiter

__all__ = [
    "UNAVAILABLE",
    "FailOpenRateLimiter",
    "FallbackRateLimiter",
    "LimitsRateLimiter",
    "MemoryRateLimiter",
]

UNAVAILABLE: Final = "rate_limiter_unavailable"
"""The ``code`` of the ``StorelinkError`` raised when the storage cannot be reached."""

_REDIS_SCHEMES = frozenset({"redis", "rediss", "redis+unix"})
_PREFIX = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_MIN_RETRY_AFTER = 0.01
_SWEEP_EVERY = 60.0  # seconds between a MemoryRateLimiter's sweeps of keys gone quiet

T = TypeVar("T")

log = logging.getLogger(__name__)


def _storage(uri: str, prefix: str, timeout: float) -> Storage:
    scheme = urllib.parse.urlsplit(uri).scheme
    try:
        if scheme == "memory":
            storage = storage_from_string(uri, wrap_exceptions=True)
        elif scheme in _REDIS_SCHEMES:
            storage = storage_from_string(
                uri,
                wrap_exceptions=True,
                key_prefix=prefix,
                socket_connect_timeout=timeout,
                socket_timeout=timeout,
            )
        else:
            # Only the scheme is echoed: the rest of a URI may hold a password.
            raise InvalidInput(
                f"rate limiter storage must be memory:// or redis://..., not {scheme or '?'}://"
            )
    except (ConfigurationError, ValueError) as exc:
        raise InvalidInput(f"rate limiter storage URI ({scheme}://...) is malformed") from exc
    if not isinstance(storage, Storage):  # an async storage: not what a sync caller can use
        raise InvalidInput(f"rate limiter storage {scheme}:// is not a synchronous storage")
    return storage


def _validate(rate: Rate, cost: int) -> None:
    if rate.amount < 1 or rate.per_seconds < 1:
        raise InvalidInput(f"rate limit {rate} needs an amount and a period of at least 1")
    if not 1 <= cost <= rate.amount:
        raise InvalidInput(f"a cost of {cost} can never fit a rate limit of {rate}")


def _item(rate: Rate, cost: int) -> RateLimitItem:
    _validate(rate, cost)
    return RateLimitItemPerSecond(rate.amount, rate.per_seconds)


# limits' acquire_moving_window.lua, then its moving_window.lua on the same key at the same
# timestamp: {1 if acquired else 0, the oldest timestamp in the window or nil, how many there}
_ACQUIRE_AND_COUNT = """
local timestamp = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local expiry = tonumber(ARGV[3])
local amount = tonumber(ARGV[4])
local acquired = 0
if amount <= limit then
    local entry = redis.call('lindex', KEYS[1], limit - amount)
    if not (entry and tonumber(entry) >= timestamp - expiry) then
        local entries = {}
        for i = 1, amount do
            entries[i] = timestamp
        end
        for i = 1, #entries, 5000 do
            redis.call('lpush', KEYS[1], unpack(entries, i, math.min(i + 4999, #entries)))
        end
        redis.call('ltrim', KEYS[1], 0, limit - 1)
        redis.call('expire', KEYS[1], expiry)
        acquired = 1
    end
end
local target = timestamp - expiry
local low, high, found = 0, limit - 1, nil
while low <= high do
    local mid = math.floor((low + high) / 2)
    local value = tonumber(redis.call('lindex', KEYS[1], mid))
    if value and value >= target then
        found = mid
        low = mid + 1
    else
        high = mid - 1
    end
end
if found then
    return {acquired, redis.call('lindex', KEYS[1], found), found + 1}
end
return {acquired, false, 0}
"""


@contextmanager
def _translated(operation: str) -> Iterator[None]:
    try:
        yield
    except StorageError as exc:
        reason = type(exc.storage_error).__name__
        raise StorelinkError(
            f"rate limiter storage unavailable during {operation} ({reason})", code=UNAVAILABLE
        ) from exc


@define
class LimitsRateLimiter:
    """``RateLimiter`` on ``limits``' moving window, over ``memory://`` or ``redis://`` storage.

    ``retry_after`` is the time until the oldest unit in the window frees up. For ``cost`` 1
    that is exactly when the call would succeed; for a larger cost it is the earliest moment
    it could, and a caller asking again then gets a fresh answer. ``timeout`` bounds each Redis
    connect and call, so an unreachable Redis costs at most about that long per call.
    """

    uri: str = "memory://"
    prefix: str = field(default="storelink", kw_only=True)
    timeout: float = field(default=1.0, kw_only=True)
    _strategy: MovingWindowRateLimiter = field(init=False, repr=False)
    _on_redis: tuple[RedisStorage, Script] | None = field(init=False, repr=False, default=None)

    def __attrs_post_init__(self) -> None:
        if not _PREFIX.fullmatch(self.prefix):
            raise InvalidInput("rate limiter prefix must be 1-64 letters, digits or '_.:-'")
        storage = _storage(self.uri, self.prefix, self.timeout)
        self._strategy = MovingWindowRateLimiter(storage)
        if isinstance(storage, RedisStorage):
            script = storage.get_connection().register_script(_ACQUIRE_AND_COUNT.encode())
            self._on_redis = (storage, script)

    def acquire(self, key: str, rate: Rate, cost: int = 1) -> RateLimitDecision:
        item = _item(rate, cost)
        if self._on_redis is not None:
            return self._acquire_on_redis(item, key, rate, cost)
        with _translated("acquire"):
            allowed = self._strategy.hit(item, key, cost=cost)
            stats = self._strategy.get_window_stats(item, key)
        return _decision(allowed, stats, rate)

    def _acquire_on_redis(
        self, item: RateLimitItem, key: str, rate: Rate, cost: int
    ) -> RateLimitDecision:
        """``hit`` and ``get_window_stats`` of the moving window in one round trip."""
        if self._on_redis is None:
            raise RuntimeError("not on Redis")
        storage, script = self._on_redis
        now = time.time()
        expiry = item.get_expiry()
        try:
            acquired, oldest, count = script(
                [storage.prefixed_key(item.key_for(key))], [now, item.amount, expiry, cost]
            )
        except storage.base_exceptions as exc:
            raise StorelinkError(
                f"rate limiter storage unavailable during acquire ({type(exc).__name__})",
                code=UNAVAILABLE,
            ) from exc
        start = now if oldest is None else float(oldest)
        stats = WindowStats(start + expiry, item.amount - int(count))
        return _decision(bool(acquired), stats, rate)

    def peek(self, key: str, rate: Rate, cost: int = 1) -> RateLimitDecision:
        item = _item(rate, cost)
        with _translated("peek"):
            allowed = self._strategy.test(item, key, cost=cost)
            stats = self._strategy.get_window_stats(item, key)
        return _decision(allowed, stats, rate)

    def reset(self, key: str, rate: Rate) -> None:
        item = _item(rate, 1)
        with _translated("reset"):
            self._strategy.clear(item, key)

    def check(self) -> bool:
        """Is the storage reachable? (For health checks; never raises.)"""
        return bool(self._strategy.storage.check())


@define
class MemoryRateLimiter:
    """``RateLimiter`` in this process's memory: ``limits``' moving window (the same answers as
    ``LimitsRateLimiter("memory://")``), with no thread of its own.

    Each key (and rate: as in ``limits``, another rate on the same key is another budget) holds
    the times of the units spent in its window, oldest first, at most ``rate.amount`` of them.
    Units older than the window are dropped when the key is next used, and keys whose window
    has emptied are swept once a minute by whichever call comes then. Safe to share between
    threads.
    """

    _windows: dict[tuple[str, int, int], deque[float]] = field(init=False, factory=dict)
    _lock: threading.Lock = field(init=False, factory=threading.Lock, repr=False)
    _sweep_at: float = field(init=False, default=0.0, repr=False)

    def acquire(self, key: str, rate: Rate, cost: int = 1) -> RateLimitDecision:
        return self._spend(key, rate, cost, take=True)

    def peek(self, key: str, rate: Rate, cost: int = 1) -> RateLimitDecision:
        return self._spend(key, rate, cost, take=False)

    def reset(self, key: str, rate: Rate) -> None:
        _validate(rate, 1)
        with self._lock:
            self._windows.pop((key, rate.amount, rate.per_seconds), None)

    def check(self) -> bool:
        """Memory is always reachable."""
        return True

    def _spend(self, key: str, rate: Rate, cost: int, *, take: bool) -> RateLimitDecision:
        _validate(rate, cost)
        now = time.time()
        start = now - rate.per_seconds  # a unit spent at the start still counts, as in limits
        with self._lock:
            if now >= self._sweep_at:
                self._sweep(now)
            window = self._windows.get((key, rate.amount, rate.per_seconds))
            if window is None:
                window = deque()
                if take:
                    self._windows[key, rate.amount, rate.per_seconds] = window
            while window and window[0] < start:
                window.popleft()
            allowed = len(window) + cost <= rate.amount
            if allowed and take:
                window.extend([now] * cost)
            oldest = window[0] if window else now
            stats = WindowStats(oldest + rate.per_seconds, rate.amount - len(window))
        return _decision(allowed, stats, rate)

    def _sweep(self, now: float) -> None:
        """Drop the keys whose every unit has left its window (the lock is held)."""
        self._sweep_at = now + _SWEEP_EVERY
        quiet = [
            held
            for held, window in self._windows.items()
            if not window or window[-1] < now - held[2]
        ]
        for held in quiet:
            del self._windows[held]


def _decision(allowed: bool, stats: WindowStats, rate: Rate) -> RateLimitDecision:
    remaining = max(0, stats.remaining)
    if allowed:
        return RateLimitDecision(allowed=True, remaining=remaining, retry_after=0.0)
    # Bounded by one window (every unit spent now has left by then, even if another
    # process's clock ran ahead) and kept positive (a refusal always says "later").
    wait = min(max(stats.reset_time - time.time(), _MIN_RETRY_AFTER), float(rate.per_seconds))
    return RateLimitDecision(allowed=False, remaining=remaining, retry_after=wait)


@frozen
class FailOpenRateLimiter:
    """Wraps a ``RateLimiter``: while its storage is unavailable, everything is allowed.

    An allowed-because-unavailable decision has ``remaining`` 0 (nothing is known about the
    budget); a ``reset`` that cannot reach the storage is skipped. Each such fallback is logged
    as a warning naming the key, not the cause's details. Other errors (a bad rate or cost)
    still raise.
    """

    limiter: RateLimiter

    def acquire(self, key: str, rate: Rate, cost: int = 1) -> RateLimitDecision:
        try:
            return self.limiter.acquire(key, rate, cost)
        except StorelinkError as exc:
            return self._allowed(exc, key)

    def peek(self, key: str, rate: Rate, cost: int = 1) -> RateLimitDecision:
        try:
            return self.limiter.peek(key, rate, cost)
        except StorelinkError as exc:
            return self._allowed(exc, key)

    def reset(self, key: str, rate: Rate) -> None:
        try:
            self.limiter.reset(key, rate)
        except StorelinkError as exc:
            self._allowed(exc, key)

    @staticmethod
    def _allowed(exc: StorelinkError, key: str) -> RateLimitDecision:
        if exc.code != UNAVAILABLE:
            raise exc
        log.warning("rate limiter unavailable, allowing %r (fail open): %s", key, exc.message)
        return RateLimitDecision(allowed=True, remaining=0, retry_after=0.0)


@define
class FallbackRateLimiter:
    """Wraps a ``RateLimiter`` on shared storage: while that storage is unavailable, budgets
    are kept in ``fallback`` (this process's memory) instead.

    After a failure the primary is left alone for ``backoff`` seconds, so an unreachable Redis
    costs one connect timeout per back-off, not one per request. An outage is logged once as
    a warning when it begins and once when the storage answers again, never per request.
    Budgets spent in the fallback are not carried over to the primary, nor back. Errors other
    than unavailability (a bad rate or cost) still raise.
    """

    primary: RateLimiter
    fallback: RateLimiter = field(factory=MemoryRateLimiter)
    backoff: float = field(default=5.0, kw_only=True)
    monotonic: Callable[[], float] = field(default=time.monotonic, kw_only=True, repr=False)
    _retry_at: float | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(factory=threading.Lock, init=False, repr=False)

    @property
    def in_outage(self) -> bool:
        return self._retry_at is not None

    def acquire(self, key: str, rate: Rate, cost: int = 1) -> RateLimitDecision:
        return self._call(lambda limiter: limiter.acquire(key, rate, cost))

    def peek(self, key: str, rate: Rate, cost: int = 1) -> RateLimitDecision:
        return self._call(lambda limiter: limiter.peek(key, rate, cost))

    def reset(self, key: str, rate: Rate) -> None:
        self.fallback.reset(key, rate)
        self._call(lambda limiter: limiter.reset(key, rate))

    def _call(self, operation: Callable[[RateLimiter], T]) -> T:
        if self._backing_off():
            return operation(self.fallback)
        try:
            result = operation(self.primary)
        except StorelinkError as exc:
            if exc.code != UNAVAILABLE:
                raise
            self._failed(exc)
            return operation(self.fallback)
        self._answered()
        return result

    def _backing_off(self) -> bool:
        retry_at = self._retry_at
        return retry_at is not None and self.monotonic() < retry_at

    def _failed(self, exc: StorelinkError) -> None:
        with self._lock:
            began = self._retry_at is None
            self._retry_at = self.monotonic() + self.backoff
        if began:
            log.warning(
                "rate limiter storage unavailable; using per-process limits until it is back"
                " (asking again every %.0f s): %s",
                self.backoff,
                exc.message,
            )

    def _answered(self) -> None:
        if self._retry_at is None:
            return
        with self._lock:
            ended = self._retry_at is not None
            self._retry_at = None
        if ended:
            log.info("rate limiter storage is reachable again; shared limits apply")
