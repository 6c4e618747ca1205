"""Fixtures for the sandbox's tests: a sandbox over real HTTP, a shop, a token, a webhook sink."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from adapters.shopify.sandbox import SandboxClock, SandboxConfig, SandboxServer, SandboxState

SHOP = "acme.myshopify.com"
ALL_SCOPES = (
    "read_orders",
    "write_orders",
    "read_products",
    "read_inventory",
    "write_inventory",
    "read_locations",
    "read_merchant_managed_fulfillment_orders",
    "write_merchant_managed_fulfillment_orders",
)
START = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)

ORDER_KEYS_READ = (
    "id",
    "admin_graphql_api_id",
    "name",
    "order_number",
    "email",
    "created_at",
    "updated_at",
    "cancelled_at",
    "financial_status",
    "fulfillment_status",
    "test",
    "source_name",
    "tags",
    "note",
    "shipping_address",
    "shipping_lines",
    "line_items",
)
LINE_KEYS_READ = (
    "id",
    "variant_id",
    "product_id",
    "sku",
    "title",
    "quantity",
    "current_quantity",
    "fulfillable_quantity",
    "requires_shipping",
    "fulfillment_service",
    "price",
)


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class Receiver:
    """A webhook endpoint on a local port that records every request it gets."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []  # answered in order; 200 once exhausted
        self._lock = threading.Lock()
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, self, threaded=True, request_handler=_Quiet
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}/hooks"

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        headers["Content-Type"] = environ.get("CONTENT_TYPE", "")
        with self._lock:
            status = self.statuses.pop(0) if self.statuses else 200
            self.requests.append(
                {"path": environ["PATH_INFO"], "headers": headers, "body": body, "status": status}
            )
        start_response(f"{status} STATUS", [("Content-Type", "text/plain")])
        return [b"ok"]

    def topics(self) -> list[str]:
        with self._lock:
            return [r["headers"]["X-Shopify-Topic"] for r in self.requests]

    def of_topic(self, topic: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["headers"]["X-Shopify-Topic"] == topic]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def make_config(**overrides: Any) -> SandboxConfig:
    values: dict[str, Any] = {
        "auto_approve": True,
        "webhook_retry_schedule": (0.05, 0.1),
        "webhook_timeout": 2.0,
        "webhook_reorder_max_hold": 1.0,
        "random_seed": 7,
    }
    values.update(overrides)
    return SandboxConfig(**values)


@pytest.fixture
def clock() -> SandboxClock:
    return SandboxClock(frozen_at=START)


@pytest.fixture
def config() -> SandboxConfig:
    return make_config()


@pytest.fixture
def sandbox(config: SandboxConfig, clock: SandboxClock) -> Iterator[SandboxServer]:
    with SandboxServer(config, SandboxState(clock)) as server:
        yield server


@pytest.fixture
def shop(sandbox: SandboxServer) -> dict[str, Any]:
    return sandbox.control.create_shop(SHOP, name="Acme Outfitters")


@pytest.fixture
def token(sandbox: SandboxServer, shop: dict[str, Any]) -> str:
    return str(sandbox.control.issue_token(SHOP, ALL_SCOPES)["access_token"])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    sink = Receiver()
    yield sink
    sink.close()


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    """A plain client, shared: building one per test costs tens of milliseconds."""
    with httpx.Client(timeout=10, follow_redirects=False) as client:
        yield client


class GraphQL:
    """Posts documents to the sandbox's Admin API the way an app does."""

    def __init__(self, sandbox: SandboxServer, token: str, http: httpx.Client) -> None:
        self.sandbox = sandbox
        self.token = token
        self.http = http

    def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        shop: str = SHOP,
    ) -> httpx.Response:
        return self.http.post(
            self.sandbox.graphql_url(shop),
            json={"query": query, "variables": variables or {}},
            headers={"X-Shopify-Access-Token": token or self.token},
        )

    def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.post(query, variables)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self(query, variables)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


@pytest.fixture
def gql(sandbox: SandboxServer, token: str, http: httpx.Client) -> GraphQL:
    return GraphQL(sandbox, token, http)


def stock_product(
    sandbox: SandboxServer,
    sku: str,
    on_hand: int | dict[int, int],
    *,
    title: str | None = None,
    **variant: Any,
) -> dict[str, Any]:
    """A one-variant product with stock (at the primary location unless a mapping is given)."""
    primary = sandbox.control.shop(SHOP)["primary_location_id"]
    levels = on_hand if isinstance(on_hand, dict) else {primary: on_hand}
    product = sandbox.control.create_product(
        SHOP,
        title or f"Product {sku}",
        [
            {
                "sku": sku,
                "price": "10.00",
                "inventory": {str(k): v for k, v in levels.items()},
                **variant,
            }
        ],
    )
    return product["variants"][0]  # type: ignore[no-any-return]


ADDRESS = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "address1": "12 St James's Square",
    "city": "London",
    "zip": "SW1Y 4JH",
    "country_code": "GB",
    "phone": "+44 20 7946 0000",
}
