"""Shared harness of the Shopify benchmarks: the sandbox at Shopify's Standard limits.

The sandbox runs over real HTTP on a local port with Shopify's Standard GraphQL bucket
(2,000 points, 100 restored a second). Its clock is frozen and only moves when the adapter
waits: the adapter's ``sleep`` advances the sandbox clock, the adapter's clock and the shared
budget's clock together. So a run that would wait five minutes for Shopify's bucket to refill
finishes in seconds, and the figures report the simulated time it would really take.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import attrs
import httpx
from attrs import define, field

from adapters.shopify import ShopifyConfig, ShopifyPlatform
from adapters.shopify.sandbox import SandboxClock, SandboxConfig, SandboxServer, SandboxState
from adapters.system import ManualClock
from core.ports import Rate, RateLimitDecision
from core.store import StoreSession

SHOP = "bench.myshopify.com"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
STANDARD_BUCKET = 2000
STANDARD_RESTORE = 100.0
# Shopify's REST Admin API on the Standard plan: a leaky bucket of 40 requests, 2 leak a second.
REST_BUCKET = 40
REST_LEAK_PER_SECOND = 2.0


@define
class SimulatedTime:
    """One timeline for the adapter, its shared budget and the sandbox."""

    clock: ManualClock
    sandbox_clock: SandboxClock
    slept: float = 0.0

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.clock.advance(seconds)
        self.sandbox_clock.advance(seconds)


@define
class SimulatedBudget:
    """The ``RateLimiter`` port as a moving window on the simulated clock (``limits``' rule)."""

    clock: ManualClock
    _spent: dict[str, deque[tuple[float, int]]] = field(factory=dict)

    def _window(self, key: str, rate: Rate) -> tuple[deque[tuple[float, int]], int]:
        now = self.clock.timestamp()
        spent = self._spent.setdefault(f"{key}/{rate}", deque())
        while spent and spent[0][0] <= now - rate.per_seconds:
            spent.popleft()
        return spent, sum(cost for _, cost in spent)

    def _decide(self, key: str, rate: Rate, cost: int, *, take: bool) -> RateLimitDecision:
        spent, used = self._window(key, rate)
        if used + cost <= rate.amount:
            if take:
                spent.append((self.clock.timestamp(), cost))
            return RateLimitDecision(True, rate.amount - used - (cost if take else 0), 0.0)
        # wait until enough of the oldest spending leaves the window
        freed, wait = 0, 0.0
        for at, spent_cost in spent:
            freed += spent_cost
            wait = at + rate.per_seconds - self.clock.timestamp()
            if used - freed + cost <= rate.amount:
                break
        return RateLimitDecision(False, rate.amount - used, max(wait, 0.01))

    def acquire(self, key: str, rate: Rate, cost: int = 1) -> RateLimitDecision:
        return self._decide(key, rate, cost, take=True)

    def peek(self, key: str, rate: Rate, cost: int = 1) -> RateLimitDecision:
        return self._decide(key, rate, cost, take=False)

    def reset(self, key: str, rate: Rate) -> None:
        self._spent.pop(f"{key}/{rate}", None)


@define
class Bench:
    server: SandboxServer
    platform: ShopifyPlatform
    session: StoreSession
    time: SimulatedTime
    primary_location: int

    @property
    def control(self) -> Any:
        return self.server.control

    def calls(self) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = self.control.calls(SHOP)
        return calls


@contextmanager
def standard_sandbox() -> Iterator[Bench]:
    sandbox_clock = SandboxClock(frozen_at=START)
    config = SandboxConfig(
        bucket_size=STANDARD_BUCKET, restore_rate=STANDARD_RESTORE, random_seed=1
    )
    with SandboxServer(config, SandboxState(sandbox_clock)) as server:
        shop = server.control.create_shop(SHOP, name="Benchmark")
        clock = ManualClock(start=START)
        simulated = SimulatedTime(clock, sandbox_clock)
        http = httpx.Client()
        platform = ShopifyPlatform(
            ShopifyConfig(
                client_id=config.client_id,
                client_secret=config.client_secret,
                shop_url_template=server.shop_url_template,
                max_budget_wait_seconds=3600.0,
            ),
            SimulatedBudget(clock),
            clock,
            http=http,
            sleep=simulated.sleep,
        )
        token = server.control.issue_token(SHOP, platform.config.scopes)["access_token"]
        with http, platform:
            yield Bench(
                server=server,
                platform=platform,
                session=StoreSession(SHOP, token),
                time=simulated,
                primary_location=int(shop["primary_location_id"]),
            )


def evolve_page_size(bench: Bench, page_size: int) -> ShopifyPlatform:
    """A platform like the bench's (same clock, budget and sleep) reading pages of ``page_size``."""
    platform = bench.platform
    return ShopifyPlatform(
        attrs.evolve(platform.config, catalog_page_size=page_size),
        platform.rate_limiter,
        platform.clock,
        http=platform.http,
        sleep=platform.sleep,
    )


def create_catalog(bench: Bench, variants: int, *, per_product: int = 10) -> list[dict[str, Any]]:
    """``variants`` variants (``per_product`` to a product), each with 10 on hand."""
    location = str(bench.primary_location)
    created: list[dict[str, Any]] = []
    products = [
        {
            "title": f"Product {p}",
            "variants": [
                {"sku": f"SKU-{p:05}-{v}", "inventory": {location: 10}} for v in range(per_product)
            ],
        }
        for p in range(variants // per_product)
    ]
    for start in range(0, len(products), 100):
        for product in bench.control.create_products(SHOP, products[start : start + 100]):
            created.extend(product["variants"])
    return created


def rest_seconds(calls: int) -> float:
    """The least time ``calls`` REST requests take through Shopify's leaky bucket."""
    return max(0.0, (calls - REST_BUCKET) / REST_LEAK_PER_SECOND)


@define
class Figures:
    approach: str
    calls: int
    requested: int
    actual: int
    throttled: int
    simulated_seconds: float
    wall_seconds: float


def figures(approach: str, bench: Bench, started: float, slept_before: float) -> Figures:
    calls = bench.calls()
    return Figures(
        approach=approach,
        calls=len(calls),
        requested=sum(c["requested_cost"] or 0 for c in calls),
        actual=sum(c["actual_cost"] or 0 for c in calls),
        throttled=sum(1 for c in calls if c["throttled"]),
        simulated_seconds=bench.time.slept - slept_before,
        wall_seconds=time.perf_counter() - started,
    )


def print_table(title: str, rows: list[Figures], naive_calls: int) -> None:
    print(title)
    header = (
        f"  {'approach':<38} {'calls':>7} {'requested':>10} {'actual cost':>11} "
        f"{'throttled':>9} {'at Standard limits':>19} {'wall':>8}"
    )
    print(header)
    for row in rows:
        print(
            f"  {row.approach:<38} {row.calls:>7,} {row.requested:>10,} {row.actual:>11,} "
            f"{row.throttled:>9} {row.simulated_seconds:>17.1f} s {row.wall_seconds:>6.1f} s"
        )
    naive = rest_seconds(naive_calls)
    print(
        f"  {'naive REST, one call per SKU':<38} {naive_calls:>7,} {'-':>10} {'-':>11} "
        f"{'-':>9} {naive:>17.1f} s {'-':>8}"
    )
    print(
        f"  (REST at Standard limits: a bucket of {REST_BUCKET} requests leaking "
        f"{REST_LEAK_PER_SECOND:g} a second; {naive_calls:,} calls take at least "
        f"{naive / 60:.0f} min)"
    )
