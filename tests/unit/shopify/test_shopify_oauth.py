"""Connecting a store: shop names, the consent URL, callback HMACs, token exchange/refresh."""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.shopify import ShopifyConfig, ShopifyPlatform, normalize_shop, sign_callback
from adapters.shopify._oauth import callback_message
from core.errors import (
    InvalidShop,
    InvalidSignature,
    PlatformAuthError,
    PlatformRejected,
    PlatformUnavailable,
    StaleRequest,
)
from core.store import Credentials

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# --- shop names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("acme", "acme.myshopify.com"),
        ("ACME", "acme.myshopify.com"),
        ("  acme.myshopify.com  ", "acme.myshopify.com"),
        ("Acme-Store.MyShopify.com", "acme-store.myshopify.com"),
        ("a1", "a1.myshopify.com"),
        ("1a", "1a.myshopify.com"),
        ("a" * 63, "a" * 63 + ".myshopify.com"),
    ],
)
def test_a_shop_name_or_domain_becomes_its_myshopify_domain(raw: str, expected: str) -> None:
    assert normalize_shop(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "evil.com",
        "a.myshopify.com.evil.com",
        "127.0.0.1",
        "-a.myshopify.com",
        "-a",
        "a.myshopify.com/../x",
        "a%00.myshopify.com",
        "a\x00.myshopify.com",
        "a.myshopify.com\nb.myshopify.com",
        "a.myshopify.com.",
        "https://a.myshopify.com",
        "a.myshopify.com:443",
        "a_b.myshopify.com",
        "a b",
        "a@b.myshopify.com",
        "xn--bcher-kva.myshopify.com.evil",
        "ä.myshopify.com",
        "a" * 64,
        "a" * 300 + ".myshopify.com",
        ".myshopify.com",
        "myshopify.com",
    ],
)
def test_anything_but_a_myshopify_shop_is_an_invalid_shop(raw: str) -> None:
    with pytest.raises(InvalidShop):
        normalize_shop(raw)


def test_a_shop_that_is_not_text_is_an_invalid_shop() -> None:
    with pytest.raises(InvalidShop):
        normalize_shop(None)


# --- the consent URL ---------------------------------------------------------------------------


def test_the_authorization_url_asks_the_shop_for_an_offline_token(
    platform: ShopifyPlatform,
) -> None:
    url = platform.authorization_url(
        "Acme", state="nonce-123", redirect_uri="https://app.example/callback"
    )
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "acme.myshopify.com",
        "/admin/oauth/authorize",
    )
    assert query == {
        "client_id": ["client-id"],
        "scope": [",".join(platform.config.scopes)],
        "redirect_uri": ["https://app.example/callback"],
        "state": ["nonce-123"],
    }
    assert "grant_options[]" not in parts.query  # no per-user (online) token


def test_the_authorization_url_follows_the_shop_url_template(
    config: ShopifyConfig, platform: ShopifyPlatform
) -> None:
    sandboxed = ShopifyPlatform(
        ShopifyConfig(
            client_id="c",
            client_secret="s",
            shop_url_template="http://127.0.0.1:8081/store/{shop}",
        ),
        platform.rate_limiter,
        platform.clock,
    )
    with sandboxed:
        url = sandboxed.authorization_url("acme", state="s", redirect_uri="http://x/cb")
    assert url.startswith("http://127.0.0.1:8081/store/acme.myshopify.com/admin/oauth/authorize?")


def test_the_authorization_url_refuses_a_shop_that_would_leave_the_template(
    platform: ShopifyPlatform,
) -> None:
    with pytest.raises(InvalidShop):
        platform.authorization_url("evil.com/#", state="s", redirect_uri="https://x/cb")


# --- the HMAC vectors --------------------------------------------------------------------------


VECTORS = Path(__file__).resolve().parents[2] / "fixtures" / "shopify" / "hmac-vectors.json"


def _oauth_vectors() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads(VECTORS.read_text())["oauth_query"]
    return vectors


@pytest.mark.parametrize("vector", _oauth_vectors(), ids=lambda v: v["message"][:30])
def test_the_callback_message_and_hmac_match_shopifys_vectors(vector: dict[str, Any]) -> None:
    params = dict(vector["params"])
    assert callback_message(params) == vector["message"]
    assert sign_callback(params, vector["secret"]) == vector["hmac"]


def test_hmac_and_signature_are_left_out_of_the_signed_message() -> None:
    params = {"shop": "a.myshopify.com", "hmac": "x", "signature": "y", "code": "c"}
    assert callback_message(params) == "code=c&shop=a.myshopify.com"


def test_a_single_value_given_as_a_list_signs_like_the_plain_value() -> None:
    plain = {"shop": "a.myshopify.com", "code": "c"}
    listed = {"shop": ["a.myshopify.com"], "code": ["c"]}
    assert callback_message(listed) == callback_message(plain)


# --- verifying a callback ----------------------------------------------------------------------


def _callback(secret: str = "the-client-secret", **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "code": "0907a61c0c8d55e99db179b68161bc00",
        "host": "YWNtZS5teXNob3BpZnkuY29tL2FkbWlu",
        "shop": "acme.myshopify.com",
        "state": "nonce-123",
        "timestamp": str(int(NOW.timestamp()) - 30),
    }
    params.update(overrides)
    params["hmac"] = sign_callback(params, secret)
    return params


def test_a_genuine_callback_is_accepted_and_names_its_shop(platform: ShopifyPlatform) -> None:
    assert platform.verify_callback(_callback(), NOW) == "acme.myshopify.com"


def test_a_callback_signed_with_the_previous_secret_is_accepted_during_rotation(
    platform: ShopifyPlatform,
) -> None:
    assert platform.verify_callback(_callback("the-previous-secret"), NOW) == "acme.myshopify.com"


def test_a_callback_signed_with_another_secret_is_refused(platform: ShopifyPlatform) -> None:
    with pytest.raises(InvalidSignature):
        platform.verify_callback(_callback("someone-elses-secret"), NOW)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("code", "another-code"),
        ("shop", "evil.myshopify.com"),
        ("state", "another-nonce"),
        ("timestamp", str(int(NOW.timestamp()))),
        ("extra", "added"),
    ],
)
def test_a_tampered_callback_is_refused(platform: ShopifyPlatform, key: str, value: str) -> None:
    params = _callback()
    params[key] = value
    with pytest.raises(InvalidSignature):
        platform.verify_callback(params, NOW)


def test_a_callback_whose_hmac_was_changed_is_refused(platform: ShopifyPlatform) -> None:
    params = _callback()
    params["hmac"] = params["hmac"][:-1] + ("0" if params["hmac"][-1] != "0" else "1")
    with pytest.raises(InvalidSignature):
        platform.verify_callback(params, NOW)


@pytest.mark.parametrize("hmac_value", [None, "", "not-hex", "é" * 64])
def test_a_callback_without_a_usable_hmac_is_refused(
    platform: ShopifyPlatform, hmac_value: str | None
) -> None:
    params = _callback()
    if hmac_value is None:
        del params["hmac"]
    else:
        params["hmac"] = hmac_value
    with pytest.raises(InvalidSignature):
        platform.verify_callback(params, NOW)


def test_an_uppercase_hmac_is_the_same_signature(platform: ShopifyPlatform) -> None:
    params = _callback()
    params["hmac"] = params["hmac"].upper()
    assert platform.verify_callback(params, NOW) == "acme.myshopify.com"


def test_a_callback_with_array_parameters_verifies(platform: ShopifyPlatform) -> None:
    params = _callback(**{"ids[]": ["2", "1"]})
    assert platform.verify_callback(params, NOW) == "acme.myshopify.com"


def test_reordering_an_array_parameter_breaks_the_signature(platform: ShopifyPlatform) -> None:
    params = _callback(**{"ids[]": ["2", "1"]})
    params["ids[]"] = ["1", "2"]
    with pytest.raises(InvalidSignature):
        platform.verify_callback(params, NOW)


def test_a_repeated_plain_parameter_is_refused(platform: ShopifyPlatform) -> None:
    params = _callback()
    params["code"] = ["a", "b"]
    with pytest.raises(InvalidSignature):
        platform.verify_callback(params, NOW)


def test_a_value_cannot_smuggle_another_parameter(platform: ShopifyPlatform) -> None:
    # "a=1&b=2" as one value must not sign like two parameters a=1 and b=2.
    smuggled = _callback(a="1&b=2")
    split = {k: v for k, v in smuggled.items() if k != "a"} | {"a": "1", "b": "2"}
    with pytest.raises(InvalidSignature):
        platform.verify_callback(split, NOW)


def test_a_callback_older_than_the_accepted_age_is_stale(platform: ShopifyPlatform) -> None:
    age = platform.config.callback_max_age_seconds
    params = _callback(timestamp=str(int(NOW.timestamp()) - age - 1))
    with pytest.raises(StaleRequest):
        platform.verify_callback(params, NOW)


def test_a_callback_just_within_the_accepted_age_is_accepted(platform: ShopifyPlatform) -> None:
    age = platform.config.callback_max_age_seconds
    params = _callback(timestamp=str(int(NOW.timestamp()) - age))
    assert platform.verify_callback(params, NOW) == "acme.myshopify.com"


def test_a_callback_from_the_future_beyond_clock_skew_is_refused(
    platform: ShopifyPlatform,
) -> None:
    skew = platform.config.callback_max_skew_seconds
    params = _callback(timestamp=str(int(NOW.timestamp()) + skew + 5))
    with pytest.raises(StaleRequest):
        platform.verify_callback(params, NOW)


@pytest.mark.parametrize("timestamp", ["", "soon", "1.5e9"])
def test_a_callback_without_a_numeric_timestamp_is_stale(
    platform: ShopifyPlatform, timestamp: str
) -> None:
    with pytest.raises(StaleRequest):
        platform.verify_callback(_callback(timestamp=timestamp), NOW)


@pytest.mark.parametrize(
    "shop", ["evil.com", "acme", "a.myshopify.com.evil.com", "127.0.0.1", "-a.myshopify.com"]
)
def test_a_signed_callback_for_a_bad_shop_is_refused(platform: ShopifyPlatform, shop: str) -> None:
    with pytest.raises(InvalidShop):
        platform.verify_callback(_callback(shop=shop), NOW)


# --- token exchange and refresh ----------------------------------------------------------------


def _token_answer(**fields: Any) -> httpx.Response:
    body = {
        "access_token": "shpat_new",
        "scope": "read_orders,write_inventory",
        "expires_in": 3600,
        "refresh_token": "shprt_new",
        "refresh_token_expires_in": 7776000,
    }
    body.update(fields)
    return httpx.Response(200, json={k: v for k, v in body.items() if v is not None})


def test_a_code_exchange_asks_for_an_expiring_token_and_returns_its_expiry(
    platform: ShopifyPlatform, shop: Any, clock: Any
) -> None:
    shop.script.append(_token_answer())
    credentials = platform.exchange_code("acme", "the-code")
    (request,) = shop.requests
    assert request.method == "POST"
    assert str(request.url) == "https://acme.myshopify.com/admin/oauth/access_token"
    assert json.loads(request.content) == {
        "client_id": "client-id",
        "client_secret": "the-client-secret",
        "code": "the-code",
        "expiring": 1,
    }
    assert credentials == Credentials(
        access_token="shpat_new",
        scopes=("read_orders", "write_inventory"),
        expires_at=clock.now() + timedelta(hours=1),
        refresh_token="shprt_new",
        refresh_token_expires_at=clock.now() + timedelta(days=90),
    )


def test_a_non_expiring_token_answer_gives_credentials_without_expiry(
    platform: ShopifyPlatform, shop: Any
) -> None:
    shop.script.append(
        _token_answer(expires_in=None, refresh_token=None, refresh_token_expires_in=None)
    )
    credentials = platform.exchange_code("acme", "the-code")
    assert credentials == Credentials(
        access_token="shpat_new", scopes=("read_orders", "write_inventory")
    )


def test_a_refused_code_is_a_rejection_that_never_echoes_secrets(
    platform: ShopifyPlatform, shop: Any
) -> None:
    shop.script.append(
        httpx.Response(
            400,
            json={
                "error": "invalid_request",
                "error_description": "code the-code was already used (the-client-secret)",
            },
        )
    )
    with pytest.raises(PlatformRejected) as caught:
        platform.exchange_code("acme", "the-code")
    assert "invalid_request" in str(caught.value)
    assert "the-client-secret" not in str(caught.value)
    assert "the-code " not in str(caught.value)


def test_a_token_endpoint_that_keeps_failing_is_unavailable_after_retries(
    platform: ShopifyPlatform, shop: Any, fake_sleep: Any
) -> None:
    shop.default = lambda _: httpx.Response(503)
    with pytest.raises(PlatformUnavailable, match="after 4 attempts: HTTP 503"):
        platform.exchange_code("acme", "the-code")
    assert len(shop.requests) == 4
    assert len(fake_sleep.calls) == 3


def test_a_token_answer_without_a_token_is_a_rejection(
    platform: ShopifyPlatform, shop: Any
) -> None:
    shop.script.append(httpx.Response(200, json={"scope": "read_orders"}))
    with pytest.raises(PlatformRejected, match="no access_token"):
        platform.exchange_code("acme", "the-code")


def _expiring(clock: Any) -> Credentials:
    return Credentials(
        access_token="shpat_old",
        scopes=("read_orders",),
        expires_at=clock.now() + timedelta(minutes=2),
        refresh_token="shprt_old",
        refresh_token_expires_at=clock.now() + timedelta(days=30),
    )


def test_a_refresh_rotates_the_refresh_token(
    platform: ShopifyPlatform, shop: Any, clock: Any
) -> None:
    shop.script.append(_token_answer(scope=None))
    fresh = platform.refresh_credentials("acme.myshopify.com", _expiring(clock))
    assert json.loads(shop.requests[0].content) == {
        "client_id": "client-id",
        "client_secret": "the-client-secret",
        "grant_type": "refresh_token",
        "refresh_token": "shprt_old",
    }
    assert (fresh.access_token, fresh.refresh_token) == ("shpat_new", "shprt_new")
    assert fresh.scopes == ("read_orders",)  # kept when the answer leaves them out
    assert fresh.expires_at == clock.now() + timedelta(hours=1)


def test_a_refresh_answer_without_a_new_refresh_token_keeps_the_old_one(
    platform: ShopifyPlatform, shop: Any, clock: Any
) -> None:
    shop.script.append(_token_answer(refresh_token=None, refresh_token_expires_in=None))
    old = _expiring(clock)
    fresh = platform.refresh_credentials("acme.myshopify.com", old)
    assert fresh.refresh_token == old.refresh_token
    assert fresh.refresh_token_expires_at == old.refresh_token_expires_at


@pytest.mark.parametrize("status", [400, 401, 403])
def test_a_revoked_refresh_token_is_an_auth_error(
    platform: ShopifyPlatform, shop: Any, clock: Any, status: int
) -> None:
    shop.script.append(httpx.Response(status, json={"error": "invalid_grant"}))
    with pytest.raises(PlatformAuthError) as caught:
        platform.refresh_credentials("acme.myshopify.com", _expiring(clock))
    assert "shprt_old" not in str(caught.value)


def test_an_expired_refresh_token_is_an_auth_error_without_a_call(
    platform: ShopifyPlatform, shop: Any, clock: Any
) -> None:
    stale = Credentials(
        access_token="shpat_old",
        expires_at=clock.now() - timedelta(minutes=1),
        refresh_token="shprt_old",
        refresh_token_expires_at=clock.now() - timedelta(seconds=1),
    )
    with pytest.raises(PlatformAuthError, match="expired"):
        platform.refresh_credentials("acme.myshopify.com", stale)
    assert shop.requests == []


def test_a_non_expiring_token_needs_no_refresh(platform: ShopifyPlatform, shop: Any) -> None:
    forever = Credentials(access_token="shpat_forever", scopes=("read_orders",))
    assert platform.refresh_credentials("acme.myshopify.com", forever) is forever
    assert shop.requests == []


def test_an_expiring_token_without_a_refresh_token_is_an_auth_error(
    platform: ShopifyPlatform, clock: Any
) -> None:
    orphan = Credentials(access_token="shpat_x", expires_at=clock.now() + timedelta(minutes=1))
    with pytest.raises(PlatformAuthError):
        platform.refresh_credentials("acme.myshopify.com", orphan)


def test_a_refresh_survives_a_dropped_connection(
    platform: ShopifyPlatform, shop: Any, clock: Any
) -> None:
    shop.script.extend([httpx.ReadTimeout("slow"), _token_answer()])
    assert platform.refresh_credentials("acme.myshopify.com", _expiring(clock)).access_token == (
        "shpat_new"
    )
