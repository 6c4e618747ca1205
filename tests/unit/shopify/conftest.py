"""Fixtures for the Shopify adapter's unit tests: a scripted HTTP transport, a fake budget,
a manual clock that fake sleeps move forward, and Shopify's own reference payloads."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from attrs import define, field

from adapters.shopify import ShopifyConfig, ShopifyPlatform
from adapters.system import ManualClock
from core.ports import Rate, RateLimitDecision
from core.store import StoreSession

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "shopify"
TOKEN = "shpat_the-secret-access-token-0123456789"
SHOP = "acme.myshopify.com"


def load_fixture(relative: str) -> Any:
    return json.loads((FIXTURES / relative).read_text())


@define
class FakeSleep:
    """Records each sleep and moves the clock forward by it instead of waiting."""

    clock: ManualClock
    calls: list[float] = field(factory=list)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.clock.advance(seconds)

    @property
    def total(self) -> float:
        return sum(self.calls)


WAITING = "shopify:waiting:"  # the line of queries waiting for a shop's budget


@define
class FakeRateLimiter:
    """A budget that allows everything but its first ``refusals``; records what was taken.
    The waiting line (``shopify:waiting:<shop>``) is kept apart: ``waiting`` is what queries
    said they wait for, ``others_waiting`` what other processes wait for."""

    refusals: list[float] = field(factory=list)
    acquired: list[tuple[str, Rate, int]] = field(factory=list)
    peeked: list[tuple[str, Rate, int]] = field(factory=list)
    waiting: list[int] = field(factory=list)
    others_waiting: int = 0

    def acquire(self, key: str, rate: Rate, cost: int = 1) -> RateLimitDecision:
        if key.startswith(WAITING):
            self.waiting.append(cost)
            return RateLimitDecision(allowed=True, remaining=rate.amount, retry_after=0.0)
        if self.refusals:
            return RateLimitDecision(allowed=False, remaining=0, retry_after=self.refusals.pop(0))
        self.acquired.append((key, rate, cost))
        return RateLimitDecision(allowed=True, remaining=rate.amount - cost, retry_after=0.0)

    def peek(self, key: str, rate: Rate, cost: int = 1) -> RateLimitDecision:
        if key.startswith(WAITING):
            mine = self.waiting[-1] if self.waiting else 0  # the latest entry is alive
            remaining = rate.amount - self.others_waiting - mine
            return RateLimitDecision(allowed=True, remaining=remaining, retry_after=0.0)
        if self.refusals:
            return RateLimitDecision(allowed=False, remaining=0, retry_after=self.refusals.pop(0))
        self.peeked.append((key, rate, cost))
        return RateLimitDecision(allowed=True, remaining=rate.amount, retry_after=0.0)

    def reset(self, key: str, rate: Rate) -> None:
        self.acquired.clear()

    @property
    def charged(self) -> list[int]:
        return [cost for _, _, cost in self.acquired]


Handler = Callable[[httpx.Request], "httpx.Response | Exception"]


@define
class ScriptedShop:
    """An ``httpx.MockTransport`` handler answering from a script, recording every request.

    Each entry of ``script`` is a response, an exception to raise, or a callable of the
    request returning either; when the script runs out, ``default`` answers.
    """

    script: list[httpx.Response | Exception | Handler] = field(factory=list)
    default: Handler | None = None
    requests: list[httpx.Request] = field(factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            step = self.script.pop(0)
        elif self.default is not None:
            step = self.default(request)
        else:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        if callable(step):
            step = step(request)
        if isinstance(step, Exception):
            raise step
        return step

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


class Answers:
    """Shopify's answers, as the tests script them."""

    @staticmethod
    def cost(
        requested: float = 10,
        actual: float = 10,
        available: float = 1990,
        maximum: float = 2000,
        restore: float = 100,
    ) -> dict[str, Any]:
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": {
                    "maximumAvailable": maximum,
                    "currentlyAvailable": available,
                    "restoreRate": restore,
                },
            }
        }

    def ok(self, data: dict[str, Any], **cost: float) -> httpx.Response:
        return httpx.Response(200, json={"data": data, "extensions": self.cost(**cost)})

    def throttled(
        self, status: int = 200, *, available: float = 0, requested: float = 752
    ) -> httpx.Response:
        body = {
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            "extensions": self.cost(requested=requested, actual=0, available=available),
        }
        return httpx.Response(status, json=body)

    @staticmethod
    def errors(*messages: str, code: str | None = None, status: int = 200) -> httpx.Response:
        extensions = {"code": code} if code else {}
        body = {"errors": [{"message": m, "extensions": extensions} for m in messages]}
        return httpx.Response(status, json=body)


@pytest.fixture
def answers() -> Answers:
    return Answers()


@pytest.fixture
def fixture_json() -> Callable[[str], Any]:
    """Shopify's reference payloads under ``tests/fixtures/shopify`` by relative path."""
    return load_fixture


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def fake_sleep(clock: ManualClock) -> FakeSleep:
    return FakeSleep(clock)


@pytest.fixture
def limiter() -> FakeRateLimiter:
    return FakeRateLimiter()


@pytest.fixture
def shop() -> ScriptedShop:
    return ScriptedShop()


@pytest.fixture
def config() -> ShopifyConfig:
    return ShopifyConfig(
        client_id="client-id",
        client_secret="the-client-secret",
        previous_client_secret="the-previous-secret",
        catalog_page_size=250,
        max_retries=3,
        backoff_base_seconds=0.5,
        backoff_cap_seconds=4.0,
    )


@pytest.fixture
def platform(
    config: ShopifyConfig,
    limiter: FakeRateLimiter,
    clock: ManualClock,
    fake_sleep: FakeSleep,
    shop: ScriptedShop,
) -> Iterator[ShopifyPlatform]:
    http = httpx.Client(transport=httpx.MockTransport(shop))
    yield ShopifyPlatform(config, limiter, clock, http=http, sleep=fake_sleep, random=lambda: 1.0)
    http.close()


@pytest.fixture
def session() -> StoreSession:
    return StoreSession(shop=SHOP, access_token=TOKEN)
