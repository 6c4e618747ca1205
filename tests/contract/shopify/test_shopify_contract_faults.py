"""Fault paths against the sandbox: throttling, 5xx, stale compares, retried batches."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.ratelimit import LimitsRateLimiter
from adapters.shopify import DEFAULT_SCOPES, ShopifyPlatform
from adapters.shopify.sandbox import SandboxServer
from core.errors import (
    PlatformAuthError,
    PlatformRejected,
    PlatformThrottled,
    PlatformUnavailable,
)
from core.store import InventoryBatch, InventoryQuantity, StoreSession, StoreVariant

from .conftest import SHOP, stock

# A small, fast-refilling bucket: a 20-variant page requests 62 points (2 + 20 x 3).
SMALL_BUCKET = {"bucket_size": 200, "restore_rate": 200.0}
PAGE = 20


def _read_catalog(platform: ShopifyPlatform, session: StoreSession) -> list[StoreVariant]:
    variants: list[StoreVariant] = []
    cursor: str | None = None
    while True:
        page = platform.catalog(session, cursor)
        variants.extend(page.variants)
        cursor = page.next_cursor
        if cursor is None:
            return variants


def _small_shop_with_catalog(control: Any, products: int = 20) -> None:
    control.reset()
    control.create_shop(SHOP, name="Small", **SMALL_BUCKET)
    control.create_products(
        SHOP,
        [
            {"title": f"P{p}", "variants": [{"sku": f"S-{p}-{v}"} for v in range(5)]}
            for p in range(products)
        ],
    )


@pytest.mark.parametrize("throttle_status", [200, 429])
def test_a_throttled_read_waits_and_completes_without_overdrawing_the_bucket(
    make_platform: Callable[..., ShopifyPlatform], control: Any, throttle_status: int
) -> None:
    _small_shop_with_catalog(control)
    session = StoreSession(SHOP, control.issue_token(SHOP, ["read_products"])["access_token"])
    control.set_faults(throttle_status=throttle_status)
    control.throttle_now(SHOP, available=0)
    platform = make_platform(catalog_page_size=PAGE)
    variants = _read_catalog(platform, session)
    assert len({v.variant_id for v in variants}) == 100
    calls = control.calls(SHOP, operation_name="CatalogVariants")
    throttled = [c for c in calls if c["throttled"]]
    # the first call knew nothing of the drained bucket; after it, pacing kept within budget
    assert len(throttled) == 1
    assert throttled[0]["status"] == throttle_status
    assert calls[0]["throttled"]
    assert sum(1 for c in calls if c["status"] == 200 and not c["throttled"]) == 5


@pytest.mark.parametrize(
    "limiters",
    [
        pytest.param("memory", marks=pytest.mark.memory, id="memory"),
        pytest.param("redis", marks=pytest.mark.redis, id="redis"),
    ],
)
def test_two_workers_sharing_a_budget_read_concurrently_and_are_rarely_throttled(
    make_platform: Callable[..., ShopifyPlatform],
    control: Any,
    request: pytest.FixtureRequest,
    limiters: str,
) -> None:
    _small_shop_with_catalog(control)
    session = StoreSession(SHOP, control.issue_token(SHOP, ["read_products"])["access_token"])
    if limiters == "redis":
        url = request.getfixturevalue("redis_url")
        prefix = f"contract-shopify-{uuid.uuid4().hex[:12]}"  # a budget no other run shares
        shared = [LimitsRateLimiter(url, prefix=prefix), LimitsRateLimiter(url, prefix=prefix)]
    else:
        one = LimitsRateLimiter("memory://")
        shared = [one, one]
    workers = [make_platform(limiter, catalog_page_size=PAGE) for limiter in shared]
    results: list[list[StoreVariant]] = []
    errors: list[BaseException] = []

    def read(platform: ShopifyPlatform) -> None:
        try:
            results.append(_read_catalog(platform, session))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert [len(r) for r in results] == [100, 100]
    calls = control.calls(SHOP, operation_name="CatalogVariants")
    # (with a budget each, this run sees 3-5 THROTTLED answers; sharing one, none)
    assert sum(1 for c in calls if c["throttled"]) <= 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_answers_are_retried_then_reported_as_unavailable(
    platform: ShopifyPlatform, control: Any, session: StoreSession, status: int
) -> None:
    control.set_faults(error_rate=1.0, error_status=status)
    with pytest.raises(PlatformUnavailable) as caught:
        platform.locations(session)
    assert f"HTTP {status}" in str(caught.value)
    assert caught.value.operation == "Locations"
    faults = [c for c in control.calls(SHOP) if c["fault"]]
    assert len(faults) == 1 + platform.config.max_retries


def test_a_slow_store_times_out_and_is_reported_as_unavailable(
    make_platform: Callable[..., ShopifyPlatform], control: Any, session: StoreSession
) -> None:
    platform = make_platform(read_timeout=0.2, max_retries=1)
    control.set_faults(latency=0.6)
    with pytest.raises(PlatformUnavailable, match="timed out"):
        platform.shop_info(session)


def test_a_stale_compare_is_reported_per_quantity_and_nothing_is_applied(
    platform: ShopifyPlatform, control: Any, session: StoreSession, primary_location: int
) -> None:
    variants = stock(control, primary_location, "A", "B", "C", on_hand=5)
    control.set_inventory(SHOP, sku="B", location_id=primary_location, available=8)  # changed
    location = str(primary_location)
    quantities = tuple(
        InventoryQuantity(str(v["inventory_item_id"]), location, 30, 5) for v in variants
    )
    result = platform.set_inventory(session, InventoryBatch("stale-1", quantities))
    assert [i.status for i in result.items] == ["not_applied", "stale", "not_applied"]
    assert result.stale[0].quantity.inventory_item_id == str(variants[1]["inventory_item_id"])
    levels = [control.inventory_level(SHOP, location_id=primary_location, sku=s) for s in "ABC"]
    assert [level["available"] for level in levels] == [5, 8, 5]
    # re-read, recompute, resend under a new key: applied
    fixed = (
        quantities[0],
        InventoryQuantity(quantities[1].inventory_item_id, location, 30, 8),
        quantities[2],
    )
    again = platform.set_inventory(session, InventoryBatch("stale-2", fixed))
    assert [i.status for i in again.items] == ["applied"] * 3


def test_a_batch_retried_after_a_lost_answer_is_applied_once(
    platform: ShopifyPlatform,
    control: Any,
    sandbox: SandboxServer,
    session: StoreSession,
    primary_location: int,
) -> None:
    (variant,) = stock(control, primary_location, "ONCE", on_hand=5)
    batch = InventoryBatch(
        "lost-answer",
        (InventoryQuantity(str(variant["inventory_item_id"]), str(primary_location), 9, 5),),
    )
    control.set_faults(error_rate=1.0, error_mode="after")  # applied, then the answer is lost
    with pytest.raises(PlatformUnavailable):
        platform.set_inventory(session, batch)
    control.clear_faults()
    result = platform.set_inventory(session, batch)  # the worker's later retry, same key
    # applied once: a second application would have found 9 where it expected 5 (stale)
    assert [i.status for i in result.items] == ["applied"]
    assert control.inventory_level(SHOP, location_id=primary_location, sku="ONCE")["available"] == 9
    with sandbox.state.lock:
        groups = list(sandbox.state.shops[SHOP].adjustment_groups.values())
    assert len([g for g in groups if g.reason == "correction"]) == 1
    calls = control.calls(SHOP, operation_name="InventorySetQuantities")
    assert len(calls) == 2 + platform.config.max_retries
    assert all(c["idempotency_keys"] == ["lost-answer"] for c in calls)


def test_reusing_a_key_for_other_quantities_is_a_rejection(
    platform: ShopifyPlatform, control: Any, session: StoreSession, primary_location: int
) -> None:
    (variant,) = stock(control, primary_location, "KEY", on_hand=5)
    item, location = str(variant["inventory_item_id"]), str(primary_location)
    platform.set_inventory(session, InventoryBatch("k", (InventoryQuantity(item, location, 6, 5),)))
    with pytest.raises(PlatformRejected) as caught:
        platform.set_inventory(
            session, InventoryBatch("k", (InventoryQuantity(item, location, 7, 6),))
        )
    assert caught.value.code == "idempotency_key_parameter_mismatch"


def test_a_budget_that_never_frees_up_is_a_throttled_error(
    make_platform: Callable[..., ShopifyPlatform], control: Any
) -> None:
    control.reset()
    control.create_shop(SHOP, bucket_size=100, restore_rate=1.0)
    session = StoreSession(SHOP, control.issue_token(SHOP, ["read_products"])["access_token"])
    control.throttle_now(SHOP, available=0)
    platform = make_platform(catalog_page_size=30, max_budget_wait_seconds=0.5)
    with pytest.raises(PlatformThrottled) as caught:
        platform.catalog(session)
    assert caught.value.retry_after > 0


def test_the_access_token_never_reaches_the_logs_even_at_debug_level(
    platform: ShopifyPlatform,
    control: Any,
    session: StoreSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    platform.shop_info(session)
    control.set_faults(error_rate=1.0, error_status=502)
    with pytest.raises(PlatformUnavailable) as caught:
        platform.shop_info(session)
    control.clear_faults()
    control.revoke_tokens(SHOP)
    with pytest.raises(PlatformAuthError) as refused:
        platform.shop_info(session)
    assert caplog.records  # httpx, httpcore and the adapter did log
    for text in (caplog.text, str(caught.value), str(refused.value), repr(refused.value)):
        assert session.access_token not in text


def test_a_costly_query_is_not_starved_by_cheap_ones_from_other_processes(
    make_platform: Callable[..., ShopifyPlatform], control: Any
) -> None:
    """Found by the chaos run: with workers reading orders (198 points requested each) as
    fast as the budget allows, the reconciliation's order page (872 requested) waited for a
    bucket that never refilled that far, and failed after ``max_budget_wait_seconds``. A
    query that has to wait now tells the others (through the shared limiter), which leave
    room for it until it has gone."""
    control.reset()
    control.create_shop(SHOP, bucket_size=1000, restore_rate=250.0)
    session = StoreSession(SHOP, control.issue_token(SHOP, DEFAULT_SCOPES)["access_token"])
    product = control.create_product(SHOP, "Tee", [{"sku": "TEE", "price": "5.00"}])
    location = control.shop(SHOP)["primary_location_id"]
    control.set_inventory(SHOP, location_id=location, sku="TEE", on_hand=1000)
    order_id = str(control.place_order(SHOP, [{"sku": "TEE", "quantity": 1}])["id"])
    assert product["variants"]
    shared = LimitsRateLimiter("memory://", prefix=f"starve{uuid.uuid4().hex[:8]}")
    workers = [make_platform(shared) for _ in range(3)]  # other processes, one Redis
    reconciler = make_platform(shared, max_budget_wait_seconds=12.0)
    for platform in (*workers, reconciler):
        platform.fulfillment_orders(session, order_id)  # each learns the shop's bucket
    stop = threading.Event()
    calls = [0] * len(workers)

    def busy(n: int) -> None:
        while not stop.is_set():
            workers[n].fulfillment_orders(session, order_id)
            calls[n] += 1

    threads = [threading.Thread(target=busy, args=(n,)) for n in range(len(workers))]
    for thread in threads:
        thread.start()
    try:
        stop.wait(1.0)  # the workers spend the budget as fast as it restores
        page = reconciler.orders_updated_since(session, datetime.now(UTC) - timedelta(hours=1))
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert [o.id for o in page.orders] == [order_id]
    assert all(calls)  # the workers went on too
