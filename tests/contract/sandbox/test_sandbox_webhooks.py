"""Webhook deliveries: REST-shaped, signed, with Shopify's headers, retries and injected faults."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import pytest

from adapters.shopify.sandbox import SandboxClock, SandboxServer, SandboxState

from .conftest import (
    ADDRESS,
    LINE_KEYS_READ,
    ORDER_KEYS_READ,
    SHOP,
    GraphQL,
    Receiver,
    make_config,
    stock_product,
)

FIXTURE_ORDER = json.loads(
    (Path(__file__).parents[2] / "fixtures" / "shopify" / "rest-2026-07" / "order.json").read_text()
)[7]["response_body"]["order"]

SUBSCRIBE = """
mutation($topic: WebhookSubscriptionTopic!, $uri: String!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: {uri: $uri, format: JSON}) {
    webhookSubscription { id } userErrors { message }
  }
}
"""

ORDER_TOPICS = (
    "ORDERS_CREATE",
    "ORDERS_UPDATED",
    "ORDERS_CANCELLED",
    "ORDERS_FULFILLED",
    "ORDERS_PARTIALLY_FULFILLED",
    "ORDERS_EDITED",
)


def _subscribe(gql: GraphQL, receiver: Receiver, *topics: str) -> None:
    for topic in topics:
        result = gql.data(SUBSCRIBE, {"topic": topic, "uri": receiver.url})
        assert result["webhookSubscriptionCreate"]["userErrors"] == []


def _signed(request: dict[str, Any], secret: str) -> bool:
    digest = hmac.new(secret.encode(), request["body"], hashlib.sha256).digest()
    return hmac.compare_digest(
        base64.b64encode(digest).decode(), request["headers"]["X-Shopify-Hmac-Sha256"]
    )


@pytest.fixture
def subscribed(gql: GraphQL, receiver: Receiver, sandbox: SandboxServer) -> Receiver:
    _subscribe(gql, receiver, *ORDER_TOPICS)
    stock_product(sandbox, "MUG", 10)
    return receiver


def test_a_placed_order_is_delivered_signed_with_shopifys_headers(
    sandbox: SandboxServer, subscribed: Receiver
) -> None:
    order = sandbox.control.place_order(
        SHOP, [{"sku": "MUG", "quantity": 1}], email="ada@example.com"
    )
    sandbox.control.flush_webhooks()
    [request] = subscribed.of_topic("orders/create")
    headers = request["headers"]
    assert _signed(request, sandbox.config.client_secret)
    assert not _signed(request, "some-other-secret")
    assert headers["X-Shopify-Shop-Domain"] == SHOP
    assert headers["X-Shopify-Api-Version"] == "2026-10"
    assert headers["X-Shopify-Webhook-Id"]
    assert headers["X-Shopify-Event-Id"]
    assert headers["X-Shopify-Triggered-At"].startswith("2026-11-02T09:30:00")
    assert headers["Content-Type"] == "application/json"
    payload = json.loads(request["body"])
    assert payload["id"] == order["id"]
    assert payload["email"] == "ada@example.com"
    [delivery] = sandbox.control.deliveries(SHOP, topic="orders/create")
    assert delivery["status"] == "delivered"
    assert delivery["response_status"] == 200
    assert delivery["webhook_id"] == headers["X-Shopify-Webhook-Id"]


def test_order_payloads_have_every_key_of_shopifys_order_example(
    sandbox: SandboxServer, subscribed: Receiver
) -> None:
    order = sandbox.control.place_order(
        SHOP, [{"sku": "MUG", "quantity": 2}], shipping_address=ADDRESS, email="a@example.com"
    )
    line_id = order["line_items"][0]["id"]
    sandbox.control.update_order(SHOP, order["id"], note="gift wrap")
    sandbox.control.edit_order(SHOP, order["id"], quantities={line_id: 1})
    sandbox.control.fulfill_order(SHOP, order["id"], tracking_company="UPS", tracking_number="1Z")
    second = sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 1}])
    sandbox.control.cancel_order(SHOP, second["id"])
    sandbox.control.flush_webhooks()
    order_topics = [t for t in subscribed.topics() if t != "orders/edited"]
    assert set(order_topics) == {
        "orders/create",
        "orders/updated",
        "orders/fulfilled",
        "orders/cancelled",
    }
    for request in subscribed.requests:
        if request["headers"]["X-Shopify-Topic"] == "orders/edited":
            continue
        payload = json.loads(request["body"])
        assert set(ORDER_KEYS_READ) <= set(payload)
        assert set(FIXTURE_ORDER) <= set(payload), set(FIXTURE_ORDER) - set(payload)
        for line in payload["line_items"]:
            assert set(LINE_KEYS_READ) <= set(line)
            assert set(FIXTURE_ORDER["line_items"][0]) <= set(line)
        for shipping_line in payload["shipping_lines"]:
            assert set(FIXTURE_ORDER["shipping_lines"][0]) <= set(shipping_line)
        if payload["shipping_address"] is not None:
            assert set(FIXTURE_ORDER["shipping_address"]) <= set(payload["shipping_address"])


def test_updated_at_moves_with_every_change(sandbox: SandboxServer, subscribed: Receiver) -> None:
    order = sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 1}])
    sandbox.control.advance_clock(5)
    sandbox.control.update_order(SHOP, order["id"], tags="vip")
    sandbox.control.advance_clock(5)
    sandbox.control.cancel_order(SHOP, order["id"])
    sandbox.control.flush_webhooks()
    stamps = [json.loads(r["body"])["updated_at"] for r in subscribed.of_topic("orders/updated")]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 2
    cancelled = json.loads(subscribed.of_topic("orders/cancelled")[0]["body"])
    assert cancelled["cancelled_at"] is not None


def test_a_fulfilment_sends_fulfilled_or_partially_fulfilled_then_updated(
    sandbox: SandboxServer, subscribed: Receiver
) -> None:
    order = sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 2}])
    line_id = order["line_items"][0]["id"]
    sandbox.control.fulfill_order(SHOP, order["id"], line_items={line_id: 1})
    sandbox.control.fulfill_order(SHOP, order["id"], line_items={line_id: 1})
    sandbox.control.flush_webhooks()
    assert subscribed.topics() == [
        "orders/create",
        "orders/partially_fulfilled",
        "orders/updated",
        "orders/fulfilled",
        "orders/updated",
    ]
    fulfilled = json.loads(subscribed.of_topic("orders/fulfilled")[0]["body"])
    assert fulfilled["fulfillment_status"] == "fulfilled"
    assert len(fulfilled["fulfillments"]) == 2


def test_an_order_edit_sends_the_order_edit_shape(
    sandbox: SandboxServer, subscribed: Receiver
) -> None:
    order = sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 3}])
    line_id = order["line_items"][0]["id"]
    sandbox.control.edit_order(SHOP, order["id"], quantities={line_id: 1})
    sandbox.control.flush_webhooks()
    [request] = subscribed.of_topic("orders/edited")
    edit = json.loads(request["body"])["order_edit"]
    assert edit["order_id"] == order["id"]
    assert edit["line_items"] == {"additions": [], "removals": [{"id": line_id, "delta": 2}]}


def test_deliveries_of_one_event_share_the_event_id_but_not_the_webhook_id(
    sandbox: SandboxServer, gql: GraphQL, receiver: Receiver
) -> None:
    other = Receiver()
    try:
        _subscribe(gql, receiver, "ORDERS_CREATE")
        gql.data(SUBSCRIBE, {"topic": "ORDERS_CREATE", "uri": other.url})
        stock_product(sandbox, "MUG", 10)
        sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 1}])
        sandbox.control.flush_webhooks()
        [first] = receiver.requests
        [second] = other.requests
        assert first["headers"]["X-Shopify-Event-Id"] == second["headers"]["X-Shopify-Event-Id"]
        assert first["headers"]["X-Shopify-Webhook-Id"] != second["headers"]["X-Shopify-Webhook-Id"]
    finally:
        other.close()


def test_a_failed_delivery_is_retried_until_it_succeeds(
    sandbox: SandboxServer, gql: GraphQL, receiver: Receiver
) -> None:
    _subscribe(gql, receiver, "ORDERS_CREATE")
    stock_product(sandbox, "MUG", 10)
    receiver.statuses = [500, 503]
    sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 1}])
    sandbox.control.flush_webhooks()
    assert [r["status"] for r in receiver.requests] == [500, 503, 200]
    assert len({r["headers"]["X-Shopify-Webhook-Id"] for r in receiver.requests}) == 1
    [delivery] = sandbox.control.deliveries(SHOP)
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 200]
    assert delivery["status"] == "delivered"


def test_a_delivery_that_keeps_failing_gives_up_and_the_subscription_is_deleted(
    sandbox: SandboxServer, gql: GraphQL, receiver: Receiver
) -> None:
    _subscribe(gql, receiver, "ORDERS_CREATE")
    stock_product(sandbox, "MUG", 10)
    receiver.statuses = [500, 500, 500]
    sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 1}])
    sandbox.control.flush_webhooks()
    [delivery] = sandbox.control.deliveries(SHOP)
    assert delivery["status"] == "failed"
    assert len(delivery["attempts"]) == 3  # the first try and the schedule's two retries
    assert sandbox.control.webhooks(SHOP) == []


def test_a_dropped_delivery_is_never_sent(sandbox: SandboxServer, subscribed: Receiver) -> None:
    sandbox.control.set_faults(webhook_drop_rate=1.0)
    sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 1}])
    sandbox.control.flush_webhooks()
    assert subscribed.requests == []
    assert {d["status"] for d in sandbox.control.deliveries(SHOP)} == {"dropped"}


def test_a_duplicated_delivery_arrives_twice_with_the_same_webhook_id(
    sandbox: SandboxServer, subscribed: Receiver
) -> None:
    sandbox.control.set_faults(webhook_duplicate_rate=1.0)
    sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 1}])
    sandbox.control.flush_webhooks()
    created = subscribed.of_topic("orders/create")
    assert len(created) == 2
    assert (
        created[0]["headers"]["X-Shopify-Webhook-Id"]
        == created[1]["headers"]["X-Shopify-Webhook-Id"]
    )
    assert created[0]["body"] == created[1]["body"]


def test_a_reorder_window_sends_deliveries_shuffled(
    sandbox: SandboxServer, gql: GraphQL, receiver: Receiver
) -> None:
    _subscribe(gql, receiver, "ORDERS_CREATE")
    stock_product(sandbox, "MUG", 50)
    sandbox.control.set_faults(webhook_reorder_window=8, random_seed=3)
    placed = [
        sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 1}])["id"] for _ in range(8)
    ]
    sandbox.control.flush_webhooks()
    arrived = [json.loads(r["body"])["id"] for r in receiver.requests]
    assert sorted(arrived) == sorted(placed)
    assert arrived != placed


def test_a_partial_hold_is_released_after_a_while_without_a_flush(
    sandbox: SandboxServer, subscribed: Receiver
) -> None:
    sandbox.control.set_faults(webhook_reorder_window=50)
    sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 1}])
    deadline = 60  # the hold is 1 s in these tests
    while not subscribed.requests and deadline:
        sandbox.control.clock()  # a cheap round trip while the sender's hold runs out
        deadline -= 1
        time.sleep(0.05)
    assert subscribed.topics()[:1] == ["orders/create"]


def test_a_delay_postpones_deliveries(sandbox: SandboxServer, subscribed: Receiver) -> None:
    sandbox.control.set_faults(webhook_delay=0.3)
    sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 1}])
    assert subscribed.requests == []
    sandbox.control.flush_webhooks()
    assert subscribed.of_topic("orders/create")


def test_uninstall_sends_app_uninstalled_with_the_shop_and_drops_the_subscriptions(
    sandbox: SandboxServer, gql: GraphQL, receiver: Receiver
) -> None:
    _subscribe(gql, receiver, "APP_UNINSTALLED", "ORDERS_CREATE")
    sandbox.control.uninstall(SHOP)
    sandbox.control.flush_webhooks()
    [request] = receiver.requests
    assert request["headers"]["X-Shopify-Topic"] == "app/uninstalled"
    assert _signed(request, sandbox.config.client_secret)
    shop = json.loads(request["body"])
    assert shop["myshopify_domain"] == SHOP
    assert shop["name"] == "Acme Outfitters"
    assert sandbox.control.webhooks(SHOP) == []


def test_compliance_requests_go_to_the_apps_compliance_url(
    clock: SandboxClock, receiver: Receiver
) -> None:
    config = make_config(compliance_webhook_url=receiver.url)
    with SandboxServer(config, SandboxState(clock)) as sandbox:
        control = sandbox.control
        shop = control.create_shop(SHOP)
        stock_product(sandbox, "MUG", 5)
        order = control.place_order(SHOP, [{"sku": "MUG", "quantity": 1}], email="ada@example.com")
        control.compliance(SHOP, "customers/data_request", email="ada@example.com")
        control.compliance(SHOP, "customers/redact", email="ada@example.com")
        control.compliance(SHOP, "shop/redact")
        control.flush_webhooks()
        assert receiver.topics() == ["customers/data_request", "customers/redact", "shop/redact"]
        request, redact, shop_redact = (json.loads(r["body"]) for r in receiver.requests)
        assert request["shop_domain"] == SHOP
        assert request["shop_id"] == shop["id"]
        assert request["customer"]["email"] == "ada@example.com"
        assert request["orders_requested"] == [order["id"]]
        assert "id" in request["data_request"]
        assert redact["orders_to_redact"] == [order["id"]]
        assert shop_redact == {"shop_id": shop["id"], "shop_domain": SHOP}
        assert all(_signed(r, config.client_secret) for r in receiver.requests)


def test_subscription_include_fields_trims_the_payload(
    sandbox: SandboxServer, gql: GraphQL, receiver: Receiver
) -> None:
    gql.data(
        """mutation($uri: String!) { webhookSubscriptionCreate(topic: ORDERS_CREATE,
             webhookSubscription: {uri: $uri, includeFields: ["id", "updated_at"]}) {
           userErrors { message } } }""",
        {"uri": receiver.url},
    )
    stock_product(sandbox, "MUG", 5)
    sandbox.control.place_order(SHOP, [{"sku": "MUG", "quantity": 1}])
    sandbox.control.flush_webhooks()
    assert set(json.loads(receiver.requests[0]["body"])) == {"id", "updated_at"}
