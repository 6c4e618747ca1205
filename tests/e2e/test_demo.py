"""``storelink demo`` brings up a working system: a connected store whose orders arrive."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import attrs
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


def _start(pg_database: tests.pg.ScratchDatabase, tmp_path: Path, orders: int) -> demo.Demo:
    settings = Settings(
        data_dir=tmp_path, secret_key="d" * 40, token_encryption_keys=generate_key_spec("k1")
    )
    return demo.start(
        settings,
        port=0,
        sandbox_port=0,
        orders=orders,
        uow=lambda: PostgresUnitOfWork(pg_database.db),
        passwords=Argon2PasswordHasher(parameters=TEST_PARAMETERS),
        rate_limiter=LimitsRateLimiter("memory://", prefix=f"demo{uuid.uuid4().hex[:6]}"),
    )


def _orders_when(running: demo.Demo, count: int) -> list[Any]:
    deadline = time.monotonic() + 30
    found: list[Any] = []
    while time.monotonic() < deadline:
        with running.services.ctx.uow() as uow:
            found = sorted(uow.orders.list(), key=lambda o: o.number)
        if len(found) >= count:
            break
        time.sleep(0.2)
    return found


def test_a_restarted_demo_takes_up_its_store_and_its_new_orders_never_reuse_an_id(
    pg_database: tests.pg.ScratchDatabase, tmp_path: Path
) -> None:
    pg_database.reset()
    running = _start(pg_database, tmp_path, orders=2)
    try:
        first = _orders_when(running, 2)
    finally:
        running.close()
    assert (tmp_path / demo.SANDBOX_FILE).exists()

    running = _start(pg_database, tmp_path, orders=1)  # the database and data dir persist
    try:
        after = _orders_when(running, 3)
        with running.services.ctx.uow() as uow:
            conflicts = uow.alerts.list(code="store_order_identity_conflict")
    finally:
        running.close()

    assert [o.number for o in first] == ["SH-1001", "SH-1002"]
    assert [o.number for o in after] == ["SH-1001", "SH-1002", "SH-1003"]
    assert (
        after[:2]
        == [  # untouched but for what the warehouse did meanwhile
            attrs.evolve(o, updated_at=n.updated_at, status=n.status)
            for o, n in zip(first, after[:2], strict=True)
        ]
    )
    ids = [o.external.external_order_id for o in after if o.external]
    assert len(set(ids)) == 3
    assert conflicts == []
