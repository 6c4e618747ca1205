"""The GraphQL client's behaviour under faults: retries, throttling, pacing, typed errors."""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any

import httpx
import pytest

from adapters.shopify import ShopifyConfig, ShopifyPlatform
from core.errors import (
    PlatformAuthError,
    PlatformError,
    PlatformRejected,
    PlatformThrottled,
    PlatformUnavailable,
)
from core.ports import Rate
from core.store import (
    FulfillmentLines,
    FulfillmentRequest,
    InventoryBatch,
    InventoryQuantity,
    StoreSession,
    Tracking,
)

SHOP_DATA = {
    "shop": {"name": "Acme", "email": "a@acme.test", "currencyCode": "EUR", "plan": None},
    "primaryLocation": None,
}
CATALOG_EMPTY = {"productVariants": {"nodes": [], "pageInfo": {"hasNextPage": False}}}


def test_a_query_posts_the_document_to_the_pinned_version_with_the_token_header(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.append(answers.ok(SHOP_DATA))
    platform.shop_info(session)
    (request,) = shop.requests
    assert str(request.url) == "https://acme.myshopify.com/admin/api/2026-10/graphql.json"
    assert request.headers["X-Shopify-Access-Token"] == session.access_token
    body = json.loads(request.content)
    assert body["query"].strip().startswith("query ShopInfo")
    assert body["variables"] == {}
    assert session.access_token not in str(request.url)
    assert session.access_token not in request.content.decode()


# --- 5xx and timeouts --------------------------------------------------------------------------


def test_a_5xx_is_retried_with_exponential_backoff_then_succeeds(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession, fake_sleep: Any
) -> None:
    shop.script.extend([httpx.Response(500), httpx.Response(502), answers.ok(SHOP_DATA)])
    assert platform.shop_info(session).name == "Acme"
    assert len(shop.requests) == 3
    assert fake_sleep.calls == [0.5, 1.0]  # base 0.5 doubling; random() == 1.0: no reduction


def test_retries_stop_with_a_typed_error_naming_operation_shop_and_cause(
    platform: ShopifyPlatform, shop: Any, session: StoreSession, fake_sleep: Any
) -> None:
    shop.default = lambda _: httpx.Response(503)
    with pytest.raises(PlatformUnavailable) as caught:
        platform.shop_info(session)
    assert len(shop.requests) == 1 + platform.config.max_retries
    assert "ShopInfo" in str(caught.value)
    assert "acme.myshopify.com" in str(caught.value)
    assert "HTTP 503" in str(caught.value)
    assert caught.value.operation == "ShopInfo"
    assert caught.value.retryable
    assert fake_sleep.calls == [0.5, 1.0, 2.0]


def test_backoff_is_capped(
    config: ShopifyConfig, limiter: Any, clock: Any, fake_sleep: Any, shop: Any
) -> None:
    shop.default = lambda _: httpx.Response(500)
    http = httpx.Client(transport=httpx.MockTransport(shop))
    many = ShopifyConfig(client_id="c", client_secret="s", max_retries=8, backoff_cap_seconds=4.0)
    platform = ShopifyPlatform(
        many, limiter, clock, http=http, sleep=fake_sleep, random=lambda: 1.0
    )
    with pytest.raises(PlatformUnavailable):
        platform.shop_info(StoreSession("acme.myshopify.com", "t"))
    assert fake_sleep.calls == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]


def test_backoff_is_jittered_by_the_random_source(
    *, config: ShopifyConfig, limiter: Any, clock: Any, fake_sleep: Any, shop: Any, answers: Any
) -> None:
    shop.script.extend([httpx.Response(500), httpx.Response(500), answers.ok(SHOP_DATA)])
    http = httpx.Client(transport=httpx.MockTransport(shop))
    platform = ShopifyPlatform(
        config, limiter, clock, http=http, sleep=fake_sleep, random=lambda: 0.0
    )
    platform.shop_info(StoreSession("acme.myshopify.com", "t"))
    assert fake_sleep.calls == [0.25, 0.5]  # half of the ceiling at the lowest draw


@pytest.mark.parametrize(
    "fault",
    [
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("slow connect"),
        httpx.RemoteProtocolError("peer closed"),
    ],
    ids=type,
)
def test_timeouts_and_connection_errors_are_retried(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession, fault: Exception
) -> None:
    shop.script.extend([fault, answers.ok(SHOP_DATA)])
    assert platform.shop_info(session).name == "Acme"
    assert len(shop.requests) == 2


def test_an_answer_that_is_not_json_is_retried(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.extend([httpx.Response(200, text="<html>oops</html>"), answers.ok(SHOP_DATA)])
    assert platform.shop_info(session).name == "Acme"


def test_a_shopify_internal_error_in_the_body_is_retried(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.extend(
        [answers.errors("Internal error", code="INTERNAL_SERVER_ERROR"), answers.ok(SHOP_DATA)]
    )
    assert platform.shop_info(session).name == "Acme"


def _fulfillment() -> FulfillmentRequest:
    return FulfillmentRequest(
        order_id="1",
        lines_by_fulfillment_order=(FulfillmentLines("10", (("100", 1),)),),
        tracking=Tracking(company="UPS", number="1Z999"),
    )


@pytest.mark.parametrize(
    "fault", [httpx.Response(503), httpx.ReadTimeout("slow")], ids=["5xx", "timeout"]
)
def test_a_fulfillment_that_may_have_been_applied_is_not_sent_twice(
    platform: ShopifyPlatform, shop: Any, session: StoreSession, fault: Any
) -> None:
    shop.script.append(fault)
    with pytest.raises(PlatformUnavailable, match="may or may not have been applied"):
        platform.create_fulfillment(session, _fulfillment())
    assert len(shop.requests) == 1


def test_a_fulfillment_that_never_left_is_retried(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    created = {
        "fulfillmentCreate": {
            "fulfillment": {
                "id": "gid://shopify/Fulfillment/5",
                "status": "SUCCESS",
                "trackingInfo": [],
            },
            "userErrors": [],
        }
    }
    shop.script.extend([httpx.ConnectError("refused"), answers.ok(created)])
    assert platform.create_fulfillment(session, _fulfillment()).fulfillment_id == "5"
    assert len(shop.requests) == 2


def test_a_retried_inventory_batch_resends_the_same_idempotency_key(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    applied = {
        "inventorySetQuantities": {
            "inventoryAdjustmentGroup": {"id": "gid://shopify/InventoryAdjustmentGroup/1"},
            "userErrors": [],
        }
    }
    shop.script.extend([httpx.Response(502), httpx.ReadTimeout("slow"), answers.ok(applied)])
    batch = InventoryBatch(
        idempotency_key="batch-key-1",
        quantities=(InventoryQuantity("1", "2", 5, 4),),
    )
    result = platform.set_inventory(session, batch)
    assert [i.status for i in result.items] == ["applied"]
    bodies = shop.bodies()
    assert len(bodies) == 3
    assert all(b == bodies[0] for b in bodies)
    assert bodies[0]["variables"]["key"] == "batch-key-1"


# --- throttling --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 429])
def test_a_throttled_query_waits_for_the_missing_points_then_succeeds(
    *,
    platform: ShopifyPlatform,
    shop: Any,
    answers: Any,
    session: StoreSession,
    fake_sleep: Any,
    status: int,
) -> None:
    shop.script.extend(
        [answers.throttled(status, available=152, requested=752), answers.ok(CATALOG_EMPTY)]
    )
    platform.catalog(session)
    assert len(shop.requests) == 2
    # 600 points missing at 100 points/s = 6 s (jitter adds up to 10 %)
    assert fake_sleep.calls[0] == pytest.approx(6.0 * 1.1)


def test_a_429_without_a_cost_report_waits_for_retry_after(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession, fake_sleep: Any
) -> None:
    shop.script.extend([httpx.Response(429, headers={"Retry-After": "2.0"}), answers.ok(SHOP_DATA)])
    platform.shop_info(session)
    assert fake_sleep.calls == [pytest.approx(2.0 * 1.1)]


def test_a_query_throttled_past_the_allowed_waits_is_a_throttled_error(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.default = lambda _: answers.throttled(available=0, requested=752)
    with pytest.raises(PlatformThrottled) as caught:
        platform.catalog(session)
    assert caught.value.retry_after > 0
    assert caught.value.retryable
    assert "CatalogVariants" in str(caught.value)
    assert len(shop.requests) == 1 + platform.config.max_throttle_waits


def test_the_client_waits_for_the_bucket_to_refill_before_a_costly_query(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession, fake_sleep: Any
) -> None:
    # the first answer reports 100 points left; the catalog page requests 752
    shop.script.extend([answers.ok(SHOP_DATA, available=100), answers.ok(CATALOG_EMPTY)])
    platform.shop_info(session)
    assert fake_sleep.calls == []
    platform.catalog(session)
    assert fake_sleep.calls == [pytest.approx(6.52)]
    assert len(shop.requests) == 2  # never throttled


def test_time_passed_since_the_last_report_counts_as_refilled(
    *,
    platform: ShopifyPlatform,
    shop: Any,
    answers: Any,
    session: StoreSession,
    fake_sleep: Any,
    clock: Any,
) -> None:
    shop.script.extend([answers.ok(SHOP_DATA, available=100), answers.ok(CATALOG_EMPTY)])
    platform.shop_info(session)
    clock.advance(10)
    platform.catalog(session)
    assert fake_sleep.calls == []


def test_the_shared_budget_is_checked_for_the_requested_cost_at_the_reported_rate(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession, limiter: Any
) -> None:
    shop.script.extend(
        [
            answers.ok(SHOP_DATA, actual=3, maximum=1000, restore=50),
            answers.ok(CATALOG_EMPTY, actual=40),
        ]
    )
    platform.shop_info(session)
    platform.catalog(session)
    key = "shopify:cost:acme.myshopify.com"
    # before the first answer Shopify's Standard bucket is assumed; then the reported one
    assert limiter.peeked == [(key, Rate(2000, 20), 3), (key, Rate(1000, 20), 752)]


def test_the_shared_budget_is_charged_what_each_query_really_cost(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession, limiter: Any
) -> None:
    shop.default = lambda _: answers.ok(CATALOG_EMPTY, requested=752, actual=302)
    platform.catalog(session)
    assert limiter.charged == [302]  # nothing reserved the first time; the actual cost after
    platform.catalog(session)
    assert limiter.charged == [302, 302]  # then last time's cost reserved before sending
    assert [cost for _, _, cost in limiter.peeked] == [752, 752]


def test_a_cost_above_the_reservation_is_taken_after_the_answer(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession, limiter: Any
) -> None:
    shop.script.extend(
        [answers.ok(SHOP_DATA, requested=3, actual=3), answers.ok(SHOP_DATA, requested=3, actual=9)]
    )
    platform.shop_info(session)
    platform.shop_info(session)
    assert limiter.charged == [3, 3, 6]


def test_the_client_waits_while_the_shared_budget_is_spent(
    *,
    platform: ShopifyPlatform,
    shop: Any,
    answers: Any,
    session: StoreSession,
    limiter: Any,
    fake_sleep: Any,
) -> None:
    limiter.refusals.extend([1.5, 2.0])
    shop.script.append(answers.ok(SHOP_DATA))
    platform.shop_info(session)
    assert fake_sleep.calls == [1.5, 2.0]
    assert len(shop.requests) == 1


def test_a_shared_budget_that_stays_spent_is_a_throttled_error_without_a_call(
    platform: ShopifyPlatform, shop: Any, session: StoreSession, limiter: Any
) -> None:
    limiter.refusals.extend([20.0] * 100)  # it looks again every 2 s (its place in line)
    with pytest.raises(PlatformThrottled) as caught:
        platform.shop_info(session)
    assert shop.requests == []
    assert caught.value.retry_after == 20.0


def test_a_query_that_must_wait_takes_a_place_in_line_and_keeps_it_while_it_waits(
    *,
    platform: ShopifyPlatform,
    shop: Any,
    answers: Any,
    session: StoreSession,
    limiter: Any,
    fake_sleep: Any,
) -> None:
    shop.default = lambda _: answers.ok(CATALOG_EMPTY, requested=752, actual=40)
    limiter.refusals.extend([5.0, 5.0, 5.0])
    platform.catalog(session)
    # sleeps of at most the line's 2-second window; the place said again once it lapsed
    assert fake_sleep.calls == [2.0, 2.0, 2.0]
    assert limiter.waiting == [752, 752, 752]
    assert len(shop.requests) == 1


def test_a_query_leaves_room_for_what_other_processes_wait_for(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession, limiter: Any
) -> None:
    shop.default = lambda _: answers.ok(SHOP_DATA, requested=3, actual=3)
    limiter.others_waiting = 872  # a costly page another process waits to send
    platform.shop_info(session)
    limiter.others_waiting = 5000  # more than the bucket holds: no more than all of it
    platform.shop_info(session)
    assert [cost for _, _, cost in limiter.peeked] == [3 + 872, 2000]
    assert limiter.waiting == []  # neither had to wait


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_an_auth_error_without_retries(
    platform: ShopifyPlatform, shop: Any, session: StoreSession, status: int
) -> None:
    shop.script.append(
        httpx.Response(status, json={"errors": "[API] Invalid API key or access token"})
    )
    with pytest.raises(PlatformAuthError):
        platform.shop_info(session)
    assert len(shop.requests) == 1


def test_access_denied_in_the_body_is_an_auth_error(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.append(answers.errors("Access denied for locations field.", code="ACCESS_DENIED"))
    with pytest.raises(PlatformAuthError, match="Access denied"):
        platform.locations(session)


def test_a_graphql_error_is_a_rejection_with_shopifys_message_and_code(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.append(answers.errors("Query cost is 1200, max is 1000", code="MAX_COST_EXCEEDED"))
    with pytest.raises(PlatformRejected) as caught:
        platform.shop_info(session)
    assert "Query cost is 1200" in str(caught.value)
    assert caught.value.code == "max_cost_exceeded"
    assert len(shop.requests) == 1


@pytest.mark.parametrize("status", [400, 402, 404, 423])
def test_other_client_errors_are_rejections(
    platform: ShopifyPlatform, shop: Any, session: StoreSession, status: int
) -> None:
    shop.script.append(httpx.Response(status, json={"errors": "Not Found"}))
    with pytest.raises(PlatformRejected, match=f"HTTP {status}"):
        platform.shop_info(session)


def test_an_answer_of_the_wrong_shape_is_a_rejection_naming_the_field(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.append(answers.ok({"shop": {"email": "x"}}))
    with pytest.raises(PlatformRejected, match=r"shop\.name"):
        platform.shop_info(session)


# --- the token never leaks ---------------------------------------------------------------------


FAULTS = [
    ("5xx", lambda a: httpx.Response(503)),
    ("401", lambda a: httpx.Response(401, json={"errors": "Invalid API key or access token"})),
    ("throttled", lambda a: a.throttled()),
    ("graphql error", lambda a: a.errors("bad shpat_the-secret-access-token-0123456789 x")),
    ("timeout", lambda a: httpx.ReadTimeout("timed out")),
    (
        "bad shape",
        lambda a: a.ok({"shop": {"name": 5, "plan": "shpat_the-secret-access-token-0123456789"}}),
    ),
]


@pytest.mark.parametrize(("name", "fault"), FAULTS, ids=[n for n, _ in FAULTS])
def test_the_access_token_is_never_in_errors_tracebacks_or_logs(
    *,
    platform: ShopifyPlatform,
    shop: Any,
    answers: Any,
    session: StoreSession,
    caplog: pytest.LogCaptureFixture,
    name: str,
    fault: Any,
) -> None:
    shop.default = lambda _: fault(answers)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PlatformError) as caught:
        platform.shop_info(session)
    error = caught.value
    rendered = "".join(traceback.format_exception(error))
    token = session.access_token
    assert token not in str(error)
    assert token not in repr(error)
    assert token not in rendered
    assert token not in caplog.text
    assert token not in repr(session)
    assert token not in repr(platform)


def test_secrets_are_not_in_the_config_or_platform_repr(platform: ShopifyPlatform) -> None:
    for text in (repr(platform.config), repr(platform)):
        assert "the-client-secret" not in text
        assert "the-previous-secret" not in text
