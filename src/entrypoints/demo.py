"""``storelink demo``: the whole system on one machine.

The simulated Shopify, the web app and a worker run in this process on the embedded (or
configured) PostgreSQL. A demo client gets a warehouse, products with stock and users; a
sandbox store is connected through the real OAuth flow and a few orders are placed in it, so
the warehouse fills as you watch. Everything stops on Ctrl-C.

The simulated store keeps its state in ``$STORELINK_DATA_DIR/sandbox.json`` next to the
database (saved every few seconds and at exit, atomically) and takes it up again on the next
``storelink demo``: the same shop, products and orders, and ids that never repeat, so a
restarted demo's new orders never meet the ids of orders the database already holds.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from attrs import define, evolve

from adapters.shopify.sandbox import SandboxConfig, SandboxServer, SandboxState
from adapters.shopify.sandbox import persistence as sandbox_file
from core.errors import Conflict
from core.model import Client, User
from core.services import SYSTEM, tenancy
from core.services import stock as stock_services
from entrypoints.bootstrap import Services, bootstrap
from entrypoints.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Settings

DEMO_SHOP = "demo-outdoors.myshopify.com"
SANDBOX_FILE = "sandbox.json"
SAVE_EVERY = 2.0  # seconds between saves of the simulated store's state
CLIENT = "Demo Outdoors"
OWNER = "owner@demo-outdoors.test"
STAFF = "ops@demo-3pl.test"
CATALOG = [  # sku, name, barcode, stock in the warehouse, stock shown in the store
    ("TENT-2P", "Two-person tent", "0000000000017", 40, 25),
    ("MAT-XL", "Sleeping mat XL", "0000000000024", 120, 60),
    ("LAMP-USB", "USB camping lamp", "0000000000031", 300, 150),
    ("STOVE-1", "Camping stove", "0000000000048", 0, 10),
]


@define
class Demo:
    """A running demo: its addresses, logins and the threads to stop."""

    services: Services
    sandbox: SandboxServer
    app_url: str
    logins: dict[str, str]
    stop: threading.Event
    threads: list[threading.Thread]
    closers: list[Callable[[], None]]

    def close(self) -> None:
        self.stop.set()
        for closer in reversed(self.closers):
            closer()
        for thread in self.threads:
            thread.join(timeout=10)


def _user(services: Services, email: str, **kwargs: Any) -> str:
    """Create the user, or give the existing one a new password; the password."""
    password = secrets.token_urlsafe(9)
    try:
        tenancy.create_user(
            services.ctx, services.passwords, SYSTEM, email=email, password=password, **kwargs
        )
    except Conflict:
        with services.ctx.uow() as uow:
            user: User | None = uow.users.get_by_email(email)
            assert user is not None
            user.password_hash = services.passwords.hash(password)
            uow.users.update(user)
            uow.commit()
    return password


def _client(services: Services) -> Client:
    with services.ctx.uow() as uow:
        existing = uow.clients.get_by_name(CLIENT)
        warehouses = uow.warehouses.list()
    warehouse = next((w for w in warehouses if w.code == "DEMO1"), None) or (
        stock_services.create_warehouse(services.ctx, SYSTEM, code="DEMO1", name="Demo warehouse")
    )
    client = existing or tenancy.create_client(services.ctx, SYSTEM, name=CLIENT)
    client = tenancy.set_default_warehouse(
        services.ctx, SYSTEM, client_id=client.id, warehouse_id=warehouse.id
    )
    for sku, name, barcode, on_hand, _ in CATALOG:
        with services.ctx.uow() as uow:
            product = uow.products.get_by_sku(client.id, sku)
        if product is None:
            product = stock_services.create_product(
                services.ctx, SYSTEM, client_id=client.id, sku=sku, name=name, barcode=barcode
            )
            if on_hand:
                stock_services.receive_stock(
                    services.ctx,
                    SYSTEM,
                    product_id=product.id,
                    warehouse_id=warehouse.id,
                    quantity=on_hand,
                    reason="demo opening stock",
                )
    return client


def _store(sandbox: SandboxServer) -> None:
    """The demo shop with its catalog, unless the saved store has it already."""
    with sandbox.state.lock:
        if DEMO_SHOP in sandbox.state.shops:
            return
    shop = sandbox.control.create_shop(DEMO_SHOP, name=CLIENT)
    location = str(shop["primary_location_id"])
    for sku, name, barcode, _, store_stock in CATALOG:
        sandbox.control.create_product(
            DEMO_SHOP,
            name,
            [
                {
                    "sku": sku,
                    "barcode": barcode,
                    "price": "49.00",
                    "inventory": {location: store_stock},
                }
            ],
        )


def start(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    sandbox_port: int = 8081,
    orders: int = 3,
    **adapters: Any,
) -> Demo:
    """Start everything; returns once the store is connected and the first orders placed.
    ``adapters`` go to ``bootstrap`` (tests pass their database)."""
    from entrypoints.cli import run_worker  # noqa: PLC0415
    from entrypoints.serving import WebServer  # noqa: PLC0415
    from entrypoints.web import create_app  # noqa: PLC0415

    closers: list[Callable[[], None]] = []
    threads: list[threading.Thread] = []
    stop = threading.Event()
    state_file = settings.data_dir / SANDBOX_FILE
    sandbox = SandboxServer(
        SandboxConfig(auto_approve=True, webhook_retry_schedule=(1, 5, 30, 120)),
        state=sandbox_file.load(state_file),
        host=host,
        port=sandbox_port,
    ).start()
    closers.append(sandbox.stop)
    closers.append(lambda: sandbox_file.save(sandbox.state, state_file))  # before it stops
    threads.append(_thread("sandbox-save", lambda: _keep(sandbox.state, state_file, stop)))
    try:
        server_app = _LateApp()
        web = WebServer(server_app, host=host, port=port, threads=8)
        closers.append(web.stop)
        app_url = web.url
        settings = evolve(
            settings,
            app_url=app_url,
            shopify_client_id=settings.shopify_client_id or SANDBOX_CLIENT_ID,
            shopify_client_secret=settings.shopify_client_secret or SANDBOX_CLIENT_SECRET,
            shopify_shop_url_template=sandbox.shop_url_template,
        )
        services = bootstrap(settings, **adapters)
        closers.insert(0, services.close)
        server_app.target = create_app(services)
        web.start()
        threads.append(_thread("worker", lambda: run_worker(services, stop, idle_seconds=0.5)))
        sandbox.control.update_app(compliance_webhook_url=f"{app_url}/api/webhooks/shopify")
        client = _client(services)
        logins = {
            STAFF: _user(services, STAFF, staff=True),
            OWNER: _user(services, OWNER, client_id=client.id, role="owner"),
        }
        _store(sandbox)
        _connect(services, app_url)
        _wait_for_setup(services)
        threads.append(_thread("scheduler", lambda: _schedule(services, stop)))
        for n in range(orders):
            sandbox.control.place_order(
                DEMO_SHOP,
                [{"sku": CATALOG[n % 3][0], "quantity": 1 + n % 2}],
                email=f"customer{n + 1}@example.com",
                shipping_address={
                    "first_name": "Customer",
                    "last_name": str(n + 1),
                    "address1": f"{n + 1} High Street",
                    "city": "London",
                    "zip": "N1 1AA",
                    "country_code": "GB",
                },
                shipping_method="Express" if n == 0 else "Standard",
            )
    except BaseException:
        stop.set()
        for closer in reversed(closers):
            closer()
        raise
    return Demo(services, sandbox, app_url, logins, stop, threads, closers)


def _connect(services: Services, app_url: str) -> None:
    _, token = tenancy.create_api_token(services.ctx, email=OWNER, label="demo connect")
    with httpx.Client(
        base_url=app_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as web:
        answer = web.get(
            "/api/integrations/shopify/auth", params={"shop": DEMO_SHOP}, follow_redirects=True
        )
    outcomes = [
        r.headers.get("location", "") for r in answer.history if "/callback" in r.request.url.path
    ]
    if not any("success=" in outcome for outcome in outcomes):
        raise RuntimeError(f"the demo store did not connect: {outcomes or answer.status_code}")


def _wait_for_setup(services: Services, timeout: float = 60.0) -> None:
    """Orders placed before the webhook subscriptions exist would wait for reconciliation."""
    from core.services.connect import SETUP_COMMAND  # noqa: PLC0415

    for _ in range(int(timeout / 0.2)):
        with services.ctx.uow() as uow:
            pending = [c for c in uow.outbox.list(kind=SETUP_COMMAND) if c.status != "done"]
        if not pending:
            return
        time.sleep(0.2)
    raise RuntimeError("the demo store's setup did not finish within a minute")


def _keep(state: SandboxState, path: Path, stop: threading.Event) -> None:
    """Save the simulated store every few seconds, when it changed."""
    last = ""
    while not stop.wait(SAVE_EVERY):
        current = repr(sandbox_file.dump_state(state))
        if current != last:
            sandbox_file.save(state, path)
            last = current


def _schedule(services: Services, stop: threading.Event, every: float = 60.0) -> None:
    """What cron does in production: queue the due syncs (orders, inventory, tokens, webhooks)."""
    from core.services import schedule  # noqa: PLC0415

    while not stop.wait(every):
        for job, integration in schedule.due(services.store, schedule.JOBS):
            schedule.enqueue(services.store, job, integration)


class _LateApp:
    """The WSGI app, set once the server is bound (the app needs its own URL)."""

    def __init__(self) -> None:
        self.target: Callable[..., Any] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if self.target is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"starting"]
        return self.target(environ, start_response)


def _thread(name: str, target: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=target, name=f"demo-{name}", daemon=True)
    thread.start()
    return thread
