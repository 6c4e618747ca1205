"""A slow store does not take the app down: workers hold no database connection while they
wait for the store, so eight workers share a pool of four connections with the API, the API
keeps answering at its normal speed, and no pool wait times out."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import tests.pg
from adapters.postgres import PostgresDatabase
from adapters.shopify.sandbox import SandboxServer
from core.services.worker import Worker
from tests.e2e.conftest import _Dispatch, make_stack

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

STORE_LATENCY = 1.0  # seconds per GraphQL request
WORKERS = 8
ORDERS = 12


def test_eight_workers_waiting_on_a_slow_store_leave_the_api_fast(
    pg_database: tests.pg.ScratchDatabase,
    sandbox: SandboxServer,
    app_server: tuple[str, _Dispatch],
    tmp_path: Path,
) -> None:
    small = PostgresDatabase(pg_database.url, max_size=4, timeout=5.0)
    small.open()
    try:
        with make_stack(pg_database, sandbox, app_server, tmp_path, db=small) as stack:
            stack.shop("slow", {"TEE": 100})
            stack.product("TEE", on_hand=100)
            integration = stack.connect("slow")
            for n in range(ORDERS):
                stack.control.place_order(
                    "slow.myshopify.com", [{"sku": "TEE", "quantity": 1}], note=f"order {n}"
                )
            stack.control.flush_webhooks(timeout=20)
            stack.control.set_faults(latency=STORE_LATENCY)

            errors: list[BaseException] = []
            stop = threading.Event()

            def work(n: int) -> None:
                worker = Worker(
                    stack.services.ctx, stack.services.handlers, worker_id=f"w{n}", batch_size=1
                )
                deadline = time.monotonic() + 60
                while not stop.is_set() and time.monotonic() < deadline:
                    try:
                        if worker.run_once().total == 0:
                            time.sleep(0.05)
                    except BaseException as exc:  # a pool timeout would surface here
                        errors.append(exc)
                        return

            threads = [threading.Thread(target=work, args=(n,)) for n in range(WORKERS)]
            for thread in threads:
                thread.start()
            latencies: list[float] = []
            try:
                with stack.http(stack.staff_token) as web:
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline:
                        started = time.monotonic()
                        web.get("/api/orders", params={"per_page": 50}).raise_for_status()
                        latencies.append(time.monotonic() - started)
                        imported = sum(1 for o in stack.orders() if o.external is not None)
                        if imported == ORDERS and len(latencies) >= 20:
                            break
                        time.sleep(0.05)
            finally:
                stop.set()
                for thread in threads:
                    thread.join(30)
                stack.control.clear_faults()

            assert errors == []
            assert sum(1 for o in stack.orders() if o.external is not None) == ORDERS
            with stack.services.ctx.uow() as uow:
                failed = uow.inbox.list(integration_id=integration.id, status="failed")
            assert [e.error for e in failed] == []
            latencies.sort()
            # each import waits 2+ store round trips of 1 s; the API never waits for them
            assert latencies[len(latencies) // 2] < 0.25, latencies
            assert latencies[-1] < 1.0, latencies
    finally:
        small.close()
