"""The portal's pages at scale: 100,000 orders, 10,000 mapped variants, 100,000 inbox events.

    .venv/bin/python benchmarks/portal_pages.py [--orders 100000] [--variants 10000]
        [--events 100000] [--clients 10] [--requests 60] [--database-url postgresql://...]

About 2 minutes on a 2-core machine (most of it seeding and building indexes).

A scratch database on the local PostgreSQL (or ``--database-url``'s server), migrated, is
seeded with COPY: ``--clients`` merchants with one Shopify store each; the first has
``--variants`` catalogue variants, every one mapped to a product with stock and a push state
per store location; ``--orders`` orders over a year (half the first client's), with one to
three lines each, ship-to names and e-mails, shipments for the shipped ones, store references
for most, on-hold orders with an unmapped line; and ``--events`` inbox events about those
store orders (full order payloads, some failed or dead). Then ``ANALYZE``.

Each page is requested ``--requests`` times (after 5 unmeasured warm-ups) through Flask's
test client against the real app (``create_app(bootstrap(settings))``: PostgreSQL adapters,
the session checked on every request, templates rendered), signed in through ``/login``, so
the time is the server's: routing, session, queries, rendering. p50/p95 per page; the goal
is p95 <= 150 ms each.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from benchmarks._harness import bench_environment, percentile, scratch_database

PASSWORD = "benchmark-password-1"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Margaret",
    "Niklaus",
    "Radia",
    "Tim",
]
LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Hamilton",
    "Wirth",
]
STATUSES = [
    ("shipped", 60),
    ("cancelled", 5),
    ("pending", 10),
    ("allocated", 10),
    ("picking", 5),
    ("packing", 3),
    ("on_hold", 7),
]


def _id() -> str:
    return str(uuid.uuid4())


def _copy(conn: psycopg.Connection[Any], table: str, columns: list[str], rows: Any) -> int:
    n = 0
    with conn.cursor() as cur:
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with cur.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
                n += 1
    return n


class Seed:
    """What the pages are asked for, found while seeding."""

    def __init__(self) -> None:
        self.clients: list[str] = []
        self.stores: list[str] = []
        self.store_orders: list[str] = []  # orders of the first store with events
        self.surname_email = ""


def seed(url: str, *, orders: int, variants: int, events: int, clients: int) -> Seed:
    rng = random.Random(9)
    found = Seed()
    with psycopg.connect(url) as conn:
        warehouse = _id()
        conn.execute(
            "INSERT INTO warehouses (id, code, name, created_at) VALUES (%s, 'MAIN', 'Main', %s)",
            [warehouse, NOW],
        )
        for n in range(clients):
            client, store = _id(), _id()
            found.clients.append(client)
            found.stores.append(store)
            conn.execute(
                "INSERT INTO clients (id, name, created_at) VALUES (%s, %s, %s)",
                [client, f"Client {n:02d}", NOW],
            )
            conn.execute(
                "INSERT INTO integrations (id, client_id, platform, shop_domain, shop_name,"
                " created_at, updated_at, status) VALUES (%s, %s, 'shopify', %s, %s, %s, %s,"
                " 'active')",
                [store, client, f"shop{n}.myshopify.com", f"Shop {n}", NOW, NOW],
            )
            conn.execute(
                "INSERT INTO location_mappings (id, integration_id, external_location_id, name,"
                " warehouse_id, is_default) VALUES (%s, %s, %s, 'Shop front', %s, true)",
                [_id(), store, f"{7000 + n}", warehouse],
            )
        # products: the first client's mapped to its store's variants; others 500 each
        products: list[list[tuple[str, str]]] = []
        product_rows = []
        for n, client in enumerate(found.clients):
            count = variants if n == 0 else 500
            mine = [(_id(), f"C{n}-SKU-{i:05d}") for i in range(count)]
            products.append(mine)
            product_rows += [(pid, client, sku, f"Product {sku}", NOW) for pid, sku in mine]
        _copy(conn, "products", ["id", "client_id", "sku", "name", "created_at"], product_rows)
        _copy(
            conn,
            "stock_levels",
            ["product_id", "warehouse_id", "on_hand", "reserved"],
            ((row[0], warehouse, 100, rng.randint(0, 20)) for row in product_rows),
        )
        big, big_products = found.stores[0], products[0]
        _copy(
            conn,
            "catalog_variants",
            [
                "integration_id",
                "external_variant_id",
                "loaded_at",
                "external_inventory_item_id",
                "sku",
                "title",
                "product_title",
            ],
            (
                (big, f"{40000000 + i}", NOW, f"{50000000 + i}", sku, "Default", f"Thing {i:05d}")
                for i, (_, sku) in enumerate(big_products)
            ),
        )
        mappings = [(_id(), pid, f"{40000000 + i}") for i, (pid, _) in enumerate(big_products)]
        _copy(
            conn,
            "product_mappings",
            [
                "id",
                "integration_id",
                "product_id",
                "external_variant_id",
                "created_at",
                "external_inventory_item_id",
                "sku",
            ],
            (
                (mid, big, pid, vid, NOW, f"{50000000 + i}", big_products[i][1])
                for i, (mid, pid, vid) in enumerate(mappings)
            ),
        )
        _copy(
            conn,
            "inventory_push_states",
            [
                "mapping_id",
                "location_id",
                "integration_id",
                "quantity",
                "pushed_at",
                "error",
                "error_at",
            ],
            (
                (
                    mid,
                    "7000",
                    big,
                    90,
                    NOW,
                    "the store timed out" if i % 50 == 0 else None,
                    NOW if i % 50 == 0 else None,
                )
                for i, (mid, _, _) in enumerate(mappings)
            ),
        )
        # orders, lines, shipments
        weights = [w for _, w in STATUSES]
        names = [s for s, _ in STATUSES]
        order_rows, item_rows, shipment_rows = [], [], []
        store_orders: list[tuple[str, str, str, str]] = []  # (store, ext id, order id, number)
        for n in range(orders):
            c = 0 if n % 2 == 0 else 1 + n % (clients - 1)
            client, store = found.clients[c], found.stores[c]
            order_id = _id()
            created = NOW - timedelta(seconds=rng.randint(0, 365 * 24 * 3600))
            status = rng.choices(names, weights)[0]
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email = f"{first.lower()}.{last.lower()}{n}@example.com"
            ship_to = {
                "name": f"{first} {last}",
                "address1": f"{n} Main St",
                "city": "Springfield",
                "zip": f"{10000 + n % 90000}",
                "country_code": "US",
            }
            from_store = n % 5 != 0
            ext = f"{5000000000 + n}" if from_store else None
            number = f"C{c}-{n:06d}"
            order_rows.append(
                (
                    order_id,
                    client,
                    warehouse,
                    number,
                    created,
                    created,
                    status,
                    "shopify" if from_store else "manual",
                    "shopify" if from_store else None,
                    store if from_store else None,
                    ext,
                    f"#{1000 + n}" if from_store else None,
                    json.dumps(ship_to),
                    email,
                    "unmapped lines: X (variant 1)" if status == "on_hold" else None,
                )
            )
            if from_store and ext is not None:
                store_orders.append((store, ext, order_id, f"#{1000 + n}"))
            lines = rng.randint(1, 3)
            pool = products[c]
            for position in range(lines):
                pid, sku = rng.choice(pool)
                quantity = rng.randint(1, 4)
                unmapped = status == "on_hold" and position == 0
                item_rows.append(
                    (
                        order_id,
                        _id(),
                        position,
                        None if unmapped else pid,
                        "UNMAPPED-1" if unmapped else sku,
                        f"Product {sku}",
                        quantity,
                        quantity if status == "shipped" else 0,
                        f"{40000000 + n % variants}" if c == 0 else None,
                    )
                )
            if status == "shipped":
                shipment_rows.append(
                    (
                        _id(),
                        order_id,
                        client,
                        "[]",
                        "DHL",
                        f"JD{n:012d}",
                        created,
                        f"https://track.example/JD{n:012d}",
                        "synced" if from_store else "not_required",
                    )
                )
        found.surname_email = "hopper12"  # a customer fragment matching a handful of orders
        _copy(
            conn,
            "orders",
            [
                "id",
                "client_id",
                "warehouse_id",
                "number",
                "created_at",
                "updated_at",
                "status",
                "source",
                "platform",
                "integration_id",
                "external_order_id",
                "external_number",
                "ship_to",
                "email",
                "hold_reason",
            ],
            order_rows,
        )
        _copy(
            conn,
            "order_items",
            [
                "order_id",
                "id",
                "position",
                "product_id",
                "sku",
                "name",
                "quantity",
                "shipped_quantity",
                "external_variant_id",
            ],
            item_rows,
        )
        _copy(
            conn,
            "shipments",
            [
                "id",
                "order_id",
                "client_id",
                "lines",
                "carrier",
                "tracking_number",
                "created_at",
                "tracking_url",
                "sync_state",
            ],
            shipment_rows,
        )
        # inbox events about the store orders, payloads as Shopify sends them
        found.store_orders = [o[2] for o in store_orders[:200] if o[0] == big][:50]

        def event_rows() -> Iterator[tuple[Any, ...]]:
            for n in range(events):
                store, ext, _, number = store_orders[n % len(store_orders)]
                received = NOW - timedelta(seconds=rng.randint(0, 365 * 24 * 3600))
                status = "dead" if n % 97 == 0 else "failed" if n % 41 == 0 else "processed"
                payload = {
                    "id": int(ext),
                    "name": number,
                    "email": f"customer{n}@example.com",
                    "updated_at": received.isoformat(),
                    "line_items": [
                        {
                            "id": 900000 + i,
                            "variant_id": 40000000 + i,
                            "sku": f"SKU-{i}",
                            "quantity": 1,
                            "price": "19.90",
                            "title": "A thing",
                        }
                        for i in range(3)
                    ],
                    "shipping_address": {
                        "name": "Ada Lovelace",
                        "address1": "1 Main St",
                        "city": "Springfield",
                        "country_code": "US",
                    },
                }
                yield (
                    _id(),
                    "shopify",
                    "orders/updated",
                    f"bench-{n}",
                    received,
                    received,
                    json.dumps(payload),
                    store,
                    "processed" if status == "processed" else status,
                    1,
                    "the store timed out" if status != "processed" else None,
                )

        _copy(
            conn,
            "inbox_events",
            [
                "id",
                "platform",
                "topic",
                "delivery_id",
                "received_at",
                "next_attempt_at",
                "payload",
                "integration_id",
                "status",
                "attempts",
                "error",
            ],
            event_rows(),
        )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return found


def _sign_in(app: Any, email: str) -> Any:
    browser = app.test_client()
    form = browser.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token
    answer = browser.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    return browser


def _time(get: Callable[[], Any], requests: int) -> list[float]:
    for _ in range(5):
        get()
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = get()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (response.status_code, response.get_data()[:300])
    return sorted(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--variants", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    from adapters.passwords import TEST_PARAMETERS, Argon2PasswordHasher
    from core.services import SYSTEM, tenancy
    from entrypoints.bootstrap import bootstrap
    from entrypoints.settings import Settings
    from entrypoints.web import create_app

    with scratch_database(args.database_url) as db, tempfile.TemporaryDirectory() as tmp:
        print(f"database: {db.server}")
        started = time.perf_counter()
        found = seed(
            db.url,
            orders=args.orders,
            variants=args.variants,
            events=args.events,
            clients=args.clients,
        )
        print(
            f"seeded {args.orders} orders, {args.variants} mapped variants, {args.events} events"
            f" in {time.perf_counter() - started:.1f} s"
        )
        env = bench_environment(
            db.url, Path(tmp), app_url="http://127.0.0.1:8000", client_id="x", client_secret="y"
        )
        services = bootstrap(
            Settings.from_env(env), passwords=Argon2PasswordHasher(parameters=TEST_PARAMETERS)
        )
        try:
            ctx, hasher = services.ctx, services.passwords
            tenancy.create_user(
                ctx, hasher, SYSTEM, email="staff@bench.test", password=PASSWORD, staff=True
            )
            tenancy.create_user(
                ctx,
                hasher,
                SYSTEM,
                email="owner@bench.test",
                password=PASSWORD,
                client_id=found.clients[0],
                role="owner",
            )
            app = create_app(services)
            staff, owner = _sign_in(app, "staff@bench.test"), _sign_in(app, "owner@bench.test")
            with psycopg.connect(db.url) as conn:
                row = conn.execute(
                    "SELECT created_at, id FROM orders ORDER BY created_at DESC, id DESC"
                    " OFFSET %s LIMIT 1",
                    [int(args.orders * 0.9)],
                ).fetchone()
            assert row is not None
            micros = (row[0] - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
            deep = f"{micros}.{row[1]}"
            big = found.stores[0]
            products = f"/portal/settings/integrations/shopify/products?integration={big}"
            order_ids = iter(found.store_orders * (args.requests + 10))
            pages: list[tuple[str, Any, Callable[[], str]]] = [
                ("orders, first page (staff: all clients)", staff, lambda: "/portal/orders"),
                ("orders, first page (a client's owner)", owner, lambda: "/portal/orders"),
                (
                    "orders, search a customer (staff)",
                    staff,
                    lambda: f"/portal/orders?q={found.surname_email}",
                ),
                ("orders, search a SKU (staff)", staff, lambda: "/portal/orders?q=C3-SKU-00042"),
                ("orders, search an order number", owner, lambda: "/portal/orders?q=%231042"),
                (
                    "orders, one client (staff filter)",
                    staff,
                    lambda: f"/portal/orders?client={found.clients[3]}",
                ),
                (
                    "orders, client + status on_hold",
                    staff,
                    lambda: f"/portal/orders?client={found.clients[3]}&status=on_hold",
                ),
                (
                    "orders, deep page (90% down, keyset)",
                    staff,
                    lambda: f"/portal/orders?after={deep}",
                ),
                (
                    "order page (store order, events)",
                    staff,
                    lambda: f"/portal/orders/{next(order_ids)}",
                ),
                ("products, first page", owner, lambda: products),
                ("products, page 100 (offset 4950)", owner, lambda: f"{products}&page=100"),
                ("products, search", owner, lambda: f"{products}&q=thing 0042"),
                (
                    "products, one variant (?variant=)",
                    owner,
                    lambda: f"{products}&variant=40004242",
                ),
                ("events, first page (staff: all stores)", staff, lambda: "/portal/events"),
                ("events, first page (a client's owner)", owner, lambda: "/portal/events"),
                ("events, failed (staff)", staff, lambda: "/portal/events?status=failed"),
            ]
            print(f"\n{'page':46} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  (n={args.requests})")
            for label, browser, path in pages:
                times = _time(lambda b=browser, p=path: b.get(p()), args.requests)
                print(
                    f"{label:46} {percentile(times, 50):8.1f} {percentile(times, 95):8.1f}"
                    f" {times[-1]:8.1f}"
                )
        finally:
            services.close()


if __name__ == "__main__":
    main()
