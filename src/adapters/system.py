"""Time and identity: the ``Clock`` and ``IdGenerator`` ports.

``SystemClock`` and ``UuidIdGenerator`` are what a deployment uses. ``ManualClock`` is a real
adapter too: tests and the sandbox-driven demo move time forward with it instead of sleeping.
``random_bits`` is the operating system's randomness (``os.urandom``) read a few kilobytes at
a time: one system call per few hundred ids rather than two per id, and each such call lets
other threads take the interpreter lock, which a busy server pays for in thread switches.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from attrs import define, field, frozen

__all__ = ["ManualClock", "SystemClock", "UuidIdGenerator", "random_bits"]

_COUNTER_BITS = 12
_COUNTER_MAX = (1 << _COUNTER_BITS) - 1
_RANDOM_BITS = 62
_URANDOM_CHUNK = 4096


class _Urandom:
    """``os.urandom`` read ``_URANDOM_CHUNK`` bytes at a time, each byte handed out once; a
    forked child reads afresh (it must not hand out its parent's bytes again)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._at = 0
        self._pid = -1

    def take(self, size: int) -> bytes:
        with self._lock:
            if self._at + size > len(self._buffer) or self._pid != os.getpid():
                self._buffer, self._at, self._pid = os.urandom(_URANDOM_CHUNK), 0, os.getpid()
            taken = self._buffer[self._at : self._at + size]
            self._at += size
        return taken


_urandom = _Urandom()


def random_bits(bits: int) -> int:
    """A random non-negative integer of ``bits`` bits (at most 256), as ``secrets.randbits``
    gives, from the operating system's randomness read in bulk."""
    if not 0 < bits <= 256:
        raise ValueError("random_bits takes 1 to 256 bits")
    size = (bits + 7) // 8
    return int.from_bytes(_urandom.take(size)) >> (size * 8 - bits)


@frozen
class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def _aware_utc(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("ManualClock needs a timezone-aware datetime")
    return when.astimezone(UTC)


@define
class ManualClock:
    """A clock that only moves when told to. Starts at ``start`` (default: a fixed instant).

    Thread-safe, so a demo's worker threads can read it while a driver advances it.
    """

    _now: datetime = field(
        default=datetime(2026, 1, 1, tzinfo=UTC),
        alias="start",
        converter=_aware_utc,
    )
    _lock: threading.Lock = field(factory=threading.Lock, init=False, repr=False, eq=False)

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float | timedelta) -> datetime:
        """Move forward by ``seconds`` (not backwards: use ``set`` for that) and return now."""
        step = seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)
        if step < timedelta(0):
            raise ValueError("ManualClock.advance only moves forward; use set() to go back")
        with self._lock:
            self._now += step
            return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when``, forwards or backwards (e.g. to imitate clock skew)."""
        when = _aware_utc(when)
        with self._lock:
            self._now = when

    def timestamp(self) -> float:
        """Now as Unix seconds: a drop-in for ``time.time`` in code that wants a float."""
        return self.now().timestamp()


@define
class UuidIdGenerator:
    """Time-ordered UUIDs (version 7, RFC 9562) in text form.

    The first 48 bits are the Unix time in milliseconds, so ids sort by creation time and
    PostgreSQL index pages fill in order. Then a 12-bit counter, seeded at random each
    millisecond and incremented within one (RFC 9562 section 6.2, method 1), so ids from one
    generator strictly increase even within a millisecond or if the clock steps back; then 62
    random bits, so ids from different processes do not collide.
    """

    _time_ns: Callable[[], int] = field(default=time.time_ns, alias="time_ns", repr=False)
    _lock: threading.Lock = field(factory=threading.Lock, init=False, repr=False, eq=False)
    _last_ms: int = field(default=-1, init=False, repr=False)
    _counter: int = field(default=0, init=False, repr=False)

    def new_id(self) -> str:
        return str(self.new_uuid())

    def new_uuid(self) -> uuid.UUID:
        now_ms = self._time_ns() // 1_000_000
        with self._lock:
            if now_ms > self._last_ms:
                self._last_ms = now_ms
                # Seed below the top bit, leaving room to count up within the millisecond.
                self._counter = random_bits(_COUNTER_BITS - 1)
            elif self._counter < _COUNTER_MAX:
                self._counter += 1
            else:
                # Counter spent within one millisecond: borrow the next millisecond.
                self._last_ms += 1
                self._counter = random_bits(_COUNTER_BITS - 1)
            ms, counter = self._last_ms, self._counter
        value = (
            (ms & ((1 << 48) - 1)) << 80
            | 0x7 << 76
            | counter << 64
            | 0b10 << 62
            | random_bits(_RANDOM_BITS)
        )
        return uuid.UUID(int=value)
