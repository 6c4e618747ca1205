"""The Shopify adapter against the sandbox, over real HTTP on a local port.

One sandbox per module (``SandboxServer`` in a thread), reset before each test so each test
starts from an empty store; a shop with the app installed; a ``ShopifyPlatform`` configured
for the sandbox with a real ``LimitsRateLimiter`` (``memory://``), the system clock and real
sleeps with short backoffs; a local webhook receiver.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from attrs import define, field
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from adapters.ratelimit import LimitsRateLimiter
from adapters.shopify import DEFAULT_SCOPES, ShopifyConfig, ShopifyPlatform
from adapters.shopify.sandbox import SandboxConfig, SandboxServer
from adapters.system import SystemClock
from core.store import StoreSession

SHOP = "acme.myshopify.com"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(
        auto_approve=True,
        webhook_retry_schedule=(0.05, 0.1),
        webhook_timeout=2.0,
        webhook_reorder_max_hold=0.2,
        random_seed=11,
    )
    with SandboxServer(config) as server:
        yield server


@pytest.fixture
def control(sandbox: SandboxServer) -> Any:
    sandbox.control.reset()
    return sandbox.control


@pytest.fixture
def shop(control: Any) -> dict[str, Any]:
    created: dict[str, Any] = control.create_shop(SHOP, name="Acme Outfitters")
    return created


@pytest.fixture
def primary_location(shop: dict[str, Any]) -> int:
    return int(shop["primary_location_id"])


def make_config(sandbox: SandboxServer, **overrides: Any) -> ShopifyConfig:
    values: dict[str, Any] = {
        "client_id": sandbox.config.client_id,
        "client_secret": sandbox.config.client_secret,
        "shop_url_template": sandbox.shop_url_template,
        "max_retries": 3,
        "backoff_base_seconds": 0.01,
        "backoff_cap_seconds": 0.05,
        "max_budget_wait_seconds": 30.0,
    }
    values.update(overrides)
    return ShopifyConfig(**values)


@pytest.fixture
def make_platform(sandbox: SandboxServer) -> Iterator[Callable[..., ShopifyPlatform]]:
    made: list[ShopifyPlatform] = []

    def make(limiter: Any = None, **overrides: Any) -> ShopifyPlatform:
        platform = ShopifyPlatform(
            make_config(sandbox, **overrides),
            limiter or LimitsRateLimiter("memory://"),
            SystemClock(),
        )
        made.append(platform)
        return platform

    yield make
    for platform in made:
        platform.close()


@pytest.fixture
def platform(make_platform: Callable[..., ShopifyPlatform]) -> ShopifyPlatform:
    return make_platform()


@pytest.fixture
def session(control: Any, shop: dict[str, Any]) -> StoreSession:
    token = control.issue_token(SHOP, DEFAULT_SCOPES)["access_token"]
    return StoreSession(shop=SHOP, access_token=token)


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


@define
class Delivery:
    topic: str
    shop: str
    signature: str | None
    webhook_id: str | None
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@define
class Receiver:
    """A webhook endpoint on a local port recording every delivery (answered 200)."""

    deliveries: list[Delivery] = field(factory=list)
    _lock: threading.Lock = field(factory=threading.Lock)
    _server: BaseWSGIServer | None = None

    def start(self) -> None:
        self._server = make_server("127.0.0.1", 0, self, threaded=True, request_handler=_Quiet)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.port}/webhooks"

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        delivery = Delivery(
            topic=environ.get("HTTP_X_SHOPIFY_TOPIC", ""),
            shop=environ.get("HTTP_X_SHOPIFY_SHOP_DOMAIN", ""),
            signature=environ.get("HTTP_X_SHOPIFY_HMAC_SHA256"),
            webhook_id=environ.get("HTTP_X_SHOPIFY_WEBHOOK_ID"),
            body=body,
        )
        with self._lock:
            self.deliveries.append(delivery)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    def of_topic(self, topic: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.topic == topic]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    sink = Receiver()
    sink.start()
    yield sink
    sink.stop()


def stock(control: Any, location: int, *skus: str, on_hand: int = 10, **variant: Any) -> list[Any]:
    """One product with a variant per SKU, each with ``on_hand`` at ``location``."""
    product = control.create_product(
        SHOP,
        f"Product {skus[0]}",
        [
            {"sku": sku, "price": "12.50", "inventory": {str(location): on_hand}, **variant}
            for sku in skus
        ],
    )
    return list(product["variants"])
