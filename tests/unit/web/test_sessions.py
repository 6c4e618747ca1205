"""Signing in to pages: session cookies, CSRF on every state change, throttled logins, and
sessions the server ends (logout, password changes, "sign out everywhere", disabled users,
idle and absolute lifetimes), however the cookie was copied."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from adapters.system import ManualClock
from core.model import Integration, UserSession
from core.services import SYSTEM, tenancy
from entrypoints.bootstrap import Services
from tests.unit.web.conftest import People, sign_in


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the form carries a CSRF token"
    return match.group(1)


def _login(web: FlaskClient, email: str, password: str = "password-123") -> str:
    token = _csrf(web.get("/login").get_data(as_text=True))
    response = web.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    return token


def test_signing_in_sets_a_hardened_session_cookie(web: FlaskClient, people: People) -> None:
    token = _csrf(web.get("/login").get_data(as_text=True))
    response = web.post(
        "/login", data={"email": "owner@acme.test", "password": "password-123", "csrf_token": token}
    )
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    me = web.get("/api/me").get_json()
    assert me["user"]["email"] == "owner@acme.test"
    assert "password" not in str(me)


def test_a_login_form_without_its_csrf_token_is_refused(web: FlaskClient, people: People) -> None:
    web.get("/login")
    response = web.post("/login", data={"email": "owner@acme.test", "password": "password-123"})
    assert response.status_code == 403
    assert web.get("/api/me").status_code == 401


def test_a_wrong_password_shows_the_form_again(web: FlaskClient, people: People) -> None:
    token = _csrf(web.get("/login").get_data(as_text=True))
    response = web.post(
        "/login", data={"email": "owner@acme.test", "password": "nope-nope-1", "csrf_token": token}
    )
    assert response.status_code == 200
    assert "wrong e-mail or password" in response.get_data(as_text=True)


def test_state_changes_through_a_session_need_the_csrf_header(
    web: FlaskClient, people: People
) -> None:
    _login(web, "staff@3pl.test")
    token = web.get("/api/me").get_json()["csrf_token"]
    refused = web.post("/api/warehouses", json={"code": "A", "name": "A"})
    assert (refused.status_code, refused.get_json()["error"]) == (403, "csrf_failed")
    wrong = web.post(
        "/api/warehouses", json={"code": "A", "name": "A"}, headers={"X-CSRF-Token": "x" + token}
    )
    assert wrong.status_code == 403
    ok = web.post(
        "/api/warehouses", json={"code": "A", "name": "A"}, headers={"X-CSRF-Token": token}
    )
    assert ok.status_code == 201


def test_logins_from_one_address_are_throttled(web: FlaskClient, people: People) -> None:
    token = _csrf(web.get("/login").get_data(as_text=True))
    codes = [
        web.post(
            "/login",
            data={"email": "owner@acme.test", "password": f"guess-{n:06}", "csrf_token": token},
        ).status_code
        for n in range(12)
    ]
    assert codes[:10] == [200] * 10
    assert codes[-1] == 429


def test_the_login_redirect_never_leaves_the_site(web: FlaskClient, people: People) -> None:
    token = _csrf(web.get("/login").get_data(as_text=True))
    for target in ["https://evil.example/", "//evil.example", "javascript:alert(1)"]:
        response = web.post(
            f"/login?next={target}",
            data={"email": "owner@acme.test", "password": "password-123", "csrf_token": token},
        )
        assert response.headers["Location"] == "/portal/orders"
        web.post("/logout", data={"csrf_token": web.get("/api/me").get_json()["csrf_token"]})
        token = _csrf(web.get("/login").get_data(as_text=True))


# --- server-side sessions: ended by logout, password changes, "sign out everywhere" ------------


def _browser(app: Flask, email: str = "owner@acme.test") -> FlaskClient:
    browser = app.test_client()
    assert sign_in(browser, email).status_code == 302
    return browser


def _copy(app: Flask, browser: FlaskClient) -> FlaskClient:
    """Another client carrying a copy of the browser's session cookie (a stolen cookie)."""
    cookie = browser.get_cookie("storelink_session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("storelink_session", cookie.value)
    return thief


def _csrf_of(browser: FlaskClient) -> str:
    token = browser.get("/api/me").get_json()["csrf_token"]
    assert isinstance(token, str)
    return token


def _store(services: Services, client_id: str) -> Integration:
    now = services.ctx.clock.now()
    integration = Integration(
        id=services.ctx.ids.new_id(),
        client_id=client_id,
        platform="shopify",
        shop_domain="acme.myshopify.com",
        created_at=now,
        updated_at=now,
        status="active",
    )
    with services.ctx.uow() as uow:
        uow.integrations.add(integration)
        uow.commit()
    return integration


def test_a_copied_session_cookie_is_dead_after_logout(
    app: Flask, services: Services, people: People
) -> None:
    store = _store(services, people.acme.id)
    browser = _browser(app)
    csrf = _csrf_of(browser)
    thief = _copy(app, browser)
    assert thief.get("/api/me").status_code == 200
    patch = {"inventory_buffer": 2}
    headers = {"X-CSRF-Token": csrf}
    assert (
        thief.patch(f"/api/integrations/{store.id}", json=patch, headers=headers).status_code == 200
    )

    assert browser.post("/logout", data={"csrf_token": csrf}).status_code == 302

    assert thief.get("/api/me").status_code == 401
    refused = thief.patch(
        f"/api/integrations/{store.id}", json={"inventory_buffer": 3}, headers=headers
    )
    assert refused.status_code == 401
    assert browser.get("/api/me").status_code == 401


def test_signing_out_everywhere_ends_every_session_of_the_user_only(
    app: Flask, people: People
) -> None:
    laptop, phone = _browser(app), _browser(app)
    colleague = _browser(app, "member@acme.test")
    refused = laptop.delete("/api/me/sessions")
    assert (refused.status_code, refused.get_json()["error"]) == (403, "csrf_failed")

    answer = laptop.delete("/api/me/sessions", headers={"X-CSRF-Token": _csrf_of(laptop)})
    assert answer.status_code == 200
    assert answer.get_json() == {"revoked": 2}
    assert laptop.get("/api/me").status_code == 401
    assert phone.get("/api/me").status_code == 401
    assert colleague.get("/api/me").status_code == 200


def test_an_api_token_can_sign_its_user_out_everywhere(
    app: Flask, web: FlaskClient, people: People
) -> None:
    browser = _browser(app)
    answer = web.delete("/api/me/sessions", headers=people.auth("owner@acme"))
    assert answer.get_json() == {"revoked": 1}
    assert browser.get("/api/me").status_code == 401
    assert web.get("/api/me", headers=people.auth("owner@acme")).status_code == 200


def _account_form(browser: FlaskClient) -> str:
    page = browser.get("/portal/account")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_the_account_page_signs_out_everywhere_through_a_csrf_protected_form(
    app: Flask, people: People
) -> None:
    laptop, phone = _browser(app), _browser(app)
    page = _account_form(laptop)
    assert 'action="/portal/account/sign-out-everywhere"' in page
    assert laptop.post("/portal/account/sign-out-everywhere").status_code == 403
    assert phone.get("/api/me").status_code == 200

    done = laptop.post("/portal/account/sign-out-everywhere", data={"csrf_token": _csrf(page)})
    assert done.status_code == 302
    assert done.headers["Location"].startswith("/login")
    assert laptop.get("/api/me").status_code == 401
    assert phone.get("/api/me").status_code == 401


def _change_password(
    browser: FlaskClient, current: str, new: str, confirm: str | None = None
) -> Any:
    token = _csrf(_account_form(browser))
    return browser.post(
        "/portal/account/password",
        data={
            "csrf_token": token,
            "current_password": current,
            "new_password": new,
            "confirm_password": new if confirm is None else confirm,
        },
    )


def test_changing_the_password_ends_every_other_session_but_this_one(
    app: Flask, people: People
) -> None:
    laptop, phone = _browser(app), _browser(app)
    thief = _copy(app, phone)
    answer = _change_password(laptop, "password-123", "a-new-password-456")
    assert answer.status_code == 302
    assert "message=password_changed" in answer.headers["Location"]
    assert laptop.get("/api/me").status_code == 200
    assert phone.get("/api/me").status_code == 401
    assert thief.get("/api/me").status_code == 401
    assert sign_in(app.test_client(), "owner@acme.test").status_code == 200  # old password
    assert sign_in(app.test_client(), "owner@acme.test", "a-new-password-456").status_code == 302


@pytest.mark.parametrize(
    ("attempt", "error"),
    [
        (("wrong-password-1", "a-new-password-456", None), "wrong_password"),
        (("password-123", "short", None), "password_too_short"),
        (("password-123", "x" * 1025, None), "password_too_long"),
        (("password-123", "a-new-password-456", "a-new-password-789"), "passwords_differ"),
    ],
)
def test_a_refused_password_change_says_why_and_ends_no_session(
    app: Flask, people: People, attempt: tuple[str, str, str | None], error: str
) -> None:
    laptop, phone = _browser(app), _browser(app)
    answer = _change_password(laptop, *attempt)
    assert answer.status_code == 302
    assert f"error={error}" in answer.headers["Location"]
    shown = laptop.get(answer.headers["Location"]).get_data(as_text=True)
    assert 'role="alert"' in shown
    assert phone.get("/api/me").status_code == 200
    assert sign_in(app.test_client(), "owner@acme.test").status_code == 302


def test_a_disabled_user_is_signed_out_and_can_neither_sign_in_nor_use_tokens(
    app: Flask, web: FlaskClient, services: Services, people: People
) -> None:
    browser = _browser(app)
    thief = _copy(app, browser)
    tenancy.set_active(services.ctx, SYSTEM, email="owner@acme.test", active=False)
    assert browser.get("/api/me").status_code == 401
    assert thief.get("/api/me").status_code == 401
    assert web.get("/api/me", headers=people.auth("owner@acme")).status_code == 401
    again = sign_in(app.test_client(), "owner@acme.test")
    assert again.status_code == 200
    assert "wrong e-mail or password" in again.get_data(as_text=True)

    tenancy.set_active(services.ctx, SYSTEM, email="owner@acme.test", active=True)
    assert thief.get("/api/me").status_code == 401  # re-enabling revives no old session
    assert web.get("/api/me", headers=people.auth("owner@acme")).status_code == 200
    assert sign_in(app.test_client(), "owner@acme.test").status_code == 302


def test_an_idle_session_expires(app: Flask, services: Services, people: People) -> None:
    clock = services.ctx.clock
    assert isinstance(clock, ManualClock)
    browser = _browser(app)
    idle = timedelta(minutes=services.settings.session_idle_minutes)
    clock.advance(idle - timedelta(minutes=1))
    assert browser.get("/api/me").status_code == 200  # in use: the idle time starts again
    clock.advance(idle - timedelta(minutes=1))
    assert browser.get("/api/me").status_code == 200
    clock.advance(idle + timedelta(seconds=1))
    assert browser.get("/api/me").status_code == 401


def test_a_session_ends_at_its_absolute_lifetime_however_busy(
    app: Flask, services: Services, people: People
) -> None:
    clock = services.ctx.clock
    assert isinstance(clock, ManualClock)
    browser = _browser(app)
    lifetime = timedelta(hours=services.settings.session_max_hours)
    step = timedelta(minutes=30)
    elapsed = timedelta(0)
    while elapsed + step < lifetime:
        clock.advance(step)
        elapsed += step
        assert browser.get("/api/me").status_code == 200, elapsed
    clock.advance(lifetime - elapsed)
    assert browser.get("/api/me").status_code == 401


def _sessions(services: Services) -> list[UserSession]:
    with services.ctx.uow() as uow:
        user = uow.users.get_by_email("owner@acme.test")
        assert user is not None
        return uow.user_sessions.for_user(user.id)


def test_last_seen_is_written_at_most_once_a_minute(
    app: Flask, services: Services, people: People
) -> None:
    clock = services.ctx.clock
    assert isinstance(clock, ManualClock)
    browser = _browser(app)
    started = clock.now()
    for _ in range(5):
        clock.advance(10)
        assert browser.get("/api/me").status_code == 200
    assert [s.last_seen_at for s in _sessions(services)] == [started]
    clock.advance(15)
    assert browser.get("/api/me").status_code == 200
    assert [s.last_seen_at for s in _sessions(services)] == [clock.now()]


def test_the_cookie_carries_only_the_session_id_and_the_server_only_its_digest(
    app: Flask, services: Services, people: People
) -> None:
    browser = _browser(app)
    cookie = browser.get_cookie("storelink_session")
    assert cookie is not None
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    content = serializer.loads(cookie.value)
    assert set(content) - {"_permanent"} == {"sid"}
    (stored,) = _sessions(services)
    assert content["sid"] not in repr(stored)
    assert stored.id_hash == hashlib.sha256(content["sid"].encode()).hexdigest()


def test_signing_in_again_replaces_the_session_with_a_new_id(
    app: Flask, services: Services, people: People
) -> None:
    browser = _browser(app)
    assert browser.get("/login").headers["Location"] == "/portal/orders"  # signed in: on
    before = _copy(app, browser)
    signed_in_again = browser.post(
        "/login",
        data={
            "email": "owner@acme.test",
            "password": "password-123",
            "csrf_token": _csrf_of(browser),
        },
    )
    assert signed_in_again.status_code == 302
    assert browser.get("/api/me").status_code == 200
    assert before.get("/api/me").status_code == 401  # the replaced session is over
    assert sorted(s.revoked_at is None for s in _sessions(services)) == [False, True]
