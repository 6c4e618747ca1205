"""``storelink demo`` brings up a working system: a connected store whose orders arrive."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest

import tests.pg
from adapters.crypto import generate_key_spec
from adapters.passwords import TEST_PARAMETERS, Argon2PasswordHasher
from adapters.postgres import PostgresUnitOfWork
from adapters.ratelimit import LimitsRateLimiter
from entrypoints import demo
from entrypoints.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def test_the_demo_connects_its_store_and_imports_the_orders_placed_there(
    pg_database: tests.pg.ScratchDatabase, tmp_path: Path
) -> None:
    pg_database.reset()
    settings = Settings(
        data_dir=tmp_path, secret_key="d" * 40, token_encryption_keys=generate_key_spec("k1")
    )
    running = demo.start(
        settings,
        port=0,
        sandbox_port=0,
        orders=2,
        uow=lambda: PostgresUnitOfWork(pg_database.db),
        passwords=Argon2PasswordHasher(parameters=TEST_PARAMETERS),
        rate_limiter=LimitsRateLimiter("memory://", prefix=f"demo{uuid.uuid4().hex[:6]}"),
    )
    try:
        assert set(running.logins) == {demo.STAFF, demo.OWNER}
        deadline = time.monotonic() + 30
        numbers: list[str] = []
        while time.monotonic() < deadline and len(numbers) < 2:
            with running.services.ctx.uow() as uow:
                numbers = sorted(o.number for o in uow.orders.list())
            time.sleep(0.2)
        assert numbers == ["SH-1001", "SH-1002"]
        with httpx.Client(base_url=running.app_url) as web:
            assert web.get("/healthz").json() == {"status": "ok"}
            login = web.get("/login")
            assert login.status_code == 200
    finally:
        running.close()
