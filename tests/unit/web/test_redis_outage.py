"""A Redis outage degrades rate limits to per-process budgets; it does not take the API down.

With ``REDIS_URL`` pointing at a closed port, and with a real Redis stopped in the middle of a
run, API-token calls, logins and OAuth starts keep working, the limits still hold (per
process), one warning is logged per outage, and shared limits return with Redis.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from attrs import evolve
from flask import Flask
from flask.testing import FlaskClient

from adapters.memory import MemoryDatabase, MemoryUnitOfWork
from adapters.passwords import TEST_PARAMETERS, Argon2PasswordHasher
from adapters.ratelimit import FallbackRateLimiter
from adapters.system import ManualClock, UuidIdGenerator
from entrypoints.bootstrap import Services, bootstrap
from entrypoints.settings import Settings
from entrypoints.web import create_app
from entrypoints.web.auth import AUTH_FAILURES, LOGIN_ATTEMPTS
from tests.unit.web.conftest import People, from_address, sign_in

CLOSED_PORT = "redis://127.0.0.1:1/0"


def _services(settings: Settings) -> Services:
    """Wired as in production from ``settings.redis_url``: no limiter passed in."""
    db = MemoryDatabase()
    return bootstrap(
        settings,
        uow=lambda: MemoryUnitOfWork(db),
        clock=ManualClock(),
        ids=UuidIdGenerator(),
        passwords=Argon2PasswordHasher(parameters=TEST_PARAMETERS),
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    built = _services(evolve(settings, redis_url=CLOSED_PORT))
    yield built
    built.close()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "adapters.ratelimit" and r.levelno >= logging.WARNING
    ]


def _bad_token_codes(web: FlaskClient, count: int) -> list[int]:
    return [
        web.get("/api/me", headers={"Authorization": f"Bearer slk_guess{n}"}).status_code
        for n in range(count)
    ]


def test_with_redis_unreachable_tokens_logins_and_oauth_starts_still_work(
    web: FlaskClient, people: People, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        assert web.get("/api/integrations", headers=people.auth("owner@acme")).status_code == 200
        assert sign_in(web.application.test_client(), "owner@acme.test").status_code == 302
        start = web.get(
            "/api/integrations/shopify/auth?shop=acme", headers=people.auth("owner@acme")
        )
        assert start.status_code == 302
        for _ in range(20):
            assert web.get("/api/me", headers=people.auth("staff@3pl")).status_code == 200
    assert len(_warnings(caplog)) == 1  # one warning for the outage, not one per request


def test_with_redis_unreachable_the_limits_still_hold_per_process(
    web: FlaskClient, people: People
) -> None:
    codes = _bad_token_codes(web, AUTH_FAILURES.amount + 1)
    assert codes[-1] == 429
    assert web.get("/api/me", headers=people.auth("owner@acme")).status_code == 200
    logins = [
        sign_in(web, "owner@acme.test", f"guess-{n:06}", **from_address("203.0.113.5")).status_code
        for n in range(LOGIN_ATTEMPTS.amount + 1)
    ]
    assert logins[-1] == 429


def test_with_redis_unreachable_readiness_says_degraded_but_ready(web: FlaskClient) -> None:
    answer = web.get("/readyz")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["redis"] != "ok"


# --- a real Redis, stopped in the middle of a run -----------------------------------------------


class RedisServer:
    """A throwaway ``redis-server`` on a free port, with nothing saved to disk."""

    def __init__(self, workdir: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self._workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def keys(self, pattern: str) -> list[bytes]:
        client = redis.Redis.from_url(self.url)
        try:
            return list(client.scan_iter(match=pattern))
        finally:
            client.close()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.mark.redis
def test_a_redis_stopped_midway_degrades_to_per_process_limits_and_comes_back(
    settings: Settings, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    services = _services(evolve(settings, redis_url=redis_server.url))
    try:
        limiter = services.rate_limiter
        assert isinstance(limiter, FallbackRateLimiter)
        limiter.backoff = 0.2
        app: Flask = create_app(services, {"TESTING": True})
        people = People(services)
        web = app.test_client()

        with caplog.at_level(logging.INFO):
            assert _bad_token_codes(web, 3) == [401] * 3
            assert redis_server.keys("*token-fail*")  # the shared budget is in Redis

            redis_server.stop()
            assert web.get("/api/me", headers=people.auth("owner@acme")).status_code == 200
            assert sign_in(app.test_client(), "owner@acme.test").status_code == 302
            codes = _bad_token_codes(web, AUTH_FAILURES.amount + 1)
            assert codes[-1] == 429  # still limited, now by this process
            assert web.get("/api/me", headers=people.auth("owner@acme")).status_code == 200
            assert len(_warnings(caplog)) == 1

            redis_server.start()  # the same port: Redis is back, empty
            time.sleep(limiter.backoff + 0.05)
            assert _bad_token_codes(web, 1) == [401]  # a fresh shared budget
            assert redis_server.keys("*token-fail*")
            assert not limiter.in_outage
        assert len(_warnings(caplog)) == 1
        assert any("reachable again" in r.getMessage() for r in caplog.records)
    finally:
        services.close()
