"""The whole application against the simulated Shopify, over real HTTP both ways.

The app runs on a local port (the sandbox's webhooks reach it there) on PostgreSQL; the
sandbox runs on another. ``Stack`` connects stores through the real OAuth redirects, lets
webhooks arrive and runs the worker until everything is quiet.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

import tests.pg
from adapters.crypto import generate_key_spec
from adapters.passwords import TEST_PARAMETERS, Argon2PasswordHasher
from adapters.postgres import PostgresDatabase, PostgresUnitOfWork
from adapters.ratelimit import LimitsRateLimiter
from adapters.shopify.sandbox import SandboxConfig, SandboxServer
from core.model import Client, Integration, OutboundOrder, Warehouse
from core.services import SYSTEM, tenancy
from core.services import stock as stock_services
from core.services.worker import Worker, WorkReport
from entrypoints.bootstrap import Services, bootstrap
from entrypoints.settings import Settings
from entrypoints.web import create_app


class _Quiet(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        return


class _Dispatch:
    """A WSGI app whose target is set after the server is bound (the app needs its URL)."""

    def __init__(self) -> None:
        self.target: Callable[..., Any] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.target is not None
        return self.target(environ, start_response)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(
        auto_approve=True, webhook_retry_schedule=(0.05, 0.1, 0.2), random_seed=7
    )
    with SandboxServer(config) as server:
        yield server


@pytest.fixture(scope="session")
def app_server() -> Iterator[tuple[str, _Dispatch]]:
    dispatch = _Dispatch()
    server: BaseWSGIServer = make_server(
        "127.0.0.1", 0, dispatch, threaded=True, request_handler=_Quiet
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", dispatch
    server.shutdown()
    thread.join(5)


class Stack:
    """One test's world: the app, its database, the sandbox, and helpers to drive them."""

    def __init__(self, services: Services, app_url: str, sandbox: SandboxServer) -> None:
        self.services = services
        self.app_url = app_url
        self.sandbox = sandbox
        self.control = sandbox.control
        self.worker = Worker(
            services.ctx, services.handlers, worker_id="e2e-worker", lease_seconds=60
        )
        self.staff_token = self._user("staff@3pl.test", staff=True)
        self.warehouse: Warehouse = stock_services.create_warehouse(
            services.ctx, SYSTEM, code="MAIN", name="Main warehouse"
        )
        self.client: Client = self.new_client("Acme")
        self.owner_token = self._user("owner@acme.test", client_id=self.client.id, role="owner")

    def new_client(self, name: str) -> Client:
        client = tenancy.create_client(self.services.ctx, SYSTEM, name=name)
        return tenancy.set_default_warehouse(
            self.services.ctx, SYSTEM, client_id=client.id, warehouse_id=self.warehouse.id
        )

    def _user(self, email: str, **kwargs: Any) -> str:
        tenancy.create_user(
            self.services.ctx,
            self.services.passwords,
            SYSTEM,
            email=email,
            password="password-123",
            **kwargs,
        )
        return tenancy.create_api_token(self.services.ctx, email=email)[1]

    def user_token(self, email: str, **kwargs: Any) -> str:
        return self._user(email, **kwargs)

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.app_url, headers=headers, timeout=30)

    def product(
        self,
        sku: str,
        *,
        on_hand: int = 0,
        client: Client | None = None,
        barcode: str | None = None,
    ) -> str:
        owner = client or self.client
        product = stock_services.create_product(
            self.services.ctx,
            SYSTEM,
            client_id=owner.id,
            sku=sku,
            name=f"Product {sku}",
            barcode=barcode,
        )
        if on_hand:
            stock_services.receive_stock(
                self.services.ctx,
                SYSTEM,
                product_id=product.id,
                warehouse_id=self.warehouse.id,
                quantity=on_hand,
            )
        return product.id

    def shop(
        self, name: str = "acme", skus: dict[str, int] | None = None, **options: Any
    ) -> dict[str, Any]:
        """A sandbox shop with one product per SKU (stock at its primary location)."""
        domain = f"{name}.myshopify.com"
        shop = self.control.create_shop(domain, name=name.title(), **options)
        for sku, stock in (skus or {}).items():
            self.control.create_product(
                domain,
                f"Item {sku}",
                [
                    {
                        "sku": sku,
                        "price": "10.00",
                        "inventory": {str(shop["primary_location_id"]): stock},
                    }
                ],
            )
        return shop

    def connect(self, name: str = "acme", token: str | None = None) -> Integration:
        """The owner connects the shop through the real OAuth redirects; setup runs."""
        with self.http(token or self.owner_token) as web:
            answer = web.get(
                "/api/integrations/shopify/auth", params={"shop": name}, follow_redirects=True
            )
        landed = [
            r.headers["location"] for r in answer.history if "/callback" in r.request.url.path
        ]
        assert landed == ["/portal/settings/integrations?success=shopify_connected"], landed
        self.settle()
        with self.services.ctx.uow() as uow:
            found = uow.integrations.find(self.client.id, "shopify", f"{name}.myshopify.com")
        assert found is not None
        return found

    def settle(self, rounds: int = 20) -> WorkReport:
        """Deliver every webhook and work every queue item until nothing is left, waiting for
        items due within a moment (stock pushes wait a second for a burst to settle)."""
        total = WorkReport()
        for _ in range(rounds):
            self.control.flush_webhooks(timeout=20)
            report = self.worker.drain()
            total.add(report)
            wait = self._soon_due()
            if report.total == 0 and wait is None:
                break
            if wait:
                time.sleep(wait)
        return total

    def run_job(self, web: httpx.Client, path: str) -> dict[str, Any]:
        """POST ``path`` (an API route that starts a job), let the workers run it and
        everything it queued, and return the job as its address then shows it."""
        started = web.post(path)
        assert started.status_code == 202, started.text
        self.settle()
        job: dict[str, Any] = web.get(started.headers["location"]).json()["job"]
        assert job["status"] in ("done", "failed"), job
        return job

    def _soon_due(self, within: float = 1.5) -> float | None:
        """Seconds until the next queue item that is due within ``within`` seconds."""
        now = self.services.ctx.clock.now()
        with self.services.ctx.uow() as uow:
            waiting = [
                c.next_attempt_at
                for status in ("pending", "failed")
                for c in uow.outbox.list(status=status, limit=1000)  # type: ignore[arg-type]
            ]
        soon = [(at - now).total_seconds() for at in waiting]
        soon = [max(0.0, s) for s in soon if s <= within]
        return min(soon) + 0.01 if soon else None

    def orders(self) -> list[OutboundOrder]:
        with self.services.ctx.uow() as uow:
            return uow.orders.list(limit=10_000)

    def order_for(
        self, integration: Integration, store_order_id: int | str
    ) -> OutboundOrder | None:
        with self.services.ctx.uow() as uow:
            return uow.orders.get_by_external(integration.id, str(store_order_id))

    def level(self, product_id: str) -> tuple[int, int]:
        with self.services.ctx.uow() as uow:
            level = uow.stock.get_level(product_id, self.warehouse.id)
        return (level.on_hand, level.reserved) if level else (0, 0)


@contextlib.contextmanager
def make_stack(
    pg_database: tests.pg.ScratchDatabase,
    sandbox: SandboxServer,
    app_server: tuple[str, _Dispatch],
    tmp_path: Path,
    *,
    db: PostgresDatabase | None = None,
) -> Iterator[Stack]:
    """A fresh world: empty database and sandbox, the app wired to both (``db``: another
    pool on the same database)."""
    pg_database.reset()
    sandbox.control.reset()
    app_url, dispatch = app_server
    sandbox.control.update_app(compliance_webhook_url=f"{app_url}/api/webhooks/shopify")
    settings = Settings(
        data_dir=tmp_path,
        app_url=app_url,
        secret_key="e2e-secret-" + "x" * 32,
        token_encryption_keys=generate_key_spec("k1"),
        shopify_client_id=sandbox.config.client_id,
        shopify_client_secret=sandbox.config.client_secret,
        shopify_shop_url_template=sandbox.shop_url_template,
    )
    services = bootstrap(
        settings,
        uow=lambda: PostgresUnitOfWork(db or pg_database.db),
        passwords=Argon2PasswordHasher(parameters=TEST_PARAMETERS),
        rate_limiter=LimitsRateLimiter("memory://", prefix=f"e2e{uuid.uuid4().hex[:8]}"),
    )
    dispatch.target = create_app(services)
    try:
        yield Stack(services, app_url, sandbox)
    finally:
        sandbox.control.clear_faults()
        sandbox.control.flush_webhooks(timeout=10)
        services.close()


@pytest.fixture
def stack(
    pg_database: tests.pg.ScratchDatabase,
    sandbox: SandboxServer,
    app_server: tuple[str, _Dispatch],
    tmp_path: Path,
) -> Iterator[Stack]:
    with make_stack(pg_database, sandbox, app_server, tmp_path) as built:
        yield built
