"""The portal in a real browser: Playwright driving the system's Chromium.

One session starts, once: the simulated Shopify (its consent page asks, as Shopify's does),
the app on the WSGI server ``storelink serve``/``demo`` use (``entrypoints.serving``) on a
free port of 127.0.0.1, and a headless Chromium. Each test gets a fresh world on the session's
PostgreSQL database (``portal``): emptied tables and sandbox, a new app with fresh rate
limits, a worker thread working the queues, and the seed below. Tests wait on conditions
(Playwright's ``expect``, ``Portal.wait_until``), never on sleeps.

The seed (``Portal``): a warehouse ``MAIN``; a staff user; the client "Acme Outdoors" with an
owner and a member; Acme's products with stock (``SKUS``); and a sandbox shop ``acme-outdoors``
selling the same SKUs, not connected yet. Every user's password is ``PASSWORD``.

Helpers for tests: ``sign_in(page, user)``, ``goto(page, path)``, ``screenshot(page, name)``,
``connect_store(page, portal)`` (through the store's real consent page),
``portal.connect(shop)`` (the same without a browser), ``portal.place_order(...)``,
``portal.wait_until(...)``, ``portal.wait_for_order(...)``. Screenshots of every page visited
through ``goto``/``screenshot`` and of every failure go to ``test-artefacts/browser/<test>/``.

Chromium: ``STORELINK_CHROMIUM``, else ``/usr/bin/chromium`` (Debian's package; ``.ci/run``
installs it under CI), else ``chromium``/``chromium-browser`` on the PATH. Without one the
tests skip, saying so, except under ``CI=true``, where they fail. Playwright's own browser
downloads are never used.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import attrs
import httpx
import pytest

import tests.pg
from adapters.crypto import generate_key_spec
from adapters.passwords import TEST_PARAMETERS, Argon2PasswordHasher
from adapters.postgres import PostgresUnitOfWork
from adapters.ratelimit import LimitsRateLimiter
from adapters.shopify.sandbox import SandboxConfig, SandboxServer
from core.model import Client, Integration, OutboundOrder, Warehouse
from core.services import SYSTEM, tenancy
from core.services import stock as stock_services
from core.services.connect import SETUP_COMMAND
from core.services.worker import Worker
from entrypoints.bootstrap import Services, bootstrap
from entrypoints.serving import WebServer
from entrypoints.settings import Settings
from entrypoints.web import create_app
from tests.conftest import IN_CI

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
)
Browser = playwright_api.Browser
Page = playwright_api.Page
expect = playwright_api.expect

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = ROOT / "test-artefacts" / "browser"
PASSWORD = "password-123"
SHOP = "acme-outdoors.myshopify.com"
SKUS = {"TENT-2P": 40, "MAT-XL": 120, "LAMP-USB": 300}  # warehouse stock; the store has 10 each
WAIT_SECONDS = 15.0  # the longest any condition is waited for
NARROW = {"width": 390, "height": 844}  # a phone
WIDE = {"width": 1280, "height": 900}

T = TypeVar("T")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.postgres)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item, so the ``page`` fixture knows of a failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


# --- the browser -------------------------------------------------------------------------------


def find_chromium() -> str | None:
    candidates = [os.environ.get("STORELINK_CHROMIUM"), "/usr/bin/chromium"]
    candidates += [shutil.which("chromium"), shutil.which("chromium-browser")]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    path = find_chromium()
    if path is None:
        reason = (
            "no Chromium found (set STORELINK_CHROMIUM, or apt-get install chromium); "
            "the browser tests need one"
        )
        if IN_CI:
            pytest.fail(f"{reason}, and CI=true requires them to run", pytrace=False)
        pytest.skip(reason)
    with playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=path, args=["--disable-dev-shm-usage", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            browser.close()


# --- the servers -------------------------------------------------------------------------------


class _LateApp:
    """The WSGI app, set per test (the app needs its own URL before it exists)."""

    def __init__(self) -> None:
        self.target: Callable[..., Any] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if self.target is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"no test is running"]
        return self.target(environ, start_response)


@pytest.fixture(scope="session")
def browser_sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(
        auto_approve=False, webhook_retry_schedule=(0.05, 0.1, 0.2), random_seed=11
    )
    with SandboxServer(config) as server:
        yield server


@pytest.fixture(scope="session")
def web_server() -> Iterator[tuple[WebServer, _LateApp]]:
    late = _LateApp()
    server = WebServer(late, host="127.0.0.1", port=0, threads=4).start()
    yield server, late
    server.stop()


@attrs.frozen
class User:
    email: str
    password: str = PASSWORD


@attrs.define
class Portal:
    """One test's world: the running app, its services, the sandbox, the seeded people."""

    url: str
    services: Services
    sandbox: SandboxServer
    warehouse: Warehouse
    client: Client
    staff: User
    owner: User
    member: User
    products: dict[str, str]  # sku -> product id
    shop: str = SHOP

    @property
    def control(self) -> Any:
        return self.sandbox.control

    def wait_until(
        self, condition: Callable[[], T | None], what: str, timeout: float = WAIT_SECONDS
    ) -> T:
        """Ask ``condition`` until it answers something truthy (polling the database or the
        sandbox, which no browser ``expect`` can see); fails naming ``what``."""
        deadline = time.monotonic() + timeout
        for delay in itertools.chain([0.02, 0.05, 0.1], itertools.repeat(0.2)):
            found = condition()
            if found:
                return found
            if time.monotonic() > deadline:
                pytest.fail(f"waited {timeout:.0f} s for {what}", pytrace=False)
            threading.Event().wait(delay)
        raise AssertionError("unreachable")

    def integration(self, shop: str = SHOP) -> Integration | None:
        with self.services.ctx.uow() as uow:
            return uow.integrations.find(self.client.id, "shopify", shop)

    def wait_for_setup(self, shop: str = SHOP) -> Integration:
        """The store connected and its setup job done (webhooks, locations, catalogue)."""

        def done() -> Integration | None:
            found = self.integration(shop)
            if found is None:
                return None
            with self.services.ctx.uow() as uow:
                setup = uow.outbox.list(integration_id=found.id, kind=SETUP_COMMAND, limit=1)
            return found if setup and setup[0].status == "done" else None

        return self.wait_until(done, f"the setup of {shop}")

    def connect(self, shop: str = SHOP, user: User | None = None) -> Integration:
        """Connect the shop as ``user`` (the owner) through the real OAuth redirects, without
        a browser (the consent is given for this one connection); waits for the setup."""
        who = user or self.owner
        _, token = tenancy.create_api_token(self.services.ctx, email=who.email)
        self.control.update_app(auto_approve=True)
        try:
            with httpx.Client(
                base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
            ) as web:
                answer = web.get(
                    "/api/integrations/shopify/auth", params={"shop": shop}, follow_redirects=True
                )
        finally:
            self.control.update_app(auto_approve=False)
        landed = [r.headers["location"] for r in answer.history if "/callback" in r.url.path]
        assert landed == ["/portal/settings/integrations?success=shopify_connected"], landed
        return self.wait_for_setup(shop)

    def place_order(
        self, items: dict[str, int] | None = None, *, shop: str = SHOP, **options: Any
    ) -> dict[str, Any]:
        """An order placed in the sandbox shop (``items``: sku -> quantity); the store's order,
        as the sandbox's control API answers it (``id``, ``name``, ...)."""
        lines = [{"sku": sku, "quantity": n} for sku, n in (items or {"TENT-2P": 1}).items()]
        options.setdefault("email", "customer@example.com")
        options.setdefault(
            "shipping_address",
            {
                "first_name": "Ada",
                "last_name": "Lovelace",
                "address1": "1 High Street",
                "city": "London",
                "zip": "N1 1AA",
                "country_code": "GB",
            },
        )
        order: dict[str, Any] = self.control.place_order(shop, lines, **options)
        return order

    def order_for(self, store_order: dict[str, Any], shop: str = SHOP) -> OutboundOrder | None:
        integration = self.integration(shop)
        if integration is None:
            return None
        with self.services.ctx.uow() as uow:
            return uow.orders.get_by_external(integration.id, str(store_order["id"]))

    def wait_for_order(self, store_order: dict[str, Any], shop: str = SHOP) -> OutboundOrder:
        """The warehouse order a store order became (webhook in, worker done)."""
        return self.wait_until(
            lambda: self.order_for(store_order, shop), f"store order {store_order.get('name')}"
        )


class _Worker:
    """The queues worked in a thread, as ``storelink worker`` does, until stopped."""

    def __init__(self, services: Services) -> None:
        self._worker = Worker(
            services.ctx, services.handlers, worker_id="browser-worker", lease_seconds=60
        )
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="browser-worker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                report = self._worker.run_once()
            except Exception as exc:  # surfaced at the end of the test
                self._failure = exc
                return
            if report.total == 0:
                self._stop.wait(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        if self._failure is not None:
            raise self._failure


def _seed(services: Services) -> dict[str, Any]:
    ctx, passwords = services.ctx, services.passwords
    warehouse = stock_services.create_warehouse(ctx, SYSTEM, code="MAIN", name="Main warehouse")
    client = tenancy.create_client(ctx, SYSTEM, name="Acme Outdoors")
    client = tenancy.set_default_warehouse(
        ctx, SYSTEM, client_id=client.id, warehouse_id=warehouse.id
    )
    people = {
        "staff": ("staff@3pl.test", {"staff": True}),
        "owner": ("owner@acme-outdoors.test", {"client_id": client.id, "role": "owner"}),
        "member": ("member@acme-outdoors.test", {"client_id": client.id, "role": "member"}),
    }
    users = {}
    for key, (email, kwargs) in people.items():
        tenancy.create_user(ctx, passwords, SYSTEM, email=email, password=PASSWORD, **kwargs)
        users[key] = User(email)
    products = {}
    for sku, on_hand in SKUS.items():
        product = stock_services.create_product(
            ctx, SYSTEM, client_id=client.id, sku=sku, name=f"Product {sku}"
        )
        stock_services.receive_stock(
            ctx, SYSTEM, product_id=product.id, warehouse_id=warehouse.id, quantity=on_hand
        )
        products[sku] = product.id
    return {"warehouse": warehouse, "client": client, "products": products, **users}


def _seed_shop(sandbox: SandboxServer) -> None:
    shop = sandbox.control.create_shop(SHOP, name="Acme Outdoors")
    location = str(shop["primary_location_id"])
    for sku in SKUS:
        sandbox.control.create_product(
            SHOP,
            f"Item {sku}",
            [{"sku": sku, "price": "25.00", "inventory": {location: 10}}],
        )


@pytest.fixture
def portal(
    pg_database: tests.pg.ScratchDatabase,
    browser_sandbox: SandboxServer,
    web_server: tuple[WebServer, _LateApp],
    tmp_path: Path,
) -> Iterator[Portal]:
    server, late = web_server
    late.target = None
    pg_database.reset()
    browser_sandbox.control.reset()
    browser_sandbox.control.update_app(
        auto_approve=False, compliance_webhook_url=f"{server.url}/api/webhooks/shopify"
    )
    settings = Settings(
        data_dir=tmp_path,
        app_url=server.url,
        secret_key="browser-secret-" + "x" * 32,
        token_encryption_keys=generate_key_spec("k1"),
        shopify_client_id=browser_sandbox.config.client_id,
        shopify_client_secret=browser_sandbox.config.client_secret,
        shopify_shop_url_template=browser_sandbox.shop_url_template,
    )
    services = bootstrap(
        settings,
        uow=lambda: PostgresUnitOfWork(pg_database.db),
        passwords=Argon2PasswordHasher(parameters=TEST_PARAMETERS),
        rate_limiter=LimitsRateLimiter("memory://", prefix=f"browser{uuid.uuid4().hex[:8]}"),
    )
    seeded = _seed(services)
    _seed_shop(browser_sandbox)
    late.target = create_app(services)
    worker = _Worker(services)
    try:
        yield Portal(url=server.url, services=services, sandbox=browser_sandbox, **seeded)
    finally:
        browser_sandbox.control.flush_webhooks(timeout=10)
        worker.stop()
        late.target = None
        services.close()


# --- pages, screenshots ------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:80] or "page"


@pytest.fixture
def page(chromium: Browser, portal: Portal, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context (no cookies) at desktop size, on the test's portal. Fails the
    test if a page broke the Content-Security-Policy or threw a script error."""
    context = chromium.new_context(base_url=portal.url, viewport=WIDE)
    context.set_default_timeout(WAIT_SECONDS * 1000)
    new_page = context.new_page()
    folder = ARTEFACTS / _slug(request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    new_page.artefacts = folder  # type: ignore[attr-defined]
    problems: list[str] = []
    new_page.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    new_page.on("pageerror", lambda error: problems.append(str(error)))
    yield new_page
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed:
        new_page.screenshot(path=str(folder / "failure.png"), full_page=True)
    context.close()
    assert not problems, f"the pages broke the CSP or threw: {problems}"


_shots = itertools.count(1)


def screenshot(page: Page, name: str) -> Path:
    """Save what the page shows now as ``test-artefacts/browser/<test>/<n>-<name>.png``."""
    folder: Path = getattr(page, "artefacts", ARTEFACTS)
    path = folder / f"{next(_shots):03d}-{_slug(name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def goto(page: Page, path: str) -> Page:
    """Open a portal page (a path) and keep a screenshot of it."""
    response = page.goto(path)
    assert response is not None, f"{path} gave no answer"
    assert response.ok, f"{path} answered {response.status}"
    screenshot(page, path)
    return page


def sign_in(page: Page, user: User) -> Page:
    """Sign in through the login form; lands on the orders page."""
    page.goto("/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/portal/orders"))
    screenshot(page, f"signed-in-{user.email}")
    return page


def connect_store(page: Page, portal: Portal, shop: str = SHOP) -> Integration:
    """As the signed-in user: type the shop into the Connect form, approve storelink on the
    store's consent page, land back on the integrations page; waits for the setup job."""
    goto(page, "/portal/settings/integrations")
    page.get_by_label("Store name").fill(shop)
    page.get_by_role("button", name="Connect", exact=True).click()
    install = page.get_by_role("button", name="Install")
    expect(install).to_be_visible()
    screenshot(page, "consent")
    install.click()
    expect(page).to_have_url(
        re.compile(r"/portal/settings/integrations\?success=shopify_connected")
    )
    return portal.wait_for_setup(shop)


__all__ = [
    "NARROW",
    "PASSWORD",
    "SHOP",
    "SKUS",
    "WAIT_SECONDS",
    "WIDE",
    "Portal",
    "User",
    "connect_store",
    "expect",
    "goto",
    "screenshot",
    "sign_in",
]
