"""Connecting a store through the sandbox's real OAuth: consent, callback, tokens, refresh."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from adapters.shopify import ShopifyPlatform
from adapters.shopify.sandbox import SandboxServer
from core.errors import InvalidSignature, PlatformAuthError, PlatformRejected, StaleRequest
from core.store import Credentials, StoreSession

from .conftest import SHOP

REDIRECT = "https://app.example/api/integrations/shopify/callback"


def _sandbox_now(control: Any) -> datetime:
    """The sandbox's time (a test may have moved it): what its callbacks are stamped with."""
    return datetime.fromisoformat(control.clock()["now"])


def _consent(platform: ShopifyPlatform, state: str = "nonce-1") -> dict[str, str]:
    """Follow the authorization URL to the sandbox (auto-approving) and read the callback."""
    url = platform.authorization_url("acme", state=state, redirect_uri=REDIRECT)
    response = httpx.get(url, follow_redirects=False)
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def test_the_consent_round_trip_yields_a_verified_callback_and_expiring_credentials(
    platform: ShopifyPlatform, control: Any, shop: dict[str, Any]
) -> None:
    callback = _consent(platform)
    assert callback["state"] == "nonce-1"
    assert platform.verify_callback(callback, _sandbox_now(control)) == SHOP
    credentials = platform.exchange_code(SHOP, callback["code"])
    assert credentials.expires_at is not None
    assert credentials.refresh_token is not None
    assert set(credentials.scopes) == set(platform.config.scopes)
    info = platform.shop_info(StoreSession(SHOP, credentials.access_token))
    assert (info.shop, info.name) == (SHOP, "Acme Outfitters")


def test_a_tampered_sandbox_callback_is_refused(
    platform: ShopifyPlatform, control: Any, shop: dict[str, Any]
) -> None:
    callback = _consent(platform)
    callback["shop"] = "evil.myshopify.com"
    with pytest.raises(InvalidSignature):
        platform.verify_callback(callback, _sandbox_now(control))


def test_a_sandbox_callback_replayed_later_is_stale(
    platform: ShopifyPlatform, control: Any, shop: dict[str, Any]
) -> None:
    callback = _consent(platform)
    later = _sandbox_now(control) + timedelta(seconds=platform.config.callback_max_age_seconds + 1)
    with pytest.raises(StaleRequest):
        platform.verify_callback(callback, later)


def test_a_code_is_exchanged_once(platform: ShopifyPlatform, shop: dict[str, Any]) -> None:
    code = _consent(platform)["code"]
    platform.exchange_code(SHOP, code)
    with pytest.raises(PlatformRejected, match="invalid_request"):
        platform.exchange_code(SHOP, code)


def test_a_wrong_client_secret_is_refused_at_exchange(
    make_platform: Callable[..., ShopifyPlatform], shop: dict[str, Any]
) -> None:
    honest = make_platform()
    code = _consent(honest)["code"]
    impostor = make_platform(client_secret="not-the-secret")
    with pytest.raises(PlatformRejected, match="invalid_client") as caught:
        impostor.exchange_code(SHOP, code)
    assert "not-the-secret" not in str(caught.value)


def test_a_refresh_rotates_both_tokens_and_the_old_refresh_token_dies_after_use(
    platform: ShopifyPlatform, shop: dict[str, Any]
) -> None:
    first = platform.exchange_code(SHOP, _consent(platform)["code"])
    second = platform.refresh_credentials(SHOP, first)
    assert second.access_token != first.access_token
    assert second.refresh_token not in (None, first.refresh_token)
    assert platform.shop_info(StoreSession(SHOP, second.access_token)).shop == SHOP
    third = platform.refresh_credentials(SHOP, second)  # using the new one retires the first
    assert platform.shop_info(StoreSession(SHOP, third.access_token)).shop == SHOP
    with pytest.raises(PlatformAuthError):
        platform.refresh_credentials(SHOP, first)


def test_a_non_expiring_token_works_and_needs_no_refresh(
    platform: ShopifyPlatform, control: Any, shop: dict[str, Any]
) -> None:
    answer = control.issue_token(SHOP, platform.config.scopes, expiring=False)
    forever = Credentials(access_token=answer["access_token"])
    assert platform.refresh_credentials(SHOP, forever) is forever
    assert platform.shop_info(StoreSession(SHOP, forever.access_token)).shop == SHOP


def test_a_revoked_token_is_an_auth_error(
    platform: ShopifyPlatform, control: Any, session: StoreSession
) -> None:
    control.revoke_tokens(SHOP)
    with pytest.raises(PlatformAuthError) as caught:
        platform.locations(session)
    assert session.access_token not in str(caught.value)


def test_an_expired_access_token_is_an_auth_error_until_refreshed(
    platform: ShopifyPlatform, sandbox: SandboxServer, shop: dict[str, Any]
) -> None:
    credentials = platform.exchange_code(SHOP, _consent(platform)["code"])
    sandbox.control.advance_clock(3601)
    with pytest.raises(PlatformAuthError):
        platform.shop_info(StoreSession(SHOP, credentials.access_token))
    fresh = platform.refresh_credentials(SHOP, credentials)
    assert platform.shop_info(StoreSession(SHOP, fresh.access_token)).shop == SHOP
