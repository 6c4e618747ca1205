"""Webhook ingest on PostgreSQL: storelink serve against the same server with a bare app.

    .venv/bin/python benchmarks/webhook_ingest.py [--senders 4] [--requests 3000] [--rounds 3]
        [--duplicates 0.2] [--threads 8] [--redis-url redis://HOST:6379/N] [--profile FILE]
        [--no-direct] [--database-url postgresql://USER@HOST/DB]

The real app runs as ``storelink serve`` (waitress, the production server) in its own process
on a local port, on a scratch database (created on ``--database-url``'s server, by default the
local server at 127.0.0.1:5432, else an embedded one; dropped at the end). Connected
integrations are inserted directly through the unit of work: ingest makes no store call.
``--senders`` threads, each with its own keep-alive httpx client, post signed
``orders/create`` deliveries (the first order of Shopify's REST reference in
tests/fixtures/shopify, 17 kB, each with its own order id and ``X-Shopify-Webhook-Id``) and
time every request.

The comparison: the same-server baseline is a bare WSGI app doing only the app's HMAC check
(base64 HMAC-SHA256 of the raw body, ``hmac.compare_digest``) and one INSERT of the body
(``webhook_bare (body jsonb)``, autocommit, one connection per thread) into the same
database, served by the same waitress with the same threads, in its own process. Both
servers run side by side; ``--rounds`` rounds each send the same new deliveries to one and
then the other (who goes first alternates), so both see the same machine. Each phase
reports req/s, latency percentiles and the server process's CPU a request (from /proc);
the app's throughput over the baseline's is the ratio the goal is stated in. Then, on the
same database:

* the app with a share of repeated webhook ids (``--duplicates``): what deduplication costs,
  and a check that each distinct delivery is stored exactly once;
* (unless ``--no-direct``) the baseline without HTTP: the same number of threads each doing
  the HMAC check and the INSERT on its own connection.

``--redis-url`` gives the app ``REDIS_URL`` (its rate limiters in Redis, as a deployment of
several processes has them); without it they are in memory. ``--profile FILE`` samples both
servers' processes with py-spy during the measured rounds (see ``_profile.py``; the bare
app's stacks go to FILE.bare) and prints where their CPU goes, in ms a request.

Deliveries are spread over enough stores that none passes the per-store limit of
``entrypoints.web.webhooks.DELIVERIES`` (a single store is capped there by design); a 429 would
be counted and shown. CPU per request comes from /proc: the server process, this process (the
senders), PostgreSQL (the scratch database's backends and the server's background writers,
when the server runs on this machine) and everything else on the machine.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import math
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from _harness import (
    REPO,
    Cpu,
    CpuMeter,
    ServerProcess,
    Summary,
    app_process,
    bench_environment,
    free_port,
    load_average,
    print_summaries,
    scratch_database,
)
from _profile import Profile, Sampler
from attrs import define, field, frozen

from adapters.crypto import AesGcmCipher
from adapters.postgres import PostgresDatabase, PostgresUnitOfWork
from adapters.shopify import webhook_signature
from adapters.system import SystemClock, UuidIdGenerator
from core.model import Integration
from core.services import SYSTEM, Context, tenancy
from core.services.integrations import seal
from core.store import Credentials
from entrypoints.web.webhooks import DELIVERIES

CLIENT_ID = "bench-client-id"
CLIENT_SECRET = "bench-client-secret"
FIXTURE = REPO / "tests" / "fixtures" / "shopify" / "rest-2026-07" / "order.json"
MARK = b"987654321012345"  # the order id in the body template, replaced per delivery
PER_STORE = DELIVERIES.amount * 5 // 6  # deliveries per store and phase: under its limit
WARMUP_PER_SENDER = 100
WARMUP_BARE = 20
GOAL_RATIO = 0.7  # the app's throughput over the same-server baseline's (issue 8)
GOAL_P99_MS = 50.0  # at 4 senders


@frozen
class Post:
    """One delivery, ready to send: the body and every header computed beforehand."""

    integration_id: str
    delivery_id: str
    body: bytes
    headers: dict[str, str]


@frozen
class Store:
    integration_id: str
    shop: str


@define
class Stream:
    """What one sender posts, and what it saw."""

    posts: list[Post]
    latencies: list[float] = field(factory=list)
    answers: Counter[str] = field(factory=Counter)  # "200 stored", "200 duplicate", "429", ...
    by_answer: dict[str, list[float]] = field(factory=dict)

    def record(self, answer: str, seconds: float) -> None:
        self.latencies.append(seconds)
        self.answers[answer] += 1
        self.by_answer.setdefault(answer, []).append(seconds)


def order_template() -> bytes:
    """The first order of Shopify's REST reference, compact, with a marker for its id."""
    entries = json.loads(FIXTURE.read_text())
    order = entries[0]["response_body"]["orders"][0]
    order["id"] = int(MARK)
    order["admin_graphql_api_id"] = f"gid://shopify/Order/{MARK.decode()}"
    return json.dumps(order, separators=(",", ":")).encode()


class Plan:
    """Builds the streams of each phase: unique order ids and delivery ids across the run."""

    def __init__(self, ctx: Context, cipher: AesGcmCipher, senders: int, seed: int = 1) -> None:
        self.ctx = ctx
        self.cipher = cipher
        self.senders = senders
        self.rng = random.Random(seed)
        self.template = order_template()
        self.next_order = 820_000_000_000
        self.client_id = tenancy.create_client(ctx, SYSTEM, name="Benchmark merchant").id

    def stores(self, phase: str, count: int) -> list[Store]:
        """``count`` connected Shopify integrations, inserted through the unit of work."""
        now = self.ctx.clock.now()
        stores: list[Store] = []
        with self.ctx.uow() as uow:
            for n in range(count):
                integration_id = self.ctx.ids.new_id()
                shop = f"bench-{phase}-{n}.myshopify.com"
                credentials = Credentials("shpat_benchmark", ("read_orders",), None)
                uow.integrations.add(
                    Integration(
                        id=integration_id,
                        client_id=self.client_id,
                        platform="shopify",
                        shop_domain=shop,
                        created_at=now,
                        updated_at=now,
                        shop_name=f"Bench {phase} {n}",
                        status="active",
                        credentials=seal(self.cipher, integration_id, credentials),
                        scopes=["read_orders"],
                        connected_at=now,
                    )
                )
                stores.append(Store(integration_id, shop))
            uow.commit()
        return stores

    def _post(self, store: Store, delivery_id: str) -> Post:
        self.next_order += 1
        body = self.template.replace(MARK, str(self.next_order).encode())
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": webhook_signature(body, CLIENT_SECRET),
            "X-Shopify-Shop-Domain": store.shop,
            "X-Shopify-API-Version": "2026-10",
            "X-Shopify-Webhook-Id": delivery_id,
            "X-Shopify-Event-Id": f"event-{delivery_id}",
            "X-Shopify-Triggered-At": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        return Post(store.integration_id, delivery_id, body, headers)

    def streams(self, phase: str, per_sender: int, duplicates: float = 0.0) -> list[Stream]:
        """Each sender's posts; with ``duplicates``, that share of its posts repeats one of
        its earlier deliveries (same webhook id, body and signature, same store)."""
        stores_per_sender = max(1, math.ceil(per_sender / PER_STORE))
        stores = self.stores(phase, self.senders * stores_per_sender)
        streams: list[Stream] = []
        for s in range(self.senders):
            own = stores[s * stores_per_sender : (s + 1) * stores_per_sender]
            repeats = set(
                self.rng.sample(range(1, per_sender), round((per_sender - 1) * duplicates))
            )
            posts: list[Post] = []
            originals: list[Post] = []
            for k in range(per_sender):
                if k in repeats:
                    posts.append(self.rng.choice(originals))
                    continue
                post = self._post(own[k % len(own)], f"{phase}-{s}-{k}")
                originals.append(post)
                posts.append(post)
            streams.append(Stream(posts))
        return streams


# --- the phases -------------------------------------------------------------------------------

Sender = Callable[[Stream, threading.Barrier], None]


def run_phase(streams: Sequence[Stream], sender: Sender, meter: CpuMeter) -> Cpu:
    """One thread per stream, started together. Each sender waits on the barrier when ready
    (connected), for the go, when done, and once more before closing its connection, so that
    the CPU of its database backend is still there to be counted."""
    barrier = threading.Barrier(len(streams) + 1)
    threads = [
        threading.Thread(target=sender, args=(stream, barrier), name=f"sender-{n}")
        for n, stream in enumerate(streams)
    ]
    for thread in threads:
        thread.start()
    barrier.wait()  # ready
    first = meter.snapshot()
    started = time.perf_counter()
    barrier.wait()  # go
    barrier.wait()  # done
    seconds = time.perf_counter() - started
    last = meter.snapshot()
    barrier.wait()  # measured: the senders may close their connections
    for thread in threads:
        thread.join()
    return CpuMeter.between(first, last, seconds)


def finish(barrier: threading.Barrier) -> None:
    barrier.wait()  # done
    barrier.wait()  # measured


def http_sender(base_url: str) -> Sender:
    """Posts a stream over one keep-alive connection, timing each request."""

    def send(stream: Stream, barrier: threading.Barrier) -> None:
        with httpx.Client(base_url=base_url, timeout=60) as http:
            http.get("/healthz")  # opens the connection
            barrier.wait()
            barrier.wait()
            for post in stream.posts:
                path = f"/api/webhooks/shopify/{post.integration_id}"
                started = time.perf_counter()
                response = http.post(path, content=post.body, headers=post.headers)
                elapsed = time.perf_counter() - started
                answer = str(response.status_code)
                if response.status_code == 200:
                    answer += " " + str(response.json().get("status"))
                stream.record(answer, elapsed)
            finish(barrier)

    return send


BARE_TABLE = "CREATE TABLE IF NOT EXISTS webhook_bare (body jsonb NOT NULL)"
BARE_INSERT = "INSERT INTO webhook_bare (body) VALUES (%s::jsonb)"
SECRET = CLIENT_SECRET.encode()


def signature_ok(body: bytes, signature: str) -> bool:
    """The same check as the app's: base64 HMAC-SHA256 of the raw body, constant time."""
    expected = base64.b64encode(hmac.new(SECRET, body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.encode())


def bare_sender(database_url: str) -> Sender:
    """The baseline without HTTP: check the signature, one INSERT (autocommit), per delivery."""

    def insert(stream: Stream, barrier: threading.Barrier) -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            for post in stream.posts[:WARMUP_BARE]:  # the connection and prepared statement
                conn.execute(BARE_INSERT, [post.body.decode()])
            barrier.wait()
            barrier.wait()
            for post in stream.posts:
                started = time.perf_counter()
                if signature_ok(post.body, post.headers["X-Shopify-Hmac-Sha256"]):
                    conn.execute(BARE_INSERT, [post.body.decode()])
                    answer = "200 stored"
                else:
                    answer = "401"
                stream.record(answer, time.perf_counter() - started)
            finish(barrier)

    return insert


def bare_wsgi_app(database_url: str) -> Callable[..., list[bytes]]:
    """The baseline over HTTP: a bare WSGI app doing only the check and the INSERT, one
    connection per server thread. Served by waitress like the app (``--serve-bare``)."""
    local = threading.local()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ["REQUEST_METHOD"] == "GET":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(database_url, autocommit=True)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if not signature_ok(body, environ.get("HTTP_X_SHOPIFY_HMAC_SHA256", "")):
            start_response("401 Unauthorized", [("Content-Type", "application/json")])
            return [b'{"error": "invalid_hmac"}']
        conn.execute(BARE_INSERT, [body.decode()])
        answer = b'{"status": "stored"}'
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))]
        )
        return [answer]

    return app


def serve_bare(port: int, threads: int) -> None:
    from waitress import serve

    serve(bare_wsgi_app(os.environ["DATABASE_URL"]), host="127.0.0.1", port=port, threads=threads)


def bare_process(database_url: str, port: int, threads: int, workdir: Path) -> ServerProcess:
    command = [sys.executable, __file__, "--serve-bare", str(port), "--threads", str(threads)]
    return ServerProcess(command, {"DATABASE_URL": database_url}, port, workdir, "bare-waitress")


def count_rows(database_url: str, query: str, params: Sequence[object] = ()) -> tuple[int, ...]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query, params).fetchone()
    return tuple(int(v) for v in row) if row else ()


def inbox_count(database_url: str, phase: str) -> tuple[int, ...]:
    return count_rows(
        database_url,
        "SELECT count(*), count(DISTINCT delivery_id) FROM inbox_events WHERE delivery_id LIKE %s",
        [f"{phase}-%"],
    )


def bare_count(database_url: str) -> int:
    return count_rows(database_url, "SELECT count(*) FROM webhook_bare")[0]


# --- the report -------------------------------------------------------------------------------


def merged(label: str, streams: Sequence[Stream], seconds: float) -> Summary:
    return Summary.of(label, [t for s in streams for t in s.latencies], seconds)


def answers(streams: Sequence[Stream]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for stream in streams:
        total.update(stream.answers)
    return dict(sorted(total.items()))


def print_cpu(rows: Sequence[tuple[str, Cpu]], requests: int) -> None:
    width = max(len("CPU ms per request:"), *(len(label) for label, _ in rows))
    print(
        f"  {'CPU ms per request:':<{width}} {'server':>7} {'senders':>8} "
        f"{'postgres':>9} {'other':>7}   cores busy (of {os.cpu_count()})"
    )
    per = 1000 / requests
    for label, cpu in rows:
        print(
            f"  {label:<{width}} {cpu.processes.get('server', 0.0) * per:>7.2f} "
            f"{cpu.own * per:>8.2f} "
            f"{cpu.postgres * per:>9.2f} {cpu.other * per:>7.2f}   {cpu.busy_cores:.2f}"
        )


def fresh(streams: Sequence[Stream]) -> list[Stream]:
    """The same posts, nothing recorded yet."""
    return [Stream(list(s.posts)) for s in streams]


@frozen
class Measured:
    """One phase of one server: what the senders saw and what it cost."""

    who: str  # "app" or "bare"
    round: int
    streams: list[Stream]
    cpu: Cpu

    @property
    def summary(self) -> Summary:
        return merged(self.who, self.streams, self.cpu.seconds)

    @property
    def requests(self) -> int:
        return sum(len(s.latencies) for s in self.streams)

    @property
    def server_ms(self) -> float:
        return self.cpu.processes.get("server", 0.0) * 1000 / self.requests


def combined(who: str, phases: Sequence[Measured]) -> tuple[Summary, float]:
    """All rounds of one server: latencies pooled, throughput over the summed wall time,
    server CPU over the summed requests."""
    seconds = sum(m.cpu.seconds for m in phases)
    summary = merged(who, [s for m in phases for s in m.streams], seconds)
    cpu = sum(m.cpu.processes.get("server", 0.0) for m in phases)
    return summary, cpu * 1000 / summary.count


def print_comparison(measured: Sequence[Measured], goal_ratio: float, goal_p99: float) -> None:
    print(
        f"  {'round':<6} {'server':<28} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} "
        f"{'p99 ms':>8} {'max ms':>8} {'server CPU ms/req':>18}"
    )
    names = {"app": "storelink serve", "bare": "bare waitress (HMAC+INSERT)"}
    for m in measured:
        r = m.summary
        print(
            f"  {m.round:<6} {names[m.who]:<28} {r.rate:>8.1f} {r.ms(50):>8.2f} "
            f"{r.ms(90):>8.2f} {r.ms(99):>8.2f} {r.max_ms:>8.2f} {m.server_ms:>18.2f}"
        )
    app = [m for m in measured if m.who == "app"]
    bare = [m for m in measured if m.who == "bare"]
    app_all, app_cpu = combined("app", app)
    bare_all, bare_cpu = combined("bare", bare)
    for label, r, cpu in (("all", app_all, app_cpu), ("all", bare_all, bare_cpu)):
        name = names[r.label]
        print(
            f"  {label:<6} {name:<28} {r.rate:>8.1f} {r.ms(50):>8.2f} {r.ms(90):>8.2f} "
            f"{r.ms(99):>8.2f} {r.max_ms:>8.2f} {cpu:>18.2f}"
        )
    per_round = [
        a.summary.rate / b.summary.rate for a, b in zip(app, bare, strict=True) if b.summary.rate
    ]
    ratio = app_all.rate / bare_all.rate
    print(
        f"  app / same-server baseline: throughput {ratio:.2f}x "
        f"(rounds: {', '.join(f'{r:.2f}' for r in per_round)}), server CPU a request "
        f"{app_cpu / bare_cpu:.2f}x ({app_cpu:.2f} vs {bare_cpu:.2f} ms), "
        f"p50 {app_all.ms(50) / bare_all.ms(50):.2f}x, p99 {app_all.ms(99) / bare_all.ms(99):.2f}x"
    )
    met = ratio >= goal_ratio and app_all.ms(99) <= goal_p99
    print(
        f"  goal: throughput >= {goal_ratio:.2f}x the same-server baseline and app p99 <= "
        f"{goal_p99:.0f} ms: {'met' if met else 'NOT met'} "
        f"({ratio:.2f}x, p99 {app_all.ms(99):.1f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=4, help="concurrent senders (threads)")
    parser.add_argument(
        "--requests", type=int, default=3_000, help="deliveries per phase, over all senders"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="app and baseline phases, interleaved, each"
    )
    parser.add_argument(
        "--duplicates",
        type=float,
        default=0.2,
        help="share of repeated webhook ids in the app's duplicates phase (0: no such phase)",
    )
    parser.add_argument("--threads", type=int, default=8, help="waitress threads (serve's default)")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to create the scratch database on "
        "(default: postgresql://postgres@127.0.0.1:5432/postgres, else embedded)",
    )
    parser.add_argument(
        "--redis-url",
        help="REDIS_URL for the app's rate limiters, as a deployment of several processes "
        "has it (default: none, the limiter in memory://)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="sample storelink serve with py-spy during the app's measured phases, write the "
        "raw stacks to FILE and print where its CPU goes",
    )
    parser.add_argument(
        "--no-direct", action="store_true", help="skip the baseline without HTTP (phase 4)"
    )
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare, args.threads)
        return
    per_sender = args.requests // args.senders
    total = per_sender * args.senders

    with scratch_database(args.database_url) as database, tempfile.TemporaryDirectory() as tmp:
        durability = ", ".join(f"{k}={v}" for k, v in database.settings.items())
        print(f"{database.server} ({durability})")
        print(f"{os.cpu_count()} cores; load average before the run {load_average()}")
        workdir = Path(tmp)
        port = free_port()
        env = bench_environment(
            database.url,
            workdir,
            app_url=f"http://127.0.0.1:{port}",
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
        )
        if args.redis_url:
            env["REDIS_URL"] = args.redis_url
        db = PostgresDatabase(database.url, max_size=2)
        db.open()
        ctx = Context(
            uow=lambda: PostgresUnitOfWork(db), clock=SystemClock(), ids=UuidIdGenerator()
        )
        plan = Plan(ctx, AesGcmCipher.from_spec(env["TOKEN_ENCRYPTION_KEYS"]), args.senders)
        warmup = plan.streams("warmup", WARMUP_PER_SENDER)
        rounds = [plan.streams(f"round{n}", per_sender) for n in range(1, args.rounds + 1)]
        repeated = plan.streams("dupes", per_sender, args.duplicates) if args.duplicates else []
        db.close()
        limiter = f"Redis ({args.redis_url})" if args.redis_url else "memory://"
        print(
            f"{args.senders} senders x {per_sender:,} signed orders/create deliveries "
            f"({len(plan.template):,}-byte bodies) a phase; {args.rounds} rounds of the app and "
            f"the bare app, interleaved; each in its own process under waitress with "
            f"{args.threads} threads; the app's rate limiter in {limiter}"
        )
        with psycopg.connect(database.url, autocommit=True) as conn:
            conn.execute(BARE_TABLE)

        measured: list[Measured] = []
        profiles: dict[str, Profile] = {}
        with (
            app_process(env, port, threads=args.threads) as app,
            bare_process(database.url, free_port(), args.threads, workdir) as bare,
        ):
            servers = {
                "app": (app.url, CpuMeter(database.url, {"server": app.process.pid})),
                "bare": (bare.url, CpuMeter(database.url, {"server": bare.process.pid})),
            }
            for url, meter in servers.values():
                run_phase(fresh(warmup), http_sender(url), meter)
            samplers = (
                {
                    "app": Sampler(app.process.pid, args.profile),
                    "bare": Sampler(bare.process.pid, Path(f"{args.profile}.bare")),
                }
                if args.profile
                else {}
            )
            bare_before = bare_count(database.url)
            for n, streams in enumerate(rounds, start=1):
                # alternate who goes first, so a drift in the machine's load favours neither
                for who in ("app", "bare") if n % 2 else ("bare", "app"):
                    url, meter = servers[who]
                    own = fresh(streams)
                    measured.append(Measured(who, n, own, run_phase(own, http_sender(url), meter)))
            bare_rows = bare_count(database.url) - bare_before
            profiles = {who: sampler.stop() for who, sampler in samplers.items()}
            dupes_cpu = (
                run_phase(repeated, http_sender(app.url), servers["app"][1]) if repeated else None
            )
            queue_warnings = app.log_lines("Task queue depth")

        print()
        print(
            f"Every delivery new, {total:,} requests a phase: storelink serve against the same "
            f"waitress serving a bare WSGI app (HMAC check + INSERT):"
        )
        print_comparison(measured, GOAL_RATIO, GOAL_P99_MS)
        app_phases = [m for m in measured if m.who == "app"]
        bare_phases = [m for m in measured if m.who == "bare"]
        print(
            f"  answers: app {answers([s for m in app_phases for s in m.streams])}; "
            f"bare {answers([s for m in bare_phases for s in m.streams])}"
        )
        for n in range(1, args.rounds + 1):
            stored, distinct = inbox_count(database.url, f"round{n}")
            verdict = "exactly one per delivery" if stored == distinct == total else "MISMATCH"
            print(f"  round {n}: inbox_events {stored:,} for {total:,} deliveries ({verdict})")
        print(f"  webhook_bare: {bare_rows:,} rows (expected {total * args.rounds:,})")
        print_cpu([(f"app, round {m.round}", m.cpu) for m in app_phases], total)
        print_cpu([(f"bare, round {m.round}", m.cpu) for m in bare_phases], total)
        for who, profile in profiles.items():
            phases = [m for m in measured if m.who == who]
            _, cpu = combined(who, phases)
            name = "storelink serve" if who == "app" else "the bare app's waitress"
            where = args.profile if who == "app" else f"{args.profile}.bare"
            print()
            print(f"Where {name}'s CPU went (the rounds above, stacks in {where}):")
            profile.print(cpu)

        if repeated and dupes_cpu is not None:
            distinct_posts = len({p.delivery_id for s in repeated for p in s.posts})
            print()
            print(
                f"With {args.duplicates:.0%} repeated webhook ids ({total:,} requests, "
                f"{distinct_posts:,} distinct deliveries):"
            )
            rows = [merged("app: every request", repeated, dupes_cpu.seconds)]
            for answer in ("200 stored", "200 duplicate"):
                latencies = [t for s in repeated for t in s.by_answer.get(answer, [])]
                label = f"app: answered {answer.split()[1]}"
                rows.append(Summary.of(label, latencies, dupes_cpu.seconds))
            print_summaries(rows)
            print(f"  answers: {answers(repeated)}")
            stored, distinct = inbox_count(database.url, "dupes")
            verdict = "exactly once each" if stored == distinct == distinct_posts else "MISMATCH"
            print(
                f"  inbox_events: {stored:,} for {distinct_posts:,} distinct deliveries ({verdict})"
            )
            print_cpu([("app with duplicates", dupes_cpu)], total)

        if not args.no_direct:
            baseline = fresh(rounds[0])
            before = bare_count(database.url) + WARMUP_BARE * len(baseline)
            baseline_cpu = run_phase(baseline, bare_sender(database.url), CpuMeter(database.url))
            baseline_rows = bare_count(database.url) - before
            print()
            print("Baseline without HTTP: the same threads, HMAC check + bare INSERT each:")
            print_summaries([merged("no HTTP", baseline, baseline_cpu.seconds)])
            print(f"  answers: {answers(baseline)}; webhook_bare: {baseline_rows:,} rows")
            print_cpu([("no HTTP (no server)", baseline_cpu)], total)
        if queue_warnings:
            print(f"  waitress warned {len(queue_warnings)} time(s): {queue_warnings[-1]}")


if __name__ == "__main__":
    main()
