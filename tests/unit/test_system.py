"""Clocks, id generators and randomness: ``SystemClock``, ``ManualClock``, ``UuidIdGenerator``,
``random_bits``."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from adapters.system import ManualClock, SystemClock, UuidIdGenerator, random_bits

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
START_MS = int(START.timestamp() * 1000)


# --- SystemClock --------------------------------------------------------------------------------


def test_the_system_clock_tells_the_current_time_in_utc() -> None:
    before = datetime.now(UTC)
    now = SystemClock().now()
    after = datetime.now(UTC)
    assert now.tzinfo is UTC
    assert before <= now <= after


# --- ManualClock --------------------------------------------------------------------------------


def test_a_manual_clock_stands_still_until_advanced() -> None:
    clock = ManualClock(start=START)
    assert clock.now() == clock.now() == START

    assert clock.advance(90) == START + timedelta(seconds=90)
    assert clock.advance(timedelta(minutes=1)) == START + timedelta(seconds=150)
    assert clock.now() == START + timedelta(seconds=150)


def test_a_manual_clock_advances_by_fractions_of_a_second() -> None:
    clock = ManualClock(start=START)
    clock.advance(0.25)
    assert clock.timestamp() == START.timestamp() + 0.25


def test_a_manual_clock_starts_at_a_fixed_instant_by_default() -> None:
    assert ManualClock().now() == ManualClock().now() == datetime(2026, 1, 1, tzinfo=UTC)


def test_a_manual_clock_tells_time_in_utc_whatever_zone_it_was_set_in() -> None:
    plus_two = timezone(timedelta(hours=2))
    clock = ManualClock(start=datetime(2026, 3, 1, 14, 0, tzinfo=plus_two))
    assert clock.now() == START
    assert clock.now().utcoffset() == timedelta(0)
    clock.set(datetime(2026, 3, 1, 15, 0, tzinfo=plus_two))
    assert clock.now() == START + timedelta(hours=1)
    assert clock.now().tzinfo is UTC


def test_a_manual_clock_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(start=datetime(2026, 3, 1, 12, 0))  # naive on purpose
    clock = ManualClock(start=START)
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2026, 3, 1, 12, 0))  # naive on purpose
    assert clock.now() == START


def test_a_manual_clock_only_advances_forward_but_can_be_set_back() -> None:
    clock = ManualClock(start=START)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    assert clock.now() == START
    clock.set(START - timedelta(hours=1))
    assert clock.now() == START - timedelta(hours=1)


def test_a_manual_clock_loses_no_step_when_advanced_from_several_threads() -> None:
    clock = ManualClock(start=START)

    def advance_many() -> None:
        for _ in range(1000):
            clock.advance(0.5)

    threads = [threading.Thread(target=advance_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock.now() == START + timedelta(seconds=2000)


# --- UuidIdGenerator ----------------------------------------------------------------------------


def test_ids_are_version_7_uuids_in_text_form() -> None:
    new_id = UuidIdGenerator().new_id()
    parsed = uuid.UUID(new_id)
    assert str(parsed) == new_id
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122


def test_an_id_starts_with_its_creation_time_in_milliseconds() -> None:
    generator = UuidIdGenerator(time_ns=lambda: START_MS * 1_000_000 + 999_999)
    assert generator.new_uuid().int >> 80 == START_MS


def test_ids_sort_by_creation_time() -> None:
    now_ns = [START_MS * 1_000_000]
    generator = UuidIdGenerator(time_ns=lambda: now_ns[0])
    ids = []
    for _ in range(50):
        ids.append(generator.new_id())
        now_ns[0] += 1_000_000
    assert ids == sorted(ids)


def test_ids_strictly_increase_within_one_millisecond_past_the_counters_capacity() -> None:
    generator = UuidIdGenerator(time_ns=lambda: START_MS * 1_000_000)
    ids = [generator.new_uuid() for _ in range(10_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    # Past 4096 ids in one millisecond the generator borrows the next ones.
    assert ids[0].int >> 80 == START_MS
    assert START_MS < ids[-1].int >> 80 <= START_MS + 10


def test_ids_keep_increasing_when_the_clock_steps_back() -> None:
    now_ns = [START_MS * 1_000_000]
    generator = UuidIdGenerator(time_ns=lambda: now_ns[0])
    before = generator.new_uuid()
    now_ns[0] -= 5_000 * 1_000_000
    after = generator.new_uuid()
    assert after > before


def test_generators_in_the_same_millisecond_do_not_collide() -> None:
    def frozen() -> int:
        return START_MS * 1_000_000

    ids = {UuidIdGenerator(time_ns=frozen).new_id() for _ in range(2_000)}
    assert len(ids) == 2_000


def test_ids_are_unique_across_threads() -> None:
    generator = UuidIdGenerator()
    results: list[list[str]] = [[] for _ in range(4)]

    def make(into: list[str]) -> None:
        into.extend(generator.new_id() for _ in range(2_000))

    threads = [threading.Thread(target=make, args=(into,)) for into in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [new_id for chunk in results for new_id in chunk]
    assert len(set(everything)) == len(everything) == 8_000
    for chunk in results:
        assert chunk == sorted(chunk)


# --- random_bits --------------------------------------------------------------------------------


def test_random_bits_are_in_range_and_do_not_repeat() -> None:
    drawn = [random_bits(62) for _ in range(5_000)]  # more than one chunk of bytes
    assert all(0 <= value < 2**62 for value in drawn)
    assert len(set(drawn)) == len(drawn)
    assert {random_bits(1) for _ in range(200)} == {0, 1}
    assert max(random_bits(12) for _ in range(2_000)) >= 2**11  # the top bits are used too


def test_a_forked_child_does_not_hand_out_its_parents_random_bits() -> None:
    random_bits(8)  # the parent has bytes in hand
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(write, random_bits(64).to_bytes(8))
        os._exit(0)
    os.close(write)
    from_child = int.from_bytes(os.read(read, 8))
    os.waitpid(child, 0)
    os.close(read)
    assert from_child != random_bits(64)
