"""Rate limits that stop attackers without locking out the people they attack.

Wrong passwords are limited per account from any address, yet a browser that signed in to the
account before keeps signing in; bad tokens and bad webhook signatures count only failures, so
a valid token or a correctly signed delivery always gets through; behind a trusted reverse
proxy every client has its own address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from attrs import evolve
from flask.testing import FlaskClient

from core.model import Integration
from entrypoints.bootstrap import Services
from entrypoints.settings import Settings
from entrypoints.web import create_app, webhooks
from entrypoints.web.auth import ACCOUNT_FAILURES, AUTH_FAILURES, DEVICE_COOKIE, LOGIN_ATTEMPTS
from tests.unit.web.conftest import People, from_address, sign_in

VICTIM = "owner@acme.test"
APP_SECRET = "sandbox-client-secret"  # the webhook signing secret of the test settings


# --- logins: per account, from any address ----------------------------------------------------


def test_wrong_passwords_for_one_account_from_many_addresses_are_limited(
    web: FlaskClient, people: People
) -> None:
    codes = [
        sign_in(web, VICTIM, f"guess-{n:06}", **from_address(f"203.0.113.{n + 1}")).status_code
        for n in range(50)
    ]
    assert codes[: ACCOUNT_FAILURES.amount] == [200] * ACCOUNT_FAILURES.amount
    assert set(codes[ACCOUNT_FAILURES.amount :]) == {429}


def test_the_account_limit_holds_for_an_unknown_e_mail_too(
    web: FlaskClient, people: People
) -> None:
    """Locking works the same whether the account exists, so it tells nothing about which do."""
    codes = [
        sign_in(web, "nobody@acme.test", f"guess-{n:06}", **from_address(f"203.0.113.{n + 1}"))
        for n in range(ACCOUNT_FAILURES.amount + 1)
    ]
    assert [c.status_code for c in codes][-1] == 429


def test_the_account_limit_ignores_case_and_spaces_in_the_e_mail(
    web: FlaskClient, people: People
) -> None:
    spellings = [VICTIM, VICTIM.upper(), f"  {VICTIM} ", "Owner@Acme.Test"]
    codes = [
        sign_in(
            web, spellings[n % 4], f"guess-{n:06}", **from_address(f"203.0.113.{n + 1}")
        ).status_code
        for n in range(ACCOUNT_FAILURES.amount + 1)
    ]
    assert codes[-1] == 429


def test_a_browser_that_signed_in_before_still_signs_in_while_the_account_is_attacked(
    services: Services, web: FlaskClient, people: People
) -> None:
    app = web.application
    victim = app.test_client()
    assert sign_in(victim, VICTIM, **from_address("192.0.2.10")).status_code == 302
    assert victim.get_cookie(DEVICE_COOKIE, path="/login") is not None
    victim.post("/logout", data={"csrf_token": victim.get("/api/me").get_json()["csrf_token"]})

    attacker = app.test_client()
    for n in range(ACCOUNT_FAILURES.amount + 5):
        sign_in(attacker, VICTIM, f"guess-{n:06}", **from_address(f"203.0.113.{n + 1}"))
    assert sign_in(attacker, VICTIM, **from_address("203.0.113.99")).status_code == 429

    # the victim's browser, from its usual address or another one, is not locked out
    assert sign_in(victim, VICTIM, **from_address("192.0.2.11")).status_code == 302
    assert victim.get("/api/me").get_json()["user"]["email"] == VICTIM
    # and a browser that never signed in to this account is
    stranger = app.test_client()
    assert sign_in(stranger, VICTIM, **from_address("192.0.2.12")).status_code == 429


def test_a_known_browser_has_its_own_failure_limit(web: FlaskClient, people: People) -> None:
    """The exemption is from the account's lock, not from limits: a stolen laptop cannot
    guess for ever."""
    browser = web.application.test_client()
    assert sign_in(browser, VICTIM, **from_address("192.0.2.10")).status_code == 302
    browser.post("/logout", data={"csrf_token": browser.get("/api/me").get_json()["csrf_token"]})
    codes = [
        sign_in(browser, VICTIM, f"guess-{n:06}", **from_address(f"192.0.2.{n + 20}")).status_code
        for n in range(ACCOUNT_FAILURES.amount + 1)
    ]
    assert codes[-1] == 429


def test_a_forged_or_foreign_device_cookie_exempts_nobody(web: FlaskClient, people: People) -> None:
    app = web.application
    # a real device cookie, but of another account (member@acme.test)
    other = app.test_client()
    assert sign_in(other, "member@acme.test", **from_address("192.0.2.30")).status_code == 302
    foreign = other.get_cookie(DEVICE_COOKIE, path="/login")
    assert foreign is not None
    for n in range(ACCOUNT_FAILURES.amount):
        sign_in(app.test_client(), VICTIM, f"guess-{n:06}", **from_address(f"203.0.113.{n + 1}"))

    for value in (foreign.value, foreign.value[:-2] + "xx", "not-a-cookie"):
        browser = app.test_client()
        browser.set_cookie(DEVICE_COOKIE, value)
        assert sign_in(browser, VICTIM, **from_address("192.0.2.31")).status_code == 429


def test_logins_from_one_address_are_still_limited_whatever_the_account(
    web: FlaskClient, people: People
) -> None:
    codes = [
        sign_in(web, f"user{n}@acme.test", "guess-000000").status_code
        for n in range(LOGIN_ATTEMPTS.amount + 1)
    ]
    assert codes[-1] == 429


# --- API tokens: only failures count, and a valid token is never refused -----------------------


def test_bad_tokens_from_one_address_never_block_a_valid_token(
    web: FlaskClient, people: People
) -> None:
    bad = [
        web.get("/api/me", headers={"Authorization": f"Bearer slk_guess{n}"}).status_code
        for n in range(AUTH_FAILURES.amount + 5)
    ]
    assert bad[: AUTH_FAILURES.amount] == [401] * AUTH_FAILURES.amount
    assert set(bad[AUTH_FAILURES.amount :]) == {429}
    good = web.get("/api/me", headers=people.auth("owner@acme"))
    assert good.status_code == 200
    assert good.get_json()["user"]["email"] == "owner@acme.test"


# --- webhooks: bad signatures never block correctly signed deliveries --------------------------


def _store(services: Services, client_id: str, shop: str) -> Integration:
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
    with services.ctx.uow() as uow:
        uow.integrations.add(integration)
        uow.commit()
    return integration


def _deliver(web: FlaskClient, integration: Integration, n: int, *, signed: bool) -> int:
    body = json.dumps({"id": n, "line_items": []}).encode()
    digest = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).digest()
    signature = base64.b64encode(digest).decode() if signed else "bm90IGEgc2lnbmF0dXJl"
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Shop-Domain": integration.shop_domain,
        "X-Shopify-Webhook-Id": f"d-{n}",
        "X-Shopify-Hmac-Sha256": signature,
    }
    response = web.post(
        f"/api/webhooks/shopify/{integration.id}",
        data=body,
        headers=headers,
        content_type="application/json",
    )
    return response.status_code


def test_bad_signatures_never_block_correctly_signed_deliveries(
    services: Services, web: FlaskClient, people: People
) -> None:
    store = _store(services, people.acme.id, "acme.myshopify.com")
    bad = [_deliver(web, store, n, signed=False) for n in range(webhooks.BAD_SIGNATURES.amount + 5)]
    assert bad[: webhooks.BAD_SIGNATURES.amount] == [401] * webhooks.BAD_SIGNATURES.amount
    assert set(bad[webhooks.BAD_SIGNATURES.amount :]) == {429}
    assert _deliver(web, store, 1000, signed=True) == 200


def test_bad_signatures_are_counted_per_address_and_integration(
    services: Services, web: FlaskClient, people: People
) -> None:
    attacked = _store(services, people.acme.id, "acme.myshopify.com")
    other = _store(services, people.globex.id, "globex.myshopify.com")
    for n in range(webhooks.BAD_SIGNATURES.amount + 1):
        _deliver(web, attacked, n, signed=False)
    assert _deliver(web, attacked, 100, signed=False) == 429
    assert _deliver(web, other, 101, signed=False) == 401


# --- behind a reverse proxy ---------------------------------------------------------------------


@pytest.fixture
def proxied(services: Services, settings: Settings) -> FlaskClient:
    """The app behind one trusted proxy (TRUSTED_PROXY_HOPS=1), reached from the proxy's
    address 10.0.0.1."""
    services.settings = evolve(settings, trusted_proxy_hops=1)
    return create_app(services, {"TESTING": True}).test_client()


def _via_proxy(client_address: str) -> dict[str, Any]:
    return {
        "environ_base": {"REMOTE_ADDR": "10.0.0.1"},
        "headers": {"X-Forwarded-For": client_address, "X-Forwarded-Proto": "https"},
    }


def test_behind_a_trusted_proxy_each_client_has_its_own_address_budget(
    proxied: FlaskClient, people: People
) -> None:
    for n in range(LOGIN_ATTEMPTS.amount + 2):
        response = sign_in(
            proxied, f"user{n}@acme.test", "guess-000000", **_via_proxy(f"192.0.2.{n + 1}")
        )
        assert response.status_code == 200, n
    # one client sending too many is limited, and only that client
    codes = [
        sign_in(proxied, f"x{n}@acme.test", "guess-000000", **_via_proxy("192.0.2.200")).status_code
        for n in range(LOGIN_ATTEMPTS.amount + 1)
    ]
    assert codes[-1] == 429
    assert sign_in(proxied, VICTIM, **_via_proxy("192.0.2.201")).status_code == 302


def test_behind_a_trusted_proxy_the_forwarded_address_scheme_and_host_are_used(
    proxied: FlaskClient,
) -> None:
    from flask import request

    app = proxied.application
    app.add_url_rule(
        "/_probe", "probe", lambda: {"address": request.remote_addr, "url": request.host_url}
    )
    seen = proxied.get(
        "/_probe",
        environ_base={"REMOTE_ADDR": "10.0.0.1"},
        headers={
            "X-Forwarded-For": "198.51.100.1, 192.0.2.7",  # the client may prepend anything
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "ims.example.com",
        },
    ).get_json()
    assert seen == {"address": "192.0.2.7", "url": "https://ims.example.com/"}


def test_without_a_trusted_proxy_forwarded_headers_are_ignored(
    web: FlaskClient, people: People
) -> None:
    """Spoofed X-Forwarded-For headers do not give an attacker fresh budgets."""
    codes = [
        sign_in(
            web,
            f"user{n}@acme.test",
            "guess-000000",
            headers={"X-Forwarded-For": f"192.0.2.{n + 1}"},
        ).status_code
        for n in range(LOGIN_ATTEMPTS.amount + 1)
    ]
    assert codes[-1] == 429
