"""The portal's shell: signing in, error pages, security headers, forms that go back to their
page with a message, and the integrations page (connect, reconnect, settings, setup progress).
Pages never show raw JSON or a stack trace; the API keeps answering JSON."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta
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
from core.model import Integration, IntegrationSettings, OutboxCommand
from core.services.connect import SETUP_COMMAND
from entrypoints.bootstrap import Services, bootstrap
from entrypoints.settings import Settings
from entrypoints.web import create_app
from entrypoints.web.api_integrations import OAUTH_COOKIE
from tests.unit.web.conftest import People, login_form_token, sign_in

PORTAL = "/portal/settings/integrations"
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(random_seed=3)) as server:
        server.control.create_shop("acme.myshopify.com", name="Acme")
        yield server


@pytest.fixture
def settings(tmp_path: Path, sandbox: SandboxServer) -> Settings:
    return Settings(
        data_dir=tmp_path,
        secret_key="s" * 40,
        token_encryption_keys=generate_key_spec("k1"),
        shopify_client_id=sandbox.config.client_id,
        shopify_client_secret=sandbox.config.client_secret,
        shopify_shop_url_template=sandbox.shop_url_template,
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    db = MemoryDatabase()
    built = bootstrap(
        settings,
        uow=lambda: MemoryUnitOfWork(db),
        clock=ManualClock(),
        ids=UuidIdGenerator(),
        passwords=Argon2PasswordHasher(parameters=TEST_PARAMETERS),
        rate_limiter=LimitsRateLimiter("memory://", prefix="shell"),
    )
    yield built
    built.close()


@pytest.fixture
def app(services: Services) -> Flask:
    app = create_app(services, {"TESTING": False})

    @app.get("/portal/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    return app


def _browser(app: Flask, email: str) -> tuple[FlaskClient, str]:
    browser = app.test_client()
    assert sign_in(browser, email).status_code == 302
    token = browser.get("/api/me").get_json()["csrf_token"]
    return browser, token


def _text(response: TestResponse) -> str:
    raw = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(html.unescape(raw).split())


def _landing(response: TestResponse) -> tuple[str, dict[str, list[str]]]:
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    target = urlsplit(response.headers["Location"])
    return target.path, parse_qs(target.query)


def _integration(
    services: Services, client_id: str, shop: str, *, status: str = "active"
) -> Integration:
    now = services.ctx.clock.now()
    found = Integration(
        id=services.ctx.ids.new_id(),
        client_id=client_id,
        platform="shopify",
        shop_domain=shop,
        created_at=now,
        updated_at=now,
        status=status,  # type: ignore[arg-type]
    )
    with services.ctx.uow() as uow:
        uow.integrations.add(found)
        uow.commit()
    return found


def _stored(services: Services, integration_id: str) -> Integration:
    with services.ctx.uow() as uow:
        found = uow.integrations.peek(integration_id)
    assert found is not None
    return found


# --- signing in --------------------------------------------------------------------------------


def test_a_signed_in_browser_opening_the_login_page_goes_on_to_the_portal(
    app: Flask, people: People
) -> None:
    browser, _ = _browser(app, "owner@acme.test")
    assert browser.get("/login").headers["Location"] == "/portal/orders"
    assert browser.get("/login?next=/portal/events").headers["Location"] == "/portal/events"
    assert browser.get("/login?next=//evil.example").headers["Location"] == "/portal/orders"


@pytest.mark.parametrize(
    "target",
    [
        "/portal/orders%0D%0ASet-Cookie:x=1",
        "/portal%09/orders",
        "/%5Cevil.example",
        "//evil.example",
        "https://evil.example/",
        "/" + "a" * 3000,
    ],
)
def test_an_unsafe_next_address_is_ignored_after_signing_in(
    web: FlaskClient, people: People, target: str
) -> None:
    token = login_form_token(web)
    answer = web.post(
        f"/login?next={target}",
        data={"email": "owner@acme.test", "password": "password-123", "csrf_token": token},
    )
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/portal/orders"
    assert "x=1" not in answer.headers.get("Set-Cookie", "")


def test_a_wrong_password_shows_on_the_form_with_the_email_kept(
    web: FlaskClient, people: People
) -> None:
    answer = sign_in(web, "owner@acme.test", "wrong-password")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert 'role="alert"' in page
    assert 'value="owner@acme.test"' in page
    assert web.get("/portal/orders").status_code == 302  # not signed in


def test_an_expired_login_form_says_so_on_the_form_rather_than_an_error_page(
    web: FlaskClient, people: People
) -> None:
    answer = web.post(
        "/login", data={"email": "owner@acme.test", "password": "password-123", "csrf_token": "x"}
    )
    assert answer.status_code == 403
    assert answer.mimetype == "text/html"
    assert "The form expired. Please sign in again." in _text(answer)
    assert 'name="password"' in answer.get_data(as_text=True)


# --- error pages and headers -------------------------------------------------------------------


def test_portal_errors_are_pages_in_the_layout_with_a_way_back(app: Flask, people: People) -> None:
    browser, _ = _browser(app, "owner@acme.test")
    missing = browser.get("/portal/nowhere", headers={"Referer": "http://localhost/portal/events"})
    assert missing.status_code == 404
    assert missing.mimetype == "text/html"
    page = missing.get_data(as_text=True)
    assert "Page not found" in page
    assert 'href="/portal/events">Go back' in page
    assert 'href="/portal/orders">Back to your orders' in page
    assert "Sign out" in page  # the layout, signed in
    not_allowed = browser.get("/logout")
    assert not_allowed.status_code == 405
    assert not_allowed.mimetype == "text/html"
    crashed = browser.get("/portal/boom")
    assert crashed.status_code == 500
    assert crashed.mimetype == "text/html"
    assert "secret internals" not in crashed.get_data(as_text=True)
    assert "Traceback" not in crashed.get_data(as_text=True)


def test_the_api_keeps_answering_json_errors(app: Flask, people: People) -> None:
    browser, _ = _browser(app, "owner@acme.test")
    missing = browser.get("/api/integrations/nope")
    assert missing.status_code == 404
    assert missing.get_json()["error"] == "not_found"


def test_a_body_too_large_for_a_page_is_a_page(web: FlaskClient) -> None:
    answer = web.post("/login", data={"email": "x" * (6 * 1024 * 1024)})
    assert answer.status_code == 413
    assert answer.mimetype == "text/html"
    assert "Too large" in _text(answer)


@pytest.mark.parametrize(
    "path", ["/login", "/portal/nowhere", "/api/integrations", "/healthz", "/static/portal.css"]
)
def test_every_answer_carries_the_security_headers(web: FlaskClient, path: str) -> None:
    answer = web.get(path)
    answer.close()  # a static file is streamed
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers[name] == value
    policy = answer.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy


def test_pages_carry_no_inline_script_or_style(app: Flask, people: People) -> None:
    browser, _ = _browser(app, "staff@3pl.test")
    for path in ["/login", PORTAL, "/portal/orders", "/portal/events", "/portal/account"]:
        page = browser.get(path).get_data(as_text=True)
        assert "<script" not in page
        assert "<style" not in page
        assert " style=" not in page


# --- every form: CSRF, too-long fields ---------------------------------------------------------


def test_every_portal_form_that_posts_carries_the_csrf_token(
    app: Flask, services: Services, people: People
) -> None:
    _integration(services, people.acme.id, "acme.myshopify.com")
    _integration(services, people.acme.id, "old.myshopify.com", status="disconnected")
    browser, token = _browser(app, "staff@3pl.test")
    for path in [PORTAL, "/portal/account", "/portal/orders", "/portal/events"]:
        page = browser.get(path).get_data(as_text=True)
        forms = re.findall(r"<form[^>]*>.*?</form>", page, flags=re.S)
        posting = [f for f in forms if 'method="post"' in f]
        assert posting, path
        for form in posting:
            assert f'name="csrf_token" value="{token}"' in form, form[:200]


@pytest.mark.parametrize(
    ("path", "form"),
    [
        (f"{PORTAL}/connect", {"shop": "acme"}),
        (f"{PORTAL}/settings", {"sync_inventory_interval_minutes": "60"}),
        (f"{PORTAL}/disconnect", {"confirm": "1"}),
        ("/logout", {}),
    ],
)
def test_a_form_without_the_csrf_token_changes_nothing(
    app: Flask, services: Services, people: People, path: str, form: dict[str, str]
) -> None:
    store = _integration(services, people.acme.id, "acme.myshopify.com")
    browser, _ = _browser(app, "owner@acme.test")
    answer = browser.post(path, data={**form, "integration": store.id})
    assert answer.status_code == 403
    assert answer.mimetype == "text/html"
    assert _stored(services, store.id).status == "active"
    assert browser.get("/portal/orders").status_code == 200  # still signed in


def test_a_too_long_field_goes_back_to_its_page_with_a_message(
    app: Flask, services: Services, people: People
) -> None:
    store = _integration(services, people.acme.id, "acme.myshopify.com")
    browser, token = _browser(app, "owner@acme.test")
    products = f"{PORTAL}/shopify/products?integration={store.id}&q=tee"
    answer = browser.post(
        f"{PORTAL}/shopify/products/map",
        data={
            "csrf_token": token,
            "integration": store.id,
            "external_variant_id": "1",
            "sku": "X" * 5000,
        },
        headers={"Referer": f"http://localhost{products}&message=mapped"},
    )
    path, query = _landing(answer)
    assert path == f"{PORTAL}/shopify/products"
    assert query == {"integration": [store.id], "q": ["tee"], "error": ["field_too_long"]}
    assert "A field you sent is too long" in _text(browser.get(answer.headers["Location"]))


def test_a_missing_field_from_another_site_goes_back_to_the_integrations_page(
    app: Flask, people: People
) -> None:
    browser, token = _browser(app, "owner@acme.test")
    answer = browser.post(
        f"{PORTAL}/sync-orders",
        data={"csrf_token": token},
        headers={"Referer": "https://evil.example/portal/events"},
    )
    assert _landing(answer) == (PORTAL, {"error": ["missing_field"]})


# --- connecting a store ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shop", "error", "kept"),
    [
        ("evil.com", "invalid_shop", "evil.com"),
        ("a" * 5000, "invalid_shop", None),
        ("", "shop_required", None),
        ("nobody.myshopify.com", "unknown_shop", "nobody.myshopify.com"),
    ],
)
def test_a_shop_that_cannot_be_connected_is_named_on_the_page(
    app: Flask, people: People, shop: str, error: str, kept: str | None
) -> None:
    browser, token = _browser(app, "owner@acme.test")
    answer = browser.post(f"{PORTAL}/connect", data={"csrf_token": token, "shop": shop})
    path, query = _landing(answer)
    assert path == PORTAL
    assert query.get("error") == [error]
    assert query.get("shop") == ([kept] if kept else None)
    page = browser.get(answer.headers["Location"])
    assert page.status_code == 200
    assert 'class="notice error" role="alert"' in page.get_data(as_text=True)
    if kept:
        assert f'value="{kept}"' in page.get_data(as_text=True)


def test_connecting_a_known_shop_leaves_for_its_consent_page(
    app: Flask, people: People, sandbox: SandboxServer
) -> None:
    browser, token = _browser(app, "owner@acme.test")
    answer = browser.post(f"{PORTAL}/connect", data={"csrf_token": token, "shop": "acme"})
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(
        f"{sandbox.shop_url('acme.myshopify.com')}/admin/oauth/authorize?"
    )
    assert OAUTH_COOKIE in answer.headers["Set-Cookie"]


def test_a_member_may_not_connect_a_store(app: Flask, people: People) -> None:
    browser, token = _browser(app, "member@acme.test")
    assert "Connect a Shopify store" not in _text(browser.get(PORTAL))
    answer = browser.post(f"{PORTAL}/connect", data={"csrf_token": token, "shop": "acme"})
    assert answer.status_code == 403
    assert answer.mimetype == "text/html"


def test_staff_choose_the_client_by_name(app: Flask, people: People) -> None:
    browser, token = _browser(app, "staff@3pl.test")
    page = browser.get(PORTAL).get_data(as_text=True)
    assert f'<option value="{people.acme.id}" >Acme</option>' in page
    assert f'<option value="{people.globex.id}" >Globex</option>' in page
    none = browser.post(f"{PORTAL}/connect", data={"csrf_token": token, "shop": "acme"})
    assert _landing(none)[1]["error"] == ["choose_client"]
    unknown = browser.post(
        f"{PORTAL}/connect", data={"csrf_token": token, "shop": "acme", "client_id": "nope"}
    )
    assert _landing(unknown)[1]["error"] == ["unknown_client"]
    chosen = browser.post(
        f"{PORTAL}/connect",
        data={"csrf_token": token, "shop": "acme", "client_id": people.acme.id},
    )
    assert "/admin/oauth/authorize?" in chosen.headers["Location"]


def test_a_disconnected_store_offers_reconnect(
    app: Flask, services: Services, people: People
) -> None:
    _integration(services, people.acme.id, "old.myshopify.com", status="disconnected")
    browser, _ = _browser(app, "owner@acme.test")
    page = browser.get(PORTAL).get_data(as_text=True)
    assert "Reconnect old.myshopify.com" in page
    assert '<input type="hidden" name="shop" value="old.myshopify.com">' in page


def test_the_empty_page_says_what_to_do_next(app: Flask, people: People) -> None:
    owner, _ = _browser(app, "owner@acme.test")
    assert "press Connect" in _text(owner.get(PORTAL))
    member, _ = _browser(app, "member@acme.test")
    assert "Ask your account's owner or an admin" in _text(member.get(PORTAL))


# --- settings ----------------------------------------------------------------------------------


def _settings_form(token: str, store: Integration, **changes: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "integration": store.id,
        "auto_import_orders": "1",
        "sync_inventory_interval_minutes": "30",
        "inventory_buffer": "2",
        **changes,
    }


def test_saving_the_settings_changes_every_one_of_them(
    app: Flask, services: Services, people: People
) -> None:
    store = _integration(services, people.acme.id, "acme.myshopify.com")
    browser, token = _browser(app, "owner@acme.test")
    answer = browser.post(f"{PORTAL}/settings", data=_settings_form(token, store))
    path, query = _landing(answer)
    assert (path, query) == (PORTAL, {"integration": [store.id], "message": ["settings_saved"]})
    assert answer.headers["Location"].endswith(f"#store-{store.id}")
    assert _stored(services, store.id).settings == IntegrationSettings(
        auto_import_orders=True,
        auto_sync_inventory=False,
        sync_inventory_interval_minutes=30,
        inventory_buffer=2,
        fulfillment_notify_customer=False,
    )
    page = browser.get(answer.headers["Location"]).get_data(as_text=True)
    assert "The store&#39;s settings are saved." in page
    assert 'name="inventory_buffer" value="2"' in page


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"sync_inventory_interval_minutes": "4"}, "invalid_interval"),
        ({"sync_inventory_interval_minutes": "1441"}, "invalid_interval"),
        ({"sync_inventory_interval_minutes": "ten"}, "invalid_interval"),
        ({"inventory_buffer": "-1"}, "invalid_buffer"),
        ({"inventory_buffer": "100001"}, "invalid_buffer"),
        ({"inventory_buffer": "9" * 5000}, "invalid_buffer"),
    ],
)
def test_a_setting_out_of_range_is_refused_on_the_page_and_nothing_changes(
    app: Flask, services: Services, people: People, changes: dict[str, str], error: str
) -> None:
    store = _integration(services, people.acme.id, "acme.myshopify.com")
    browser, token = _browser(app, "owner@acme.test")
    answer = browser.post(f"{PORTAL}/settings", data=_settings_form(token, store, **changes))
    assert _landing(answer) == (PORTAL, {"integration": [store.id], "error": [error]})
    assert _stored(services, store.id).settings == IntegrationSettings()
    page = browser.get(answer.headers["Location"]).get_data(as_text=True)
    section = page[page.index(f'id="store-{store.id}"') :]
    assert 'class="notice error" role="alert"' in section


def test_only_managers_of_the_store_change_its_settings(
    app: Flask, services: Services, people: People
) -> None:
    store = _integration(services, people.acme.id, "acme.myshopify.com")
    member, member_token = _browser(app, "member@acme.test")
    assert "Save settings" not in _text(member.get(PORTAL))
    refused = member.post(f"{PORTAL}/settings", data=_settings_form(member_token, store))
    assert refused.status_code == 403
    outsider, outsider_token = _browser(app, "owner@globex.test")
    hidden = outsider.post(f"{PORTAL}/settings", data=_settings_form(outsider_token, store))
    assert hidden.status_code == 404
    assert hidden.mimetype == "text/html"
    assert _stored(services, store.id).settings == IntegrationSettings()
    staff, staff_token = _browser(app, "staff@3pl.test")
    assert _landing(staff.post(f"{PORTAL}/settings", data=_settings_form(staff_token, store)))[
        1
    ] == {"integration": [store.id], "message": ["settings_saved"]}


# --- setup progress ----------------------------------------------------------------------------


def _setup(services: Services, store: Integration, **fields: object) -> None:
    now = services.ctx.clock.now()
    command = OutboxCommand(
        id=services.ctx.ids.new_id(),
        kind=SETUP_COMMAND,
        idempotency_key=f"setup:{store.id}:{now.isoformat()}",
        created_at=now,
        next_attempt_at=now,
        integration_id=store.id,
        payload={"integration_id": store.id},
        **fields,  # type: ignore[arg-type]
    )
    with services.ctx.uow() as uow:
        uow.outbox.add(command)
        uow.commit()


def test_the_setup_progress_shows_while_running_and_what_it_did_once_done(
    app: Flask, services: Services, people: People
) -> None:
    store = _integration(services, people.acme.id, "acme.myshopify.com")
    browser, _ = _browser(app, "owner@acme.test")
    _setup(services, store)
    running = browser.get(PORTAL).get_data(as_text=True)
    assert "Setting up the store" in running
    assert '<meta http-equiv="refresh" content="3">' in running
    assert isinstance(services.ctx.clock, ManualClock)
    services.ctx.clock.advance(timedelta(seconds=1))
    _setup(
        services,
        store,
        status="done",
        result={
            "webhooks": 6,
            "webhooks_created": 6,
            "locations": 2,
            "variants": 40,
            "auto_mapped": 37,
        },
    )
    done = browser.get(PORTAL)
    text = _text(done)
    assert (
        "Setup finished. Webhooks subscribed 6 Locations loaded 2 Variants read 40 "
        "Mapped to your products 37" in text
    )
    assert "map them on the Products page" in text
    assert "http-equiv" not in done.get_data(as_text=True)


def test_a_setup_that_gave_up_says_why_and_how_to_retry(
    app: Flask, services: Services, people: People
) -> None:
    store = _integration(services, people.acme.id, "acme.myshopify.com")
    _setup(services, store, status="dead", attempts=8, error="platform_auth_error: revoked")
    browser, _ = _browser(app, "owner@acme.test")
    text = _text(browser.get(PORTAL))
    assert "Setup failed: platform_auth_error: revoked. Reconnect the store" in text
