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
