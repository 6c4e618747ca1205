"""The alerts inbox page: each user sees their client's alerts (staff everyone's), filtered
and paged, linked to what they concern; staff and a client's owner or admin acknowledge and
resolve them with the session's CSRF token; bad filters show an inline error, never a crash."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from adapters.system import ManualClock
from core.model import Alert, Integration
from core.services import raise_alert
from entrypoints.bootstrap import Services
from tests.unit.web.conftest import People

INBOX = "/portal/alerts"


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


class Inbox:
    """Acme's store with an open alert about an order and its event, an acknowledged and a
    resolved one; Globex's store with an open alert; one warehouse alert of no client."""

    def __init__(self, services: Services, people: People) -> None:
        self.services = services
        clock = services.ctx.clock
        assert isinstance(clock, ManualClock)
        self.clock = clock
        self.acme_store = self._store(people.acme.id, "acme.myshopify.com")
        self.globex_store = self._store(people.globex.id, "globex.myshopify.com")
        self.held = self.add(
            people.acme.id,
            "order_on_hold",
            "Order SH-1001 is on hold: a line is not mapped",
            integration=self.acme_store,
            order_id="order-1",
            event_id="event-1",
        )
        self.seen = self.add(people.acme.id, "store_auth_failed", "Acme seen trouble")
        self.clock.advance(timedelta(seconds=1))
        with services.ctx.uow() as uow:
            seen = uow.alerts.get(self.seen.id)
            assert seen is not None
            seen.acknowledged_at = self.clock.now()
            uow.alerts.update(seen)
            uow.commit()
        self.done = self.add(people.acme.id, "queue_item_dead", "Acme old trouble")
        with services.ctx.uow() as uow:
            uow.alerts.resolve(self.done.id, self.clock.now())
            uow.commit()
        self.foreign = self.add(
            people.globex.id,
            "order_on_hold",
            "Globex secret trouble",
            integration=self.globex_store,
        )
        self.warehouse = self.add(None, "queue_item_dead", "Worker command died")

    def _store(self, client_id: str, shop: str) -> Integration:
        now = self.clock.now()
        integration = Integration(
            id=self.services.ctx.ids.new_id(),
            client_id=client_id,
            platform="shopify",
            shop_domain=shop,
            created_at=now,
            updated_at=now,
            status="active",
        )
        with self.services.ctx.uow() as uow:
            uow.integrations.add(integration)
            uow.commit()
        return integration

    def add(
        self,
        client_id: str | None,
        code: str,
        message: str,
        *,
        integration: Integration | None = None,
        order_id: str | None = None,
        event_id: str | None = None,
    ) -> Alert:
        self.clock.advance(timedelta(minutes=1))
        ctx = self.services.ctx
        with ctx.uow() as uow:
            alert = raise_alert(
                uow,
                ctx,
                severity="warning",
                code=code,
                message=message,
                client_id=client_id,
                integration_id=integration.id if integration else None,
                order_id=order_id,
                event_id=event_id,
            )
            uow.commit()
        return alert

    def status(self, alert: Alert) -> str:
        with self.services.ctx.uow() as uow:
            found = uow.alerts.get(alert.id)
        assert found is not None
        return found.status


@pytest.fixture
def inbox(services: Services, people: People) -> Inbox:
    return Inbox(services, people)


@pytest.fixture
def owner(app: Flask, people: People) -> tuple[FlaskClient, str]:
    return _sign_in(app, "owner@acme.test")


@pytest.fixture
def member(app: Flask, people: People) -> tuple[FlaskClient, str]:
    return _sign_in(app, "member@acme.test")


@pytest.fixture
def outsider(app: Flask, people: People) -> tuple[FlaskClient, str]:
    return _sign_in(app, "owner@globex.test")


@pytest.fixture
def staff(app: Flask, people: People) -> tuple[FlaskClient, str]:
    return _sign_in(app, "staff@3pl.test")


# --- what each user sees ------------------------------------------------------------------------


def test_the_inbox_shows_the_clients_unresolved_alerts_newest_first_with_links(
    inbox: Inbox, owner: tuple[FlaskClient, str]
) -> None:
    browser, _ = owner
    response = browser.get(INBOX)
    assert response.status_code == 200
    text = _text(response)
    assert "Acme seen trouble" in text
    assert "Order SH-1001 is on hold" in text
    assert text.index("Acme seen trouble") < text.index("Order SH-1001 is on hold")
    assert "Acme old trouble" not in text  # resolved: not in the default view
    assert "Globex" not in text
    assert "Worker command died" not in text  # no client's: staff only
    page = response.get_data(as_text=True)
    assert 'href="/portal/orders/order-1"' in page
    assert f'href="/portal/settings/integrations#store-{inbox.acme_store.id}"' in page
    assert 'href="/portal/events?event=event-1"' in page


def test_staff_see_every_clients_alerts_and_filter_by_client(
    inbox: Inbox, people: People, staff: tuple[FlaskClient, str]
) -> None:
    browser, _ = staff
    everything = _text(browser.get(INBOX))
    for message in ("Order SH-1001", "Acme seen trouble", "Globex secret", "Worker command died"):
        assert message in everything
    globex = _text(browser.get(f"{INBOX}?client={people.globex.id}"))
    assert "Globex secret trouble" in globex
    assert "Acme" not in globex.split("Raised")[1]  # past the filter form's client names


def test_the_filters_pick_status_store_and_kind(
    inbox: Inbox, owner: tuple[FlaskClient, str]
) -> None:
    browser, _ = owner
    resolved = _text(browser.get(f"{INBOX}?status=resolved"))
    assert "Acme old trouble" in resolved
    assert "Acme seen trouble" not in resolved
    open_only = _text(browser.get(f"{INBOX}?status=open"))
    assert "Order SH-1001" in open_only
    assert "Acme seen trouble" not in open_only
    every = _text(browser.get(f"{INBOX}?status=all"))
    assert all(m in every for m in ("Order SH-1001", "Acme seen", "Acme old"))
    store = _text(browser.get(f"{INBOX}?integration={inbox.acme_store.id}"))
    assert "Order SH-1001" in store
    assert "Acme seen trouble" not in store  # about no store
    kind = _text(browser.get(f"{INBOX}?kind=store_auth_failed"))
    assert "Acme seen trouble" in kind
    assert "Order SH-1001" not in kind


def test_another_clients_store_as_a_filter_is_a_404_page(
    inbox: Inbox, owner: tuple[FlaskClient, str]
) -> None:
    browser, _ = owner
    response = browser.get(f"{INBOX}?integration={inbox.globex_store.id}")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Globex secret" not in response.get_data(as_text=True)


def test_with_nothing_open_the_inbox_says_so_and_what_to_do_next(
    app: Flask, people: People, services: Services
) -> None:
    browser, _ = _sign_in(app, "owner@globex.test")
    text = _text(browser.get(INBOX))
    assert "No open alerts — nothing needs you now." in text
    assert "resolved alerts" in text
    filtered = _text(browser.get(f"{INBOX}?kind=order_on_hold"))
    assert "No alerts match these filters. Show every open alert" in filtered


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("status=bogus", "not one the alerts inbox knows"),
        ("kind=%27%3B+DROP+TABLE", "A kind is a lower-case code"),
        ("page=abc", "That page number is not valid"),
        ("page=-1", "That page number is not valid"),
        ("per_page=0", "Rows per page must be a whole number"),
        ("per_page=99999999999999999999", "Rows per page must be a whole number"),
    ],
)
def test_a_bad_filter_shows_the_inbox_with_an_inline_error(
    inbox: Inbox, owner: tuple[FlaskClient, str], query: str, says: str
) -> None:
    browser, _ = owner
    response = browser.get(f"{INBOX}?{query}")
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    text = _text(response)
    assert says in text
    assert "Order SH-1001" in text  # the default view, shown below the error


def test_open_and_acknowledged_alerts_page_newest_first_without_gaps_or_repeats(
    inbox: Inbox, people: People, owner: tuple[FlaskClient, str]
) -> None:
    made = [
        inbox.add(people.acme.id, "inventory_sync_problem", f"Problem number {n:02d}")
        for n in range(7)
    ]
    with inbox.services.ctx.uow() as uow:
        for alert in made[::2]:
            found = uow.alerts.get(alert.id)
            assert found is not None
            found.acknowledged_at = inbox.clock.now()
            uow.alerts.update(found)
        uow.commit()
    browser, _ = owner
    seen: list[str] = []
    url: str | None = f"{INBOX}?kind=inventory_sync_problem&per_page=3"
    while url:
        response = browser.get(url)
        page = response.get_data(as_text=True)
        seen.extend(re.findall(r"Problem number (\d\d)", page))
        link = re.search(r'<a href="([^"]+)">Next page</a>', page)
        url = html.unescape(link.group(1)) if link else None
    assert seen == [f"{n:02d}" for n in reversed(range(7))]


# --- acknowledging and resolving ----------------------------------------------------------------


def test_an_owner_acknowledges_then_resolves_and_is_sent_back_with_the_filters(
    inbox: Inbox, owner: tuple[FlaskClient, str]
) -> None:
    browser, token = owner
    page = browser.get(INBOX).get_data(as_text=True)
    assert page.count(">Acknowledge</button>") == 1  # the open one; the other is acknowledged
    assert page.count(">Resolve</button>") == 2
    acked = browser.post(
        f"{INBOX}/acknowledge",
        data={"csrf_token": token, "alert_id": inbox.held.id, "filter_kind": "order_on_hold"},
    )
    assert _landing(acked) == (
        INBOX,
        {"kind": ["order_on_hold"], "message": ["alert_acknowledged"]},
    )
    assert inbox.status(inbox.held) == "acknowledged"
    after = _text(browser.get(acked.headers["Location"]))
    assert "The alert is acknowledged" in after
    assert "Order SH-1001 is on hold" in after  # still to do: shown until resolved
    resolved = browser.post(
        f"{INBOX}/resolve", data={"csrf_token": token, "alert_id": inbox.held.id}
    )
    assert _landing(resolved) == (INBOX, {"message": ["alert_resolved"]})
    assert inbox.status(inbox.held) == "resolved"
    assert "Order SH-1001" not in _text(browser.get(INBOX))
    stale = browser.post(f"{INBOX}/resolve", data={"csrf_token": token, "alert_id": inbox.held.id})
    assert _landing(stale) == (INBOX, {"error": ["alert_already_resolved"]})
    assert "That alert was already resolved" in _text(browser.get(stale.headers["Location"]))


def test_staff_act_on_any_clients_alert_and_on_the_warehouses_own(
    inbox: Inbox, staff: tuple[FlaskClient, str]
) -> None:
    browser, token = staff
    for alert in (inbox.foreign, inbox.warehouse):
        response = browser.post(
            f"{INBOX}/resolve", data={"csrf_token": token, "alert_id": alert.id}
        )
        assert _landing(response)[1]["message"] == ["alert_resolved"]
        assert inbox.status(alert) == "resolved"


def test_a_member_sees_the_alerts_without_buttons_and_acting_is_a_403_page(
    inbox: Inbox, member: tuple[FlaskClient, str]
) -> None:
    browser, token = member
    page = browser.get(INBOX).get_data(as_text=True)
    assert "Order SH-1001 is on hold" in page
    assert f'action="{INBOX}/' not in page
    assert "<button" not in page.split("<table>")[1]
    for action in ("acknowledge", "resolve"):
        response = browser.post(
            f"{INBOX}/{action}", data={"csrf_token": token, "alert_id": inbox.held.id}
        )
        assert response.status_code == 403
        assert response.mimetype == "text/html"
    assert inbox.status(inbox.held) == "open"


def test_another_clients_alert_is_a_404_page_and_unchanged(
    inbox: Inbox, outsider: tuple[FlaskClient, str]
) -> None:
    browser, token = outsider
    assert "Order SH-1001" not in _text(browser.get(INBOX))
    for action in ("acknowledge", "resolve"):
        for alert in (inbox.held, inbox.warehouse):
            response = browser.post(
                f"{INBOX}/{action}", data={"csrf_token": token, "alert_id": alert.id}
            )
            assert response.status_code == 404
            assert response.mimetype == "text/html"
    assert inbox.status(inbox.held) == "open"
    assert inbox.status(inbox.warehouse) == "open"


def test_acting_without_the_sessions_csrf_token_is_refused_and_changes_nothing(
    inbox: Inbox, owner: tuple[FlaskClient, str]
) -> None:
    browser, token = owner
    for action in ("acknowledge", "resolve"):
        for sent in ({}, {"csrf_token": "x" + token}):
            response = browser.post(f"{INBOX}/{action}", data={"alert_id": inbox.held.id, **sent})
            assert response.status_code == 403
            assert "csrf_failed" in response.get_data(as_text=True)
    assert inbox.status(inbox.held) == "open"


def test_an_alert_id_that_is_missing_is_a_404_page(
    inbox: Inbox, owner: tuple[FlaskClient, str]
) -> None:
    browser, token = owner
    response = browser.post(f"{INBOX}/resolve", data={"csrf_token": token, "alert_id": "nope"})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    empty = browser.post(f"{INBOX}/resolve", data={"csrf_token": token})
    assert empty.status_code == 302  # a form without its alert goes back with a message
    assert "error=missing_field" in empty.headers["Location"]


# --- the staff health page ---------------------------------------------------------------------


def test_staff_health_links_each_stores_open_alerts_to_the_filtered_inbox(
    inbox: Inbox, staff: tuple[FlaskClient, str]
) -> None:
    browser, _ = staff
    page = browser.get("/staff/health").get_data(as_text=True)
    link = f'<a href="/portal/alerts?integration={inbox.acme_store.id}">1</a>'
    assert link in page
    assert 'href="/portal/alerts"' in page
    filtered = _text(browser.get(f"{INBOX}?integration={inbox.acme_store.id}"))
    assert "Order SH-1001 is on hold" in filtered
    assert "Globex" not in filtered.split("Raised")[1]
