"""Signing in to pages: session cookies, CSRF on every state change, throttled logins."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.unit.web.conftest import People


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
