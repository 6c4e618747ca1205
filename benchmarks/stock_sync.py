"""Stock to the store at Shopify's Standard limits, through the product's own path.

    .venv/bin/python benchmarks/stock_sync.py [--variants 10000] [--changes 100] [--idle 1.0]
        [--drift 20] [--burst 5000] [--burst-skus 100] [--burst-seconds 10]
        [--burst-processes 2] [--burst-threads 3] [--naive-sample 500] [--skip-realtime]
        [--database-url postgresql://USER@HOST/DB]

About 5 minutes with the defaults on a 2-core machine; ``--variants 2000`` about 2.

The use cases (``core.services.inventory``) run in the worker (``core.services.worker``) on a
scratch PostgreSQL database (as webhook_latency.py), against the simulated Shopify in its own
process with Shopify's Standard GraphQL budget: a bucket of 2,000 points restoring 100 a
second. A store of ``--variants`` variants is connected through the OAuth callback use case
(``connect.begin`` / ``connect.complete``, the sandbox approving at once) and its setup job;
every variant is mapped by SKU to a product with stock in the warehouse.

Part 1, **simulated time** (as shopify_harness.py): the sandbox's clock is frozen; every wait
of the adapter (``ShopifyPlatform.sleep``) moves the sandbox's clock, the adapter's clock and
its shared budget by that much, so the waits on Shopify's budget are reported as the seconds
a real run would spend, however long the script took. Waits for a bulk operation to finish
are real sleeps as well (the sandbox runs bulk operations in real time) and are reported
apart. The worker (``Worker.run_once``) runs in this process, one command after another.

  0. connecting the store (setup: webhooks, locations, catalog, auto-mapping) and what it
     queues, as the worker runs it;
  1. a full sync (``inventory.sync``: the snapshot read, then every difference pushed) where
     every variant differs: a buffer change (``integrations.update_settings``) queues it,
     (a) right after connecting, (b) from a rested bucket, and with the whole bucket spent
     just before (the shop's bucket drained to 0 and the shared budget charged 2,000 points),
     (c) spread over the last 20 s (other work spending at the restore rate) or (d) at one
     instant;
  2. a delta push when nothing changed: ``push_changes`` with no dirty mark, and the pushes a
     receipt and its reversal (``core.services.stock``) queue;
  4. drift repair: the merchant edits ``--drift`` variants in the store (control API); the
     full sync reads the store and corrects them;
  naive: one ``inventorySetQuantities`` per variant (and one level read per variant), run
     for ``--naive-sample`` variants through the same adapter and budget, and extrapolated
     to the scenario's size with the measured cost per call.

Part 2, **real time**: the sandbox's clock follows the wall clock from then on (same bucket);
the adapter is the production one (system clock, ``time.sleep``, the shared budget in Redis
when 127.0.0.1:6379 answers, else ``memory://``). ONE worker thread runs
``entrypoints.cli.run_worker``, the loop of ``storelink worker``, waiting ``--idle`` seconds
when nothing is due (the CLI's default is 1 s).

  3. one stock change -> visible in the store: ``--changes`` receipts of one unit, one at a
     time, each a random 0.05-1 s after the previous one became visible; from the start of
     ``receive_stock`` to the moment the store's answer to the ``inventorySetQuantities``
     that applied the new on hand reached the adapter (checked in the store afterwards);
  5. a burst: ``--burst`` receipts and adjustments over ``--burst-skus`` SKUs within
     ``--burst-seconds``, scheduled evenly and made by other processes (as web requests
     would; ``--burst-processes`` of ``--burst-threads`` threads, calling
     ``core.services.stock.receive_stock`` / ``adjust_stock``);
     how many pushes and mutations they became, and how long after the last movement the
     store matched the warehouse for every SKU.

Every scenario checks the store's numbers afterwards. The sandbox's call log gives the cost
of every GraphQL call; the adapter's HTTP client counts every request it sent (GraphQL and
bulk file downloads).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from _harness import (
    CpuMeter,
    bench_environment,
    free_port,
    load_average,
    percentile,
    scratch_database,
)
from shopify_harness import SimulatedBudget

from adapters.passwords import TEST_PARAMETERS, Argon2PasswordHasher
from adapters.postgres import PostgresDatabase, PostgresUnitOfWork
from adapters.ratelimit import FailOpenRateLimiter, LimitsRateLimiter
from adapters.shopify import ShopifyConfig, ShopifyPlatform
from adapters.shopify.sandbox import SandboxClock
from adapters.shopify.sandbox.client import SandboxControl
from adapters.system import ManualClock, SystemClock, UuidIdGenerator
from core.model import OutboxCommand, Product
from core.model import stock as rules
from core.ports import Rate
from core.services import SYSTEM, connect, integrations, inventory, tenancy
from core.services import stock as stock_services
from core.services._context import Context
from core.services._ledger import move
from core.services.integrations import session_for
from core.services.worker import Handlers, OutboxHandler, Worker, WorkReport
from core.store import InventoryBatch, InventoryQuantity, InventoryResult
from entrypoints.bootstrap import Services, bootstrap
from entrypoints.cli import run_worker
from entrypoints.settings import Settings

SHOP = "stock-bench.myshopify.com"
BUCKET = 2000
RESTORE = 100.0
REDIS = "redis://127.0.0.1:6379/0"
PER_PRODUCT = 10  # store variants per store product
STORE_ON_HAND = 10  # what the store starts with; the warehouse has 100-149 of every SKU
_OPERATION = re.compile(rb'"query"\s*:\s*"(?:\\n|\s)*(?:query|mutation)\s+(\w+)')

# ---------------------------------------------------------------------------------------------
# the sandbox in its own process, with a clock that is frozen first and follows the wall later
# ---------------------------------------------------------------------------------------------


class SwitchableClock(SandboxClock):
    """The sandbox's clock: frozen (moved only by ``advance``) until ``follow_wall``, then the
    wall clock plus an offset, continuing from where the frozen clock stood."""

    def follow_wall(self) -> None:
        with self._lock:
            if self._frozen_at is None:
                return
            stood = self._frozen_at + self._offset
            self._frozen_at = None
            self._offset = stood - datetime.now(UTC)


def _run_sandbox_child(config_json: str) -> None:
    from adapters.shopify.sandbox import SandboxConfig, SandboxServer, SandboxState

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us by closing stdin
    clock = SwitchableClock(datetime.now(UTC))
    state = SandboxState(clock)
    with SandboxServer(SandboxConfig(**json.loads(config_json)), state) as server:
        print(server.url, flush=True)
        for line in sys.stdin:
            if line.strip() == "realtime":
                clock.follow_wall()
                print("ok", flush=True)


class Sandbox:
    """The sandbox process: ``url``, ``control``, ``realtime()``; stopped by closing stdin."""

    def __init__(self) -> None:
        config = {
            "auto_approve": True,
            "bucket_size": BUCKET,
            "restore_rate": RESTORE,
            "random_seed": 1,
            "webhook_retry_schedule": [1, 2],
            "access_token_lifetime": 30 * 24 * 3600.0,
        }
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        env["PYTHONPATH"] = str(Path(__file__).resolve().parent)
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--sandbox-child", json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode().strip()
        if not line.startswith("http://127.0.0.1"):
            self.stop()
            raise RuntimeError(f"the sandbox did not start: {line!r}")
        self.url = line
        self.shop_url_template = f"{line}/store/{{shop}}"
        self.control = SandboxControl(line, timeout=120)

    def realtime(self) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(b"realtime\n")
        self.process.stdin.flush()
        if self.process.stdout.readline().strip() != b"ok":
            raise RuntimeError("the sandbox did not switch to real time")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.control.close()
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


# ---------------------------------------------------------------------------------------------
# what the adapter does: HTTP requests, waits, and every inventory answer
# ---------------------------------------------------------------------------------------------


class Probe:
    """Counts the adapter's HTTP requests and waits, each under the label of the platform
    method it happened in (``snapshot``, ``push``, ``read``, ``catalog``, ...), and keeps
    every ``set_inventory`` answer with the time it arrived."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.local = threading.local()
        self.requests: Counter[tuple[str, str]] = Counter()  # (label, operation or "GET file")
        self.waits: defaultdict[tuple[str, str], float] = defaultdict(float)  # (label, kind)
        self.applied: list[tuple[float, str, str, int, str]] = []  # (at, item, loc, qty, cmd)
        self.mutations: list[tuple[float, str, int]] = []  # (answered at, command id, size)

    @property
    def label(self) -> str:
        return getattr(self.local, "label", "other")

    @property
    def command(self) -> str:
        return getattr(self.local, "command", "")

    def on_request(self, request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path.endswith("/graphql.json"):
            found = _OPERATION.search(request.content[:400])
            what = found.group(1).decode() if found else "GraphQL"
        else:
            what = f"{request.method} file"
        with self.lock:
            self.requests[(self.label, what)] += 1

    def on_wait(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.waits[(self.label, kind)] += seconds

    def snapshot(self) -> tuple[Counter[tuple[str, str]], dict[tuple[str, str], float]]:
        with self.lock:
            return Counter(self.requests), dict(self.waits)


def wait_kind(frame: Any) -> str:
    """Why the adapter sleeps, from who called ``sleep``."""
    for _ in range(4):
        if frame is None:
            break
        name = frame.f_code.co_qualname
        if name == "_Patience.wait":
            return "bulk"
        if name == "GraphQLClient._wait":
            return "budget"
        if name == "GraphQLClient.execute":
            return "throttled or retry"
        if name in ("ShopifyPlatform._download", "ShopifyPlatform.set_inventory"):
            return "retry"
        frame = frame.f_back
    return "other"


class Recording:
    """A ``StorePlatform`` that labels what the inner one does and keeps inventory answers."""

    _LABELS = {
        "inventory_snapshot": "snapshot",
        "set_inventory": "push",
        "inventory_levels": "read",
        "catalog": "catalog",
        "bulk_catalog": "catalog",
    }

    def __init__(self, inner: ShopifyPlatform, probe: Probe) -> None:
        self._inner = inner
        self._probe = probe

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value) or name.startswith("_"):
            return value
        label = self._LABELS.get(name, "other")

        def labelled(*args: Any, **kwargs: Any) -> Any:
            local = self._probe.local
            before = getattr(local, "label", "other")
            local.label = label
            started = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                local.label = before
                with self._probe.lock:
                    self._probe.waits[(label, "wall")] += time.perf_counter() - started

        return labelled

    def set_inventory(self, session: Any, batch: InventoryBatch) -> InventoryResult:
        result: InventoryResult = self.__getattr__("set_inventory")(session, batch)
        at = time.time()
        command = self._probe.command
        with self._probe.lock:
            self._probe.mutations.append((at, command, len(batch.quantities)))
            for item in result.items:
                if item.status == "applied":
                    q = item.quantity
                    self._probe.applied.append(
                        (at, q.inventory_item_id, q.location_id, q.quantity, command)
                    )
        return result


@contextlib.contextmanager
def hooked_http(probe: Probe) -> Iterator[httpx.Client]:
    with httpx.Client(
        timeout=httpx.Timeout(30.0, connect=5.0),
        headers={"User-Agent": "storelink"},
        event_hooks={"request": [probe.on_request]},
    ) as http:
        yield http


class SimulatedTime:
    """The adapter's ``sleep`` in part 1: moves the adapter's clock and the sandbox's clock
    together; a wait for a bulk operation also sleeps for real (the sandbox runs those in
    real time)."""

    def __init__(self, clock: ManualClock, sandbox: Sandbox, probe: Probe) -> None:
        self.clock = clock
        self.sandbox = sandbox
        self.probe = probe
        self.http = httpx.Client(base_url=sandbox.url, timeout=30)

    def sleep(self, seconds: float) -> None:
        kind = wait_kind(sys._getframe(1))
        self.probe.on_wait(kind, seconds)
        if kind == "bulk":
            time.sleep(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.http.post("/_sandbox/clock/advance", json={"seconds": seconds}).raise_for_status()

    def close(self) -> None:
        self.http.close()


# ---------------------------------------------------------------------------------------------
# the world: warehouse, products, the store, the connection
# ---------------------------------------------------------------------------------------------


def sku_of(n: int) -> str:
    return f"SB-{n:05}"


def warehouse_stock(n: int) -> int:
    return 100 + n % 50


def create_store(control: SandboxControl, variants: int) -> dict[str, Any]:
    shop = control.create_shop(SHOP, name="Stock bench", bucket_size=BUCKET, restore_rate=RESTORE)
    location = str(shop["primary_location_id"])
    products = [
        {
            "title": f"Product {p}",
            "variants": [
                {"sku": sku_of(n), "price": "10.00", "inventory": {location: STORE_ON_HAND}}
                for n in range(p * PER_PRODUCT, min(variants, (p + 1) * PER_PRODUCT))
            ],
        }
        for p in range(math.ceil(variants / PER_PRODUCT))
    ]
    for start in range(0, len(products), 100):
        control.create_products(SHOP, products[start : start + 100])
    return shop


def create_catalog(ctx: Context, variants: int) -> tuple[str, str, list[str]]:
    """A client, its default warehouse, one product per SKU with stock: the same repository
    calls and stock ledger (``_ledger.move``, a receipt) as the services, 500 to a
    transaction (creating them one request at a time would take minutes)."""
    warehouse = stock_services.create_warehouse(ctx, SYSTEM, code="MAIN", name="Main warehouse")
    client = tenancy.create_client(ctx, SYSTEM, name="Stock bench merchant")
    tenancy.set_default_warehouse(ctx, SYSTEM, client_id=client.id, warehouse_id=warehouse.id)
    ids: list[str] = []
    for start in range(0, variants, 500):
        with ctx.uow() as uow:
            for n in range(start, min(variants, start + 500)):
                product = Product(
                    id=ctx.ids.new_id(),
                    client_id=client.id,
                    sku=sku_of(n),
                    name=f"Product {sku_of(n)}",
                    created_at=ctx.clock.now(),
                )
                uow.products.add(product)
                move(
                    uow,
                    ctx,
                    product_id=product.id,
                    warehouse_id=warehouse.id,
                    rule=rules.receive,
                    quantity=warehouse_stock(n),
                    reason="opening stock",
                )
                ids.append(product.id)
            uow.commit()
    return client.id, warehouse.id, ids


def connect_store(services: Services, client_id: str) -> str:
    """The OAuth round trip through the connect use cases (the sandbox approves at once)."""
    sc = services.store
    redirect = f"{services.settings.app_url}/api/integrations/shopify/callback"
    url, pending = connect.begin(
        sc, SYSTEM, platform="shopify", client_id=client_id, shop=SHOP, redirect_uri=redirect
    )
    answer = httpx.get(url, follow_redirects=False, timeout=30)
    if answer.status_code not in (302, 303):
        raise RuntimeError(f"the sandbox did not approve: HTTP {answer.status_code}")
    params = dict(parse_qsl(urlsplit(answer.headers["location"]).query))
    return connect.complete(sc, pending, params).id


# ---------------------------------------------------------------------------------------------
# the worker, and what each command it ran did
# ---------------------------------------------------------------------------------------------


class Ran:
    """One outbox command the worker ran: when, how long, which store requests and waits."""

    def __init__(self, command: OutboxCommand, started: float) -> None:
        self.command = command
        self.kind = command.kind
        self.why = str(command.payload.get("why") or "")
        self.started = started
        self.seconds = 0.0
        self.requests: Counter[tuple[str, str]] = Counter()
        self.waits: dict[tuple[str, str], float] = {}
        self.result: dict[str, Any] = {}

    @property
    def calls(self) -> int:
        return sum(self.requests.values())


class Journal:
    """Wraps the outbox handlers so that every command the worker runs is recorded."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.lock = threading.Lock()
        self.ran: list[Ran] = []

    def wrap(self, handlers: Handlers) -> Handlers:
        return Handlers(
            inbox=handlers.inbox,
            outbox={kind: self._wrapped(fn) for kind, fn in handlers.outbox.items()},
        )

    def _wrapped(self, fn: OutboxHandler) -> OutboxHandler:
        def handler(command: OutboxCommand) -> Any:
            ran = Ran(command, time.time())
            requests, waits = self.probe.snapshot()
            self.probe.local.command = command.id
            try:
                apply = fn(command)
            finally:
                self.probe.local.command = ""
                ran.seconds = time.time() - ran.started
                after_requests, after_waits = self.probe.snapshot()
                ran.requests = after_requests - requests
                ran.waits = {
                    k: v - waits.get(k, 0.0)
                    for k, v in after_waits.items()
                    if v - waits.get(k, 0.0) > 0
                }
                with self.lock:
                    self.ran.append(ran)

            def recorded(uow: Any, item: OutboxCommand) -> Any:
                outcome = apply(uow, item)
                ran.result = dict(item.result or {})
                if outcome is not None:
                    ran.result["skipped"] = getattr(outcome, "reason", str(outcome))
                return outcome

            return recorded

        return handler

    def since(self, index: int) -> list[Ran]:
        with self.lock:
            return list(self.ran[index:])

    def __len__(self) -> int:
        with self.lock:
            return len(self.ran)


def pending_commands(ctx: Context) -> list[OutboxCommand]:
    with ctx.uow() as uow:
        return [
            c
            for status in ("pending", "failed", "processing")
            for c in uow.outbox.list(status=status, limit=1000)
        ]


def work_until_quiet(worker: Worker, ctx: Context, *, timeout: float = 900.0) -> WorkReport:
    """Run the worker until nothing is due or due within 1.5 s (a debounced push), bounded."""
    total = WorkReport()
    deadline = time.monotonic() + timeout
    for _ in range(200):
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not become quiet in time")
        report = worker.drain(max_rounds=50)
        total.add(report)
        now = ctx.clock.now()
        soon = [
            (c.next_attempt_at - now).total_seconds()
            for c in pending_commands(ctx)
            if c.status != "processing"
        ]
        soon = [max(0.0, s) for s in soon if s <= 1.5]
        if not soon:
            if report.total == 0:
                return total
            continue
        time.sleep(min(soon) + 0.02)
    return total


# ---------------------------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------------------------


class Costs:
    """The sandbox's call log of one stretch: calls and points per operation."""

    def __init__(self, calls: Sequence[Mapping[str, Any]]) -> None:
        self.calls = list(calls)

    def of(self, operations: set[str] | None = None) -> tuple[int, int, int, int]:
        chosen = [c for c in self.calls if operations is None or c["operation_name"] in operations]
        return (
            len(chosen),
            sum(c["requested_cost"] or 0 for c in chosen),
            sum(c["actual_cost"] or 0 for c in chosen),
            sum(1 for c in chosen if c["throttled"]),
        )


SNAPSHOT_OPS = {
    "Locations",
    "BulkOperationRunQuery",
    "BulkOperation",
    "ActiveBulkOperations",
    "InventoryItems",
    "LocationInventoryLevels",
}
PUSH_OPS = {"InventorySetQuantities", "InventoryLevelsById"}


def naive_seconds(calls: int, cost_per_call: float) -> float:
    """Least time ``calls`` calls of ``cost_per_call`` points take from a full Standard bucket."""
    return max(0.0, (calls * cost_per_call - BUCKET) / RESTORE)


class Table:
    def __init__(self, title: str, columns: Sequence[tuple[str, int]]) -> None:
        self.title = title
        self.columns = columns
        self.rows: list[Sequence[str]] = []

    def add(self, *cells: object) -> None:
        self.rows.append([_cell(c) for c in cells])

    def print(self) -> None:
        print(self.title)
        header = "  " + " ".join(
            f"{name:<{w}}" if i == 0 else f"{name:>{w}}" for i, (name, w) in enumerate(self.columns)
        )
        print(header)
        for row in self.rows:
            print(
                "  "
                + " ".join(
                    f"{cell:<{w}}" if i == 0 else f"{cell:>{w}}"
                    for i, (cell, (_, w)) in enumerate(zip(row, self.columns, strict=True))
                )
            )


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def wait_of(waits: Mapping[tuple[str, str], float], *, label: str | None, kind: str) -> float:
    return sum(v for (lab, k), v in waits.items() if k == kind and (label is None or lab == label))


def requests_of(requests: Counter[tuple[str, str]], *, label: str | None = None) -> int:
    return sum(n for (lab, _), n in requests.items() if label is None or lab == label)


def describe_requests(requests: Counter[tuple[str, str]]) -> str:
    by_op: Counter[str] = Counter()
    for (_, op), n in requests.items():
        by_op[op] += n
    return ", ".join(f"{op} {n}" for op, n in sorted(by_op.items(), key=lambda kv: -kv[1]))


# ---------------------------------------------------------------------------------------------
# part 1: simulated time
# ---------------------------------------------------------------------------------------------


class Part1:
    def __init__(
        self, args: argparse.Namespace, services: Services, sandbox: Sandbox, probe: Probe
    ) -> None:
        self.args = args
        self.services = services
        self.sandbox = sandbox
        self.control = sandbox.control
        self.probe = probe
        self.journal = Journal(probe)
        self.worker = Worker(
            services.ctx,
            self.journal.wrap(services.handlers),
            worker_id="bench-simulated",
            lease_seconds=1800,
        )
        self.integration_id = ""
        self.location = ""
        self.sim: SimulatedTime  # set by main()
        self.budget: SimulatedBudget  # set by main()
        self.warehouse_id = ""  # set by main()
        self.lines: list[str] = []

    # one scenario: the commands the worker ran, the sandbox's log, the simulated waits
    def stretch(self, action: Callable[[], None]) -> tuple[list[Ran], Costs, float]:
        self.control.clear_calls()
        first = len(self.journal)
        started = time.perf_counter()
        action()
        work_until_quiet(self.worker, self.services.ctx)
        wall = time.perf_counter() - started
        return self.journal.since(first), Costs(self.control.calls(SHOP)), wall

    def store_levels(self) -> dict[str, int]:
        """On hand by SKU at the primary location, as the store has it."""
        return {
            str(lv["sku"]): int(lv["on_hand"])
            for lv in self.control.inventory(SHOP, location_id=int(self.location))
        }

    def expected(self) -> dict[str, int]:
        with self.services.ctx.uow() as uow:
            integration = uow.integrations.peek(self.integration_id)
            assert integration is not None
            buffer = integration.settings.inventory_buffer
            products = {p.id: p.sku for p in uow.products.list(None, limit=1_000_000)}
            levels = uow.stock.levels(client_id=integration.client_id)
        return {products[lv.product_id]: max(0, lv.available - buffer) for lv in levels}

    def check_store(self, what: str) -> int:
        store, wanted = self.store_levels(), self.expected()
        wrong = sum(1 for sku, q in wanted.items() if store.get(sku) != q)
        self.lines.append(f"  {what}: store checked, {len(wanted):,} SKUs, wrong: {wrong}")
        return wrong

    def run(self, client_id: str) -> dict[str, Any]:
        args = self.args
        figures: dict[str, Any] = {}
        ctx = self.services.ctx

        # 0. connecting: setup, then whatever it queued, as the worker takes it
        ran, costs, wall = self.stretch(
            lambda: setattr(self, "integration_id", connect_store(self.services, client_id))
        )
        with ctx.uow() as uow:
            mapped = len(uow.mappings.for_integration(self.integration_id))
            [loc] = [
                m for m in uow.locations.for_integration(self.integration_id) if m.warehouse_id
            ]
        self.location = loc.external_location_id
        figures["connect"] = (ran, costs, wall, mapped)
        self.check_store("after connecting")

        # 1a. full sync right after connecting: a buffer change makes every variant differ
        def buffer(value: int) -> Callable[[], None]:
            def change() -> None:
                integrations.update_settings(
                    ctx, SYSTEM, self.integration_id, {"inventory_buffer": value}
                )

            return change

        figures["sync_after_connect"] = self.stretch(buffer(1))
        self.check_store("full sync right after connecting (buffer 0 -> 1)")

        # 1b. the same from a rested bucket
        self.sim.advance(60.0)
        figures["sync_rested"] = self.stretch(buffer(0))
        self.check_store("full sync from a rested bucket (buffer 1 -> 0)")

        # 2. nothing changed: the use case with no dirty mark, then a receipt and its reversal
        self.sim.advance(60.0)
        self.control.clear_calls()
        started = time.perf_counter()
        report = inventory.push_changes(self.services.store, self.integration_id, key_seed="idle")
        figures["delta_direct"] = (
            report.calls,
            len(self.control.calls(SHOP)),
            time.perf_counter() - started,
        )
        skus = [sku_of(n * (args.variants // 5)) for n in range(5)]

        def net_zero() -> None:
            for sku in skus:
                stock_services.receive_stock(
                    ctx,
                    SYSTEM,
                    warehouse_id=self.warehouse_id,
                    sku=sku,
                    client_id=client_id,
                    quantity=1,
                )
                stock_services.adjust_stock(
                    ctx,
                    SYSTEM,
                    warehouse_id=self.warehouse_id,
                    sku=sku,
                    client_id=client_id,
                    quantity=-1,
                    reason="recount",
                )

        figures["delta_worker"] = self.stretch(net_zero)

        # 4. drift: the merchant edits some variants in the store; the full sync repairs them
        self.sim.advance(60.0)
        rng = random.Random(4)
        drifted = sorted(rng.sample(range(args.variants), min(args.drift, args.variants)))
        for n in drifted:
            self.control.set_inventory(
                SHOP,
                location_id=int(self.location),
                sku=sku_of(n),
                on_hand=warehouse_stock(n) + 7,
            )

        def drift_sync() -> None:
            with ctx.uow() as uow:
                inventory.queue_sync(uow, ctx, self.integration_id, why="drift repair")
                uow.commit()

        figures["drift"] = self.stretch(drift_sync)
        figures["drifted"] = len(drifted)
        self.check_store(f"drift repair ({len(drifted)} variants edited in the store)")

        # 1c, 1d. the same with the budget spent just before: the shop's bucket at 0, and the
        # shared budget charged 2,000 points, either spread over the last 20 s (other work
        # spending at the restore rate) or all at once (one burst of work just before)
        self.sim.advance(60.0)
        self.spend(spread=True)
        figures["sync_spent_steady"] = self.stretch(buffer(1))
        self.check_store("full sync, budget spent at the restore rate (buffer 0 -> 1)")
        self.sim.advance(60.0)
        self.spend(spread=False)
        figures["sync_spent_burst"] = self.stretch(buffer(0))
        self.check_store("full sync, budget spent at once (buffer 1 -> 0)")

        # naive: one call per variant through the same adapter and budget
        figures["naive"] = {
            "write": self.naive("write", args.naive_sample),
            "read": self.naive("read", args.naive_sample),
        }
        return figures

    def spend(self, *, spread: bool) -> None:
        """The app spent the whole bucket just before: the sandbox's bucket drained to 0, and
        the shared budget (the adapter's view) charged the same 2,000 points."""
        self.control.throttle_now(SHOP, available=0)
        rate = Rate(amount=BUCKET, per_seconds=int(BUCKET / RESTORE))
        now = self.sim.clock.timestamp()
        spent, _ = self.budget._window(f"shopify:cost:{SHOP}", rate)
        if spread:  # 100 points a second over the last 20 s
            for second in range(rate.per_seconds - 1, -1, -1):
                spent.append((now - second, int(RESTORE)))
        else:
            spent.append((now, BUCKET))

    def naive(self, what: str, sample: int) -> dict[str, Any]:
        """``sample`` one-quantity mutations (each variant set to what it has, so the product's
        state stays right) or one-pair level reads, from a rested bucket."""
        platform: ShopifyPlatform = self.services.platforms["shopify"]._inner  # type: ignore[attr-defined]
        session = session_for(self.services.store, self.integration_id)
        with self.services.ctx.uow() as uow:
            mappings = uow.mappings.for_integration(self.integration_id)[:sample]
        store = self.store_levels()
        self.sim.advance(60.0)
        self.control.clear_calls()
        waited = wait_of(self.probe.snapshot()[1], label=None, kind="budget")
        started = time.perf_counter()
        for n, m in enumerate(mappings):
            item = m.external_inventory_item_id or ""
            if what == "write":
                on_hand = store[m.sku or ""]
                batch = InventoryBatch(
                    idempotency_key=f"naive-{uuid.uuid4()}",
                    quantities=(InventoryQuantity(item, self.location, on_hand, on_hand),),
                )
                result = platform.set_inventory(session, batch)
                assert result.items[0].status == "applied", result
            else:
                levels = platform.inventory_levels(session, [(item, self.location)])
                assert len(levels) == 1, (n, levels)
        wall = time.perf_counter() - started
        waits = wait_of(self.probe.snapshot()[1], label=None, kind="budget") - waited
        calls, requested, actual, throttled = Costs(self.control.calls(SHOP)).of()
        return {
            "calls": calls,
            "requested": requested,
            "actual": actual,
            "throttled": throttled,
            "wait": waits,
            "wall": wall,
            "per_call": actual / max(1, calls),
            "requested_per_call": requested / max(1, calls),
        }


# ---------------------------------------------------------------------------------------------
# part 2: real time
# ---------------------------------------------------------------------------------------------


def _burst_child(spec_json: str) -> None:
    """Make the burst's movements on a schedule with a few threads; print their times."""
    spec = json.loads(spec_json)
    db = PostgresDatabase(spec["database_url"], max_size=spec["threads"] + 1)
    db.open()
    ctx = Context(uow=lambda: PostgresUnitOfWork(db), clock=SystemClock(), ids=UuidIdGenerator())
    moves = spec["moves"]  # [offset seconds, product id, quantity]
    started = spec["start"]  # the same instant for every burst process
    lock = threading.Lock()
    cursor = iter(range(len(moves)))
    done: list[tuple[float, float]] = [(0.0, 0.0)] * len(moves)

    def run() -> None:
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                return
            offset, product_id, quantity = moves[index]
            time.sleep(max(0.0, started + offset - time.time()))
            began = time.time()
            if quantity > 0:
                stock_services.receive_stock(
                    ctx,
                    SYSTEM,
                    warehouse_id=spec["warehouse_id"],
                    product_id=product_id,
                    quantity=quantity,
                )
            else:
                stock_services.adjust_stock(
                    ctx,
                    SYSTEM,
                    warehouse_id=spec["warehouse_id"],
                    product_id=product_id,
                    quantity=quantity,
                    reason="cycle count",
                )
            done[index] = (began, time.time())

    threads = [threading.Thread(target=run) for _ in range(spec["threads"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.close()
    cpu = os.times()
    print(json.dumps({"started": started, "done": done, "cpu": cpu.user + cpu.system}), flush=True)


class Part2:
    def __init__(
        self,
        args: argparse.Namespace,
        services: Services,
        sandbox: Sandbox,
        probe: Probe,
        *,
        database_url: str,
        integration_id: str,
        location: str,
        warehouse_id: str,
        product_ids: list[str],
    ) -> None:
        self.args = args
        self.services = services
        self.sandbox = sandbox
        self.control = sandbox.control
        self.probe = probe
        self.database_url = database_url
        self.integration_id = integration_id
        self.location = location
        self.warehouse_id = warehouse_id
        self.product_ids = product_ids
        self.journal = Journal(probe)
        services.handlers = self.journal.wrap(services.handlers)
        with services.ctx.uow() as uow:
            self.items = {
                m.product_id: m.external_inventory_item_id or ""
                for m in uow.mappings.for_integration(integration_id)
            }

    def buffer(self) -> int:
        with self.services.ctx.uow() as uow:
            integration = uow.integrations.peek(self.integration_id)
        assert integration is not None
        return integration.settings.inventory_buffer

    def applied_after(self, item: str, quantity: int, after: float) -> tuple[float, str] | None:
        """The first answer after ``after`` that applied ``quantity`` to ``item``."""
        found = None
        with self.probe.lock:
            for at, it, loc, qty, command in reversed(self.probe.applied):
                if at < after:
                    break
                if it == item and loc == self.location and qty == quantity:
                    found = (at, command)
        return found

    def one_change(self, rng: random.Random) -> dict[str, Any]:
        ctx = self.services.ctx
        args = self.args
        latencies: list[float] = []
        parts: list[tuple[float, ...]] = []
        wrong = missed = 0
        first = len(self.journal)
        self.control.clear_calls()
        chosen = [self.product_ids[(n * 7919) % len(self.product_ids)] for n in range(args.changes)]
        deadline = time.monotonic() + args.changes * 10 + 60
        for n, product_id in enumerate(chosen):
            if time.monotonic() > deadline:
                break
            began = time.time()
            level = stock_services.receive_stock(
                ctx, SYSTEM, warehouse_id=self.warehouse_id, product_id=product_id, quantity=1
            )
            expected = max(0, level.available - self.buffer())
            item = self.items[product_id]
            seen = None
            until = time.monotonic() + 30
            while seen is None and time.monotonic() < until:
                time.sleep(0.002)
                seen = self.applied_after(item, expected, began)
            if seen is None:
                print(f"  change {n}: not visible after 30 s")
                missed += 1
                if missed >= 3:
                    print("  three changes never became visible: giving up on scenario 3")
                    break
                continue
            at, command_id = seen
            latencies.append(at - began)
            ran = None
            until = time.monotonic() + 10
            while ran is None and time.monotonic() < until:  # recorded once the handler returns
                ran = next(
                    (r for r in self.journal.since(first) if r.command.id == command_id), None
                )
                time.sleep(0.005)
            if ran is not None:
                due = ran.command.next_attempt_at.timestamp()
                mutation = ran.waits.get(("push", "wall"), 0.0)
                parts.append(
                    (due - began, ran.started - due, at - ran.started - mutation, mutation)
                )
            on_hand = self.control.quantities(
                SHOP, location_id=int(self.location), inventory_item_id=int(item)
            )[0]
            wrong += on_hand != expected
            time.sleep(rng.uniform(0.05, 1.0))
        return {
            "latencies": latencies,
            "parts": parts,
            "wrong": wrong,
            "ran": self.journal.since(first),
            "costs": Costs(self.control.calls(SHOP)),
        }

    def burst(self, rng: random.Random) -> dict[str, Any]:
        args = self.args
        ctx = self.services.ctx
        products = [
            self.product_ids[(n * 104729 + 13) % len(self.product_ids)]
            for n in range(args.burst_skus)
        ]
        products = list(dict.fromkeys(products))
        moves = []
        for n in range(args.burst):
            offset = n * args.burst_seconds / args.burst
            quantity = rng.choice([1, 1, 2, 3, 5]) if rng.random() < 0.7 else -rng.choice([1, 2])
            moves.append([offset, rng.choice(products), quantity])
        first = len(self.journal)
        self.control.clear_calls()
        with self.probe.lock:
            applied_before = len(self.probe.applied)
            mutations_before = len(self.probe.mutations)
        env = dict(os.environ)
        env["PYTHONPATH"] = str(Path(__file__).resolve().parent)
        start = time.time() + 3.0  # the processes start and connect first
        children = []
        for k in range(args.burst_processes):
            spec = {
                "database_url": self.database_url,
                "warehouse_id": self.warehouse_id,
                "threads": args.burst_threads,
                "moves": moves[k :: args.burst_processes],
                "start": start,
            }
            child = subprocess.Popen(
                [sys.executable, __file__, "--burst-child"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
            assert child.stdin is not None
            child.stdin.write(json.dumps(spec).encode())
            child.stdin.close()
            child.stdin = None  # written: communicate() only reads
            children.append(child)
        done: list[tuple[float, float]] = []
        child_cpu = 0.0
        for child in children:
            try:
                out, err = child.communicate(timeout=args.burst_seconds * 20 + 120)
            except subprocess.TimeoutExpired:
                child.kill()
                raise
            if child.returncode != 0:
                raise RuntimeError(f"a burst process failed: {err.decode()[-2000:]}")
            made = json.loads(out.decode().strip().splitlines()[-1])
            done.extend(made["done"])
            child_cpu += made["cpu"]
        burst_start = min(b for b, _ in done)
        last_commit = max(e for _, e in done)
        # what the store must show once pushed
        with ctx.uow() as uow:
            levels = {lv.product_id: lv for lv in uow.stock.levels(warehouse_id=self.warehouse_id)}
        buffer = self.buffer()
        wanted = {self.items[p]: max(0, levels[p].available - buffer) for p in products}
        matched_at = None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with self.probe.lock:
                last: dict[str, tuple[float, int]] = {}
                for at, item, loc, qty, _ in self.probe.applied[applied_before:]:
                    if loc == self.location and item in wanted:
                        last[item] = (at, qty)
            busy = [
                c
                for c in pending_commands(ctx)
                if c.kind in (inventory.PUSH_COMMAND, inventory.SYNC_COMMAND)
            ]
            if not busy and all(last.get(i, (0, None))[1] == q for i, q in wanted.items()):
                matched_at = max(at for at, _ in last.values())
                break
            time.sleep(0.05)
        with self.probe.lock:
            mutations = list(self.probe.mutations[mutations_before:])
        store_wrong = 0
        for item, q in wanted.items():
            on_hand = self.control.quantities(
                SHOP, location_id=int(self.location), inventory_item_id=int(item)
            )[0]
            store_wrong += on_hand != q
        return {
            "moves": len(done),
            "skus": len(products),
            "span": last_commit - burst_start,
            "movement_ms": statistics.median(e - b for b, e in done) * 1000,
            "burst_start": burst_start,
            "last_commit": last_commit,
            "matched_at": matched_at,
            "mutations": mutations,
            "ran": self.journal.since(first),
            "costs": Costs(self.control.calls(SHOP)),
            "store_wrong": store_wrong,
            "child_cpu": child_cpu,
        }


# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------


def redis_reachable() -> bool:
    with contextlib.suppress(Exception):
        import redis

        return bool(redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping())
    return False


def print_part1(figures: dict[str, Any], args: argparse.Namespace, lines: list[str]) -> None:
    n = args.variants
    naive = figures["naive"]
    write_cost = naive["write"]["per_call"]
    read_cost = naive["read"]["per_call"]
    print()
    print("Part 1, simulated time (waits on the store's budget as a real run would spend them)")
    ran, costs, wall, mapped = figures["connect"]
    print(f"  0. connecting the store: {mapped:,} variants mapped by SKU; the worker ran:")
    for r in ran:
        budget = wait_of(r.waits, label=None, kind="budget")
        bulk = wait_of(r.waits, label=None, kind="bulk")
        print(
            f"     {r.kind:<18} {r.why:<12} {r.calls:>4} requests "
            f"({describe_requests(r.requests)});"
            f" budget wait {budget:.1f} s, bulk wait {bulk:.1f} s, wall {r.seconds:.1f} s;"
            f" result {json.dumps({k: v for k, v in r.result.items() if k != 'errors'})}"
        )
    calls, requested, actual, throttled = costs.of()
    print(
        f"     sandbox log: {calls} GraphQL calls, {requested:,} points requested, "
        f"{actual:,} spent, {throttled} throttled; wall {wall:.1f} s"
    )

    table = Table(
        "\n  1, 2, 4: full syncs, delta pushes and drift repair (storelink); one call per SKU "
        "(naive) in the next table",
        [
            ("scenario", 52),
            ("GraphQL", 7),
            ("+GET", 4),
            ("mutations", 9),
            ("points asked/spent", 18),
            ("budget wait s", 13),
            ("floor s", 7),
            ("wait/floor", 10),
            ("bulk wait s", 11),
            ("wall s", 6),
        ],
    )
    for key, title in (
        ("sync_after_connect", "1a full sync right after connecting"),
        ("sync_rested", "1b full sync from a rested bucket"),
        ("sync_spent_steady", "1c full sync, budget spent steadily"),
        ("sync_spent_burst", "1d full sync, budget spent at once"),
        ("drift", f"4  drift repair ({figures['drifted']} drifted)"),
    ):
        ran, costs, wall = figures[key]
        syncs = [r for r in ran if r.kind == inventory.SYNC_COMMAND]
        others = [r for r in ran if r.kind != inventory.SYNC_COMMAND]
        for label, ops, part in (
            ("snapshot", SNAPSHOT_OPS, "snapshot read"),
            ("push", PUSH_OPS, "push"),
        ):
            requests: Counter[tuple[str, str]] = Counter()
            waits: dict[tuple[str, str], float] = defaultdict(float)
            for r in syncs:
                requests += Counter({k: v for k, v in r.requests.items() if k[0] == label})
                for k, v in r.waits.items():
                    if k[0] == label:
                        waits[k] += v
            graphql = sum(v for k, v in requests.items() if not k[1].endswith("file"))
            gets = sum(v for k, v in requests.items() if k[1].endswith("file"))
            _, asked, points, _ = costs.of(ops)
            budget = wait_of(waits, label=None, kind="budget")
            floor = points / RESTORE
            mutations = requests[(label, "InventorySetQuantities")]
            table.add(
                f"{title}: {part}",
                graphql,
                gets,
                mutations if label == "push" else "-",
                f"{asked:,} / {points:,}",
                budget,
                floor,
                f"{budget / floor:.2f}x" if floor else "-",
                wait_of(waits, label=None, kind="bulk"),
                wait_of(waits, label=None, kind="wall"),
            )
        if others:
            table.add(
                f"   (other commands: {', '.join(f'{r.kind} {r.calls} req' for r in others)})",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
            )
        calls_all, asked_all, points_all, throttled = costs.of()
        budget_all = sum(wait_of(r.waits, label=None, kind="budget") for r in ran)
        table.add(
            f"{title}: whole",
            calls_all,
            sum(v for r in ran for k, v in r.requests.items() if k[1].endswith("file")),
            sum(r.requests[("push", "InventorySetQuantities")] for r in ran),
            f"{asked_all:,} / {points_all:,}",
            budget_all,
            points_all / RESTORE,
            f"{budget_all / (points_all / RESTORE):.2f}x" if points_all else "-",
            sum(wait_of(r.waits, label=None, kind="bulk") for r in ran),
            wall,
        )
        if throttled:
            table.add(f"   ({throttled} THROTTLED answers)", "", "", "", "", "", "", "", "", "")
    _, log_d, wall_d = figures["delta_direct"]
    table.add(
        "2  delta push, no dirty mark (push_changes)",
        log_d,
        0,
        0,
        "0 / 0",
        0.0,
        0.0,
        "-",
        0.0,
        wall_d,
    )
    ran, costs, wall = figures["delta_worker"]
    pushes = [r for r in ran if r.kind == inventory.PUSH_COMMAND]
    table.add(
        f"2  delta push, 5 receipts + reversals ({len(pushes)} push)",
        costs.of()[0],
        0,
        0,
        f"{costs.of()[1]:,} / {costs.of()[2]:,}",
        0.0,
        0.0,
        "-",
        0.0,
        sum(r.seconds for r in pushes),
    )
    table.print()

    naive_table = Table(
        "\n  naive, one call per variant (naive write: inventorySetQuantities of 1 quantity; naive "
        "read: one level by id)",
        [("scenario", 52), ("calls", 7), ("points", 8), ("least time at Standard", 22)],
    )
    drifted = figures["drifted"]
    for title, calls, cost in (
        ("1  full push, one mutation per variant", n, write_cost),
        ("2  nothing changed, periodic full push", n, write_cost),
        ("2  5 receipts + 5 reversals, one per movement", 10, write_cost),
        ("4  drift: read each variant", n, read_cost),
        ("4  drift: then one mutation per drifted", drifted, write_cost),
    ):
        naive_table.add(title, calls, int(calls * cost), f"{naive_seconds(calls, cost):,.1f} s")
    naive_table.print()
    for what in ("write", "read"):
        s = naive[what]
        model = naive_seconds(s["calls"], s["per_call"])
        print(
            f"  measured naive {what} sample: {s['calls']:,} calls, {s['requested']:,} points "
            f"requested ({s['requested_per_call']:.1f} a call), {s['actual']:,} spent "
            f"({s['per_call']:.1f} a call), {s['throttled']} throttled, budget wait "
            f"{s['wait']:.1f} s (bucket model: {model:.1f} s), wall {s['wall']:.1f} s"
        )
    for line in lines:
        print(line)


def summarize_parts(parts: list[tuple[float, ...]]) -> str:
    if not parts:
        return ""
    columns = list(zip(*parts, strict=True))
    names = (
        "waiting for the debounce slot's end",
        "worker pickup after due (idle wait)",
        "the push's own work before it (plan)",
        "the mutation's round trip",
    )
    return "\n".join(
        f"       {name:<40} p50 {percentile(sorted(c), 50) * 1000:>5.0f} ms, p99 "
        f"{percentile(sorted(c), 99) * 1000:>5.0f} ms, mean {statistics.mean(c) * 1000:>5.0f} ms"
        for name, c in zip(names, columns, strict=True)
    )


def print_part2(
    one: dict[str, Any],
    burst: dict[str, Any],
    args: argparse.Namespace,
    cpu: dict[str, Any],
    limiter: str,
) -> None:
    print()
    print(
        f"Part 2, real time: one worker thread (run_worker, idle wait {args.idle:g} s), "
        f"shared budget in {limiter}"
    )
    lat = sorted(one["latencies"])
    pushes = [r for r in one["ran"] if r.kind == inventory.PUSH_COMMAND]
    calls, _, actual, throttled = one["costs"].of()
    print(
        f"  3. one stock change -> applied in the store, {len(lat)} changes "
        f"({one['wrong']} wrong in the store afterwards):"
    )
    if lat:
        print(
            f"     p50 {percentile(lat, 50) * 1000:.0f} ms, "
            f"p90 {percentile(lat, 90) * 1000:.0f} ms, "
            f"p99 {percentile(lat, 99) * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms, "
            f"mean {statistics.mean(lat) * 1000:.0f} ms"
        )
    print("     of which (per change):")
    print(summarize_parts(one["parts"]))
    push_seconds = sorted(r.seconds for r in pushes)
    if push_seconds:
        print(
            f"     {len(pushes)} pushes ran, each p50 {percentile(push_seconds, 50) * 1000:.0f} ms "
            f"(max {push_seconds[-1] * 1000:.0f} ms); {calls} GraphQL calls, {actual:,} points, "
            f"{throttled} throttled; naive: {len(lat)} calls (one per change)"
        )
    print(f"     CPU: {cpu['one']}")
    mutations = burst["mutations"]
    ran = burst["ran"]
    pushes = [r for r in ran if r.kind == inventory.PUSH_COMMAND]
    skipped = [r for r in pushes if "skipped" in r.result]
    calls, _, actual, throttled = burst["costs"].of()
    sizes = sorted(size for _, _, size in mutations)
    print(
        f"  5. burst: {burst['moves']:,} movements over {burst['skus']} SKUs made in "
        f"{burst['span']:.1f} s ({burst['moves'] / burst['span']:.0f}/s) by "
        f"{args.burst_processes} processes of {args.burst_threads} threads "
        f"(median {burst['movement_ms']:.1f} ms a movement)"
    )
    print(
        f"     became {len(pushes)} push commands ({len(skipped)} skipped: another push running), "
        f"{len(mutations)} mutations (quantities each: "
        f"{', '.join(str(s) for s in sizes[:12])}{' ...' if len(sizes) > 12 else ''}), "
        f"{calls} GraphQL calls, {actual:,} points, {throttled} throttled"
    )
    if burst["matched_at"] is not None:
        print(
            f"     store matched the warehouse {burst['matched_at'] - burst['last_commit']:.2f} s "
            f"after the last movement ({burst['matched_at'] - burst['burst_start']:.1f} s after "
            f"the first); SKUs wrong in the store afterwards: {burst['store_wrong']}"
        )
    else:
        print(f"     the store did NOT match within 180 s; wrong: {burst['store_wrong']}")
    push_seconds = sorted(r.seconds for r in pushes if "skipped" not in r.result)
    if push_seconds:
        print(
            f"     pushes took p50 {percentile(push_seconds, 50) * 1000:.0f} ms, max "
            f"{push_seconds[-1] * 1000:.0f} ms; naive: {burst['moves']:,} calls, "
            f"{burst['moves'] * 10:,} points, at least "
            f"{naive_seconds(burst['moves'], 10.0):,.0f} s at Standard"
        )
    print(
        f"     CPU: {cpu['burst']} (other includes the burst processes: {burst['child_cpu']:.1f} s)"
    )


def sync_figures(stretch: tuple[list[Ran], Costs, float]) -> dict[str, Any]:
    ran, costs, _ = stretch
    syncs = [r for r in ran if r.kind == inventory.SYNC_COMMAND]
    requests: Counter[tuple[str, str]] = Counter()
    for r in ran:
        requests += r.requests
    gets = sum(n for (_, op), n in requests.items() if op.endswith("file"))
    snapshot = sum(
        n for (lab, op), n in requests.items() if lab == "snapshot" and not op.endswith("file")
    )
    calls, _, spent, throttled = costs.of()
    return {
        "graphql": calls,
        "gets": gets,
        "snapshot_graphql": snapshot,
        "snapshot_points": costs.of(SNAPSHOT_OPS)[2],
        "snapshot_asked": costs.of(SNAPSHOT_OPS)[1],
        "mutations": requests[("push", "InventorySetQuantities")],
        "points": spent,
        "wait": sum(wait_of(r.waits, label=None, kind="budget") for r in ran),
        "bulk": sum(wait_of(r.waits, label=None, kind="bulk") for r in ran),
        "wall": sum(r.seconds for r in syncs),
        "throttled": throttled,
    }


def print_summary(
    figures: dict[str, Any],
    one: dict[str, Any] | None,
    burst: dict[str, Any] | None,
    args: argparse.Namespace,
) -> None:
    n = args.variants
    write = figures["naive"]["write"]["per_call"]
    read = figures["naive"]["read"]["per_call"]
    table = Table(
        f"\nSummary ({n:,} mapped variants, Standard limits: bucket {BUCKET:,} points, "
        f"{RESTORE:g} a second)",
        [
            ("figure", 58),
            ("storelink", 30),
            ("naive, one call per SKU", 26),
            ("goal", 12),
            ("met", 4),
        ],
    )
    rested = sync_figures(figures["sync_rested"])
    floor = rested["points"] / RESTORE
    table.add(
        "1 full push: mutations",
        rested["mutations"],
        f"{n:,}",
        "<= 40",
        "yes" if rested["mutations"] <= 40 else "NO",
    )
    table.add(
        "1 full sync: store calls (snapshot + push)",
        f"{rested['graphql']} GraphQL + {rested['gets']} file GET",
        f"{n:,}",
        "-",
        "",
    )
    table.add(
        "1   of which the snapshot read (bulk)",
        f"{rested['snapshot_graphql']} + {rested['gets']} GET, "
        f"{rested['snapshot_asked']}/{rested['snapshot_points']} pts",
        "-",
        "-",
        "",
    )
    table.add(
        "1 points spent / floor (points / restore rate)",
        f"{rested['points']:,} / {floor:.1f} s",
        f"{n * write:,.0f} / {n * write / RESTORE:,.0f} s",
        "-",
        "",
    )
    for key, what in (
        ("sync_rested", "rested bucket"),
        ("sync_spent_steady", "budget spent steadily before"),
        ("sync_spent_burst", "budget spent at once before"),
    ):
        f = sync_figures(figures[key])
        ratio = f["wait"] / (f["points"] / RESTORE)
        naive = naive_seconds(n, write) if key in ("sync_rested",) else (n * write / RESTORE)
        table.add(
            f"1 budget wait, {what}",
            f"{f['wait']:.1f} s ({ratio:.2f}x floor)",
            f"{naive:,.0f} s",
            "<= 1.2x",
            "yes" if ratio <= 1.2 else "NO",
        )
    table.add(
        "1 snapshot: waiting for the bulk operation (real time)",
        f"{rested['bulk']:.1f} s",
        "-",
        "-",
        "",
    )
    table.add(
        "1 full sync wall time here (worker, PostgreSQL, sandbox)",
        f"{rested['wall']:.1f} s",
        "-",
        "-",
        "",
    )
    _, direct_log, _ = figures["delta_direct"]
    delta = figures["delta_worker"][1].of()[0]
    table.add(
        "2 delta push, nothing changed: store calls",
        f"{direct_log} (and {delta} after 5 receipts + reversals)",
        "10 (one per movement)",
        "0",
        "yes" if direct_log == 0 and delta == 0 else "NO",
    )
    if one is not None and one["latencies"]:
        lat = sorted(one["latencies"])
        p99 = percentile(lat, 99)
        table.add(
            f"3 one change -> store, p50 / p99 ({len(lat)} changes, idle {args.idle:g} s)",
            f"{percentile(lat, 50):.2f} s / {p99:.2f} s",
            "-",
            "p99 <= 2 s",
            "yes" if p99 <= 2.0 else "NO",
        )
    drift = sync_figures(figures["drift"])
    table.add(
        "4 drift repair: store calls for the read",
        f"{drift['snapshot_graphql']} GraphQL + {drift['gets']} file GET",
        f"{n:,} ({naive_seconds(n, read):,.0f} s)",
        "<= 3",
        "yes" if drift["snapshot_graphql"] <= 3 else "NO",
    )
    table.add(
        f"4 drift repair: mutations for {figures['drifted']} drifted variants",
        drift["mutations"],
        f"{figures['drifted']}",
        "-",
        "",
    )
    if burst is not None:
        pushes = sum(1 for r in burst["ran"] if r.kind == inventory.PUSH_COMMAND)
        table.add(
            f"5 burst of {burst['moves']:,} movements / {burst['skus']} SKUs "
            f"({burst['span']:.1f} s): mutations",
            f"{len(burst['mutations'])} ({pushes} pushes)",
            f"{burst['moves']:,}",
            "-",
            "",
        )
        matched = (
            f"{burst['matched_at'] - burst['last_commit']:.2f} s"
            if burst["matched_at"] is not None
            else "not within 180 s"
        )
        table.add(
            "5 store matched, after the last movement",
            matched,
            f">= {naive_seconds(burst['moves'], write) - burst['span']:,.0f} s",
            "-",
            "",
        )
    table.print()


def cpu_line(meter: CpuMeter, first: Any, seconds: float) -> str:
    cpu = CpuMeter.between(first, meter.snapshot(), seconds)
    return (
        f"{seconds:.0f} s: this process (worker, driver) {cpu.own:.1f} s, sandbox "
        f"{cpu.processes['sandbox']:.1f} s, PostgreSQL {cpu.postgres:.1f} s, other "
        f"{cpu.other:.1f} s; {cpu.busy_cores:.2f} of 2 cores busy"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=10_000, help="mapped variants")
    parser.add_argument("--changes", type=int, default=100, help="single changes timed (3)")
    parser.add_argument("--idle", type=float, default=1.0, help="worker wait when idle (s)")
    parser.add_argument("--drift", type=int, default=20, help="variants edited in the store (4)")
    parser.add_argument("--burst", type=int, default=5000, help="movements in the burst (5)")
    parser.add_argument("--burst-skus", type=int, default=100)
    parser.add_argument("--burst-seconds", type=float, default=10.0)
    parser.add_argument("--burst-processes", type=int, default=2, help="processes making it")
    parser.add_argument("--burst-threads", type=int, default=3, help="threads per process")
    parser.add_argument("--naive-sample", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-realtime", action="store_true", help="part 1 only")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to create the scratch database on "
        "(default: postgresql://postgres@127.0.0.1:5432/postgres, else embedded)",
    )
    args = parser.parse_args()
    args.naive_sample = min(args.naive_sample, args.variants)
    args.burst_skus = min(args.burst_skus, args.variants)
    rng = random.Random(args.seed)
    command = " ".join(["benchmarks/stock_sync.py", *sys.argv[1:]])
    began = time.perf_counter()

    with contextlib.ExitStack() as stack:
        database = stack.enter_context(scratch_database(args.database_url))
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        sandbox = Sandbox()
        stack.callback(sandbox.stop)
        print(f"command: .venv/bin/python {command}")
        print(f"{database.server}; load average before the run {load_average()}")
        env = bench_environment(
            database.url,
            Path(tmp),
            app_url=f"http://127.0.0.1:{free_port()}",  # nothing listens: no webhook is sent
            client_id="sandbox-client-id",
            client_secret="sandbox-client-secret",
            shop_url_template=sandbox.shop_url_template,
        )
        settings = Settings.from_env(env, read_dotenv=False)
        db = PostgresDatabase(database.url, max_size=6)
        db.open()
        stack.callback(db.close)
        probe = Probe()
        t = time.perf_counter()
        create_store(sandbox.control, args.variants)
        boot_ctx = Context(
            uow=lambda: PostgresUnitOfWork(db), clock=SystemClock(), ids=UuidIdGenerator()
        )
        client_id, warehouse_id, product_ids = create_catalog(boot_ctx, args.variants)
        print(
            f"{args.variants:,} variants in the store ({STORE_ON_HAND} on hand each) and "
            f"{args.variants:,} products with 100-149 in the warehouse, in "
            f"{time.perf_counter() - t:.0f} s"
        )

        # part 1: simulated time
        adapter_clock = ManualClock(start=datetime.now(UTC))
        sim_http = stack.enter_context(hooked_http(probe))
        simulated = SimulatedTime(adapter_clock, sandbox, probe)
        stack.callback(simulated.close)
        config = ShopifyConfig(
            client_id="sandbox-client-id",
            client_secret="sandbox-client-secret",
            shop_url_template=sandbox.shop_url_template,
            max_budget_wait_seconds=3600.0,
        )
        budget = SimulatedBudget(adapter_clock)
        sim_platform = ShopifyPlatform(
            config,
            budget,
            adapter_clock,
            http=sim_http,
            sleep=simulated.sleep,
        )
        services1 = bootstrap(
            settings,
            uow=lambda: PostgresUnitOfWork(db),
            passwords=Argon2PasswordHasher(parameters=TEST_PARAMETERS),
            rate_limiter=LimitsRateLimiter("memory://", prefix="bench1"),
            platforms={"shopify": Recording(sim_platform, probe)},
        )
        stack.callback(services1.close)
        part1 = Part1(args, services1, sandbox, probe)
        part1.sim = simulated
        part1.budget = budget
        part1.warehouse_id = warehouse_id
        figures = part1.run(client_id)
        print_part1(figures, args, part1.lines)
        print(
            f"  (part 1 wall time {time.perf_counter() - began:.0f} s; load average "
            f"{load_average()})"
        )
        if args.skip_realtime:
            print_summary(figures, None, None, args)
            return

        # part 2: real time
        sandbox.realtime()
        limiter = REDIS if redis_reachable() else "memory://"
        prefix = f"stockbench{uuid.uuid4().hex[:8]}"
        http2 = stack.enter_context(hooked_http(probe))
        rate_limiter = LimitsRateLimiter(limiter, prefix=prefix)
        real_platform = ShopifyPlatform(
            ShopifyConfig(
                client_id="sandbox-client-id",
                client_secret="sandbox-client-secret",
                shop_url_template=sandbox.shop_url_template,
            ),
            FailOpenRateLimiter(rate_limiter),
            SystemClock(),
            http=http2,
        )
        services2 = bootstrap(
            settings,
            uow=lambda: PostgresUnitOfWork(db),
            passwords=Argon2PasswordHasher(parameters=TEST_PARAMETERS),
            rate_limiter=rate_limiter,
            platforms={"shopify": Recording(real_platform, probe)},
        )
        stack.callback(services2.close)
        part2 = Part2(
            args,
            services2,
            sandbox,
            probe,
            database_url=database.url,
            integration_id=part1.integration_id,
            location=part1.location,
            warehouse_id=warehouse_id,
            product_ids=product_ids,
        )
        meter = CpuMeter(database.url, {"sandbox": sandbox.process.pid})
        stop = threading.Event()
        reports: list[WorkReport] = []
        thread = threading.Thread(
            target=lambda: reports.append(
                run_worker(services2, stop, idle_seconds=args.idle, worker_id="bench-worker")
            ),
            name="worker",
        )
        thread.start()
        cpu: dict[str, str] = {}
        try:
            first, t = meter.snapshot(), time.perf_counter()
            one = part2.one_change(rng)
            cpu["one"] = cpu_line(meter, first, time.perf_counter() - t)
            time.sleep(2.0)
            first, t = meter.snapshot(), time.perf_counter()
            burst = part2.burst(rng)
            cpu["burst"] = cpu_line(meter, first, time.perf_counter() - t)
        finally:
            stop.set()
            thread.join(60)
        print_part2(one, burst, args, cpu, f"{limiter} (moving window, as in production)")
        print_summary(figures, one, burst, args)
        print(
            f"\nwhole run {time.perf_counter() - began:.0f} s; load average after {load_average()}"
        )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--sandbox-child":
        _run_sandbox_child(sys.argv[2])
    elif len(sys.argv) == 2 and sys.argv[1] == "--burst-child":
        _burst_child(sys.stdin.read())
    else:
        main()
