"""Long work as jobs, against the simulated store: "Sync orders now" for a store with many
orders answers at once, and the job's counts move while a worker runs it (the incident: ~225
orders synced inside the request ran past gunicorn's 30 s timeout; 225 take about 70 s against
the sandbox, so this test uses fewer)."""

from __future__ import annotations

import threading
import time

from core.services.worker import Worker
from tests.e2e.conftest import Stack

SHOP = "acme.myshopify.com"
ORDERS = 45  # enough for the sync to take seconds (the store's query budget paces it)


def test_syncing_many_orders_answers_at_once_and_a_worker_runs_it_with_visible_progress(
    stack: Stack,
) -> None:
    stack.shop("acme", {"TENT-1": ORDERS})
    tent = stack.product("TENT-1", on_hand=ORDERS)
    integration = stack.connect("acme")
    stack.control.set_faults(webhook_drop_rate=1.0)  # only the sync will see them
    placed = [
        stack.control.place_order(SHOP, [{"sku": "TENT-1", "quantity": 1}]) for _ in range(ORDERS)
    ]
    stack.control.flush_webhooks()
    stack.control.clear_faults()
    path = f"/api/integrations/shopify/{integration.id}/sync-orders"
    with stack.http(stack.owner_token) as web:
        began = time.perf_counter()
        started = web.post(path)
        answered_in = time.perf_counter() - began
        assert started.status_code == 202, started.text
        assert answered_in < 1.0
        assert stack.orders() == []  # nothing was done in the request
        location = started.headers["location"]
        again = web.post(path)
        assert again.json()["job"]["id"] == started.json()["job"]["id"]

        worker = Worker(stack.services.ctx, stack.services.handlers, worker_id="job-worker")
        thread = threading.Thread(target=worker.drain, daemon=True)
        thread.start()
        seen: list[tuple[str, int]] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job = web.get(location).json()["job"]
            seen.append((job["status"], job["progress"].get("read", 0)))
            if job["status"] in ("done", "failed"):
                break
            time.sleep(0.05)
        thread.join(30)

    assert (job["status"], job["error"], job["problems"]) == ("done", None, [])
    assert job["progress"] == {
        "read": ORDERS,
        "imported": ORDERS,
        "updated": 0,
        "skipped": 0,
        "failed": 0,
        "errors": 0,
    }
    moving = [read for status, read in seen if status == "running" and 0 < read < ORDERS]
    assert moving, seen  # a reader saw the counts part way
    reads = [read for _status, read in seen]
    assert reads == sorted(reads)  # and never going back
    assert sorted(o.external.external_order_id for o in stack.orders() if o.external) == sorted(
        str(p["id"]) for p in placed
    )
    assert stack.level(tent) == (ORDERS, ORDERS)
    with stack.services.ctx.uow() as uow:
        synced = uow.integrations.peek(integration.id)
        runs = uow.sync_runs.list(integration_id=integration.id)
    (run,) = [r for r in runs if r.kind == "orders"]
    assert synced is not None
    assert synced.orders_synced_at is not None  # the watermark moved
    assert (run.finished_at is not None, run.error) == (True, None)
