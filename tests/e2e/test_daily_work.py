"""The whole app against the simulated store: a store order under an id the store reused is
refused and alerted, never applied over the order imported under it; each store of a client
keeps its own numbering; events name the orders they became."""

from __future__ import annotations

import pytest

from core.services import SYSTEM, events
from core.services.connect import ACCESS_ALERTS
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

SHOP = "acme.myshopify.com"
ADDRESS = {"first_name": "Ada", "address1": "1 Main St", "city": "London", "country_code": "GB"}


def test_a_store_that_reuses_an_order_id_cannot_overwrite_the_order_imported_under_it(
    stack: Stack,
) -> None:
    stack.shop("acme", {"TENT-1": 5, "MAT-1": 5})
    stack.product("TENT-1", on_hand=10)
    stack.product("MAT-1", on_hand=10)
    integration = stack.connect("acme")
    with stack.sandbox.state.lock:
        reused_id = stack.sandbox.state._next_id  # the id the next order will get
    first = stack.control.place_order(
        SHOP, [{"sku": "TENT-1", "quantity": 2}], shipping_address=ADDRESS
    )
    stack.settle()
    before = stack.order_for(integration, first["id"])
    assert before is not None

    with stack.sandbox.state.lock:  # the store forgets (a reset, a restart) and gives it again
        stack.sandbox.state.shops[SHOP].orders.pop(first["id"])
        stack.sandbox.state._next_id = reused_id
    impostor = stack.control.place_order(  # shaped alike, so it draws the same ids
        SHOP, [{"sku": "MAT-1", "quantity": 1}], shipping_address={**ADDRESS, "city": "Paris"}
    )
    stack.settle()

    assert impostor["id"] == first["id"]
    assert impostor["order_number"] != first["order_number"]
    after = stack.order_for(integration, first["id"])
    assert after is not None
    assert (after.number, after.ship_to, after.items) == (
        before.number,
        before.ship_to,
        before.items,
    )
    assert len(stack.orders()) == 1
    with stack.services.ctx.uow() as uow:
        refused = uow.inbox.list(integration_id=integration.id, status="dead")
        alerts = uow.alerts.list(code="store_order_identity_conflict")
    assert refused, "the impostor's webhook is kept as dead"
    assert all("store_order_identity_conflict" in (e.error or "") for e in refused)
    assert {a.order_id for a in alerts} == {before.id}
    assert {a.event_id for a in alerts} <= {e.id for e in refused}
    assert stack.worker.drain().total == 0  # and not retried by itself


def test_each_store_of_a_client_keeps_its_numbering_whatever_else_is_connected(
    stack: Stack,
) -> None:
    stack.shop("acme", {"TENT-1": 5})
    stack.shop("outlet", {"TENT-1": 5})
    stack.product("TENT-1", on_hand=20)
    acme = stack.connect("acme")
    stack.control.place_order(SHOP, [{"sku": "TENT-1", "quantity": 1}])
    stack.settle()
    outlet = stack.connect("outlet")
    stack.control.place_order("outlet.myshopify.com", [{"sku": "TENT-1", "quantity": 1}])
    stack.control.place_order(SHOP, [{"sku": "TENT-1", "quantity": 1}])
    stack.settle()
    with stack.http(stack.owner_token) as web:  # the second store goes, then comes back
        assert web.delete(f"/api/integrations/shopify/{outlet.id}").status_code == 200
    stack.control.place_order(SHOP, [{"sku": "TENT-1", "quantity": 1}])
    stack.settle()
    again = stack.connect("outlet")

    assert (acme.order_prefix, outlet.order_prefix) == ("SH-", "SH-OUTLET-")
    assert again.order_prefix == "SH-OUTLET-"
    assert sorted(o.number for o in stack.orders()) == [
        "SH-1001",
        "SH-1002",
        "SH-1003",
        "SH-OUTLET-1001",
    ]
    with stack.services.ctx.uow() as uow:
        assert not [
            a for code in ACCESS_ALERTS for a in uow.alerts.list(code=code, unresolved_only=True)
        ]


def test_the_events_page_names_the_warehouse_order_of_each_webhook(stack: Stack) -> None:
    stack.shop("acme", {"TENT-1": 5})
    stack.product("TENT-1", on_hand=5)
    integration = stack.connect("acme")
    placed = stack.control.place_order(SHOP, [{"sku": "TENT-1", "quantity": 1}])
    stack.settle()
    order = stack.order_for(integration, placed["id"])
    assert order is not None

    page = events.list_events(stack.services.store, SYSTEM, integration_id=integration.id)

    about_orders = [r for r in page.rows if r.event.topic.startswith("orders/")]
    assert about_orders
    assert {r.order.id if r.order else None for r in about_orders} == {order.id}
    assert all(not r.retryable for r in about_orders)
