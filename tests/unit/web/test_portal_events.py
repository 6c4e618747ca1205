"""The events page: newest first a page at a time (the cursor in the "Older events" link),
each event with the warehouse order it became, Retry only where retrying can change
something; a stale retry or a bad query shows an inline error, another tenant's event is a
404 page."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from adapters.system import ManualClock
from core.model import Address, InboxEvent, InboxStatus, Integration, LocationMapping
from core.serialization import dump_order
from core.services import SYSTEM, order_import
from core.services import stock as stock_services
from core.services._skips import AUTO_IMPORT_OFF
from core.services.integrations import choose_order_prefix
from core.store import StoreFulfillmentOrder, StoreFulfillmentOrderLine, StoreOrder, StoreOrderLine
from entrypoints.bootstrap import Services
from tests.unit.web.conftest import People

EVENTS = "/portal/events"
RETRY = "/portal/events/retry"


def _sign_in(app: Flask, email: str) -> tuple[FlaskClient, str]:
    browser = app.test_client()
    form = browser.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert match
    answer = browser.post(
        "/login", data={"email": email, "password": "password-123", "csrf_token": match.group(1)}
    )
    assert answer.status_code == 302
    token = browser.get("/api/me").get_json()["csrf_token"]
    assert isinstance(token, str)
    return browser, token


def _text(response: TestResponse) -> str:
    raw = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(html.unescape(raw).split())


def _landing(response: TestResponse) -> tuple[str, dict[str, list[str]]]:
    assert response.status_code == 302, response.get_data(as_text=True)
    target = urlsplit(response.headers["Location"])
    return target.path, parse_qs(target.query)


def _rows(response: TestResponse) -> dict[str, str]:
    """Each event row's text by event id."""
    page = response.get_data(as_text=True)
    found = re.findall(r'<tr id="event-([^"]+)">(.*?)</tr>', page, flags=re.S)
    return {
        event_id: " ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split())
        for event_id, row in found
    }


class Stores:
    """Acme's store with a warehouse order imported from store order 450789469 and events
    about it; Globex's store with a dead event."""

    def __init__(self, services: Services, people: People) -> None:
        self.services = services
        ctx = services.ctx
        clock = ctx.clock
        assert isinstance(clock, ManualClock)
        self.clock = clock
        warehouse = stock_services.create_warehouse(ctx, SYSTEM, code="MAIN", name="Main")
        self.acme = self._store(people.acme.id, "acme", warehouse.id)
        self.globex = self._store(people.globex.id, "globex", warehouse.id)
        self.order = self._store_order("450789469", "1001")
        with ctx.uow() as uow:
            order_import.apply_order(uow, services.store, self.acme, self.order, [self._fo()])
            uow.commit()
            imported = uow.orders.get_by_external(self.acme.id, "450789469")
        assert imported is not None
        self.warehouse_order = imported
        self.processed = self.add(self.acme, "processed")
        self.up_to_date = self.add(self.acme, "skipped", error="already up to date")
        self.off = self.add(self.acme, "skipped", error=AUTO_IMPORT_OFF)
        self.dead = self.add(self.acme, "dead", error="order_not_found: no such order")
        self.foreign = self.add(self.globex, "dead", error="globex secret trouble")

    def _store(self, client_id: str, shop: str, warehouse_id: str) -> Integration:
        ctx = self.services.ctx
        now = self.clock.now()
        with ctx.uow() as uow:
            integration = Integration(
                id=ctx.ids.new_id(),
                client_id=client_id,
                platform="shopify",
                shop_domain=f"{shop}.myshopify.com",
                created_at=now,
                updated_at=now,
                status="active",
                order_prefix=choose_order_prefix(
                    uow, client_id, "shopify", f"{shop}.myshopify.com"
                ),
            )
            uow.integrations.add(integration)
            uow.locations.add(
                LocationMapping(
                    id=ctx.ids.new_id(),
                    integration_id=integration.id,
                    external_location_id="7001",
                    name="Main",
                    warehouse_id=warehouse_id,
                    is_default=True,
                )
            )
            uow.commit()
        return integration

    def _store_order(self, order_id: str, number: str) -> StoreOrder:
        now = self.clock.now()
        return StoreOrder(
            id=order_id,
            updated_at=now,
            lines=(StoreOrderLine(id="L1", quantity=1, variant_id="V1", sku="TEE", title="Tee"),),
            number=number,
            name=f"#{number}",
            created_at=now,
            shipping_address=Address(name="Ada", city="London"),
        )

    def _fo(self) -> StoreFulfillmentOrder:
        return StoreFulfillmentOrder(
            id="FO1",
            order_id="450789469",
            location_id="7001",
            status="OPEN",
            lines=(
                StoreFulfillmentOrderLine(
                    id="FOL1",
                    line_item_id="L1",
                    total_quantity=1,
                    remaining_quantity=1,
                    variant_id="V1",
                    sku="TEE",
                ),
            ),
        )

    def add(
        self,
        store: Integration,
        status: InboxStatus,
        *,
        error: str | None = None,
        order: StoreOrder | None = None,
    ) -> InboxEvent:
        self.clock.advance(timedelta(seconds=1))
        ctx = self.services.ctx
        event = InboxEvent(
            id=ctx.ids.new_id(),
            platform="shopify",
            topic="orders/updated",
            delivery_id=f"reconcile:{ctx.ids.new_id()}",
            received_at=self.clock.now(),
            next_attempt_at=self.clock.now(),
            payload=dump_order(order or self.order),
            integration_id=store.id,
            shop_domain=store.shop_domain,
            source="reconcile",
            status=status,
            attempts=8 if status == "dead" else 1,
            error=error,
        )
        with ctx.uow() as uow:
            uow.inbox.add(event)
            uow.commit()
        return event

    def status(self, event: InboxEvent) -> str:
        with self.services.ctx.uow() as uow:
            found = uow.inbox.get(event.id)
        assert found is not None
        return found.status


@pytest.fixture
def stores(services: Services, people: People) -> Stores:
    return Stores(services, people)


@pytest.fixture
def owner(app: Flask, people: People) -> tuple[FlaskClient, str]:
    return _sign_in(app, "owner@acme.test")


@pytest.fixture
def member(app: Flask, people: People) -> tuple[FlaskClient, str]:
    return _sign_in(app, "member@acme.test")


@pytest.fixture
def outsider(app: Flask, people: People) -> tuple[FlaskClient, str]:
    return _sign_in(app, "owner@globex.test")


# --- the list --------------------------------------------------------------------------------


def test_each_event_links_its_order_by_number_and_only_retryable_ones_offer_retry(
    stores: Stores, owner: tuple[FlaskClient, str]
) -> None:
    browser, _ = owner
    response = browser.get(EVENTS)
    assert response.status_code == 200
    rows = _rows(response)
    assert list(rows) == [stores.dead.id, stores.off.id, stores.up_to_date.id, stores.processed.id]
    number = stores.warehouse_order.number
    page = response.get_data(as_text=True)
    assert page.count(f'<a href="/portal/orders/{stores.warehouse_order.id}">{number}</a>') == 4
    retry = {event_id: "Retry" in row for event_id, row in rows.items()}
    assert retry == {
        stores.dead.id: True,
        stores.off.id: True,  # skipped for a reason that may have been fixed
        stores.up_to_date.id: False,  # retrying would skip it again
        stores.processed.id: False,
    }
    assert "globex" not in page


def test_an_event_whose_order_was_never_imported_shows_no_order_link(
    stores: Stores, owner: tuple[FlaskClient, str]
) -> None:
    unknown = stores.add(stores.acme, "failed", order=stores._store_order("999", "1999"))
    browser, _ = owner
    row = _rows(browser.get(EVENTS))[unknown.id]
    assert "/portal/orders/" not in row
    assert "failed" in row


def test_older_events_follow_the_cursor_a_page_at_a_time_without_repeats(
    stores: Stores, owner: tuple[FlaskClient, str]
) -> None:
    browser, _ = owner
    seen: list[str] = []
    url: str | None = f"{EVENTS}?per_page=3"
    pages = 0
    while url:
        response = browser.get(url)
        assert response.status_code == 200
        seen.extend(_rows(response))
        link = re.search(r'<a href="([^"]+)">Older events</a>', response.get_data(as_text=True))
        url = html.unescape(link.group(1)) if link else None
        pages += 1
        if pages > 1:
            assert "Newest events" in _text(response)
    assert pages == 2
    assert seen == [stores.dead.id, stores.off.id, stores.up_to_date.id, stores.processed.id]


def test_the_store_and_status_filters_narrow_the_list_and_carry_into_the_next_page(
    stores: Stores, owner: tuple[FlaskClient, str]
) -> None:
    browser, _ = owner
    skipped = browser.get(f"{EVENTS}?integration={stores.acme.id}&status=skipped&per_page=1")
    assert list(_rows(skipped)) == [stores.off.id]
    link = re.search(r'<a href="([^"]+)">Older events</a>', skipped.get_data(as_text=True))
    assert link
    older = browser.get(html.unescape(link.group(1)))
    assert list(_rows(older)) == [stores.up_to_date.id]
    assert "No events with status processing." in _text(browser.get(f"{EVENTS}?status=processing"))


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("status=bogus", "not one the events page knows"),
        ("cursor=garbage", "That page link is broken or out of date"),
        ("cursor=2026-01-01T00:00:00%7C", "That page link is broken or out of date"),
        ("cursor=" + "x" * 400, "That page link is broken or out of date"),
        ("per_page=0", "Rows per page must be a whole number"),
        ("per_page=abc", "Rows per page must be a whole number"),
    ],
)
def test_a_bad_query_shows_the_newest_events_with_an_inline_error(
    stores: Stores, owner: tuple[FlaskClient, str], query: str, says: str
) -> None:
    browser, _ = owner
    response = browser.get(f"{EVENTS}?{query}")
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert says in _text(response)
    assert stores.dead.id in _rows(response)


def test_another_clients_store_or_event_is_a_404_page(
    stores: Stores, owner: tuple[FlaskClient, str]
) -> None:
    browser, _ = owner
    for url in (f"{EVENTS}?integration={stores.globex.id}", f"{EVENTS}?event={stores.foreign.id}"):
        response = browser.get(url)
        assert response.status_code == 404
        assert response.mimetype == "text/html"
        assert "globex secret" not in response.get_data(as_text=True)


def test_one_event_opens_alone_as_an_alert_links_it(
    stores: Stores, owner: tuple[FlaskClient, str]
) -> None:
    browser, _ = owner
    response = browser.get(f"{EVENTS}?event={stores.dead.id}")
    assert list(_rows(response)) == [stores.dead.id]
    assert "Show all events" in _text(response)


# --- retrying --------------------------------------------------------------------------------


def _retry(
    browser: FlaskClient, token: str | None, event: InboxEvent, **extra: Any
) -> TestResponse:
    form = {"event_id": event.id, **extra}
    if token is not None:
        form["csrf_token"] = token
    return browser.post(RETRY, data=form)


def test_retrying_queues_the_event_and_comes_back_to_the_same_filters(
    stores: Stores, owner: tuple[FlaskClient, str]
) -> None:
    browser, token = owner
    response = _retry(
        browser,
        token,
        stores.dead,
        filter_integration=stores.acme.id,
        filter_status="dead",
        filter_per_page="3",
    )
    assert _landing(response) == (
        EVENTS,
        {
            "integration": [stores.acme.id],
            "status": ["dead"],
            "per_page": ["3"],
            "message": ["event_retried"],
        },
    )
    assert stores.status(stores.dead) == "received"
    after = browser.get(response.headers["Location"])
    assert "The event is queued to run again." in _text(after)


def test_a_stale_retry_of_an_event_that_cannot_be_retried_shows_an_inline_error(
    stores: Stores, owner: tuple[FlaskClient, str]
) -> None:
    browser, token = owner
    for event in (stores.processed, stores.up_to_date):
        response = _retry(browser, token, event)
        assert _landing(response) == (EVENTS, {"error": ["not_retryable"]})
        assert stores.status(event) in ("processed", "skipped")
        page = browser.get(response.headers["Location"])
        assert page.status_code == 200
        assert "That event cannot be retried" in _text(page)


def test_a_member_sees_no_retry_and_retrying_is_a_403_page(
    stores: Stores, member: tuple[FlaskClient, str]
) -> None:
    browser, token = member
    page = browser.get(EVENTS).get_data(as_text=True)
    assert stores.dead.id in page
    assert ">Retry</button>" not in page
    response = _retry(browser, token, stores.dead)
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert stores.status(stores.dead) == "dead"


def test_retrying_another_clients_event_is_a_404_page(
    stores: Stores, outsider: tuple[FlaskClient, str]
) -> None:
    browser, token = outsider
    response = _retry(browser, token, stores.dead)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert stores.status(stores.dead) == "dead"


def test_retrying_without_the_sessions_csrf_token_is_refused(
    stores: Stores, owner: tuple[FlaskClient, str]
) -> None:
    browser, token = owner
    for sent in (None, "x" + token):
        response = _retry(browser, sent, stores.dead)
        assert response.status_code == 403
        assert "csrf_failed" in response.get_data(as_text=True)
    assert stores.status(stores.dead) == "dead"


def test_staff_see_and_retry_every_clients_events(
    app: Flask, stores: Stores, people: People
) -> None:
    browser, token = _sign_in(app, "staff@3pl.test")
    rows = _rows(browser.get(EVENTS))
    assert stores.foreign.id in rows
    assert "Retry" in rows[stores.foreign.id]
    assert _landing(_retry(browser, token, stores.foreign))[1]["message"] == ["event_retried"]
    assert stores.status(stores.foreign) == "received"
