"""OAuth against the sandbox: consent, the signed callback, codes, expiring tokens and refresh."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from adapters.shopify.sandbox import SandboxClock, SandboxServer, sign_query, signature_message

from .conftest import ALL_SCOPES, SHOP, make_config

VECTORS = json.loads(
    (Path(__file__).parents[2] / "fixtures" / "shopify" / "hmac-vectors.json").read_text()
)
REDIRECT = "https://app.example/api/integrations/shopify/callback"
SHOP_QUERY = "{ shop { name } }"


def _reference_hmac(params: dict[str, str], secret: str) -> str:
    """The algorithm the vectors define, written independently of the sandbox's code."""

    def esc(text: str, key: bool) -> str:
        text = text.replace("%", "%25").replace("&", "%26")
        return text.replace("=", "%3D") if key else text

    message = "&".join(
        f"{esc(k, True)}={esc(v, False)}" for k, v in sorted(params.items()) if k != "hmac"
    )
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _authorize(sandbox: SandboxServer, http: httpx.Client, **params: str) -> httpx.Response:
    query = {
        "client_id": sandbox.config.client_id,
        "scope": ",".join(ALL_SCOPES),
        "redirect_uri": REDIRECT,
        "state": "nonce-123",
        **params,
    }
    return http.get(f"{sandbox.shop_url(SHOP)}/admin/oauth/authorize", params=query)


def _callback(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return dict(parse_qsl(urlsplit(location).query))


def _exchange(sandbox: SandboxServer, http: httpx.Client, **body: Any) -> httpx.Response:
    payload = {
        "client_id": sandbox.config.client_id,
        "client_secret": sandbox.config.client_secret,
        **body,
    }
    return http.post(f"{sandbox.shop_url(SHOP)}/admin/oauth/access_token", json=payload)


@pytest.mark.parametrize("vector", VECTORS["oauth_query"], ids=lambda v: v["about"][:40])
def test_the_callback_signature_matches_shopifys_known_answers(vector: dict[str, Any]) -> None:
    assert signature_message(vector["params"]) == vector["message"]
    assert sign_query(vector["params"], vector["secret"]) == vector["hmac"]


def test_the_consent_page_shows_the_shop_and_scopes_and_install_approves(
    http: httpx.Client, clock: SandboxClock
) -> None:
    with SandboxServer(make_config(auto_approve=False)) as sandbox:
        sandbox.control.create_shop(SHOP, name="Acme Outfitters")
        page = _authorize(sandbox, http)
        assert page.status_code == 200
        assert "Acme Outfitters" in page.text
        assert "write_inventory" in page.text
        assert "<form method='post'>" in page.text
        assert not sandbox.control.shop(SHOP)["installed"]
        fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page.text))
        approved = http.post(f"{sandbox.shop_url(SHOP)}/admin/oauth/authorize", data=fields)
        params = _callback(approved)
        assert params["state"] == "nonce-123"
        assert sandbox.control.shop(SHOP)["installed"]
        assert sandbox.control.shop(SHOP)["scopes"] == list(ALL_SCOPES)


def test_auto_approve_redirects_with_every_callback_parameter_signed(
    sandbox: SandboxServer, shop: dict[str, Any], http: httpx.Client, clock: SandboxClock
) -> None:
    params = _callback(_authorize(sandbox, http))
    assert set(params) == {"code", "hmac", "host", "shop", "state", "timestamp"}
    assert params["shop"] == SHOP
    assert params["timestamp"] == str(int(clock.now().timestamp()))
    expected = _reference_hmac(params, sandbox.config.client_secret)
    assert hmac.compare_digest(params["hmac"], expected)


def test_an_unknown_client_id_gets_an_error_page_and_no_redirect(
    sandbox: SandboxServer, shop: dict[str, Any], http: httpx.Client
) -> None:
    response = _authorize(sandbox, http, client_id="someone-else")
    assert response.status_code == 400
    assert "Oauth error" in response.text
    assert "Location" not in response.headers


def test_an_unknown_shop_has_no_consent_page(sandbox: SandboxServer, http: httpx.Client) -> None:
    response = _authorize(sandbox, http)
    assert response.status_code == 404


def test_an_expiring_token_exchange_returns_both_tokens_and_their_lifetimes(
    sandbox: SandboxServer, shop: dict[str, Any], http: httpx.Client
) -> None:
    code = _callback(_authorize(sandbox, http))["code"]
    response = _exchange(sandbox, http, code=code, expiring=1)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "access_token",
        "scope",
        "expires_in",
        "refresh_token",
        "refresh_token_expires_in",
    }
    assert body["expires_in"] == 3600
    assert body["refresh_token_expires_in"] == 90 * 24 * 3600
    assert body["scope"] == ",".join(ALL_SCOPES)


def test_without_expiring_the_token_is_offline_and_never_expires(
    sandbox: SandboxServer, shop: dict[str, Any], http: httpx.Client
) -> None:
    code = _callback(_authorize(sandbox, http))["code"]
    body = _exchange(sandbox, http, code=code).json()
    assert set(body) == {"access_token", "scope"}
    sandbox.control.advance_clock(400 * 24 * 3600)
    response = http.post(
        sandbox.graphql_url(SHOP),
        json={"query": SHOP_QUERY},
        headers={"X-Shopify-Access-Token": body["access_token"]},
    )
    assert response.status_code == 200
    assert response.json()["data"]["shop"]["name"] == "Acme Outfitters"


def test_a_form_encoded_exchange_works_like_json(
    sandbox: SandboxServer, shop: dict[str, Any], http: httpx.Client
) -> None:
    code = _callback(_authorize(sandbox, http))["code"]
    response = http.post(
        f"{sandbox.shop_url(SHOP)}/admin/oauth/access_token",
        data={
            "client_id": sandbox.config.client_id,
            "client_secret": sandbox.config.client_secret,
            "code": code,
            "expiring": "1",
        },
    )
    assert response.status_code == 200
    assert "refresh_token" in response.json()


def test_a_code_works_once(
    sandbox: SandboxServer, shop: dict[str, Any], http: httpx.Client
) -> None:
    code = _callback(_authorize(sandbox, http))["code"]
    assert _exchange(sandbox, http, code=code, expiring=1).status_code == 200
    again = _exchange(sandbox, http, code=code, expiring=1)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_request"


def test_a_wrong_client_secret_is_refused_with_400_json(
    sandbox: SandboxServer, shop: dict[str, Any], http: httpx.Client
) -> None:
    code = _callback(_authorize(sandbox, http))["code"]
    response = _exchange(sandbox, http, code=code, client_secret="guess")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"
    assert _exchange(sandbox, http, code=code).status_code == 200  # the code was not spent


def test_an_access_token_expires_after_an_hour(
    sandbox: SandboxServer, shop: dict[str, Any], http: httpx.Client
) -> None:
    code = _callback(_authorize(sandbox, http))["code"]
    token = _exchange(sandbox, http, code=code, expiring=1).json()["access_token"]
    headers = {"X-Shopify-Access-Token": token}
    url = sandbox.graphql_url(SHOP)
    sandbox.control.advance_clock(3599)
    assert http.post(url, json={"query": SHOP_QUERY}, headers=headers).status_code == 200
    sandbox.control.advance_clock(2)
    expired = http.post(url, json={"query": SHOP_QUERY}, headers=headers)
    assert expired.status_code == 401
    assert "Invalid API key or access token" in expired.json()["errors"]


def test_refresh_rotates_and_the_old_refresh_token_lives_until_the_new_one_is_used(
    sandbox: SandboxServer, shop: dict[str, Any], http: httpx.Client
) -> None:
    code = _callback(_authorize(sandbox, http))["code"]
    first = _exchange(sandbox, http, code=code, expiring=1).json()
    second = _exchange(
        sandbox, http, grant_type="refresh_token", refresh_token=first["refresh_token"]
    ).json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["expires_in"] == 3600
    # The first refresh token still works until the second one is used...
    retry = _exchange(
        sandbox, http, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert retry.status_code == 200
    third = _exchange(
        sandbox, http, grant_type="refresh_token", refresh_token=second["refresh_token"]
    )
    assert third.status_code == 200
    # ...and then it is dead.
    dead = _exchange(
        sandbox, http, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert dead.status_code == 400
    assert dead.json()["error"] == "invalid_grant"
    headers = {"X-Shopify-Access-Token": third.json()["access_token"]}
    response = http.post(sandbox.graphql_url(SHOP), json={"query": SHOP_QUERY}, headers=headers)
    assert response.status_code == 200


def test_a_refresh_token_expires_after_ninety_days(
    sandbox: SandboxServer, shop: dict[str, Any], http: httpx.Client
) -> None:
    code = _callback(_authorize(sandbox, http))["code"]
    first = _exchange(sandbox, http, code=code, expiring=1).json()
    sandbox.control.advance_clock(90 * 24 * 3600 + 1)
    response = _exchange(
        sandbox, http, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert response.status_code == 400


def test_uninstalling_revokes_access_and_refresh_tokens(
    sandbox: SandboxServer, shop: dict[str, Any], http: httpx.Client
) -> None:
    code = _callback(_authorize(sandbox, http))["code"]
    tokens = _exchange(sandbox, http, code=code, expiring=1).json()
    sandbox.control.uninstall(SHOP)
    headers = {"X-Shopify-Access-Token": tokens["access_token"]}
    response = http.post(sandbox.graphql_url(SHOP), json={"query": SHOP_QUERY}, headers=headers)
    assert response.status_code == 401
    refresh = _exchange(
        sandbox, http, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refresh.status_code == 400
    assert not sandbox.control.shop(SHOP)["installed"]
