"""A connected store over its life: settings, locations, manual sync, replaying events,
uninstalling, redaction requests and disconnecting."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from adapters.shopify import ShopifyPlatform
from core.errors import PayloadError, PlatformUnavailable
from core.services.worker import Worker
from core.store import StoreSession
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

SHOP = "acme.myshopify.com"


def test_with_automatic_import_off_orders_wait_until_a_manual_sync(stack: Stack) -> None:
    stack.shop("acme", {"TENT-1": 5})
    stack.product("TENT-1", on_hand=5)
    integration = stack.connect("acme")
    with stack.http(stack.owner_token) as web:
        web.patch(
            f"/api/integrations/{integration.id}", json={"auto_import_orders": False}
        ).raise_for_status()
        placed = stack.control.place_order(SHOP, [{"sku": "TENT-1", "quantity": 1}])
        stack.settle()
        assert stack.orders() == []
        skipped = web.get(
            f"/api/integrations/{integration.id}/events", params={"status": "skipped"}
        ).json()["events"]
        assert skipped
        assert {e["error"] for e in skipped} == {"automatic order import is off for this store"}
        job = stack.run_job(web, f"/api/integrations/shopify/{integration.id}/sync-orders")
    assert (job["status"], job["progress"]["imported"]) == ("done", 1)
    order = stack.order_for(integration, placed["id"])
    assert order is not None
    assert order.status == "allocated"


def test_mapping_a_store_location_to_no_warehouse_stops_its_orders(stack: Stack) -> None:
    stack.shop("acme", {"TENT-1": 5})
    stack.product("TENT-1", on_hand=5)
    integration = stack.connect("acme")
    base = f"/api/integrations/shopify/{integration.id}"
    with stack.http(stack.owner_token) as web:
        (location,) = web.get(f"{base}/locations").json()["locations"]
        assert location["warehouse_id"] == stack.warehouse.id
        changed = web.put(
            f"{base}/locations/{location['id']}",
            json={"warehouse_id": None, "sync_inventory": False},
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["warehouse_id"] is None
        bad = web.put(f"{base}/locations/{location['id']}", json={"warehouse_id": "nope"})
        assert bad.status_code == 404
    stack.control.place_order(SHOP, [{"sku": "TENT-1", "quantity": 1}])
    stack.settle()
    assert stack.orders() == []


def test_auto_map_and_removing_a_mapping_through_the_api(stack: Stack) -> None:
    stack.shop("acme", {"TENT-1": 5, "MAT-2": 5})
    integration = stack.connect("acme")
    base = f"/api/integrations/shopify/{integration.id}"
    stack.product("tent-1")
    stack.product("MAT-2")
    with stack.http(stack.owner_token) as web:
        assert web.get(f"{base}/products", params={"unmapped": 1}).json()["total"] == 2
        assert web.post(f"{base}/mappings/auto").json() == {"mapped": 2, "skipped": 0}
        mapped = web.get(f"{base}/products", params={"mapped": 1, "q": "mat"}).json()
        assert [v["sku"] for v in mapped["variants"]] == ["MAT-2"]
        mapping_id = mapped["variants"][0]["mapping"]["id"]
        off = web.patch(f"{base}/mappings/{mapping_id}", json={"sync_inventory": False})
        assert off.json()["sync_inventory"] is False
        assert web.delete(f"{base}/mappings/{mapping_id}").status_code == 200
        assert web.get(f"{base}/products", params={"unmapped": 1}).json()["total"] == 1
        refreshed = stack.run_job(web, f"{base}/products/refresh")
        assert refreshed["progress"] == {"variants_read": 2, "auto_mapped": 1, "not_mapped": 0}
        assert web.get(f"{base}/products", params={"unmapped": 1}).json()["total"] == 0


def test_a_dead_event_can_be_replayed_once_the_cause_is_fixed(stack: Stack) -> None:
    stack.shop("acme", {"TENT-1": 5})
    stack.product("TENT-1", on_hand=5)
    integration = stack.connect("acme")
    stack.control.set_faults(error_rate=1.0, error_status=503)
    placed = stack.control.place_order(SHOP, [{"sku": "TENT-1", "quantity": 1}])
    stack.control.flush_webhooks(timeout=20)
    with stack.services.ctx.uow() as uow:  # make the retries run out quickly
        for event in uow.inbox.list(integration_id=integration.id):
            event.max_attempts = 1
            uow.inbox.update(event)
        uow.commit()
    quick = Worker(stack.services.ctx, stack.services.handlers, worker_id="quick")
    assert quick.drain().dead >= 1
    stack.control.clear_faults()
    with stack.http(stack.owner_token) as web:
        dead = web.get(
            f"/api/integrations/{integration.id}/events", params={"status": "dead"}
        ).json()["events"]
        assert dead
        assert "platform_unavailable" in dead[0]["error"]
        for event in dead:
            replayed = web.post(f"/api/integrations/{integration.id}/events/{event['id']}/retry")
            assert replayed.json()["status"] == "received"
    stack.settle()
    assert stack.order_for(integration, placed["id"]) is not None


def test_uninstalling_the_app_disconnects_without_calling_the_store(stack: Stack) -> None:
    stack.shop("acme", {"TENT-1": 5})
    integration = stack.connect("acme")
    stack.control.clear_calls()
    stack.control.uninstall(SHOP)
    stack.settle()
    with stack.services.ctx.uow() as uow:
        after = uow.integrations.peek(integration.id)
        alerts = {a.code for a in uow.alerts.list(integration_id=integration.id)}
    assert after is not None
    assert (after.status, after.credentials) == ("disconnected", None)
    assert "app_uninstalled" in alerts
    assert stack.control.calls(SHOP) == []


def test_disconnecting_removes_the_stores_subscriptions_and_keeps_the_history(
    stack: Stack,
) -> None:
    stack.shop("acme", {"TENT-1": 5})
    stack.product("TENT-1", on_hand=5)
    integration = stack.connect("acme")
    stack.control.place_order(SHOP, [{"sku": "TENT-1", "quantity": 1}])
    stack.settle()
    member = stack.user_token("member@acme.test", client_id=stack.client.id, role="member")
    with stack.http(member) as web:
        assert web.delete(f"/api/integrations/shopify/{integration.id}").status_code == 403
    with stack.http(stack.owner_token) as web:
        answer = web.delete(f"/api/integrations/shopify/{integration.id}")
    assert answer.status_code == 200
    assert answer.json()["status"] == "disconnected"
    assert stack.control.webhooks(SHOP) == []
    assert len(stack.orders()) == 1
    with stack.services.ctx.uow() as uow:
        after = uow.integrations.peek(integration.id)
    assert after is not None
    assert after.credentials is None


def test_redaction_requests_erase_personal_data_and_keep_the_rest(stack: Stack) -> None:
    stack.shop("acme", {"TENT-1": 5})
    tent = stack.product("TENT-1", on_hand=5)
    integration = stack.connect("acme")
    ada = stack.control.place_order(
        SHOP,
        [{"sku": "TENT-1", "quantity": 1}],
        email="ada@example.com",
        shipping_address={
            "first_name": "Ada",
            "address1": "1 Main St",
            "city": "London",
            "phone": "+44 20 0000",
            "country": "United Kingdom",
            "country_code": "GB",
        },
    )
    bob = stack.control.place_order(
        SHOP,
        [{"sku": "TENT-1", "quantity": 1}],
        email="bob@example.com",
        shipping_address={"city": "Paris", "country_code": "FR"},
    )
    stack.settle()
    stack.control.compliance(
        SHOP, "customers/data_request", email="ada@example.com", order_ids=[ada["id"]]
    )
    stack.control.compliance(
        SHOP, "customers/redact", email="ada@example.com", order_ids=[ada["id"]]
    )
    stack.settle()
    redacted = stack.order_for(integration, ada["id"])
    kept = stack.order_for(integration, bob["id"])
    assert redacted is not None
    assert kept is not None
    assert redacted.email is None
    assert redacted.ship_to is not None
    assert (
        redacted.ship_to.name,
        redacted.ship_to.address1,
        redacted.ship_to.phone,
        redacted.ship_to.city,
    ) == (None, None, None, None)
    assert redacted.ship_to.country_code == "GB"
    assert [i.quantity for i in redacted.items] == [1]
    assert kept.email == "bob@example.com"
    assert stack.level(tent) == (5, 2)
    with stack.services.ctx.uow() as uow:
        codes = {a.code for a in uow.alerts.list(integration_id=integration.id)}
        payloads = [e.payload for e in uow.inbox.list(integration_id=integration.id, limit=500)]
    assert "customer_data_request" in codes
    assert "ada@example.com" not in json.dumps(payloads)
    assert "bob@example.com" in json.dumps(payloads)
    stack.control.compliance(SHOP, "shop/redact")
    stack.settle()
    after = stack.order_for(integration, bob["id"])
    assert after is not None
    assert after.email is None


def test_the_sync_command_reconciles_every_connected_store(
    stack: Stack, monkeypatch: object
) -> None:
    from entrypoints import cli

    stack.shop("acme", {"TENT-1": 5})
    stack.product("TENT-1", on_hand=5)
    integration = stack.connect("acme")
    stack.control.set_faults(webhook_drop_rate=1.0)
    placed = stack.control.place_order(SHOP, [{"sku": "TENT-1", "quantity": 1}])
    stack.control.flush_webhooks()
    stack.control.clear_faults()
    assert stack.order_for(integration, placed["id"]) is None

    import contextlib

    @contextlib.contextmanager
    def wired(**_: object):  # the CLI on this test's services
        yield stack.services

    setattr_ = monkeypatch.setattr  # type: ignore[attr-defined]
    setattr_(cli, "services_from_env", wired)
    result = CliRunner().invoke(cli.main, ["sync", "--orders", "--integration", integration.id])
    assert result.exit_code == 0, result.output
    assert "imported 1" in result.output
    assert stack.order_for(integration, placed["id"]) is not None
    queued = CliRunner().invoke(
        cli.main, ["sync", "--webhooks", "--enqueue", "--integration", integration.id]
    )
    assert queued.exit_code == 0, queued.output
    assert "queued 1" in queued.output
    assert stack.settle().processed >= 1


def test_the_health_report_shows_backlog_failures_and_error_rate_per_store(
    stack: Stack,
) -> None:
    stack.shop("acme", {"TENT-1": 5})
    stack.product("TENT-1", on_hand=5)
    integration = stack.connect("acme")
    stack.control.place_order(SHOP, [{"sku": "TENT-1", "quantity": 1}])
    stack.settle()
    stack.control.set_faults(error_rate=1.0, error_status=502)
    stack.control.place_order(SHOP, [{"sku": "TENT-1", "quantity": 1}])
    stack.control.flush_webhooks(timeout=20)
    Worker(stack.services.ctx, stack.services.handlers, worker_id="h").run_once()
    stack.control.clear_faults()
    other = stack.new_client("Globex")
    outsider = stack.user_token("owner@globex.test", client_id=other.id, role="owner")
    with stack.http(stack.owner_token) as web:
        (row,) = web.get("/api/health/integrations").json()["integrations"]
    assert row["id"] == integration.id
    assert row["status"] == "active"
    assert row["failed"] >= 1
    assert row["received_24h"] >= 2
    assert 0 < row["error_rate_24h"] < 1
    with stack.http(outsider) as web:
        assert web.get("/api/health/integrations").json() == {"integrations": []}
    with stack.http(stack.staff_token) as web:
        assert len(web.get("/api/health/integrations").json()["integrations"]) == 1


@pytest.mark.parametrize(
    ("failure", "kept_as"),
    [
        (RuntimeError("a bug met this order"), "failed"),
        (PayloadError("the order's payload is unusable"), "dead"),
        (PlatformUnavailable("Shopify answered 503", operation="FulfillmentOrders"), None),
    ],
    ids=["bug", "bad-order", "store-down"],
)
def test_one_order_that_cannot_be_imported_does_not_hold_up_reconciliation(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, failure: Exception, kept_as: str | None
) -> None:
    """An order that fails for a reason of its own is kept as a failed event (listed, retried,
    replayable) and the watermark moves on; a store that is down holds the watermark."""
    stack.shop("acme", {"TENT-1": 5})
    stack.product("TENT-1", on_hand=5)
    integration = stack.connect("acme")
    stack.control.set_faults(webhook_drop_rate=1.0)  # only reconciliation will see them
    bad, good = (stack.control.place_order(SHOP, [{"sku": "TENT-1", "quantity": 1}]) for _ in "ab")
    stack.control.flush_webhooks()
    stack.control.clear_faults()
    real = ShopifyPlatform.fulfillment_orders

    def failing(self: ShopifyPlatform, session: StoreSession, order_id: str) -> Any:
        if order_id == str(bad["id"]):
            raise failure
        return real(self, session, order_id)

    monkeypatch.setattr(ShopifyPlatform, "fulfillment_orders", failing)
    with stack.http(stack.owner_token) as web:
        job = stack.run_job(web, f"/api/integrations/shopify/{integration.id}/sync-orders")
        kept = web.get(f"/api/integrations/{integration.id}/events").json()["events"]
    assert job["progress"]["imported"] == 1
    assert stack.order_for(integration, good["id"]) is not None
    assert stack.order_for(integration, bad["id"]) is None
    with stack.services.ctx.uow() as uow:
        watermark = uow.integrations.peek(integration.id)
    assert watermark is not None
    [bad_event] = [e for e in kept if f":{bad['id']}:" in e["delivery_id"]] or [None]
    if kept_as is None:  # the store's fault: the same window is read again next time
        assert watermark.orders_synced_at is None
        assert bad_event is None
        return
    assert watermark.orders_synced_at is not None
    assert bad_event is not None
    assert (bad_event["status"], bad_event["source"]) == (kept_as, "reconcile")
    assert str(failure) in bad_event["error"]
    monkeypatch.setattr(ShopifyPlatform, "fulfillment_orders", real)  # the cause is fixed
    with stack.http(stack.owner_token) as web:
        replayed = web.post(f"/api/integrations/{integration.id}/events/{bad_event['id']}/retry")
        assert replayed.status_code == 200, replayed.text
    stack.settle()
    assert stack.order_for(integration, bad["id"]) is not None
