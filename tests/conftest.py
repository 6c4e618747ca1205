"""Shared test fixtures: backing services. PostgreSQL comes from ``tests/pg.py`` (one migrated
database per test session, shared by every suite); Redis from ``TEST_REDIS_URL``."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import tests.pg

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _redis_url() -> str:
    return (
        os.environ.get("TEST_REDIS_URL")
        or os.environ.get("REDIS_URL")
        or "redis://127.0.0.1:6379/15"
    )


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A reachable Redis, flushed before use. Skips when none is reachable, except in CI."""
    import redis

    url = _redis_url()
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.ping()
    except redis.RedisError as exc:
        if IN_CI:
            pytest.fail(f"Redis at {url} is required under CI=true but unreachable: {exc}")
        pytest.skip(f"no Redis reachable at {url} (set TEST_REDIS_URL): {exc}")
    client.flushdb()
    client.close()
    return url


@pytest.fixture(scope="session")
def pg_database() -> Iterator[tests.pg.ScratchDatabase]:
    """One migrated database for the whole run; suites call ``reset()`` per test."""
    yield from tests.pg.session_database()


_SUITES = ("unit", "contract", "e2e", "browser")
_BACKENDS = ("memory", "postgres", "redis")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Counts per suite and per backend, so a run shows that PostgreSQL and Redis were used."""
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") not in ("call", "setup"):
                continue
            if outcome == "passed" and report.when != "call":
                continue
            parts = report.nodeid.split("/")
            suite = parts[1] if len(parts) > 2 and parts[0] == "tests" else "other"
            keywords = getattr(report, "keywords", {})
            labels = [f"suite {suite}"] + [f"backend {b}" for b in _BACKENDS if b in keywords]
            for label in labels:
                counts.setdefault(label, {}).setdefault(outcome, 0)
                counts[label][outcome] += 1
    if not counts:
        return
    terminalreporter.section("storelink test counts")
    for label in [f"suite {s}" for s in _SUITES] + [f"backend {b}" for b in _BACKENDS]:
        if label in counts:
            line = ", ".join(f"{n} {o}" for o, n in sorted(counts[label].items()))
            terminalreporter.write_line(f"{label:18} {line}")
