"""The portal's pages: a store's products and mappings, its locations, its webhook events, the
integrations list with its actions, and the staff pages. Pages show what the state holds;
forms change it only for the right user, with the session's CSRF token."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from adapters.crypto import generate_key_spec
from adapters.memory import MemoryDatabase, MemoryUnitOfWork
from adapters.passwords import TEST_PARAMETERS, Argon2PasswordHasher
from adapters.ratelimit import LimitsRateLimiter
from adapters.shopify.sandbox import SandboxConfig, SandboxServer
from adapters.system import ManualClock, UuidIdGenerator
from core.errors import PlatformUnavailable
from core.model import (
    CatalogVariant,
    InboxEvent,
    InboxStatus,
    Integration,
    InventoryPushState,
    Job,
    LocationMapping,
    ProductMapping,
)
from core.services import SYSTEM, mapping, orders
from core.services import stock as stock_services
from core.services.integrations import seal, session_for
from core.services.orders import NewItem
from core.services.worker import Handlers, JobOutcome, JobRunner, Progress, Worker
from core.store import Credentials
from entrypoints.bootstrap import Services, bootstrap
from entrypoints.settings import Settings
from entrypoints.web import create_app
from tests.unit.web.conftest import People

PORTAL = "/portal/settings/integrations"
PRODUCTS = f"{PORTAL}/shopify/products"
LOCATIONS = f"{PORTAL}/shopify/locations"


class Shop:
    """Acme's Shopify store as the pages find it: three catalog variants (one mapped), two
    store locations, two warehouses, Acme's products, and webhook events in several states."""

    def __init__(self, services: Services, people: People) -> None:
        self.services = services
        ctx = services.ctx
        self.main = stock_services.create_warehouse(ctx, SYSTEM, code="MAIN", name="Main hall")
        self.east = stock_services.create_warehouse(ctx, SYSTEM, code="EAST", name="East dock")
        acme = people.acme.id
        self.tee = stock_services.create_product(
            ctx, SYSTEM, client_id=acme, sku="TEE-RED", name="Red tee"
        )
        self.mug = stock_services.create_product(
            ctx, SYSTEM, client_id=acme, sku="MUG-1", name="Big mug", barcode="4006381333931"
        )
        self.poster = stock_services.create_product(
            ctx, SYSTEM, client_id=acme, sku="POSTER-A2", name="Poster"
        )
        self.foreign = stock_services.create_product(
            ctx, SYSTEM, client_id=people.globex.id, sku="GLOBEX-1", name="Globex gadget"
        )
        self.integration = self.add_integration(acme, "acme.myshopify.com", connected=True)
        now = ctx.clock.now()
        with ctx.uow() as uow:
            uow.catalog.upsert(
                [
                    CatalogVariant(
                        integration_id=self.integration.id,
                        external_variant_id="101",
                        loaded_at=now,
                        external_inventory_item_id="9101",
                        sku="TEE-RED",
                        title="Red / M",
                        product_title="Classic tee",
                    ),
                    CatalogVariant(
                        integration_id=self.integration.id,
                        external_variant_id="102",
                        loaded_at=now,
                        sku="mug-1",
                        barcode="4006381333931",
                        title="Default",
                        product_title="Enamel mug",
                    ),
                    CatalogVariant(
                        integration_id=self.integration.id,
                        external_variant_id="103",
                        loaded_at=now,
                        title="A2",
                        product_title="Harbour poster",
                    ),
                ]
            )
            self.shop_front = LocationMapping(
                id=ctx.ids.new_id(),
                integration_id=self.integration.id,
                external_location_id="7001",
                name="Shop front",
                warehouse_id=self.main.id,
                is_default=True,
            )
            self.pop_up = LocationMapping(
                id=ctx.ids.new_id(),
                integration_id=self.integration.id,
                external_location_id="7002",
                name="Pop-up stall",
            )
            uow.locations.add(self.shop_front)
            uow.locations.add(self.pop_up)
            uow.commit()
        self.tee_mapping = mapping.map_variant(
            ctx, SYSTEM, self.integration.id, external_variant_id="101", product_id=self.tee.id
        )
        self.dead = self.add_event("d-dead", "dead", error="order_not_found: no such order")
        self.done = self.add_event("d-done", "processed", minutes=1)

    def jobs(self, integration_id: str | None = None) -> list[Job]:
        with self.services.ctx.uow() as uow:
            return uow.jobs.list(integration_id or self.integration.id)

    def add_integration(self, client_id: str, shop: str, *, connected: bool) -> Integration:
        token = Credentials("shpat_x") if connected else None
        return _add_integration(self.services, client_id, shop, token)

    def add_event(
        self,
        delivery_id: str,
        status: InboxStatus,
        *,
        error: str | None = None,
        minutes: int = 0,
        integration_id: str | None = None,
    ) -> InboxEvent:
        when = self.services.ctx.clock.now() + timedelta(minutes=minutes)
        event = InboxEvent(
            id=self.services.ctx.ids.new_id(),
            platform="shopify",
            topic="orders/create",
            delivery_id=delivery_id,
            received_at=when,
            next_attempt_at=when,
            payload={"id": 1},
            integration_id=integration_id or self.integration.id,
            shop_domain="acme.myshopify.com",
            status=status,
            attempts=8 if status == "dead" else 1,
            error=error,
        )
        with self.services.ctx.uow() as uow:
            uow.inbox.add(event)
            uow.commit()
        return event

    # --- reading the state back ------------------------------------------------------------

    def mapping_of(self, variant_id: str) -> ProductMapping | None:
        with self.services.ctx.uow() as uow:
            return uow.mappings.get_by_variant(self.integration.id, variant_id)

    def location(self, location_id: str) -> LocationMapping:
        with self.services.ctx.uow() as uow:
            found = uow.locations.get(location_id)
        assert found is not None
        return found

    def event(self, event_id: str) -> InboxEvent:
        with self.services.ctx.uow() as uow:
            found = uow.inbox.get(event_id)
        assert found is not None
        return found

    def stored(self, integration_id: str | None = None) -> Integration:
        return _stored(self.services, integration_id or self.integration.id)


def _add_integration(
    services: Services, client_id: str, shop: str, credentials: Credentials | None
) -> Integration:
    """An active integration row, with sealed credentials when given (as connecting does)."""
    now = services.ctx.clock.now()
    integration = Integration(
        id=services.ctx.ids.new_id(),
        client_id=client_id,
        platform="shopify",
        shop_domain=shop,
        created_at=now,
        updated_at=now,
        status="active",
    )
    if credentials is not None:
        integration.credentials = seal(services.cipher, integration.id, credentials)
    with services.ctx.uow() as uow:
        uow.integrations.add(integration)
        uow.commit()
    return integration


def _stored(services: Services, integration_id: str) -> Integration:
    with services.ctx.uow() as uow:
        found = uow.integrations.peek(integration_id)
    assert found is not None
    return found


@pytest.fixture
def shop(services: Services, people: People) -> Shop:
    return Shop(services, people)


def _sign_in(app: Flask, email: str) -> tuple[FlaskClient, str]:
    """A browser signed in as ``email`` through the login form, and its session's CSRF token."""
    browser = app.test_client()
    form = browser.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert match, "the login form carries a CSRF token"
    answer = browser.post(
        "/login",
        data={"email": email, "password": "password-123", "csrf_token": match.group(1)},
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    token = browser.get("/api/me").get_json()["csrf_token"]
    assert isinstance(token, str)
    return browser, token


def _text(response: TestResponse) -> str:
    """The page's text with tags dropped and entities decoded, spaces squeezed."""
    raw = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(html.unescape(raw).split())


def _landing(response: TestResponse) -> tuple[str, dict[str, list[str]]]:
    assert response.status_code == 302, response.get_data(as_text=True)
    target = urlsplit(response.headers["Location"])
    return target.path, parse_qs(target.query)


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


# --- who may open the pages ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"{PRODUCTS}?integration=x",
        f"{LOCATIONS}?integration=x",
        "/portal/events",
        "/staff/orders",
        "/staff/health",
    ],
)
def test_a_page_sends_a_visitor_who_is_not_signed_in_to_the_login(
    web: FlaskClient, path: str
) -> None:
    response = web.get(path)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_another_clients_integration_is_a_404_page_on_every_page_and_form(
    shop: Shop, outsider: tuple[FlaskClient, str]
) -> None:
    browser, token = outsider
    store = shop.integration.id
    for path in (
        f"{PRODUCTS}?integration={store}",
        f"{LOCATIONS}?integration={store}",
        f"/portal/events?integration={store}",
    ):
        response = browser.get(path)
        assert response.status_code == 404, path
        assert response.mimetype == "text/html"
        assert "acme.myshopify.com" not in response.get_data(as_text=True)
    for path, form in [
        (f"{PRODUCTS}/map", {"external_variant_id": "102", "product_id": shop.mug.id}),
        (f"{PRODUCTS}/unmap", {"mapping_id": shop.tee_mapping.id}),
        (f"{PRODUCTS}/sync", {"mapping_id": shop.tee_mapping.id, "sync_inventory": "0"}),
        (f"{PRODUCTS}/auto-map", {}),
        (LOCATIONS, {"location_id": shop.pop_up.id, "warehouse_id": shop.east.id}),
        ("/portal/events/retry", {"event_id": shop.dead.id}),
        (f"{PORTAL}/disconnect", {"confirm": "1"}),
        (f"{PORTAL}/sync-orders", {}),
        (f"{PORTAL}/sync-inventory", {}),
        (f"{PRODUCTS}/refresh", {}),
    ]:
        response = browser.post(path, data={**form, "integration": store, "csrf_token": token})
        assert response.status_code == 404, path
    assert shop.mapping_of("102") is None
    assert shop.mapping_of("101") is not None
    assert shop.location(shop.pop_up.id).warehouse_id is None
    assert shop.event(shop.dead.id).status == "dead"
    assert shop.stored().status == "active"
    assert shop.jobs() == []


def test_an_unknown_integration_is_a_404_page(shop: Shop, owner: tuple[FlaskClient, str]) -> None:
    browser, _ = owner
    assert browser.get(f"{PRODUCTS}?integration=nope").status_code == 404
    assert browser.get(f"{LOCATIONS}?integration=nope").status_code == 404


def test_a_member_sees_the_pages_without_forms_and_every_change_is_403(
    shop: Shop, member: tuple[FlaskClient, str]
) -> None:
    browser, token = member
    store = shop.integration.id
    products = browser.get(f"{PRODUCTS}?integration={store}")
    assert products.status_code == 200
    assert "Classic tee" in _text(products)
    assert "Auto-map" not in _text(products)
    assert "Remove mapping" not in _text(products)
    locations = browser.get(f"{LOCATIONS}?integration={store}")
    assert "Shop front MAIN · Main hall on yes" in _text(locations)
    assert "<select" not in locations.get_data(as_text=True)
    events = browser.get("/portal/events")
    assert "order_not_found: no such order" in _text(events)
    assert "Retry" not in _text(events)
    integrations = browser.get(PORTAL)
    assert "Products" in _text(integrations)
    assert "Disconnect" not in _text(integrations)
    assert "Sync orders now" not in _text(integrations)
    assert "Push inventory now" not in _text(integrations)
    for path, form in [
        (f"{PRODUCTS}/map", {"external_variant_id": "102", "product_id": shop.mug.id}),
        (f"{PRODUCTS}/unmap", {"mapping_id": shop.tee_mapping.id}),
        (f"{PRODUCTS}/sync", {"mapping_id": shop.tee_mapping.id, "sync_inventory": "0"}),
        (f"{PRODUCTS}/auto-map", {}),
        (LOCATIONS, {"location_id": shop.pop_up.id, "warehouse_id": shop.east.id}),
        ("/portal/events/retry", {"event_id": shop.dead.id}),
        (f"{PORTAL}/disconnect", {"confirm": "1"}),
        (f"{PORTAL}/sync-orders", {}),
        (f"{PORTAL}/sync-inventory", {}),
        (f"{PRODUCTS}/refresh", {}),
    ]:
        response = browser.post(path, data={**form, "integration": store, "csrf_token": token})
        assert response.status_code == 403, path
        assert response.mimetype == "text/html"
    assert shop.mapping_of("102") is None
    tee = shop.mapping_of("101")
    assert tee is not None
    assert tee.sync_inventory
    assert shop.location(shop.pop_up.id).warehouse_id is None
    assert shop.event(shop.dead.id).status == "dead"
    assert shop.stored().status == "active"
    assert shop.jobs() == []


def test_a_form_without_the_sessions_csrf_token_is_refused_and_changes_nothing(
    shop: Shop, owner: tuple[FlaskClient, str]
) -> None:
    browser, token = owner
    store = shop.integration.id
    for path, form in [
        (f"{PRODUCTS}/map", {"external_variant_id": "102", "product_id": shop.mug.id}),
        (LOCATIONS, {"location_id": shop.pop_up.id, "warehouse_id": shop.east.id}),
        ("/portal/events/retry", {"event_id": shop.dead.id}),
        (f"{PORTAL}/disconnect", {"confirm": "1"}),
        (f"{PORTAL}/sync-orders", {}),
        (f"{PORTAL}/sync-inventory", {}),
        (f"{PRODUCTS}/refresh", {}),
    ]:
        for sent in ({}, {"csrf_token": "x" + token}):
            response = browser.post(path, data={**form, "integration": store, **sent})
            assert response.status_code == 403, path
            assert "csrf_failed" in response.get_data(as_text=True)
    assert shop.mapping_of("102") is None
    assert shop.location(shop.pop_up.id).warehouse_id is None
    assert shop.event(shop.dead.id).status == "dead"
    assert shop.stored().status == "active"
    assert shop.jobs() == []


# --- products and mappings -------------------------------------------------------------------


def test_the_products_page_shows_each_variant_with_its_mapping_and_a_form_for_the_rest(
    shop: Shop, owner: tuple[FlaskClient, str]
) -> None:
    browser, _ = owner
    response = browser.get(f"{PRODUCTS}?integration={shop.integration.id}")
    assert response.status_code == 200
    text = _text(response)
    assert "3 variant(s)" in text
    assert "Classic tee Red / M TEE-RED TEE-RED · Red tee on" in text
    assert "Enamel mug Default mug-1 4006381333931 not mapped" in text
    assert "Harbour poster A2 not mapped" in text
    page = response.get_data(as_text=True)
    assert page.count('action="/portal/settings/integrations/shopify/products/map"') == 2
    assert f'<option value="{shop.mug.id}">MUG-1 · Big mug</option>' in page
    assert shop.foreign.id not in page
    assert "Auto-map by SKU/barcode" in text
    assert "Stop stock sync" in text


def test_the_products_page_shows_warehouse_stock_and_what_each_store_location_was_given(
    shop: Shop,
    services: Services,
    people: People,
    owner: tuple[FlaskClient, str],
    member: tuple[FlaskClient, str],
) -> None:
    ctx = services.ctx
    outlet = LocationMapping(
        id=ctx.ids.new_id(),
        integration_id=shop.integration.id,
        external_location_id="7003",
        name="Outlet",
        warehouse_id=shop.east.id,
    )
    with ctx.uow() as uow:
        uow.locations.add(outlet)
        uow.commit()
    for warehouse, quantity in ((shop.main, 10), (shop.east, 4)):
        stock_services.receive_stock(
            ctx, SYSTEM, warehouse_id=warehouse.id, quantity=quantity, product_id=shop.tee.id
        )
    orders.create_order(  # reserves 3 at MAIN: 7 left to sell
        ctx,
        SYSTEM,
        client_id=people.acme.id,
        warehouse_id=shop.main.id,
        items=[NewItem(quantity=3, product_id=shop.tee.id)],
    )
    mug = mapping.map_variant(
        ctx, SYSTEM, shop.integration.id, external_variant_id="102", product_id=shop.mug.id
    )
    mapping.set_mapping_sync(ctx, SYSTEM, shop.integration.id, mug.id, sync_inventory=False)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        uow.inventory.save_states(
            [
                InventoryPushState(
                    mapping_id=shop.tee_mapping.id,
                    location_id="7001",
                    integration_id=shop.integration.id,
                    quantity=6,
                    pushed_at=now,
                ),
                InventoryPushState(
                    mapping_id=shop.tee_mapping.id,
                    location_id="7003",
                    integration_id=shop.integration.id,
                    problem="the item is not stocked at this store location",
                    error_at=now,
                ),
                InventoryPushState(
                    mapping_id=mug.id,
                    location_id="7001",
                    integration_id=shop.integration.id,
                    quantity=2,
                    error="the store timed out",
                    error_at=now,
                ),
            ]
        )
        uow.commit()
    tee = (
        "Classic tee Red / M TEE-RED TEE-RED · Red tee on EAST: 4 MAIN: 7 "
        "Shop front: change waiting to be pushed · store: 6 · pushed 2026-01-01 00:00 "
        "Outlet: failed the item is not stocked at this store location"
    )
    mug_row = (
        "Enamel mug Default mug-1 4006381333931 MUG-1 · Big mug off EAST: 0 MAIN: 0 "
        "Shop front: not synced · store: 2 2026-01-01 00:00 the store timed out "
        "Outlet: not synced"
    )
    for browser, _ in (owner, member):
        text = _text(browser.get(f"{PRODUCTS}?integration={shop.integration.id}"))
        assert tee in text
        assert mug_row in text
        assert "Harbour poster A2 not mapped" in text
        assert "Pop-up stall" not in text  # no warehouse serves it: nothing is pushed there


def test_the_products_page_filters_unmapped_searches_and_pages(
    shop: Shop, owner: tuple[FlaskClient, str]
) -> None:
    browser, _ = owner
    base = f"{PRODUCTS}?integration={shop.integration.id}"
    unmapped = _text(browser.get(f"{base}&unmapped=1"))
    assert "2 variant(s) without a mapping" in unmapped
    assert "Classic tee" not in unmapped
    assert "Enamel mug" in unmapped
    searched = _text(browser.get(f"{base}&q=harbour"))
    assert "Harbour poster" in searched
    assert "Enamel mug" not in searched
    second = browser.get(f"{base}&per_page=2&page=2")
    assert "Page 2 of 2" in _text(second)
    assert "Harbour poster" in _text(second)
    assert "Classic tee" not in _text(second)
    assert "Previous page" in _text(second)
    assert browser.get(f"{base}&page=zero").status_code == 400


def test_the_products_page_without_an_integration_goes_back_to_the_list(
    owner: tuple[FlaskClient, str],
) -> None:
    browser, _ = owner
    assert _landing(browser.get(PRODUCTS))[0] == PORTAL
    assert _landing(browser.get(LOCATIONS))[0] == PORTAL


def test_an_owner_maps_a_variant_to_a_chosen_product_and_is_sent_back_with_the_filters(
    shop: Shop, owner: tuple[FlaskClient, str]
) -> None:
    browser, token = owner
    response = browser.post(
        f"{PRODUCTS}/map",
        data={
            "csrf_token": token,
            "integration": shop.integration.id,
            "external_variant_id": "102",
            "product_id": shop.mug.id,
            "q": "mug",
            "unmapped": "1",
        },
    )
    path, query = _landing(response)
    assert path == PRODUCTS
    assert query == {
        "integration": [shop.integration.id],
        "q": ["mug"],
        "unmapped": ["1"],
        "message": ["mapped"],
    }
    created = shop.mapping_of("102")
    assert created is not None
    assert (created.product_id, created.barcode) == (shop.mug.id, "4006381333931")
    after = browser.get(response.headers["Location"])
    assert "The variant is mapped to the product." in _text(after)
    assert "Enamel mug" not in _text(after)  # mapped now, so the unmapped filter hides it


def test_after_a_change_the_products_page_opens_on_the_same_page(
    shop: Shop, owner: tuple[FlaskClient, str]
) -> None:
    browser, token = owner
    response = browser.post(
        f"{PRODUCTS}/map",
        data={
            "csrf_token": token,
            "integration": shop.integration.id,
            "external_variant_id": "103",
            "sku": "POSTER-A2",
            "page": "3",
            "per_page": "1",
        },
    )
    query = _landing(response)[1]
    assert (query["page"], query["per_page"]) == (["3"], ["1"])
    after = _text(browser.get(response.headers["Location"]))
    assert "Page 3 of 3" in after
    assert "Harbour poster A2 POSTER-A2 · Poster on" in after


def test_an_owner_maps_a_variant_by_typing_the_sku_in_any_case(
    shop: Shop, owner: tuple[FlaskClient, str]
) -> None:
    browser, token = owner
    response = browser.post(
        f"{PRODUCTS}/map",
        data={
            "csrf_token": token,
            "integration": shop.integration.id,
            "external_variant_id": "103",
            "sku": " poster-a2 ",
        },
    )
    assert _landing(response)[1]["message"] == ["mapped"]
    created = shop.mapping_of("103")
    assert created is not None
    assert created.product_id == shop.poster.id


@pytest.mark.parametrize(
    ("form", "error", "text"),
    [
        ({"sku": "NO-SUCH"}, "unknown_sku", "No product of yours has that SKU."),
        ({}, "choose_product", "Choose a product or type its SKU."),
        ({"sku": "GLOBEX-1"}, "unknown_sku", "No product of yours has that SKU."),
        ({"product_id": "foreign"}, "mapping_target_missing", "no longer exists"),
    ],
)
def test_a_mapping_to_no_product_or_another_clients_product_changes_nothing(
    shop: Shop, owner: tuple[FlaskClient, str], form: dict[str, str], error: str, text: str
) -> None:
    browser, token = owner
    if form.get("product_id") == "foreign":
        form = {"product_id": shop.foreign.id}
    response = browser.post(
        f"{PRODUCTS}/map",
        data={
            "csrf_token": token,
            "integration": shop.integration.id,
            "external_variant_id": "103",
            **form,
        },
    )
    assert _landing(response)[1]["error"] == [error]
    assert shop.mapping_of("103") is None
    assert text in _text(browser.get(response.headers["Location"]))


def test_mapping_an_already_mapped_variant_says_so_and_keeps_the_first_mapping(
    shop: Shop, owner: tuple[FlaskClient, str]
) -> None:
    browser, token = owner
    response = browser.post(
        f"{PRODUCTS}/map",
        data={
            "csrf_token": token,
            "integration": shop.integration.id,
            "external_variant_id": "101",
            "product_id": shop.poster.id,
        },
    )
    assert _landing(response)[1]["error"] == ["already_mapped"]
    kept = shop.mapping_of("101")
    assert kept is not None
    assert kept.product_id == shop.tee.id


def test_an_owner_turns_a_mappings_stock_sync_off_and_on_and_removes_it(
    shop: Shop, owner: tuple[FlaskClient, str]
) -> None:
    browser, token = owner
    form = {"csrf_token": token, "integration": shop.integration.id}
    mapping_id = shop.tee_mapping.id
    off = browser.post(f"{PRODUCTS}/sync", data={**form, "mapping_id": mapping_id})
    assert _landing(off)[1]["message"] == ["sync_off"]
    found = shop.mapping_of("101")
    assert found is not None
    assert not found.sync_inventory
    page = _text(browser.get(off.headers["Location"]))
    assert "no longer synced" in page
    assert "TEE-RED · Red tee off MAIN: 0 Shop front: not synced Sync stock" in page
    on = browser.post(
        f"{PRODUCTS}/sync", data={**form, "mapping_id": mapping_id, "sync_inventory": "1"}
    )
    assert _landing(on)[1]["message"] == ["sync_on"]
    found = shop.mapping_of("101")
    assert found is not None
    assert found.sync_inventory
    removed = browser.post(f"{PRODUCTS}/unmap", data={**form, "mapping_id": mapping_id})
    assert _landing(removed)[1]["message"] == ["unmapped"]
    assert shop.mapping_of("101") is None
    again = browser.post(f"{PRODUCTS}/unmap", data={**form, "mapping_id": mapping_id})
    assert _landing(again)[1]["error"] == ["mapping_missing"]


def test_auto_map_maps_by_sku_or_barcode_and_reports_the_counts(
    shop: Shop, owner: tuple[FlaskClient, str]
) -> None:
    browser, token = owner
    response = browser.post(
        f"{PRODUCTS}/auto-map", data={"csrf_token": token, "integration": shop.integration.id}
    )
    assert _landing(response)[1] == {
        "integration": [shop.integration.id],
        "message": ["auto_mapped"],
        "mapped": ["1"],
        "skipped": ["1"],
    }
    mug = shop.mapping_of("102")
    assert mug is not None
    assert mug.product_id == shop.mug.id
    assert shop.mapping_of("103") is None  # no SKU, no barcode: left for a person
    text = _text(browser.get(response.headers["Location"]))
    assert "Auto-map: 1 variant(s) mapped, 1 left for you to map." in text


def test_a_message_shows_only_fixed_texts_never_what_the_query_says(
    shop: Shop, owner: tuple[FlaskClient, str]
) -> None:
    browser, _ = owner
    base = f"{PRODUCTS}?integration={shop.integration.id}"
    page = browser.get(f"{base}&message=<script>alert(1)</script>&error=nope").get_data(
        as_text=True
    )
    assert "<script>alert" not in page
    assert 'role="status"' not in page
    assert 'role="alert"' not in page
    counted = _text(browser.get(f"{base}&message=auto_mapped&mapped=<b>&skipped=2"))
    assert "Auto-map: 0 variant(s) mapped, 2 left for you to map." in counted
    searched = browser.get(f"{base}&q=<b>x</b>").get_data(as_text=True)
    assert "<b>x</b>" not in searched
    assert "&lt;b&gt;x&lt;/b&gt;" in searched


# --- locations -------------------------------------------------------------------------------


def test_the_locations_page_offers_every_warehouse_for_each_store_location(
    shop: Shop, owner: tuple[FlaskClient, str]
) -> None:
    browser, _ = owner
    response = browser.get(f"{LOCATIONS}?integration={shop.integration.id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count("<select") == 2
    assert f'<option value="{shop.main.id}" selected>MAIN · Main hall</option>' in page
    assert f'<option value="{shop.east.id}" >EAST · East dock</option>' in page
    assert "Save Shop front" in _text(response)
    assert "Save Pop-up stall" in _text(response)
    assert page.count("checked") == 3  # both sync inventory, the shop front is the default


def test_saving_a_location_sets_its_warehouse_sync_and_makes_it_the_only_default(
    shop: Shop, owner: tuple[FlaskClient, str]
) -> None:
    browser, token = owner
    response = browser.post(
        LOCATIONS,
        data={
            "csrf_token": token,
            "integration": shop.integration.id,
            "location_id": shop.pop_up.id,
            "warehouse_id": shop.east.id,
            "is_default": "1",
        },
    )
    assert _landing(response) == (
        LOCATIONS,
        {"integration": [shop.integration.id], "message": ["location_saved"]},
    )
    pop_up = shop.location(shop.pop_up.id)
    assert (pop_up.warehouse_id, pop_up.sync_inventory, pop_up.is_default) == (
        shop.east.id,
        False,
        True,
    )
    assert not shop.location(shop.shop_front.id).is_default
    assert "The location is saved." in _text(browser.get(response.headers["Location"]))
    cleared = browser.post(
        LOCATIONS,
        data={
            "csrf_token": token,
            "integration": shop.integration.id,
            "location_id": shop.shop_front.id,
            "warehouse_id": "",
            "sync_inventory": "1",
        },
    )
    assert _landing(cleared)[1]["message"] == ["location_saved"]
    front = shop.location(shop.shop_front.id)
    assert (front.warehouse_id, front.sync_inventory, front.is_default) == (None, True, False)


def test_saving_a_location_with_an_unknown_warehouse_changes_nothing(
    shop: Shop, owner: tuple[FlaskClient, str]
) -> None:
    browser, token = owner
    response = browser.post(
        LOCATIONS,
        data={
            "csrf_token": token,
            "integration": shop.integration.id,
            "location_id": shop.pop_up.id,
            "warehouse_id": "no-such-warehouse",
        },
    )
    assert _landing(response)[1]["error"] == ["location_target_missing"]
    assert shop.location(shop.pop_up.id).warehouse_id is None


# --- events ----------------------------------------------------------------------------------


def test_the_events_page_lists_the_users_events_with_error_and_attempts(
    shop: Shop, services: Services, people: People, owner: tuple[FlaskClient, str]
) -> None:
    other = shop.add_integration(people.globex.id, "globex.myshopify.com", connected=True)
    shop.add_event("g-1", "failed", error="globex secret trouble", integration_id=other.id)
    browser, _ = owner
    text = _text(browser.get("/portal/events"))
    assert "acme.myshopify.com orders/create webhook processed 1 of 8" in text
    assert "acme.myshopify.com orders/create webhook dead 8 of 8 order_not_found" in text
    assert "globex" not in text
    assert text.count("Retry") == 1  # the dead one; a processed event cannot be retried
    dead_only = _text(browser.get(f"/portal/events?integration={shop.integration.id}&status=dead"))
    assert "dead 8 of 8" in dead_only
    assert "processed 1 of 8" not in dead_only
    assert browser.get("/portal/events?status=bogus").status_code == 400
    assert browser.get(f"/portal/events?integration={other.id}").status_code == 404


def test_retrying_a_dead_event_queues_it_again(shop: Shop, owner: tuple[FlaskClient, str]) -> None:
    browser, token = owner
    response = browser.post(
        "/portal/events/retry",
        data={
            "csrf_token": token,
            "integration": shop.integration.id,
            "event_id": shop.dead.id,
            "filter_status": "dead",
        },
    )
    assert _landing(response) == (
        "/portal/events",
        {"status": ["dead"], "message": ["event_retried"]},
    )
    event = shop.event(shop.dead.id)
    assert event.status == "received"
    assert event.max_attempts > event.attempts
    after = _text(browser.get(response.headers["Location"]))
    assert "The event is queued to run again." in after
    assert "No events with status dead." in after


def test_a_processed_event_or_another_stores_event_is_not_retried(
    shop: Shop, people: People, owner: tuple[FlaskClient, str]
) -> None:
    browser, token = owner
    form = {"csrf_token": token, "integration": shop.integration.id}
    processed = browser.post("/portal/events/retry", data={**form, "event_id": shop.done.id})
    assert _landing(processed)[1]["error"] == ["not_retryable"]
    assert shop.event(shop.done.id).status == "processed"
    second = shop.add_integration(people.acme.id, "acme-two.myshopify.com", connected=False)
    elsewhere = shop.add_event("x-1", "dead", integration_id=second.id)
    crossed = browser.post("/portal/events/retry", data={**form, "event_id": elsewhere.id})
    assert crossed.status_code == 404
    assert shop.event(elsewhere.id).status == "dead"


# --- the integrations list and its actions ----------------------------------------------------


def test_the_integrations_page_links_each_store_to_its_pages_and_offers_the_actions(
    shop: Shop, owner: tuple[FlaskClient, str]
) -> None:
    browser, _ = owner
    page = browser.get(PORTAL).get_data(as_text=True)
    store = shop.integration.id
    assert f'href="{PRODUCTS}?integration={store}"' in page
    assert f'href="{LOCATIONS}?integration={store}"' in page
    assert f'href="/portal/events?integration={store}"' in page
    assert 'action="/portal/settings/integrations/sync-orders"' in page
    assert 'action="/portal/settings/integrations/sync-inventory"' in page
    assert 'action="/portal/settings/integrations/disconnect"' in page
    assert "Yes, disconnect acme.myshopify.com" in page


def test_the_integrations_page_names_each_store_by_its_shop_name_and_domain(
    shop: Shop, owner: tuple[FlaskClient, str]
) -> None:
    with shop.services.ctx.uow() as uow:
        integration = uow.integrations.get(shop.integration.id)
        assert integration is not None
        integration.shop_name = "Acme Outdoor & Co"
        uow.integrations.update(integration)
        uow.commit()
    browser, _ = owner
    page = browser.get(PORTAL).get_data(as_text=True)
    assert ">Acme Outdoor &amp; Co</h2>" in page
    assert "acme.myshopify.com · Shopify" in page


def test_disconnecting_needs_the_confirmation_and_erases_the_tokens(
    shop: Shop, people: People, owner: tuple[FlaskClient, str]
) -> None:
    # no credentials: nothing to remove in the store, so no store call is made
    quiet = shop.add_integration(people.acme.id, "quiet.myshopify.com", connected=False)
    browser, token = owner
    form = {"csrf_token": token, "integration": quiet.id}
    unconfirmed = browser.post(f"{PORTAL}/disconnect", data=form)
    assert _landing(unconfirmed) == (PORTAL, {"error": ["confirm_disconnect"]})
    assert shop.stored(quiet.id).status == "active"
    done = browser.post(f"{PORTAL}/disconnect", data={**form, "confirm": "1"})
    assert _landing(done) == (PORTAL, {"message": ["disconnected"]})
    gone = shop.stored(quiet.id)
    assert (gone.status, gone.credentials) == ("disconnected", None)
    assert gone.disconnected_at is not None
    page = browser.get(done.headers["Location"])
    assert "The store is disconnected." in _text(page)
    assert "Yes, disconnect quiet.myshopify.com" not in _text(page)
    assert shop.stored().status == "active"


def _store_form(browser: FlaskClient, token: str, path: str, store: Integration) -> TestResponse:
    return browser.post(path, data={"csrf_token": token, "integration": store.id})


def _refreshes(response: TestResponse) -> bool:
    return '<meta http-equiv="refresh"' in response.get_data(as_text=True)


def _drain(services: Services, **runners: JobRunner) -> None:
    """Work the queues once through: the app's own job runners, or the ones given."""
    handlers = Handlers(jobs=runners) if runners else services.handlers
    Worker(services.ctx, handlers, worker_id="test").drain()


@pytest.mark.parametrize(
    ("path", "kind"),
    [(f"{PORTAL}/sync-orders", "order_sync"), (f"{PORTAL}/sync-inventory", "inventory_push")],
)
def test_sync_orders_and_push_inventory_now_queue_a_job_and_answer_at_once(
    shop: Shop, owner: tuple[FlaskClient, str], path: str, kind: str
) -> None:
    browser, token = owner
    response = _store_form(browser, token, path, shop.integration)
    store = shop.integration.id
    assert _landing(response) == (PORTAL, {"integration": [store], "message": [f"{kind}_queued"]})
    assert response.headers["Location"].endswith(f"#store-{store}")
    [job] = shop.jobs()
    assert (job.kind, job.status, job.progress) == (kind, "queued", {})
    page = browser.get(response.headers["Location"])
    title = "Order sync" if kind == "order_sync" else "Inventory push"
    assert f"{title} queued: " in _text(page)  # the message, in the store's box
    assert f"Latest work {title} queued 00:00, waiting for a worker." in _text(page)
    assert "This page refreshes by itself until the work is done." in _text(page)
    assert _refreshes(page)

    again = _store_form(browser, token, path, shop.integration)
    assert _landing(again) == (PORTAL, {"integration": [store], "message": ["job_pending"]})
    assert [j.id for j in shop.jobs()] == [job.id]  # the same job, not a second one
    assert "That is already queued or running" in _text(browser.get(again.headers["Location"]))


def test_the_integrations_page_shows_a_jobs_counts_as_they_move_then_what_it_did(
    shop: Shop, owner: tuple[FlaskClient, str], member: tuple[FlaskClient, str]
) -> None:
    browser, token = owner
    _store_form(browser, token, f"{PORTAL}/sync-orders", shop.integration)
    reader, _ = member  # a member reads the progress too
    seen: list[str] = []

    def sync(job: Job, progress: Progress) -> JobOutcome:
        progress({"read": 40, "imported": 3})
        seen.append(_text(reader.get(PORTAL)))
        return JobOutcome({"read": 50, "imported": 4, "updated": 1, "skipped": 45, "failed": 0})

    _drain(shop.services, order_sync=sync)
    assert "Order sync running since 00:00: 40 orders read, 3 imported so far." in seen[0]
    page = reader.get(PORTAL)
    assert (
        "Order sync done 2026-01-01 00:00: 50 orders read, 4 imported, 1 updated, "
        "45 unchanged, 0 failed." in _text(page)
    )
    assert not _refreshes(page)  # nothing pending: the page stays still
    assert "Sync orders now" not in _text(page)  # a member reads, never asks


def test_a_job_that_failed_shows_its_error_and_the_problems_of_one_that_carried_on(
    shop: Shop, owner: tuple[FlaskClient, str]
) -> None:
    browser, token = owner
    _store_form(browser, token, f"{PORTAL}/sync-orders", shop.integration)
    _store_form(browser, token, f"{PORTAL}/sync-inventory", shop.integration)

    def sync(job: Job, progress: Progress) -> JobOutcome:
        progress({"read": 10})
        raise PlatformUnavailable("Shopify answered 503", operation="Orders")

    def push(job: Job, progress: Progress) -> JobOutcome:
        problems = [f"TEE-{n}: location inactive" for n in range(5)]
        return JobOutcome({"levels_read": 7, "updated": 2, "unchanged": 0, "failed": 5}, problems)

    _drain(shop.services, order_sync=sync, inventory_push=push)
    page = _text(browser.get(PORTAL))
    assert (
        "Order sync failed 2026-01-01 00:00: platform_unavailable: Shopify answered 503 "
        "(before that: 10 orders read)." in page
    )
    assert (
        "Inventory push done 2026-01-01 00:00: 7 store levels read, 2 updated, 0 already right, "
        "5 not set. TEE-0: location inactive TEE-1: location inactive TEE-2: location inactive "
        "and 2 more" in page
    )


def test_syncing_orders_of_a_store_that_is_not_connected_says_so(
    shop: Shop, people: People, owner: tuple[FlaskClient, str]
) -> None:
    quiet = shop.add_integration(people.acme.id, "quiet.myshopify.com", connected=False)
    browser, token = owner
    response = _store_form(browser, token, f"{PORTAL}/sync-orders", quiet)
    assert _landing(response) == (PORTAL, {"integration": [quiet.id], "error": ["not_connected"]})
    assert "The store is not connected" in _text(browser.get(response.headers["Location"]))
    assert shop.jobs(quiet.id) == []


def test_pushing_inventory_now_runs_as_a_job_with_its_counts_and_when_the_store_was_synced(
    shop: Shop, people: People, owner: tuple[FlaskClient, str]
) -> None:
    # connected, but no location is served by a warehouse: the sync has nothing to send
    quiet = shop.add_integration(people.acme.id, "quiet.myshopify.com", connected=True)
    browser, token = owner
    before = _text(browser.get(PORTAL))
    assert (
        "quiet.myshopify.com · Shopify · status active Orders synced never Inventory synced never"
        in before
    )
    response = _store_form(browser, token, f"{PORTAL}/sync-inventory", quiet)
    assert _landing(response)[1]["message"] == ["inventory_push_queued"]
    assert shop.stored(quiet.id).inventory_synced_at is None  # nothing ran in the request
    _drain(shop.services)
    after = _text(browser.get(response.headers["Location"]))
    assert "Orders synced never Inventory synced 2026-01-01 00:00 Latest work" in after
    assert "Inventory push done 2026-01-01 00:00: 0 store levels read, 0 updated" in after
    assert shop.stored(quiet.id).inventory_synced_at == shop.services.ctx.clock.now()


def test_a_push_the_store_refuses_shows_on_the_job_and_the_syncs_error(
    shop: Shop, people: People, owner: tuple[FlaskClient, str]
) -> None:
    services = shop.services
    expired = Credentials("shpat_x", expires_at=datetime(2025, 12, 31, 23, 0, tzinfo=UTC))
    store = _add_integration(services, people.acme.id, "expired.myshopify.com", expired)
    with services.ctx.uow() as uow:  # a mapped variant at a served location: the sync must call
        uow.locations.add(
            LocationMapping(
                id=services.ctx.ids.new_id(),
                integration_id=store.id,
                external_location_id="8001",
                name="Front",
                warehouse_id=shop.main.id,
                is_default=True,
            )
        )
        uow.mappings.add(
            ProductMapping(
                id=services.ctx.ids.new_id(),
                integration_id=store.id,
                product_id=shop.tee.id,
                external_variant_id="201",
                created_at=services.ctx.clock.now(),
                external_inventory_item_id="9201",
            )
        )
        uow.commit()
    browser, token = owner
    response = _store_form(browser, token, f"{PORTAL}/sync-inventory", store)
    assert _landing(response)[1]["message"] == ["inventory_push_queued"]
    _drain(services)
    page = _text(browser.get(PORTAL))
    assert (
        "expired.myshopify.com · Shopify · status error Orders synced never Inventory synced "
        "never 2026-01-01 00:00: expired.myshopify.com: access token expired" in page
    )
    assert "Inventory push failed 2026-01-01 00:00: " in page


def test_pushing_inventory_of_a_store_that_is_not_connected_says_so(
    shop: Shop, people: People, owner: tuple[FlaskClient, str]
) -> None:
    quiet = shop.add_integration(people.acme.id, "quiet.myshopify.com", connected=False)
    browser, token = owner
    response = _store_form(browser, token, f"{PORTAL}/sync-inventory", quiet)
    assert _landing(response) == (PORTAL, {"integration": [quiet.id], "error": ["not_connected"]})
    page = _text(browser.get(response.headers["Location"]))
    assert "The store is not connected" in page
    assert "Push inventory now" not in page.split("quiet.myshopify.com")[1]
    assert shop.jobs(quiet.id) == []


def test_refresh_catalogue_queues_a_job_and_the_products_page_shows_it_through_to_done(
    shop: Shop, owner: tuple[FlaskClient, str], member: tuple[FlaskClient, str]
) -> None:
    browser, token = owner
    store = shop.integration.id
    products = f"{PRODUCTS}?integration={store}"
    assert "Refresh catalogue" in _text(browser.get(products))
    response = browser.post(
        f"{PRODUCTS}/refresh", data={"csrf_token": token, "integration": store, "q": "tee"}
    )
    assert _landing(response) == (
        PRODUCTS,
        {"integration": [store], "q": ["tee"], "message": ["catalogue_refresh_queued"]},
    )
    [job] = shop.jobs()
    assert (job.kind, job.status) == ("catalogue_refresh", "queued")
    page = browser.get(response.headers["Location"])
    assert "Catalogue refresh queued: " in _text(page)
    assert "Catalogue refresh queued 00:00, waiting for a worker." in _text(page)
    assert _refreshes(page)
    reader, _ = member
    seen: list[str] = []

    def refresh(job: Job, progress: Progress) -> JobOutcome:
        progress({"variants_read": 250})
        seen.append(_text(reader.get(products)))
        return JobOutcome({"variants_read": 300, "auto_mapped": 12, "not_mapped": 5})

    _drain(shop.services, catalogue_refresh=refresh)
    assert "Catalogue refresh running since 00:00: 250 variants read so far." in seen[0]
    assert "Refresh catalogue" not in seen[0]  # members read the progress, never ask
    done = browser.get(products)
    assert (
        "Catalogue refresh done 2026-01-01 00:00: 300 variants read, 12 auto-mapped, "
        "5 left to map." in _text(done)
    )
    assert not _refreshes(done)


def test_refreshing_the_catalogue_of_a_store_that_is_not_connected_says_so(
    shop: Shop, people: People, owner: tuple[FlaskClient, str]
) -> None:
    quiet = shop.add_integration(people.acme.id, "quiet.myshopify.com", connected=False)
    browser, token = owner
    assert "Refresh catalogue" not in _text(browser.get(f"{PRODUCTS}?integration={quiet.id}"))
    response = _store_form(browser, token, f"{PRODUCTS}/refresh", quiet)
    assert _landing(response) == (PRODUCTS, {"integration": [quiet.id], "error": ["not_connected"]})
    assert shop.jobs(quiet.id) == []


# --- staff -----------------------------------------------------------------------------------


def test_staff_health_shows_each_store_with_its_backlog_and_failures(
    shop: Shop, staff: tuple[FlaskClient, str]
) -> None:
    shop.add_event("d-new", "received", minutes=2)
    browser, _ = staff
    response = browser.get("/staff/health")
    assert response.status_code == 200
    text = _text(response)
    # backlog 1, failing 0, dead 1, received 3, error rate 1/3
    assert "acme.myshopify.com Acme active never never 1 0 1 3 33.3 %" in text


@pytest.mark.parametrize("path", ["/staff/orders", "/staff/health"])
def test_the_staff_pages_are_403_for_client_users(
    shop: Shop, owner: tuple[FlaskClient, str], path: str
) -> None:
    browser, _ = owner
    response = browser.get(path)
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert "acme.myshopify.com" not in response.get_data(as_text=True)


# --- against the simulated store ---------------------------------------------------------------

SHOP = "acme.myshopify.com"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(auto_approve=True)) as server:
        yield server


@pytest.fixture
def store_services(tmp_path: Path, sandbox: SandboxServer) -> Iterator[Services]:
    """The app's services on memory adapters, talking to the simulated store."""
    db = MemoryDatabase()
    settings = Settings(
        data_dir=tmp_path,
        secret_key="p" * 40,
        token_encryption_keys=generate_key_spec("k1"),
        shopify_client_id=sandbox.config.client_id,
        shopify_client_secret=sandbox.config.client_secret,
        shopify_shop_url_template=sandbox.shop_url_template,
    )
    built = bootstrap(
        settings,
        uow=lambda: MemoryUnitOfWork(db),
        clock=ManualClock(start=datetime.now(UTC)),
        ids=UuidIdGenerator(),
        passwords=Argon2PasswordHasher(parameters=TEST_PARAMETERS),
        rate_limiter=LimitsRateLimiter("memory://", prefix="portal-store"),
    )
    yield built
    built.close()


def test_an_owner_syncs_a_connected_stores_orders_now_and_then_disconnects_it(
    sandbox: SandboxServer, store_services: Services
) -> None:
    control = sandbox.control
    location = control.create_shop(SHOP, name="Acme")["primary_location_id"]
    control.create_product(
        SHOP, "Classic tee", [{"sku": "TEE-RED", "price": "10.00", "inventory": {location: 5}}]
    )
    token = control.issue_token(SHOP, store_services.settings.shopify_scopes, expiring=False)
    people = People(store_services)
    ctx = store_services.ctx
    warehouse = stock_services.create_warehouse(ctx, SYSTEM, code="MAIN", name="Main hall")
    stock_services.create_product(ctx, SYSTEM, client_id=people.acme.id, sku="TEE-RED", name="Tee")
    integration = _add_integration(
        store_services, people.acme.id, SHOP, Credentials(token["access_token"])
    )
    with ctx.uow() as uow:
        uow.locations.add(
            LocationMapping(
                id=ctx.ids.new_id(),
                integration_id=integration.id,
                external_location_id=str(location),
                name="Shop front",
                warehouse_id=warehouse.id,
                is_default=True,
            )
        )
        uow.commit()
    platform = store_services.platforms["shopify"]
    session = session_for(store_services.store, integration.id)
    ours = store_services.store.webhook_url(integration)
    platform.create_webhook_subscription(session, "orders/create", ours)
    assert [w["address"] for w in control.webhooks(SHOP)] == [ours]
    placed = control.place_order(SHOP, [{"sku": "TEE-RED", "quantity": 2}])

    browser, csrf = _sign_in(create_app(store_services, {"TESTING": True}), "owner@acme.test")
    form = {"csrf_token": csrf, "integration": integration.id}
    synced = browser.post(f"{PORTAL}/sync-orders", data=form)
    assert _landing(synced)[1]["message"] == ["order_sync_queued"]
    _drain(store_services)
    print("PAGE", _text(browser.get(PORTAL)))
    assert re.search(
        r"Order sync done [\d-]+ [\d:]+: 1 orders read, 1 imported, 0 updated, 0 unchanged, "
        r"0 failed\.",
        _text(browser.get(synced.headers["Location"])),
    )
    with ctx.uow() as uow:
        imported = uow.orders.get_by_external(integration.id, str(placed["id"]))
    assert imported is not None
    assert [(i.sku, i.quantity) for i in imported.items] == [("TEE-RED", 2)]

    gone = browser.post(f"{PORTAL}/disconnect", data={**form, "confirm": "1"})
    assert _landing(gone) == (PORTAL, {"message": ["disconnected"]})
    after = _stored(store_services, integration.id)
    assert (after.status, after.credentials, after.last_error) == ("disconnected", None, None)
    assert control.webhooks(SHOP) == []  # our subscription is removed from the store


def test_an_owner_pushes_inventory_now_and_the_store_shows_what_the_warehouse_can_ship(
    sandbox: SandboxServer, store_services: Services
) -> None:
    control = sandbox.control
    front = control.create_shop(SHOP, name="Acme")["primary_location_id"]
    outlet = control.create_location(SHOP, "Outlet")["id"]  # the tee is not stocked there
    control.create_product(
        SHOP, "Classic tee", [{"sku": "TEE-RED", "price": "10.00", "inventory": {front: 5}}]
    )
    token = control.issue_token(SHOP, store_services.settings.shopify_scopes, expiring=False)
    people = People(store_services)
    ctx = store_services.ctx
    warehouse = stock_services.create_warehouse(ctx, SYSTEM, code="MAIN", name="Main hall")
    tee = stock_services.create_product(
        ctx, SYSTEM, client_id=people.acme.id, sku="TEE-RED", name="Tee"
    )
    stock_services.receive_stock(
        ctx, SYSTEM, warehouse_id=warehouse.id, quantity=9, product_id=tee.id
    )
    orders.create_order(  # a manual order reserves 2: the store may sell 7
        ctx,
        SYSTEM,
        client_id=people.acme.id,
        warehouse_id=warehouse.id,
        items=[NewItem(quantity=2, product_id=tee.id)],
    )
    integration = _add_integration(
        store_services, people.acme.id, SHOP, Credentials(token["access_token"])
    )
    with ctx.uow() as uow:
        for location_id, name in ((front, "Shop front"), (outlet, "Outlet")):
            uow.locations.add(
                LocationMapping(
                    id=ctx.ids.new_id(),
                    integration_id=integration.id,
                    external_location_id=str(location_id),
                    name=name,
                    warehouse_id=warehouse.id,
                    is_default=location_id == front,
                )
            )
        uow.commit()
    mapping.refresh_catalog(store_services.store, integration.id)
    assert mapping.auto_map(ctx, integration.id).mapped == 1
    app = create_app(store_services, {"TESTING": True})
    api = app.test_client()
    owner = {"Authorization": f"Bearer {people.tokens['owner@acme']}"}
    path = f"/api/integrations/shopify/{integration.id}/sync-inventory"

    first = api.post(path, headers=owner)
    assert first.status_code == 202, first.get_data(as_text=True)
    Worker(store_services.ctx, store_services.handlers, worker_id="test").drain()
    job = api.get(first.headers["Location"], headers=owner).get_json()["job"]
    assert (job["status"], job["progress"]["updated"], job["progress"]["failed"]) == ("done", 1, 1)
    assert control.inventory_level(SHOP, location_id=front, sku="TEE-RED")["on_hand"] == 7

    browser, csrf = _sign_in(app, "owner@acme.test")
    pushed = browser.post(
        f"{PORTAL}/sync-inventory", data={"csrf_token": csrf, "integration": integration.id}
    )
    assert _landing(pushed)[1]["message"] == ["inventory_push_queued"]
    _drain(store_services)
    print("PAGE", _text(browser.get(PORTAL)))
    assert re.search(
        r"Inventory push done [\d-]+ [\d:]+: 1 store levels read, 0 updated, 1 already right, "
        r"1 not set\. TEE-RED at Outlet: the item is not stocked at this store location",
        _text(browser.get(pushed.headers["Location"])),
    )
    when = ctx.clock.now().strftime("%Y-%m-%d %H:%M")
    products = _text(browser.get(f"{PRODUCTS}?integration={integration.id}"))
    assert f"MAIN: 7 Shop front: in sync · store: 7 · pushed {when} Outlet: failed" in products
    assert "the item is not stocked at this store location" in products
