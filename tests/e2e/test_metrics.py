"""The metrics of a real run: a store connected through OAuth, an order placed in it, the
webhook delivered, the worker importing it and pushing stock, all scraped over HTTP."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

SHOP = "acme.myshopify.com"


def _sum(text: str, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def test_an_imported_order_shows_in_every_family_of_the_metrics(stack: Stack) -> None:
    stack.shop("acme", {"TENT-1": 5})
    stack.product("TENT-1", on_hand=10)
    stack.connect("acme")
    stack.control.place_order(SHOP, [{"sku": "TENT-1", "quantity": 2}], email="ada@example.com")
    stack.settle()
    assert len(stack.orders()) == 1

    with stack.http(stack.staff_token) as web:
        response = web.get("/metrics")
        anonymous = web.get("/metrics", headers={"Authorization": "Bearer nope-nope-nope"})
    assert response.status_code == 200
    assert anonymous.status_code == 401
    text = response.text

    shopify = {"platform": "shopify"}
    received = "storelink_webhooks_received_total"
    assert _sum(text, received, **shopify, topic="orders/create", outcome="stored") >= 1
    worked = {"queue": "inbox", "kind": "orders/create", "outcome": "done"}
    assert _sum(text, "storelink_worker_items_total", **worked) >= 1
    assert _sum(text, "storelink_worker_items_total", queue="outbox", outcome="done") >= 1
    assert _sum(text, "storelink_store_requests_total", **shopify, outcome="ok") > 0
    assert _sum(text, "storelink_store_actual_cost_points_total", **shopify) > 0
    assert _sum(text, "storelink_store_requested_cost_points_total", **shopify) > 0
    latency = "storelink_order_import_latency_seconds_count"
    assert _sum(text, latency, **shopify, outcome="imported") == 1
    assert _sum(text, "storelink_inventory_pushes_total", **shopify, outcome="ok") >= 1
    assert _sum(text, "storelink_inventory_variants_total", **shopify, result="applied") >= 1
    assert _sum(text, "storelink_queue_depth", state="waiting") == 0
    assert _sum(text, "storelink_queue_depth", state="dead") == 0
    assert _sum(text, "storelink_worker_last_poll_timestamp_seconds") > 0
