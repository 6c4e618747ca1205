"""The chaos run: a real deployment's processes under faults and crashes, then the books.

    .venv/bin/python benchmarks/chaos.py [--orders 1000] [--seed 1] [--workers 3] [--webs 2]
        [--rate 4] [--kills N] [--store-latency 0.05] [--lease 20] [--settle-timeout 300]
        [--database-url postgresql://USER@HOST/DB] [--keep-logs DIR]

Several real OS processes share one scratch PostgreSQL database and one Redis, as a
deployment runs them:

- ``--webs`` x ``storelink serve`` on their own ports, behind a small round-robin HTTP proxy in
  this script (what a load balancer does: one request to the next process, the next process
  when one refuses the connection, 502 when one dies mid-request). ``APP_URL`` is the proxy,
  so the OAuth redirects, the webhook subscriptions and this script's API calls all go
  through it and are spread over the processes;
- ``--workers`` x ``storelink worker --lease N``;
- ``storelink sandbox``, the simulated Shopify, with faults on: 30 % of webhook deliveries
  duplicated, 20 % dropped, deliveries reordered (a window of 4), 10 % of GraphQL requests
  answered 5xx (at random before or after the store applied them: ``error_mode: either``),
  every GraphQL answer ``--store-latency`` late, throttling answered with HTTP 429, and the
  shop's cost bucket drained now and then;
- a ``redis-server`` of its own (``REDIS_URL``: the shared rate limits and store budget).

Setup goes through the real interfaces: ``storelink user create`` and ``user token``, the
warehouse API (client, warehouse, products, stock receipts), the sandbox's control API (shop,
products with no stock), and the OAuth connect flow (the store's setup job maps the location
and the SKUs; the first stock push gives the store its stock).

Then ``--orders`` orders are placed in the store (1-2 lines of 1-3 units of 8 SKUs) at
``--rate`` a second, and around them, at random (``--seed``): stock is received through the
API, orders are edited (a line lowered or added) and cancelled in the store, and imported
orders are shipped through ``POST /api/orders/<id>/ship``, whole or in two parts. Meanwhile,
``--kills`` times each: a worker is ``kill -9``-ed while it holds a claimed batch (and a
replacement started), a web process is ``kill -9``-ed right after it answered a webhook 200
(and restarted), and Redis is killed and restarted. After every step the store's available
quantity of every SKU is compared with what the warehouse can ship for the store (the bound
of ``core/services/inventory.py``, below).

Then the faults stop, one reconciliation runs (``storelink sync --orders``), and the script
waits (at most ``--settle-timeout`` seconds) until nothing is left to do anywhere: no webhook
waiting in the store, no queue item due, failed, leased or pending, no stock change unpushed.
It prints the table and checks: every order placed is in the warehouse exactly once with the
store's lines; every shipment is fulfilled in the store exactly once; the store never offered
more than the warehouse could ship and offers exactly that at the end; the stock ledger sums
to the levels and the reservations to the open order lines; no queue item died, no handler
crashed, no unexpected alert. Exit 0 if every count that must be 0 is 0, else 1 with what
failed.

**The bound** (README "Stock to the stores"): what the store still sells of a SKU at its
location, ``max(0, available)``, never exceeds ``max(0, bound)`` with

    bound = warehouse on hand - reservations of other sources - buffer
            - units of this store's orders placed and not shipped (imported or not)

The last term is read from the store: its ``committed`` (units of open orders not fulfilled
there) less the units the warehouse shipped whose fulfilment the store has not recorded yet.
The warehouse is read first (one repeatable-read transaction), the store second: a fulfilment
that lands between the two reads can then only make the bound look larger, never smaller,
so a violation is never an artefact of the sampling. The script itself changes nothing while
it samples; what moves meanwhile is the workers' doing (imports, fulfilments, pushes). The
script never lowers the warehouse's stock behind the store's back (no count corrections down,
no other sources' orders): the design cannot keep the bound then until the next push.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
from _harness import bench_environment, free_port, load_average, scratch_database
from attrs import define, field

from adapters.shopify.sandbox.client import SandboxControl, SandboxControlError

SHOP = "chaos-outdoors.myshopify.com"
CLIENT = "Chaos Outdoors"
STAFF = "ops@chaos-3pl.test"
OWNER = "owner@chaos-outdoors.test"
PASSWORD = "chaos-password-123"
SKUS = [f"CH-{n:02}" for n in range(1, 9)]
OPENING_STOCK = 40
CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"  # the sandbox's published test secret
FAULTS: dict[str, Any] = {
    "webhook_duplicate_rate": 0.3,
    "webhook_drop_rate": 0.2,
    "webhook_reorder_window": 4,
    "error_rate": 0.1,
    "error_status": 503,
    "error_mode": "either",
    "throttle_status": 429,
}
# Alerts the run provokes on purpose: none. Any alert is a finding.
EXPECTED_ALERTS: frozenset[str] = frozenset()


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------------------------


def storelink_command() -> list[str]:
    script = Path(sys.executable).parent / "storelink"
    return [str(script)] if script.exists() else [sys.executable, "-m", "entrypoints.cli"]


class Process:
    """A child process with its output in ``<logdir>/<name>.log`` (appended across restarts)."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], logdir: Path):
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.logdir = logdir
        self.log_path = logdir / f"{name}.log"
        self.killed = 0  # times this script kill -9-ed it
        self.popen: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        with self.log_path.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=self.logdir,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C of the script is not theirs; we stop them
            )

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill9(self) -> None:
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            assert self.popen is not None
            self.popen.wait(10)
            self.killed += 1

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 15 s; the exit status (None: it was not running)."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        return self.popen.returncode

    def log_lines(self, containing: str) -> list[str]:
        if not self.log_path.exists():
            return []
        text = self.log_path.read_text(errors="replace")
        return [line for line in text.splitlines() if containing in line]


def wait_until(what: str, check: Callable[[], bool], timeout: float, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(every)
    raise RuntimeError(f"{what}: not within {timeout:g} s")


def http_ok(url: str) -> bool:
    return httpx.get(url, timeout=2).status_code == 200


class Redis:
    """``redis-server`` on its own port, no persistence: a restart forgets everything."""

    def __init__(self, logdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        self.process = Process("redis", argv, {"PATH": os.environ.get("PATH", "")}, logdir)
        self.wait_ready()

    def ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def wait_ready(self) -> None:
        wait_until("redis-server answering", self.ping, 20)

    def restart(self, down: float = 1.0) -> None:
        self.process.kill9()
        time.sleep(down)
        self.process.start()
        self.wait_ready()


# ---------------------------------------------------------------------------------------------
# the load balancer
# ---------------------------------------------------------------------------------------------

_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "content-length",
    }
)


class Proxy:
    """Round robin over the web processes, one request at a time, as a load balancer does: a
    process that refuses the connection is skipped (the next one gets the request); one that
    dies after the request was sent is a 502 (a POST is never sent twice).

    ``kill_after_webhook_ack`` arms a one-shot hook: the next webhook a process answers with a
    2xx gets that process killed (``kill -9``) before the answer is passed on to the store."""

    def __init__(self, ports: Sequence[int]) -> None:
        self.ports = list(ports)
        self._lock = threading.Lock()
        self._next = 0
        self.requests: Counter[int] = Counter()  # per backend index
        self.webhooks: Counter[int] = Counter()
        self.failovers = 0
        self.bad_gateway = 0
        self._armed: Callable[[int], None] | None = None
        self.killed_after: list[tuple[int, str]] = []  # (backend index, webhook id)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                proxy.forward(self)

            def do_POST(self) -> None:
                proxy.forward(self)

            def do_PUT(self) -> None:
                proxy.forward(self)

            def do_PATCH(self) -> None:
                proxy.forward(self)

            def do_DELETE(self) -> None:
                proxy.forward(self)

            def do_HEAD(self) -> None:
                proxy.forward(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def kill_after_webhook_ack(self, hook: Callable[[int], None]) -> None:
        with self._lock:
            self._armed = hook

    def _pick(self) -> int:
        with self._lock:
            index = self._next % len(self.ports)
            self._next += 1
            return index

    def forward(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP}
        if body:
            headers["Content-Length"] = str(len(body))
        for _ in range(len(self.ports)):
            index = self._pick()
            conn = http.client.HTTPConnection("127.0.0.1", self.ports[index], timeout=120)
            try:
                conn.connect()
            except OSError:
                conn.close()
                with self._lock:
                    self.failovers += 1
                continue
            try:
                conn.request(handler.command, handler.path, body=body or None, headers=headers)
                response = conn.getresponse()
                data = response.read()
                status, answer_headers = response.status, response.getheaders()
            except (OSError, http.client.HTTPException):
                with self._lock:
                    self.bad_gateway += 1
                self._reply(handler, 502, [], b"bad gateway: the app process went away")
                return
            finally:
                conn.close()
            self._after(index, handler, status)
            self._reply(handler, status, answer_headers, data)
            return
        with self._lock:
            self.bad_gateway += 1
        self._reply(handler, 502, [], b"bad gateway: no app process answers")

    def _after(self, index: int, handler: BaseHTTPRequestHandler, status: int) -> None:
        webhook = handler.command == "POST" and handler.path.startswith("/api/webhooks/")
        hook = None
        with self._lock:
            self.requests[index] += 1
            if webhook:
                self.webhooks[index] += 1
                if self._armed is not None and 200 <= status < 300:
                    hook, self._armed = self._armed, None
                    self.killed_after.append(
                        (index, handler.headers.get("X-Shopify-Webhook-Id", ""))
                    )
        if hook is not None:
            hook(index)

    @staticmethod
    def _reply(
        handler: BaseHTTPRequestHandler,
        status: int,
        headers: Sequence[tuple[str, str]],
        data: bytes,
    ) -> None:
        try:
            handler.send_response(status)
            for name, value in headers:
                if name.lower() not in _HOP and name.lower() not in ("server", "date"):
                    handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(data)
        except OSError:
            handler.close_connection = True


# ---------------------------------------------------------------------------------------------
# the app's API, as an operator's script uses it (through the load balancer)
# ---------------------------------------------------------------------------------------------


class Api:
    """JSON over HTTP with a bearer token. Connection errors, 502 and 503 (a process being
    killed, Redis restarting) are retried a few times; for a request that is not safe to send
    twice, ``applied`` is asked first whether the lost attempt went through."""

    def __init__(self, base_url: str, token: str) -> None:
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        self.retries = 0

    def close(self) -> None:
        self.http.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        applied: Callable[[], Any] | None = None,
        attempts: int = 12,
    ) -> httpx.Response:
        safe = method in ("GET", "HEAD")
        for attempt in range(attempts):
            if attempt:
                self.retries += 1
                time.sleep(min(2.0, 0.25 * attempt))
            try:
                response = self.http.request(method, path, json=body, params=params)
            except httpx.ConnectError:
                continue  # never reached a process
            except httpx.TransportError:
                if safe:
                    continue
                if applied is not None and applied():
                    return httpx.Response(299)  # the lost attempt went through
                continue
            if response.status_code == 502 and not safe:
                if applied is not None and applied():
                    return httpx.Response(299)
                continue
            if response.status_code in (502, 503):
                continue
            return response
        raise RuntimeError(f"{method} {path}: no answer after {attempts} attempts")

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()


# ---------------------------------------------------------------------------------------------
# what the script placed in the store
# ---------------------------------------------------------------------------------------------


@define
class StoreOrder:
    id: int
    skus: dict[int, str]  # line id -> SKU
    open: dict[int, int]  # line id -> units the store still wants shipped
    cancelled: bool = False
    edited: bool = False
    shipments: int = 0
    shipped_units: int = 0


@define
class Chaos:
    """What happened, for the table."""

    placed: int = 0
    refused: int = 0  # the store had not enough to sell
    edits: int = 0
    edits_refused: int = 0
    cancels: int = 0
    receipts: int = 0
    received_units: int = 0
    shipments: int = 0
    partial_shipments: int = 0
    shipped_units: int = 0
    ship_waiting_for_edit: int = 0
    ship_refused: int = 0
    samples: int = 0
    oversell: list[str] = field(factory=list)
    oversell_seen: set[str] = field(factory=set)
    oversell_forensics: list[str] = field(factory=list)
    worker_kills: list[str] = field(factory=list)
    web_kills: list[str] = field(factory=list)
    redis_restarts: int = 0
    bucket_drains: int = 0
    received: Counter[str] = field(factory=Counter)  # units per SKU, opening stock included
    shipped: Counter[str] = field(factory=Counter)


# ---------------------------------------------------------------------------------------------
# the deployment
# ---------------------------------------------------------------------------------------------


class Deployment:
    def __init__(self, args: argparse.Namespace, database_url: str, workdir: Path) -> None:
        self.args = args
        self.database_url = database_url
        self.workdir = workdir
        self.processes: list[Process] = []
        self.redis = Redis(workdir)
        self.processes.append(self.redis.process)
        sandbox_port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        self.sandbox = self._process(
            "sandbox", ["sandbox", "--port", str(sandbox_port), "--auto-approve"]
        )
        wait_until("the sandbox", lambda: http_ok(f"{self.sandbox_url}/_sandbox/health"), 60)
        self.control = SandboxControl(self.sandbox_url, timeout=120)
        self.web_ports = [free_port() for _ in range(args.webs)]
        self.proxy = Proxy(self.web_ports)
        self.env = bench_environment(
            database_url,
            workdir,
            app_url=self.proxy.url,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            shop_url_template=f"{self.sandbox_url}/store/{{shop}}",
        )
        self.env["REDIS_URL"] = self.redis.url
        self.control.update_app(compliance_webhook_url=f"{self.proxy.url}/api/webhooks/shopify")
        self.webs = [
            self._process(f"web{n}", ["serve", "--port", str(port), "--threads", "6"], app=True)
            for n, port in enumerate(self.web_ports)
        ]
        for web, port in zip(self.webs, self.web_ports, strict=True):
            self._wait_web(web, port)
        self.workers = [self._worker(n) for n in range(args.workers)]
        self._worker_count = args.workers

    def _process(self, name: str, command: Sequence[str], *, app: bool = False) -> Process:
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
        if app:
            env.update(self.env)
        process = Process(name, [*storelink_command(), *command], env, self.workdir)
        self.processes.append(process)
        return process

    def _wait_web(self, web: Process, port: int) -> None:
        def ready() -> bool:
            if not web.alive():
                raise RuntimeError(f"{web.name} exited: {web.log_path.read_text()[-2000:]}")
            return http_ok(f"http://127.0.0.1:{port}/healthz")

        wait_until(f"{web.name} answering", ready, 90)

    def _worker(self, n: int) -> Process:
        command = ["worker", "--idle", "0.2", "--lease", str(self.args.lease)]
        return self._process(f"worker{n}", command, app=True)

    def cli(self, *command: str, timeout: float = 300) -> str:
        """Run ``storelink <command>`` with the app's environment; its output (exit 0 or raise)."""
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
        env.update(self.env)
        done = subprocess.run(
            [*storelink_command(), *command],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"storelink {' '.join(command[:2])} exited {done.returncode}: "
                f"{(done.stderr or done.stdout).strip()[-1000:]}"
            )
        return done.stdout

    # --- chaos ------------------------------------------------------------------------------

    def worker_id(self, worker: Process) -> str:
        return f"{socket.gethostname()}:{worker.pid}"

    def held(self, conn: psycopg.Connection[Any], worker: Process) -> int:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM inbox_events WHERE status = 'processing'"
            "        AND locked_by = %(w)s)"
            "     + (SELECT count(*) FROM outbox_commands WHERE status = 'processing'"
            "        AND locked_by = %(w)s)",
            {"w": self.worker_id(worker)},
        ).fetchone()
        return int(row[0]) if row else 0

    def kill_worker_mid_batch(self, burst: Callable[[], None], timeout: float = 20.0) -> str:
        """kill -9 the worker holding the most claimed items (at least 2: one in hand, more
        waiting), then start a replacement. ``burst`` makes work when nothing is claimed."""
        deadline = time.monotonic() + timeout
        bursts = 0
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                holding = sorted(
                    ((self.held(conn, w), n) for n, w in enumerate(self.workers) if w.alive()),
                    reverse=True,
                )
                if holding and holding[0][0] >= 2:
                    held, index = holding[0]
                    break
                if bursts < 3 and not any(h for h, _ in holding):
                    burst()
                    bursts += 1
                time.sleep(0.005)
            else:
                return "no worker held a batch in time: none killed"
            victim = self.workers[index]
            worker_id = self.worker_id(victim)
            victim.kill9()
            still = self._held_by(conn, worker_id)
        replacement = self._worker(self._worker_count)
        self._worker_count += 1
        self.workers[index] = replacement
        return (
            f"{victim.name} (pid {victim.pid}) killed holding {held} claimed item(s), "
            f"{still} of them unfinished; {replacement.name} started"
        )

    @staticmethod
    def _held_by(conn: psycopg.Connection[Any], worker_id: str) -> int:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM inbox_events WHERE status = 'processing'"
            "        AND locked_by = %(w)s)"
            "     + (SELECT count(*) FROM outbox_commands WHERE status = 'processing'"
            "        AND locked_by = %(w)s)",
            {"w": worker_id},
        ).fetchone()
        return int(row[0]) if row else 0

    def kill_web_after_ack(self, timeout: float = 30.0) -> str:
        """Arm the proxy: the next process to answer a webhook 200 is killed at once; then
        restart it on its port."""
        killed = threading.Event()
        victims: list[int] = []

        def hook(index: int) -> None:
            victims.append(index)
            self.webs[index].kill9()
            killed.set()

        self.proxy.kill_after_webhook_ack(hook)
        if not killed.wait(timeout):
            self.proxy.kill_after_webhook_ack(lambda _i: None)
            return "no webhook arrived in time: no web process killed"
        index = victims[0]
        web = self.webs[index]
        webhook_id = self.proxy.killed_after[-1][1]
        started = time.monotonic()
        web.start()
        self._wait_web(web, self.web_ports[index])
        return (
            f"{web.name} killed right after answering webhook {webhook_id[:8]}… 200; "
            f"restarted, answering again after {time.monotonic() - started:.1f} s"
        )

    def stop(self) -> dict[str, int | None]:
        statuses: dict[str, int | None] = {}
        for process in reversed(self.processes):
            statuses[process.name] = process.stop()
        with contextlib.suppress(Exception):
            self.control.close()
        self.proxy.close()
        return statuses


# ---------------------------------------------------------------------------------------------
# setup through the real interfaces
# ---------------------------------------------------------------------------------------------


@define
class World:
    staff: Api
    owner: Api
    client_id: str
    warehouse_id: str
    products: dict[str, str]  # SKU -> product id
    integration_id: str
    location_id: int


def setup(dep: Deployment, chaos: Chaos) -> World:
    dep.cli("user", "create", STAFF, "--staff", "--password", PASSWORD)
    staff = Api(dep.proxy.url, dep.cli("user", "token", STAFF).strip())
    warehouse = staff.json("POST", "/api/warehouses", body={"code": "CHAOS", "name": "Chaos DC"})
    client = staff.json(
        "POST",
        "/api/clients",
        body={"name": CLIENT, "default_warehouse_id": warehouse["id"]},
    )
    products = {}
    for sku in SKUS:
        product = staff.json(
            "POST",
            "/api/products",
            body={"client_id": client["id"], "sku": sku, "name": f"Chaos item {sku}"},
        )
        products[sku] = product["id"]
        staff.json(
            "POST",
            "/api/inventory/receive",
            body={
                "product_id": product["id"],
                "warehouse_id": warehouse["id"],
                "quantity": OPENING_STOCK,
                "reason": "opening stock",
            },
        )
        chaos.received[sku] += OPENING_STOCK
    dep.cli("user", "create", OWNER, "--client", CLIENT, "--role", "owner", "--password", PASSWORD)
    owner = Api(dep.proxy.url, dep.cli("user", "token", OWNER).strip())

    shop = dep.control.create_shop(
        SHOP,
        name=CLIENT,
        bucket_size=dep.args.bucket,
        restore_rate=dep.args.bucket / 20,
    )
    location = int(shop["primary_location_id"])
    dep.control.create_product(
        SHOP,
        "Chaos item",
        [{"sku": sku, "price": "10.00", "inventory": {str(location): 0}} for sku in SKUS],
    )
    answer = owner.http.get(
        "/api/integrations/shopify/auth", params={"shop": SHOP}, follow_redirects=True
    )
    landed = [r.headers.get("location", "") for r in answer.history if "/callback" in r.url.path]
    if landed != ["/portal/settings/integrations?success=shopify_connected"]:
        raise RuntimeError(f"connecting the store failed: {landed or answer.status_code}")
    found = owner.json("GET", "/api/integrations")["integrations"]
    integration_id = next(i["id"] for i in found if i["shop_domain"] == SHOP)

    def stocked() -> bool:
        levels = {lv["sku"]: lv for lv in dep.control.inventory(SHOP, location_id=location)}
        return all(
            levels.get(sku, {}).get("on_hand") == OPENING_STOCK for sku in SKUS
        )  # setup mapped every SKU and the first push gave the store its stock

    wait_until("the store's setup and first stock push", stocked, 120, every=0.25)
    return World(
        staff=staff,
        owner=owner,
        client_id=client["id"],
        warehouse_id=warehouse["id"],
        products=products,
        integration_id=integration_id,
        location_id=location,
    )


# ---------------------------------------------------------------------------------------------
# the bound, sampled
# ---------------------------------------------------------------------------------------------

_WAREHOUSE_SIDE = """
SELECT p.sku,
       coalesce(l.on_hand, 0) AS on_hand,
       coalesce(l.reserved, 0) AS reserved,
       coalesce((SELECT sum(i.quantity - i.shipped_quantity) FROM order_items i
                 JOIN orders o ON o.id = i.order_id
                 WHERE o.integration_id = %(integration)s AND i.product_id = p.id
                   AND o.warehouse_id = %(warehouse)s
                   AND o.status IN ('allocated', 'picking', 'packing')), 0) AS reserved_here,
       coalesce((SELECT sum((line->>'quantity')::int) FROM shipments s
                 JOIN orders o ON o.id = s.order_id
                 CROSS JOIN jsonb_array_elements(s.lines) AS line
                 JOIN order_items i ON i.order_id = s.order_id AND i.id = line->>'item_id'
                 WHERE o.integration_id = %(integration)s AND i.product_id = p.id
                   AND s.sync_state <> 'synced'), 0) AS unreported
FROM products p
LEFT JOIN stock_levels l ON l.product_id = p.id AND l.warehouse_id = %(warehouse)s
WHERE p.client_id = %(client)s
"""


class Sampler:
    """Compares what the store sells with what the warehouse can ship for it (module doc)."""

    def __init__(self, dep: Deployment, world: World) -> None:
        self.dep = dep
        self.world = world
        self.conn = psycopg.connect(dep.database_url, autocommit=True)
        self.max_excess = 0

    def close(self) -> None:
        self.conn.close()

    def bounds(self) -> tuple[dict[str, int], dict[str, dict[str, Any]]]:
        """(bound per SKU, the store's level per SKU), warehouse read first."""
        with self.conn.transaction():
            self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            rows = self.conn.execute(
                _WAREHOUSE_SIDE,
                {
                    "integration": self.world.integration_id,
                    "warehouse": self.world.warehouse_id,
                    "client": self.world.client_id,
                },
            ).fetchall()
            settings = self.conn.execute(
                "SELECT settings FROM integrations WHERE id = %s", [self.world.integration_id]
            ).fetchone()
        buffer = int(((settings or [{}])[0] or {}).get("inventory_buffer", 0))
        store = {
            str(lv["sku"]): lv
            for lv in self.dep.control.inventory(SHOP, location_id=self.world.location_id)
        }
        bounds = {}
        for sku, on_hand, reserved, reserved_here, unreported in rows:
            committed = int(store.get(sku, {}).get("committed", 0))
            other_sources = int(reserved) - int(reserved_here)
            not_shipped = committed - int(unreported)
            bounds[sku] = int(on_hand) - other_sources - buffer - not_shipped
        return bounds, store

    def sample(self, chaos: Chaos, when: str) -> None:
        bounds, store = self.bounds()
        chaos.samples += 1
        for sku, bound in sorted(bounds.items()):
            available = int(store.get(sku, {}).get("available", 0))
            if max(0, available) > max(0, bound):
                excess = max(0, available) - max(0, bound)
                self.max_excess = max(self.max_excess, excess)
                chaos.oversell.append(
                    f"{when}: the store sells {available} of {sku}, the warehouse can ship {bound}"
                )
                if sku not in chaos.oversell_seen:
                    chaos.oversell_seen.add(sku)
                    chaos.oversell_forensics += self.forensics(sku, store.get(sku, {}), when)

    def forensics(self, sku: str, level: Mapping[str, Any], when: str) -> list[str]:
        """What both sides say about a SKU the store oversold, taken at once (the store's
        inventory webhooks are not subscribed to, so its side is the call log)."""
        lines = [
            f"{when}, {sku}: store on hand {level.get('on_hand')}, committed "
            f"{level.get('committed')}, available {level.get('available')}"
        ]
        params = {"integration": self.world.integration_id, "sku": sku}
        for row in self.conn.execute(
            "SELECT s.quantity, s.pushed_at, s.error FROM inventory_push_states s"
            " JOIN product_mappings m ON m.id = s.mapping_id"
            " JOIN products p ON p.id = m.product_id"
            " WHERE s.integration_id = %(integration)s AND p.sku = %(sku)s",
            params,
        ).fetchall():
            lines.append(f"  storelink believes the store has {row[0]} (pushed {row[1]}, {row[2]})")
        for row in self.conn.execute(
            "SELECT status, attempts, locked_by, created_at, done_at, result::text"
            " FROM outbox_commands WHERE kind LIKE 'inventory.%%'"
            " ORDER BY created_at DESC LIMIT 6"
        ).fetchall():
            lines.append(
                f"  push {row[0]} x{row[1]} by {row[2]} created {row[3]:%H:%M:%S.%f} done "
                f"{row[4] and f'{row[4]:%H:%M:%S.%f}'}: {str(row[5])[:120]}"
            )
        for call in self.dep.control.calls(SHOP, operation_name="InventorySetQuantities")[-8:]:
            lines.append(
                f"  store call {call['at']}: InventorySetQuantities {call['status']} "
                f"fault {call['fault']}, key {','.join(call['idempotency_keys'])[:24]}, "
                f"user errors {call['user_error_codes']}"
            )
        return lines


# ---------------------------------------------------------------------------------------------
# the driver
# ---------------------------------------------------------------------------------------------


class Driver:
    def __init__(self, dep: Deployment, world: World, chaos: Chaos, rng: random.Random) -> None:
        self.dep = dep
        self.world = world
        self.chaos = chaos
        self.rng = rng
        self.orders: dict[int, StoreOrder] = {}
        self.sampler = Sampler(dep, world)
        self.db = psycopg.connect(dep.database_url, autocommit=True)
        self.receipt_no = 0

    def close(self) -> None:
        self.sampler.close()
        self.db.close()

    # --- the store's customers -------------------------------------------------------------

    def place(self) -> StoreOrder | None:
        skus = self.rng.sample(SKUS, self.rng.choice((1, 1, 2)))
        lines = [{"sku": sku, "quantity": self.rng.randint(1, 3)} for sku in skus]
        n = self.chaos.placed + self.chaos.refused
        try:
            placed = self.dep.control.place_order(
                SHOP,
                lines,
                email=f"customer{n}@example.com",
                shipping_address={
                    "first_name": "Chaos",
                    "last_name": f"Customer {n}",
                    "address1": f"{n} Main Street",
                    "city": "London",
                    "zip": "N1 1AA",
                    "country_code": "GB",
                },
            )
        except SandboxControlError as exc:
            if exc.error != "insufficient_inventory":
                raise
            self.chaos.refused += 1
            self.receive(self.rng.choice(skus))  # the warehouse restocks what ran out
            return None
        order = StoreOrder(
            id=int(placed["id"]),
            skus={int(li["id"]): str(li["sku"]) for li in placed["line_items"]},
            open={int(li["id"]): int(li["fulfillable_quantity"]) for li in placed["line_items"]},
        )
        self.orders[order.id] = order
        self.chaos.placed += 1
        return order

    def _untouched(self) -> list[StoreOrder]:
        """Orders the warehouse has not shipped from and the store has not cancelled."""
        return [o for o in self.orders.values() if not o.cancelled and o.shipments == 0]

    def edit(self) -> None:
        candidates = self._untouched()
        if not candidates:
            return
        order = self.rng.choice(candidates)
        lowerable = [line for line, units in order.open.items() if units > 1]
        if lowerable and self.rng.random() < 0.5:
            line = self.rng.choice(lowerable)
            changes: dict[str, Any] = {"quantities": {line: order.open[line] - 1}}
        else:
            present = set(order.skus.values())
            extra = [sku for sku in SKUS if sku not in present]
            if not extra:
                return
            changes = {"add": [{"sku": self.rng.choice(extra), "quantity": 1}]}
        try:
            edited = self.dep.control.edit_order(SHOP, order.id, **changes)
        except SandboxControlError as exc:
            if exc.error != "insufficient_inventory":
                raise
            self.chaos.edits_refused += 1
            return
        order.skus = {int(li["id"]): str(li["sku"]) for li in edited["line_items"]}
        order.open = {int(li["id"]): int(li["fulfillable_quantity"]) for li in edited["line_items"]}
        order.edited = True
        self.chaos.edits += 1

    def cancel(self) -> None:
        candidates = self._untouched()
        if candidates:
            order = self.rng.choice(candidates)
            self.dep.control.cancel_order(SHOP, order.id, reason="customer")
            order.cancelled = True
            self.chaos.cancels += 1

    # --- the warehouse's staff --------------------------------------------------------------

    def receive(self, sku: str | None = None) -> None:
        sku = sku or self.rng.choice(SKUS)
        quantity = self.rng.randint(4, 12)
        self.receipt_no += 1
        reason = f"chaos receipt {self.receipt_no}"

        def applied() -> bool:
            row = self.db.execute(
                "SELECT 1 FROM stock_movements WHERE reason = %s", [reason]
            ).fetchone()
            return row is not None

        self.world.staff.json(
            "POST",
            "/api/inventory/receive",
            body={
                "product_id": self.world.products[sku],
                "warehouse_id": self.world.warehouse_id,
                "quantity": quantity,
                "reason": reason,
            },
            applied=applied,
        )
        self.chaos.receipts += 1
        self.chaos.received_units += quantity
        self.chaos.received[sku] += quantity

    def ship(self) -> None:
        """Ship one imported order whose lines are what the store wants (an edit the warehouse
        has not seen yet waits): whole, or a first part and the rest at once or later."""
        status = self.rng.choice(("allocated", "allocated", "packing"))
        summaries = self.world.staff.json(
            "GET",
            "/api/orders",
            params={"client_id": self.world.client_id, "status": status, "per_page": 100},
        )["orders"]
        ours = [
            s
            for s in summaries
            if s["external_order_id"]
            and int(s["external_order_id"]) in self.orders
            and not self.orders[int(s["external_order_id"])].cancelled
        ]
        if not ours:
            return
        summary = self.rng.choice(ours)
        store = self.orders[int(summary["external_order_id"])]
        part = store.shipments == 0 and self.rng.random() < 0.3
        if self._ship(summary["id"], store, part=part) and self.rng.random() < 0.5:
            self._ship(summary["id"], store, part=False)  # the second parcel right after

    def _ship(self, order_id: str, store: StoreOrder, *, part: bool) -> bool:
        """Ship the order (or its first part); whether a first part was shipped."""
        order = self.world.staff.json("GET", f"/api/orders/{order_id}")
        items = [i for i in order["items"] if int(i["remaining"]) > 0]
        remaining = {int(i["external_line_id"]): int(i["remaining"]) for i in items}
        wanted = {line: units for line, units in store.open.items() if units > 0}
        if remaining != wanted or order["status"] not in ("allocated", "picking", "packing"):
            self.chaos.ship_waiting_for_edit += 1
            return False
        lines = None
        if part and len(items) > 1:
            lines = [{"item_id": items[0]["id"], "quantity": int(items[0]["remaining"])}]
        elif part and int(items[0]["remaining"]) > 1:
            lines = [{"item_id": items[0]["id"], "quantity": 1}]
        tracking = f"1ZCHAOS{store.id}{store.shipments + 1:02}"
        body: dict[str, Any] = {"carrier": "UPS", "tracking_number": tracking}
        if lines:
            body["lines"] = lines

        def applied() -> bool:
            current = self.world.staff.json("GET", f"/api/orders/{order_id}")
            return any(s["tracking_number"] == tracking for s in current.get("shipments", []))

        response = self.world.staff.call(
            "POST", f"/api/orders/{order_id}/ship", body=body, applied=applied
        )
        if response.status_code in (409, 422):  # it changed under us (a late store change)
            self.chaos.ship_refused += 1
            return False
        if response.status_code >= 400:
            raise RuntimeError(f"ship: {response.status_code} {response.text[:300]}")
        shipped = {i["id"]: int(i["remaining"]) for i in items}
        if lines:
            shipped = {line["item_id"]: int(line["quantity"]) for line in lines}
            self.chaos.partial_shipments += 1
        by_item = {i["id"]: i for i in items}
        for item_id, units in shipped.items():
            line = int(by_item[item_id]["external_line_id"])
            store.open[line] -= units
            store.shipped_units += units
            self.chaos.shipped_units += units
            self.chaos.shipped[store.skus[line]] += units
        store.shipments += 1
        self.chaos.shipments += 1
        return lines is not None

    def sample(self, when: str) -> None:
        self.sampler.sample(self.chaos, when)

    # --- the run ------------------------------------------------------------------------------

    def run(self, orders: int, rate: float, events: dict[int, list[str]]) -> None:
        started = time.monotonic()
        attempts = 0
        step = 0
        while self.chaos.placed < orders and attempts < orders * 3:
            attempts += 1
            for event in events.pop(self.chaos.placed, []):
                self.event(event)
            time.sleep(max(0.0, started + self.chaos.placed / rate - time.monotonic()))
            self.place()
            step += 1
            roll = self.rng.random
            if roll() < 0.3:
                self.receive()
            if roll() < 0.08:
                self.edit()
            if roll() < 0.06:
                self.cancel()
            for _ in range(2):
                if roll() < 0.45:
                    self.ship()
            self.sample(f"step {step}")
            if step % 100 == 0:
                log(
                    f"  {self.chaos.placed} orders placed, {self.chaos.shipments} shipments, "
                    f"{self.chaos.samples} samples, {len(self.chaos.oversell)} oversold"
                )

    def event(self, kind: str) -> None:
        if kind == "worker":
            what = self.dep.kill_worker_mid_batch(self._burst)
            self.chaos.worker_kills.append(what)
        elif kind == "web":
            what = self.dep.kill_web_after_ack()
            self.chaos.web_kills.append(what)
        elif kind == "redis":
            self.dep.redis.restart()
            self.chaos.redis_restarts += 1
            what = "redis-server killed (kill -9) and started again after 1 s"
        elif kind == "drain":
            self.dep.control.throttle_now(SHOP, 0)
            self.chaos.bucket_drains += 1
            what = "the shop's API cost bucket drained to 0"
        else:
            raise ValueError(kind)
        log(f"  chaos at order {self.chaos.placed}: {what}")

    def _burst(self) -> None:
        for _ in range(6):
            self.place()


def schedule(orders: int, kills: int) -> dict[int, list[str]]:
    """At which order count each crash happens: spread over the run, kinds interleaved."""
    events: dict[int, list[str]] = defaultdict(list)
    kinds = ("worker", "web", "redis", "drain")
    slots = kills * len(kinds)
    for n in range(slots):
        at = int(orders * (n + 1) / (slots + 1))
        events[at].append(kinds[n % len(kinds)])
    return events


# ---------------------------------------------------------------------------------------------
# quiescence
# ---------------------------------------------------------------------------------------------


def outstanding(conn: psycopg.Connection[Any]) -> dict[str, int]:
    row = conn.execute(
        "SELECT"
        " (SELECT count(*) FROM inbox_events WHERE status IN ('received', 'processing', 'failed')),"
        " (SELECT count(*) FROM outbox_commands"
        "   WHERE status IN ('pending', 'processing', 'failed')),"
        " (SELECT count(*) FROM inventory_dirty)"
    ).fetchone()
    assert row is not None
    return {"inbox": int(row[0]), "outbox": int(row[1]), "dirty": int(row[2])}


def settle(dep: Deployment, timeout: float) -> tuple[bool, float, dict[str, int]]:
    """Until the store has no webhook to send and nothing is left to do, twice in a row."""
    started = time.monotonic()
    quiet = 0
    left: dict[str, int] = {}
    with psycopg.connect(dep.database_url, autocommit=True) as conn:
        while time.monotonic() - started < timeout:
            try:  # sends what is held back; waits a moment for what is due
                dep.control.flush_webhooks(timeout=1)
                pending = 0
            except TimeoutError as exc:  # deliveries waiting for a retry
                pending = int(str(exc).split()[0])
            left = outstanding(conn)
            left["webhooks"] = pending
            quiet = quiet + 1 if not any(left.values()) else 0
            if quiet >= 3:
                return True, time.monotonic() - started, left
            time.sleep(1.0)
    return False, time.monotonic() - started, left


# ---------------------------------------------------------------------------------------------
# the books
# ---------------------------------------------------------------------------------------------


@define
class Check:
    what: str
    count: int
    must_be_zero: bool = False
    details: list[str] = field(factory=list)

    @property
    def failed(self) -> bool:
        return self.must_be_zero and self.count != 0


def books(dep: Deployment, world: World, driver: Driver, chaos: Chaos) -> list[Check]:
    store_orders = {int(o["id"]): o for o in dep.control.orders(SHOP)}
    with psycopg.connect(dep.database_url) as conn:
        warehouse_orders: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in conn.execute(
            "SELECT id, external_order_id, status FROM orders WHERE integration_id = %s",
            [world.integration_id],
        ).fetchall():
            warehouse_orders[str(row[1])].append({"id": row[0], "status": row[2]})
        items: dict[str, list[tuple[str, int, int, str | None]]] = defaultdict(list)
        for order_id, line, quantity, shipped, product in conn.execute(
            "SELECT i.order_id, i.external_line_id, i.quantity, i.shipped_quantity, i.product_id"
            " FROM order_items i JOIN orders o ON o.id = i.order_id"
            " WHERE o.integration_id = %s",
            [world.integration_id],
        ).fetchall():
            items[order_id].append((str(line), int(quantity), int(shipped), product))
        shipments: dict[str, list[str]] = defaultdict(list)
        for order_id, state in conn.execute(
            "SELECT s.order_id, s.sync_state FROM shipments s JOIN orders o ON o.id = s.order_id"
            " WHERE o.integration_id = %s",
            [world.integration_id],
        ).fetchall():
            shipments[order_id].append(state)
        ledger = conn.execute(
            "SELECT p.sku, l.on_hand, l.reserved,"
            " coalesce(m.on_hand, 0), coalesce(m.reserved, 0)"
            " FROM stock_levels l JOIN products p ON p.id = l.product_id"
            " LEFT JOIN (SELECT product_id, warehouse_id, sum(on_hand_delta) AS on_hand,"
            "            sum(reserved_delta) AS reserved FROM stock_movements GROUP BY 1, 2) m"
            "   ON m.product_id = l.product_id AND m.warehouse_id = l.warehouse_id"
        ).fetchall()
        orphan_movements = conn.execute(
            "SELECT count(*) FROM (SELECT DISTINCT product_id, warehouse_id FROM stock_movements)"
            " m WHERE NOT EXISTS (SELECT 1 FROM stock_levels l WHERE l.product_id = m.product_id"
            " AND l.warehouse_id = m.warehouse_id)"
        ).fetchone()
        open_lines = dict(
            conn.execute(
                "SELECT p.sku, sum(i.quantity - i.shipped_quantity) FROM order_items i"
                " JOIN orders o ON o.id = i.order_id JOIN products p ON p.id = i.product_id"
                " WHERE o.status IN ('allocated', 'picking', 'packing') GROUP BY 1"
            ).fetchall()
        )
        waiting = [
            f"order {number}"
            for (number,) in conn.execute(
                "SELECT number FROM orders WHERE integration_id = %s AND status = 'pending'",
                [world.integration_id],
            ).fetchall()
        ]
        held = [
            f"order {number}"
            for (number,) in conn.execute(
                "SELECT number FROM orders WHERE integration_id = %s AND status = 'on_hold'",
                [world.integration_id],
            ).fetchall()
        ]
        queue = dict(
            conn.execute(
                "SELECT 'inbox ' || status, count(*) FROM inbox_events GROUP BY 1"
                " UNION ALL SELECT 'outbox ' || status, count(*) FROM outbox_commands GROUP BY 1"
            ).fetchall()
        )
        alerts = [
            (str(code), str(message))
            for code, message in conn.execute(
                "SELECT code, message FROM alerts ORDER BY created_at"
            ).fetchall()
        ]
        skipped = conn.execute(
            "SELECT coalesce(error, ''), count(*) FROM inbox_events WHERE status = 'skipped'"
            " GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
        stored_webhooks = {
            str(d)
            for (d,) in conn.execute(
                "SELECT delivery_id FROM inbox_events WHERE source <> 'reconcile'"
            ).fetchall()
        }

    checks: list[Check] = []

    def check(what: str, found: Sequence[str], *, zero: bool = True) -> None:
        checks.append(Check(what, len(found), zero, list(found)))

    placed = driver.orders
    missing, duplicated, unexpected, cancelled_open, differs = [], [], [], [], []
    fulfil_missing, fulfil_doubled, unsynced = [], [], []
    fulfilments_store = 0
    for external_id, found in warehouse_orders.items():
        if len(found) > 1:
            duplicated.append(f"store order {external_id}: {len(found)} warehouse orders")
        if not external_id.isdigit() or int(external_id) not in placed:
            unexpected.append(f"store order {external_id} was not placed by this run")
    for order_id, mine in placed.items():
        store = store_orders[order_id]
        found = warehouse_orders.get(str(order_id), [])
        if mine.cancelled or store["cancelled_at"]:
            if any(w["status"] != "cancelled" for w in found):
                cancelled_open.append(f"store order {order_id}: {[w['status'] for w in found]}")
            continue
        if not found:
            missing.append(f"store order {order_id}")
            continue
        order = found[0]
        ours = items[order["id"]]
        store_fulfilled: Counter[str] = Counter()
        fulfillments = [f for f in store.get("fulfillments", []) if f.get("status") != "cancelled"]
        fulfilments_store += len(fulfillments)
        for fulfillment in fulfillments:
            for line in fulfillment["line_items"]:
                store_fulfilled[str(line["id"])] += int(line["quantity"])
        shipped = Counter()
        remaining = Counter()
        for line, quantity, shipped_units, _ in ours:
            shipped[line] += shipped_units
            remaining[line] += quantity - shipped_units
        store_open = Counter(
            {
                str(li["id"]): int(li["fulfillable_quantity"])
                for li in store["line_items"]
                if int(li["fulfillable_quantity"]) > 0
            }
        )
        if +remaining != store_open:
            differs.append(
                f"store order {order_id}: the store wants {dict(store_open)}, the warehouse "
                f"order {order['status']} has {dict(+remaining)}"
            )
        for line in set(shipped) | set(store_fulfilled):
            if store_fulfilled[line] < shipped[line]:
                fulfil_missing.append(
                    f"store order {order_id} line {line}: shipped {shipped[line]}, fulfilled "
                    f"{store_fulfilled[line]} in the store"
                )
            elif store_fulfilled[line] > shipped[line]:
                fulfil_doubled.append(
                    f"store order {order_id} line {line}: shipped {shipped[line]}, fulfilled "
                    f"{store_fulfilled[line]} in the store"
                )
        states = shipments[order["id"]]
        if len(fulfillments) > len(states):
            fulfil_doubled.append(
                f"store order {order_id}: {len(states)} shipments, {len(fulfillments)} "
                "store fulfilments"
            )
        unsynced += [f"store order {order_id}: a shipment is {s}" for s in states if s != "synced"]

    imported = sum(1 for order_id in placed if str(order_id) in warehouse_orders)
    checks.append(Check("orders placed in the store", chaos.placed))
    checks.append(Check("  refused by the store (not enough to sell)", chaos.refused))
    checks.append(Check("  edited in the store", chaos.edits))
    checks.append(Check("  cancelled in the store", chaos.cancels))
    checks.append(Check("orders imported into the warehouse", imported))
    check("orders missing in the warehouse", missing)
    check("orders imported twice", duplicated)
    check("warehouse orders the store never had", unexpected)
    check("cancelled in the store, open in the warehouse", cancelled_open)
    check("orders whose lines differ from the store's", differs)
    check(
        "orders waiting for stock (the store sold what was not there)",
        waiting,
    )
    check("orders on hold", held)
    checks.append(Check("shipments (whole or part)", chaos.shipments))
    checks.append(Check("  of them a first part", chaos.partial_shipments))
    checks.append(Check("  units shipped", chaos.shipped_units))
    checks.append(Check("fulfilments in the store", fulfilments_store))
    check("shipped units not fulfilled in the store", fulfil_missing)
    check("fulfilments doubled (units or fulfilments)", fulfil_doubled)
    check("shipments not marked synced", unsynced)
    checks.append(Check("stock receipts through the API", chaos.receipts))
    checks.append(Check("oversell samples (all SKUs, after every step)", chaos.samples))
    check("oversell moments (store sells more than the warehouse can ship)", chaos.oversell)
    bounds, store_levels = driver.sampler.bounds()
    final = [
        f"{sku}: store available {store_levels.get(sku, {}).get('available')}, "
        f"warehouse can ship {bound}"
        for sku, bound in sorted(bounds.items())
        if int(store_levels.get(sku, {}).get("available", 0)) != max(0, bound)
    ]
    check("SKUs where the store differs from the warehouse at the end", final)
    levels = {str(sku): (int(on), int(res)) for sku, on, res, _, _ in ledger}
    check(
        "stock levels not equal to the ledger's sum",
        [
            f"{sku}: level {on}/{res}, ledger {m_on}/{m_res} (on hand/reserved)"
            for sku, on, res, m_on, m_res in ledger
            if (on, res) != (m_on, m_res)
        ]
        + [f"{orphan_movements[0]} product(s) with movements and no level"]
        * bool(orphan_movements and orphan_movements[0]),
    )
    check(
        "reservations not equal to the open order lines",
        [
            f"{sku}: reserved {res}, open lines {open_lines.get(sku, 0)}"
            for sku, (_, res) in sorted(levels.items())
            if res != int(open_lines.get(sku, 0))
        ],
    )
    check(
        "on hand not equal to received - shipped (this run's own count)",
        [
            f"{sku}: on hand {levels.get(sku, (0, 0))[0]}, received {chaos.received[sku]}, "
            f"shipped {chaos.shipped[sku]}"
            for sku in SKUS
            if levels.get(sku, (0, 0))[0] != chaos.received[sku] - chaos.shipped[sku]
        ],
    )
    check(
        "queue items dead",
        [f"{k}: {v}" for k, v in sorted(queue.items()) if k.endswith(" dead") and v],
    )
    check(
        "queue items unfinished",
        [
            f"{k}: {v}"
            for k, v in sorted(queue.items())
            if k.split()[1] in ("received", "processing", "failed", "pending") and v
        ],
    )
    crashes = [
        f"{p.name}: {line.strip()[:200]}"
        for p in [*dep.workers, *dep.webs]
        for line in p.log_lines("Traceback")
    ]
    retired = [p for p in dep.processes if p.killed and p not in dep.workers]
    crashes += [
        f"{p.name}: {line.strip()[:200]}" for p in retired for line in p.log_lines("Traceback")
    ]
    check("tracebacks in the app's logs (handlers crashed, requests failed)", crashes)
    check(
        "unexpected alerts",
        [f"{code}: {message}" for code, message in alerts if code not in EXPECTED_ALERTS],
    )
    acknowledged = [webhook for _, webhook in dep.proxy.killed_after if webhook]
    check(
        "webhooks answered 200 by a killed process and not stored",
        [w for w in acknowledged if w not in stored_webhooks],
    )
    deliveries = dep.control.deliveries(SHOP)
    failed = [d for d in deliveries if d["status"] == "failed"]
    check("webhook deliveries failed for good", [d["webhook_id"] for d in failed])
    checks.append(
        Check(
            "events and reconciled orders skipped (nothing to do)",
            sum(int(n) for _, n in skipped),
        )
    )
    checks += [Check(f"  {reason[:60]}", int(n)) for reason, n in skipped]
    for name, value in (
        ("webhook deliveries (dropped)", sum(1 for d in deliveries if d["status"] == "dropped")),
        ("webhook deliveries (duplicates)", sum(1 for d in deliveries if d["duplicate"])),
        ("webhook deliveries (all)", len(deliveries)),
    ):
        checks.append(Check(name, value))
    return checks


def forensics(dep: Deployment, world: World, store_order_ids: Sequence[int]) -> None:
    """What both sides recorded about these store orders (for a failed check)."""
    with psycopg.connect(dep.database_url) as conn:
        for store_id in store_order_ids:
            try:
                store = dep.control.order(SHOP, store_id)
            except SandboxControlError:
                continue  # a number that named something else
            print(f"  store order {store_id}:")
            for li in store["line_items"]:
                print(
                    f"    store line {li['id']} {li['sku']}: quantity {li['quantity']}, "
                    f"current {li['current_quantity']}, fulfillable {li['fulfillable_quantity']}"
                )
            for f in store.get("fulfillments", []):
                lines = [(li["id"], li["quantity"]) for li in f["line_items"]]
                print(
                    f"    store fulfilment {f['id']} {f['status']} {f['tracking_number']} "
                    f"at {f['created_at']}: {lines}"
                )
            row = conn.execute(
                "SELECT id, number, status, updated_at FROM orders"
                " WHERE integration_id = %s AND external_order_id = %s",
                [world.integration_id, str(store_id)],
            ).fetchone()
            if row is None:
                print("    no warehouse order")
                continue
            order_id = row[0]
            print(f"    warehouse order {row[1]} {row[2]} (updated {row[3]:%H:%M:%S.%f})")
            for item in conn.execute(
                "SELECT id, external_line_id, quantity, shipped_quantity FROM order_items"
                " WHERE order_id = %s ORDER BY position",
                [order_id],
            ).fetchall():
                print(f"    item {item[0][:8]} line {item[1]}: {item[2]} ordered, {item[3]} out")
            for shipment in conn.execute(
                "SELECT id, tracking_number, lines, sync_state, external_fulfillment_id,"
                " created_at, synced_at FROM shipments WHERE order_id = %s ORDER BY created_at",
                [order_id],
            ).fetchall():
                print(
                    f"    shipment {shipment[1]} {shipment[3]} -> {shipment[4]} "
                    f"{[(x['item_id'][:8], x['quantity']) for x in shipment[2]]} created "
                    f"{shipment[5]:%H:%M:%S.%f}, synced "
                    f"{shipment[6] and f'{shipment[6]:%H:%M:%S.%f}'}"
                )
            for command in conn.execute(
                "SELECT payload->>'shipment_id', status, attempts, error, result, created_at,"
                " done_at FROM outbox_commands WHERE payload->>'order_id' = %s"
                " ORDER BY created_at",
                [order_id],
            ).fetchall():
                print(
                    f"    command for {str(command[0])[:8]}: {command[1]} after {command[2]} "
                    f"attempt(s), result {command[4]}, error {str(command[3])[:160]}, done "
                    f"{command[6] and f'{command[6]:%H:%M:%S.%f}'}"
                )
            for event in conn.execute(
                "SELECT topic, source, status, attempts, error, received_at, processed_at"
                " FROM inbox_events WHERE integration_id = %s AND (payload->>'id' = %s"
                " OR payload->'order_edit'->>'order_id' = %s) ORDER BY received_at",
                [world.integration_id, str(store_id), str(store_id)],
            ).fetchall():
                print(
                    f"    event {event[0]} ({event[1]}) {event[2]} x{event[3]} "
                    f"received {event[5]:%H:%M:%S.%f}: {str(event[4])[:120]}"
                )


def failing_orders(dep: Deployment, world: World, checks: Sequence[Check]) -> list[int]:
    """Store order ids named in the details of failed checks ("store order 7000001234", or
    a warehouse order number such as "SH-1257" in an alert)."""
    found: list[int] = []
    numbers: list[str] = []
    for check in checks:
        if not check.failed:
            continue
        for detail in check.details:
            words = detail.replace(":", " ").replace(";", " ").split()
            for index, word in enumerate(words):
                if word == "order" and index + 1 < len(words):
                    following = words[index + 1]
                    if following.isdigit() and int(following) not in found:
                        found.append(int(following))
                    elif following.startswith("SH-"):
                        numbers.append(following)
    if numbers:
        with psycopg.connect(dep.database_url) as conn:
            for (external_id,) in conn.execute(
                "SELECT external_order_id FROM orders WHERE integration_id = %s"
                " AND number = ANY(%s)",
                [world.integration_id, numbers],
            ).fetchall():
                if int(external_id) not in found:
                    found.append(int(external_id))
    return found


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000, help="orders to place (default 1000)")
    parser.add_argument("--seed", type=int, default=1, help="seeds the run's choices and faults")
    parser.add_argument("--workers", type=int, default=3, help="storelink worker processes")
    parser.add_argument("--webs", type=int, default=2, help="storelink serve processes")
    parser.add_argument("--rate", type=float, default=4.0, help="orders placed a second")
    parser.add_argument(
        "--kills",
        type=int,
        help="times each crash happens (worker, web, Redis, bucket drain); default 1 per "
        "350 orders, at least 1",
    )
    parser.add_argument(
        "--store-latency", type=float, default=0.05, help="seconds added to every GraphQL answer"
    )
    parser.add_argument(
        "--bucket",
        type=int,
        default=20000,
        help="the shop's GraphQL cost bucket, restoring 1/20 of it a second (default 20,000: "
        "Shopify Plus; 4,000 is Advanced, 2,000 Standard)",
    )
    parser.add_argument("--lease", type=float, default=20.0, help="storelink worker --lease")
    parser.add_argument(
        "--settle-timeout", type=float, default=300.0, help="most seconds to wait for quiescence"
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to create the scratch database on "
        "(default: postgresql://postgres@127.0.0.1:5432/postgres, else embedded)",
    )
    parser.add_argument("--keep-logs", type=Path, help="copy the processes' logs here")
    args = parser.parse_args(argv)
    if args.orders < 1 or args.workers < 1 or args.webs < 1 or args.rate <= 0:
        parser.error("--orders, --workers, --webs and --rate must be positive")
    if args.kills is None:
        args.kills = max(1, round(args.orders / 350))
    return args


def print_table(checks: Sequence[Check]) -> None:
    width = max(len(c.what) for c in checks)
    print(f"  {'':<{width}} {'count':>7}  must be 0")
    for c in checks:
        verdict = ("ok" if not c.failed else "FAILED") if c.must_be_zero else ""
        print(f"  {c.what:<{width}} {c.count:>7,}  {verdict}".rstrip())


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    began = time.monotonic()
    rng = random.Random(args.seed)
    chaos = Chaos()
    print(
        f"Chaos run: {args.orders:,} orders at {args.rate:g}/s, seed {args.seed}, "
        f"{args.webs} web processes, {args.workers} workers; {load_average()} load average",
        flush=True,
    )
    with (
        scratch_database(args.database_url) as database,
        tempfile.TemporaryDirectory(prefix="storelink-chaos-") as tmp,
    ):
        workdir = Path(tmp)
        dep: Deployment | None = None
        driver: Driver | None = None
        try:
            dep = Deployment(args, database.url, workdir)
            log(
                f"{database.server}; sandbox, {args.webs} x storelink serve behind "
                f"{dep.proxy.url}, {args.workers} x storelink worker, redis-server "
                f"{dep.redis.url}"
            )
            world = setup(dep, chaos)
            setup_seconds = time.monotonic() - began
            log(f"set up and connected in {setup_seconds:.1f} s; faults on")
            dep.control.set_faults(**FAULTS, latency=args.store_latency, random_seed=args.seed)
            driver = Driver(dep, world, chaos, rng)
            placing = time.monotonic()
            driver.run(args.orders, args.rate, schedule(args.orders, args.kills))
            placing = time.monotonic() - placing
            log(f"{chaos.placed} orders placed in {placing:.1f} s; faults off, reconciling")
            dep.control.clear_faults()
            first_call = max((c["id"] for c in dep.control.calls(SHOP, limit=1)), default=0)
            reconciling = time.monotonic()
            reconcile_failed: list[str] = []
            try:
                reconciled = dep.cli("sync", "--orders", timeout=args.settle_timeout).strip()
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                reconciled = f"FAILED: {str(exc)[-300:]}"
                reconcile_failed.append(reconciled)
            reconciling = time.monotonic() - reconciling
            during = [c for c in dep.control.calls(SHOP) if c["id"] > first_call]
            log(f"storelink sync --orders in {reconciling:.1f} s: {reconciled}")
            quiet, waited, left = settle(dep, args.settle_timeout)
            log(
                f"quiet after {waited:.1f} s"
                if quiet
                else f"NOT quiet after {waited:.1f} s: {left}"
            )
            checks = books(dep, world, driver, chaos)
            checks.append(
                Check("reconciliation failed", len(reconcile_failed), True, reconcile_failed)
            )
            if not quiet:
                checks.append(Check("not quiet at the end", 1, True, [str(left)]))
            exited = [  # a process this script killed and did not restart does not count
                f"{p.name} exited {p.popen.poll()}"
                for p in dep.processes
                if p.popen is not None
                and p.popen.poll() is not None
                and not (p.killed and p.popen.poll() == -signal.SIGKILL)
            ]
            checks.append(Check("app processes that died by themselves", len(exited), True, exited))
            total = time.monotonic() - began
            print()
            print(
                f"Chaos run: {chaos.placed:,} orders placed in {placing:.0f} s, "
                f"{total:.0f} s in all (setup {setup_seconds:.0f} s, quiet {waited:.0f} s after "
                "the reconciliation)"
            )
            for what in chaos.worker_kills + chaos.web_kills:
                print(f"  - {what}")
            print(
                f"  - redis-server restarted {chaos.redis_restarts} time(s); the shop's cost "
                f"bucket drained {chaos.bucket_drains} time(s); proxy: "
                f"{dict(dep.proxy.webhooks)} webhooks per web process, "
                f"{dep.proxy.failovers} failovers, {dep.proxy.bad_gateway} bad gateways"
            )
            calls = dep.control.calls(SHOP)
            per_operation: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for c in calls:
                name = str(c["operation_name"] or "(503 fault, not read)")
                per_operation[name][0] += 1
                per_operation[name][1] += int(c["actual_cost"] or 0)
            faults = Counter(c["fault"] for c in calls if c["fault"])
            throttled = sum(1 for c in calls if c["throttled"])
            print(
                f"  - store API: {len(calls):,} GraphQL calls, {sum(faults.values()):,} "
                f"answered 5xx ({faults.get('error_after_apply', 0)} after applying), "
                f"{throttled} throttled; oversell samples: max excess {driver.sampler.max_excess}"
            )
            print(
                "    calls and actual cost per operation: "
                + ", ".join(
                    f"{name} {n:,} ({cost:,})"
                    for name, (n, cost) in sorted(per_operation.items(), key=lambda kv: -kv[1][0])
                )
            )
            by_operation = Counter(str(c["operation_name"]) for c in during)
            waited_ms = sum(c["duration_ms"] or 0 for c in during)
            print(
                f"  - storelink sync --orders ({reconciling:.1f} s; store calls meanwhile, "
                f"workers' included: {dict(by_operation)}, {waited_ms / 1000:.1f} s answering, "
                f"{sum(1 for c in during if c['throttled'])} throttled): {reconciled}"
            )
            print_table(checks)
            failed = [c for c in checks if c.failed]
            for c in failed:
                print(f"FAILED: {c.what}: {c.count}")
                for detail in c.details[:10]:
                    print(f"    {detail}")
            if failed:
                for line in chaos.oversell_forensics:
                    print(f"  {line}")
                forensics(dep, world, failing_orders(dep, world, checks)[:4])
            print("all checks passed" if not failed else f"{len(failed)} check(s) failed")
            return 1 if failed else 0
        finally:
            if driver is not None:
                driver.close()
            if dep is not None:
                dep.stop()
                if args.keep_logs:
                    args.keep_logs.mkdir(parents=True, exist_ok=True)
                    for path in workdir.glob("*.log"):
                        (args.keep_logs / path.name).write_bytes(path.read_bytes())


if __name__ == "__main__":
    sys.exit(main())
