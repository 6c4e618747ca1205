"""Webhook to warehouse order: the whole loop's latency with the worker running.

    .venv/bin/python benchmarks/webhook_latency.py [--orders 200] [--rate 20] [--workers 1 2]
        [--idle 0.05] [--plan plus|advanced|standard] [--store-latency 0]
        [--database-url postgresql://USER@HOST/DB]

Everything runs as in production, on a scratch PostgreSQL database (as webhook_ingest.py):
the simulated Shopify in its own process, ``storelink serve`` (waitress) in another, and in
this process worker threads running ``entrypoints.cli.run_worker`` (the loop of ``storelink
worker``, here with ``--idle`` seconds of wait when nothing is due). A store is connected
through the real OAuth redirects; its setup job registers the webhooks and maps the primary
location and the SKUs. Then, for each worker count, orders are placed in the sandbox at a
steady rate; the sandbox signs and posts ``orders/create`` to the app, the app stores it in the
inbox, a worker claims it, reads the order and its fulfillment orders from the store's GraphQL
API and creates the warehouse order with its stock reserved.

Per order: from the moment this script starts placing it to the commit of the transaction that
created its warehouse order (recorded by a unit of work that notes the external ids it added
and the time its commit returned: the instant other connections can see the order), split at
the inbox event's ``received_at``. Every order must become exactly one warehouse order.

Each order costs two GraphQL queries (24 points actually spent, 865 requested). ``--plan``
sets the shop's budget: by default Plus (1,000 points a second), so that 20 orders a second
fit and the loop itself is measured; ``standard`` (100 a second) shows the budget as the
limit. ``--store-latency`` makes every GraphQL answer that much slower, as a store across the
internet is.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import psycopg
from _harness import (
    Cpu,
    CpuMeter,
    SandboxProcess,
    Summary,
    app_process,
    bench_environment,
    free_port,
    load_average,
    print_summaries,
    scratch_database,
)

from adapters.passwords import TEST_PARAMETERS, Argon2PasswordHasher
from adapters.postgres import PostgresDatabase, PostgresUnitOfWork
from core.model import Integration, OutboundOrder
from core.ports import OrderRepository
from core.services import SYSTEM, tenancy
from core.services import stock as stock_services
from core.services.worker import Worker, WorkReport
from entrypoints.bootstrap import Services, bootstrap
from entrypoints.cli import run_worker
from entrypoints.settings import Settings

SHOP = "bench.myshopify.com"
# Shopify's GraphQL restore rates per plan (points a second); the bucket holds 20 seconds' worth,
# as the sandbox's Standard default (2,000 points, 100 a second).
PLANS = {"standard": 100, "advanced": 200, "plus": 1000}
SKUS = [f"BENCH-{n:02}" for n in range(10)]
STOCK = 1_000_000


# --- when a warehouse order becomes visible ----------------------------------------------------


class Recorder:
    """The first commit time of each external order id, and how many times it was added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.committed: dict[str, float] = {}
        self.added: Counter[str] = Counter()

    def record(self, external_ids: Sequence[str], at: float) -> None:
        with self._lock:
            for external_id in external_ids:
                self.added[external_id] += 1
                self.committed.setdefault(external_id, at)

    def seen(self, external_ids: Sequence[str]) -> int:
        with self._lock:
            return sum(1 for e in external_ids if e in self.committed)


class _RecordingOrders:
    """The unit of work's order repository, noting the external id of every order added."""

    def __init__(self, inner: OrderRepository, added: list[str]) -> None:
        self._inner = inner
        self._added = added

    def add(self, order: OutboundOrder) -> None:
        self._inner.add(order)
        if order.external is not None:
            self._added.append(order.external.external_order_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class TimedUnitOfWork(PostgresUnitOfWork):
    """``PostgresUnitOfWork`` that tells the recorder when an added order was committed."""

    def __init__(self, db: PostgresDatabase, recorder: Recorder) -> None:
        super().__init__(db)
        self._recorder = recorder
        self._added: list[str] = []

    def __enter__(self) -> TimedUnitOfWork:
        super().__enter__()
        self._added = []
        self.orders = _RecordingOrders(self.orders, self._added)  # type: ignore[assignment]
        return self

    def commit(self) -> None:
        super().commit()
        if self._added:
            self._recorder.record(list(self._added), time.time())
            self._added.clear()


# --- the world --------------------------------------------------------------------------------


def prepare(
    services: Services, sandbox: SandboxProcess, app_url: str, restore_rate: int
) -> Integration:
    """A warehouse, a client with SKUs in stock, the same SKUs in a sandbox shop, and the
    client's owner connecting the shop through the app (OAuth), setup worked off."""
    ctx = services.ctx
    warehouse = stock_services.create_warehouse(ctx, SYSTEM, code="MAIN", name="Main warehouse")
    client = tenancy.create_client(ctx, SYSTEM, name="Benchmark merchant")
    tenancy.set_default_warehouse(ctx, SYSTEM, client_id=client.id, warehouse_id=warehouse.id)
    email = "owner@bench.test"
    tenancy.create_user(
        ctx,
        services.passwords,
        SYSTEM,
        email=email,
        password="benchmark-password",
        client_id=client.id,
        role="owner",
    )
    token = tenancy.create_api_token(ctx, email=email)[1]
    for sku in SKUS:
        product = stock_services.create_product(
            ctx, SYSTEM, client_id=client.id, sku=sku, name=f"Product {sku}"
        )
        stock_services.receive_stock(
            ctx, SYSTEM, product_id=product.id, warehouse_id=warehouse.id, quantity=STOCK
        )
    with httpx.Client(base_url=sandbox.url, timeout=30) as control:
        shop = control.post(
            "/_sandbox/shops",
            json={
                "shop": SHOP,
                "name": "Bench",
                "bucket_size": restore_rate * 20,
                "restore_rate": restore_rate,
            },
        ).json()
        location = str(shop["primary_location_id"])
        variants = [{"sku": sku, "price": "10.00", "inventory": {location: STOCK}} for sku in SKUS]
        control.post(
            f"/_sandbox/shops/{SHOP}/products", json={"title": "Bench item", "variants": variants}
        ).raise_for_status()
    with httpx.Client(
        base_url=app_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as web:
        answer = web.get(
            "/api/integrations/shopify/auth", params={"shop": "bench"}, follow_redirects=True
        )
    landed = [r.headers["location"] for r in answer.history if "/callback" in r.url.path]
    if landed != ["/portal/settings/integrations?success=shopify_connected"]:
        raise RuntimeError(f"connecting the shop failed: {landed}")
    settle(services, sandbox)
    with ctx.uow() as uow:
        integration = uow.integrations.find(client.id, "shopify", SHOP)
        if integration is None:
            raise RuntimeError("the integration was not saved")
        mapped = len(uow.mappings.for_integration(integration.id))
        locations = uow.locations.for_integration(integration.id)
    if mapped != len(SKUS) or not any(loc.warehouse_id for loc in locations):
        raise RuntimeError(f"setup incomplete: {mapped} SKUs mapped, locations {locations}")
    return integration


def settle(services: Services, sandbox: SandboxProcess) -> WorkReport:
    """Deliver every webhook and work every queue item until nothing is left."""
    worker = Worker(services.ctx, services.handlers, worker_id="bench-setup")
    total = WorkReport()
    with httpx.Client(base_url=sandbox.url, timeout=60) as control:
        for _ in range(20):
            control.post("/_sandbox/webhooks/flush", json={"timeout": 30}).raise_for_status()
            report = worker.drain()
            total.add(report)
            if report.total == 0:
                break
    return total


# --- one run ----------------------------------------------------------------------------------


class Run:
    def __init__(self, workers: int, orders: int) -> None:
        self.workers = workers
        self.orders = orders
        self.placed: dict[str, float] = {}  # external order id -> when placing began
        self.place_seconds: list[float] = []
        self.reports: list[WorkReport] = []
        self.seconds = 0.0
        self.cpu: Cpu | None = None


def run(
    services: Services,
    sandbox: SandboxProcess,
    recorder: Recorder,
    meter: CpuMeter,
    *,
    workers: int,
    orders: int,
    rate: float,
    idle: float,
    timeout: float,
) -> Run:
    result = Run(workers, orders)
    stop = threading.Event()
    first = meter.snapshot()

    def work(n: int) -> None:
        result.reports.append(
            run_worker(services, stop, idle_seconds=idle, worker_id=f"bench-{workers}-{n}")
        )

    threads = [threading.Thread(target=work, args=(n,), name=f"worker-{n}") for n in range(workers)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    with httpx.Client(base_url=sandbox.url, timeout=30) as control:
        for n in range(orders):
            time.sleep(max(0.0, started + n / rate - time.perf_counter()))
            placing = time.time()
            answer = control.post(
                f"/_sandbox/shops/{SHOP}/orders",
                json={
                    "line_items": [{"sku": SKUS[n % len(SKUS)], "quantity": 1 + n % 3}],
                    "email": f"buyer{n}@example.com",
                    "shipping_address": {
                        "first_name": "Ada",
                        "last_name": f"Buyer {n}",
                        "address1": "1 Main St",
                        "city": "London",
                        "zip": "N1 1AA",
                        "country_code": "GB",
                    },
                },
            )
            answer.raise_for_status()
            result.place_seconds.append(time.time() - placing)
            result.placed[str(answer.json()["id"])] = placing
    placed = list(result.placed)
    deadline = time.perf_counter() + timeout
    while recorder.seen(placed) < len(placed) and time.perf_counter() < deadline:
        time.sleep(0.01)
    result.seconds = time.perf_counter() - started
    result.cpu = CpuMeter.between(first, meter.snapshot(), result.seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return result


def received_times(database_url: str, integration_id: str) -> dict[str, float]:
    """When the app stored each order's ``orders/create`` delivery (its ``received_at``)."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT payload->>'id', min(received_at) FROM inbox_events"
            " WHERE integration_id = %s AND topic = 'orders/create' GROUP BY 1",
            [integration_id],
        ).fetchall()
    return {str(order_id): at.timestamp() for order_id, at in rows}


def warehouse_orders(database_url: str, integration_id: str) -> Counter[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT external_order_id, count(*) FROM orders WHERE integration_id = %s GROUP BY 1",
            [integration_id],
        ).fetchall()
    return Counter({str(external_id): int(n) for external_id, n in rows})


def report(
    result: Run,
    recorder: Recorder,
    database_url: str,
    integration: Integration,
    calls: list[dict[str, Any]],
    *,
    rate: float,
    idle: float,
) -> None:
    received = received_times(database_url, integration.id)
    in_db = warehouse_orders(database_url, integration.id)
    total, ingest, work = [], [], []
    for external_id, placing in result.placed.items():
        committed = recorder.committed.get(external_id)
        if committed is None:
            continue
        total.append(committed - placing)
        if external_id in received:
            ingest.append(received[external_id] - placing)
            work.append(committed - received[external_id])
    noun = "worker" if result.workers == 1 else "workers"
    print()
    print(
        f"{result.workers} {noun} (idle wait {idle:g} s): {result.orders} orders placed "
        f"at {rate:g}/s"
    )
    print_summaries(
        [
            Summary.of("placed -> warehouse order committed", total, result.seconds),
            Summary.of("  placed -> webhook stored in the inbox", ingest, result.seconds),
            Summary.of("  inbox -> warehouse order committed", work, result.seconds),
            Summary.of(
                "  (placing the order in the sandbox)", result.place_seconds, result.seconds
            ),
        ],
        rate_label="per s",
    )
    placed = set(result.placed)
    once = all(in_db.get(e) == 1 and recorder.added[e] == 1 for e in placed)
    work_total = WorkReport()
    for worker_report in result.reports:
        work_total.add(worker_report)
    throttled = sum(1 for c in calls if c["throttled"])
    cost = sum(c["actual_cost"] or 0 for c in calls)
    answer_ms = sum(c["duration_ms"] or 0 for c in calls) / max(1, len(calls))
    print(
        f"  warehouse orders: {sum(in_db[e] for e in placed)} for {len(placed)} orders "
        f"({'each exactly once' if once else 'NOT exactly once'}); "
        f"{len(recorder.committed.keys() & placed)} seen committed"
    )
    print(
        f"  worker: {work_total.processed} processed, {work_total.skipped} skipped, "
        f"{work_total.retried} retried, {work_total.dead} dead, {work_total.lost} lost; "
        f"store API: {len(calls)} GraphQL calls ({len(calls) / max(1, len(placed)):.1f} an "
        f"order, answered in {answer_ms:.1f} ms on average), actual cost {cost:,}, "
        f"{throttled} throttled"
    )
    if result.cpu is not None:
        cpu, per = result.cpu, 1000 / max(1, len(placed))
        print(
            f"  CPU ms per order: workers and placer (this process) {cpu.own * per:.1f}, "
            f"storelink serve {cpu.processes['serve'] * per:.1f}, "
            f"sandbox {cpu.processes['sandbox'] * per:.1f}, PostgreSQL {cpu.postgres * per:.1f}, "
            f"other {cpu.other * per:.1f}; {cpu.busy_cores:.2f} cores busy"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200, help="orders placed per run")
    parser.add_argument("--rate", type=float, default=20.0, help="orders placed a second")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="worker threads, one run each"
    )
    parser.add_argument(
        "--idle", type=float, default=0.05, help="worker wait when nothing is due (seconds)"
    )
    parser.add_argument(
        "--plan",
        choices=sorted(PLANS),
        default="plus",
        help="the shop's GraphQL budget: Shopify's restore rate for the plan, a bucket of 20 "
        "seconds' worth (default plus: 1,000 points a second, so 20 orders/s fit)",
    )
    parser.add_argument(
        "--store-latency",
        type=float,
        default=0.0,
        help="seconds the sandbox adds to every GraphQL answer (a real store is farther away)",
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="per run, after placing")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to create the scratch database on "
        "(default: postgresql://postgres@127.0.0.1:5432/postgres, else embedded)",
    )
    args = parser.parse_args()

    sandbox_config = {"auto_approve": True, "webhook_retry_schedule": [1, 2, 5], "random_seed": 7}
    with (
        scratch_database(args.database_url) as database,
        tempfile.TemporaryDirectory() as tmp,
        SandboxProcess(sandbox_config) as sandbox,
    ):
        print(f"{database.server}; {load_average()} load average before the run")
        port = free_port()
        env = bench_environment(
            database.url,
            Path(tmp),
            app_url=f"http://127.0.0.1:{port}",
            client_id="sandbox-client-id",
            client_secret="sandbox-client-secret",
            shop_url_template=sandbox.shop_url_template,
        )
        recorder = Recorder()
        db = PostgresDatabase(database.url, max_size=max(args.workers) + 2)
        db.open()
        services = bootstrap(
            Settings.from_env(env, read_dotenv=False),
            uow=lambda: TimedUnitOfWork(db, recorder),
            passwords=Argon2PasswordHasher(parameters=TEST_PARAMETERS),
        )
        try:
            with app_process(env, port) as app:
                restore = PLANS[args.plan]
                integration = prepare(services, sandbox, app.url, restore)
                print(
                    f"sandbox and storelink serve in their own processes; {SHOP} connected "
                    f"({len(SKUS)} SKUs mapped; GraphQL budget of the {args.plan} plan: "
                    f"{restore * 20:,} points, {restore:,} a second)"
                )
                if args.store_latency:
                    print(f"the sandbox adds {args.store_latency:g} s to every GraphQL answer")
                meter = CpuMeter(
                    database.url, {"serve": app.process.pid, "sandbox": sandbox.process.pid}
                )
                with httpx.Client(base_url=sandbox.url, timeout=30) as control:
                    control.patch(
                        "/_sandbox/faults", json={"latency": args.store_latency}
                    ).raise_for_status()
                    for workers in args.workers:
                        control.delete("/_sandbox/calls").raise_for_status()
                        result = run(
                            services,
                            sandbox,
                            recorder,
                            meter,
                            workers=workers,
                            orders=args.orders,
                            rate=args.rate,
                            idle=args.idle,
                            timeout=args.timeout,
                        )
                        calls = control.get("/_sandbox/calls", params={"shop": SHOP}).json()
                        report(
                            result,
                            recorder,
                            database.url,
                            integration,
                            calls["calls"],
                            rate=args.rate,
                            idle=args.idle,
                        )
        finally:
            services.close()
            db.close()


if __name__ == "__main__":
    main()
