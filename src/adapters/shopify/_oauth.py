"""OAuth with Shopify: shop names, the authorization URL, callback HMACs and token answers.

The callback HMAC follows Shopify's rule (and ``hmac-vectors.json``): every parameter but
``hmac`` and ``signature``, ``%``, ``&`` (and ``=`` in keys) percent-escaped so a value cannot
forge another parameter, array parameters ``ids[]=2&ids[]=1`` signed as ``ids=["2", "1"]``,
the ``k=v`` pairs sorted and joined with ``&``, hex HMAC-SHA256 with the app's client secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from core.errors import InvalidShop, InvalidSignature, StaleRequest

__all__ = [
    "authorize_query",
    "callback_message",
    "normalize_shop",
    "sign_callback",
    "verify_callback_params",
    "webhook_signature",
    "webhook_signature_valid",
]

_SHOP_DOMAIN = re.compile(r"[a-z0-9][a-z0-9-]*\.myshopify\.com")
_SHOP_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
_SUFFIX = ".myshopify.com"
_MAX_NAME = 63  # one DNS label
_UNSIGNED = frozenset({"hmac", "signature"})


def normalize_shop(raw: object) -> str:
    """``"Acme"``, ``" acme.myshopify.com "`` -> ``"acme.myshopify.com"``; else ``InvalidShop``.

    Only a bare shop name or its ``*.myshopify.com`` domain is accepted: no scheme, path,
    port, IP address, escapes or other domain can get through to the URL template.
    """
    if not isinstance(raw, str):
        raise InvalidShop("shop must be text")
    value = raw.strip().lower()
    if _SHOP_NAME.fullmatch(value):
        value += _SUFFIX
    if (
        len(value) > _MAX_NAME + len(_SUFFIX)
        or not value.isascii()
        or not _SHOP_DOMAIN.fullmatch(value)
    ):
        raise InvalidShop("shop must be a name or a NAME.myshopify.com domain")
    return value


def _shop_domain(raw: object) -> str:
    """A callback's ``shop``: must already be a full ``*.myshopify.com`` domain."""
    if not isinstance(raw, str) or not raw.lower().endswith(_SUFFIX):
        raise InvalidShop("shop must be a NAME.myshopify.com domain")
    return normalize_shop(raw)


def _escape_key(key: str) -> str:
    return key.replace("%", "%25").replace("&", "%26").replace("=", "%3D")


def _escape_value(value: str) -> str:
    return value.replace("%", "%25").replace("&", "%26")


def _pairs(params: Mapping[str, str | Sequence[str]]) -> Iterable[str]:
    for key, value in params.items():
        if key in _UNSIGNED:
            continue
        if key.endswith("[]"):
            values = [value] if isinstance(value, str) else [str(v) for v in value]
            name, text = key[:-2], json.dumps(values)
        elif isinstance(value, str):
            name, text = key, value
        elif len(value) == 1:  # a web framework's list-per-key form of a single value
            name, text = key, str(value[0])
        else:
            raise InvalidSignature(f"parameter {key!r} is repeated but not an array parameter")
        yield f"{_escape_key(name)}={_escape_value(text)}"


def callback_message(params: Mapping[str, str | Sequence[str]]) -> str:
    """The text Shopify signs for a callback or app-proxy style query."""
    return "&".join(sorted(_pairs(params)))


def sign_callback(params: Mapping[str, str | Sequence[str]], secret: str) -> str:
    """Hex HMAC-SHA256 of ``callback_message(params)`` (what Shopify puts in ``hmac``)."""
    message = callback_message(params).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _single(params: Mapping[str, str | Sequence[str]], key: str) -> str | None:
    value = params.get(key)
    if value is None or isinstance(value, str):
        return value
    return str(value[0]) if len(value) == 1 else None


def verify_callback_params(
    params: Mapping[str, str | Sequence[str]],
    *,
    secrets: Sequence[str],
    now: datetime,
    max_age: timedelta,
    max_skew: timedelta,
) -> str:
    """Check signature, then timestamp, then shop; return the shop domain.

    Raises ``InvalidSignature``, ``StaleRequest`` or ``InvalidShop``.
    """
    provided = _single(params, "hmac")
    if not provided:
        raise InvalidSignature("the callback carries no hmac")
    candidate = provided.strip().lower().encode("utf-8", "replace")
    matches = [
        hmac.compare_digest(sign_callback(params, secret).encode(), candidate) for secret in secrets
    ]
    if not any(matches):
        raise InvalidSignature("the callback's hmac does not match")
    raw_timestamp = _single(params, "timestamp")
    try:
        signed_at = int(raw_timestamp or "")
    except ValueError:
        raise StaleRequest("the callback carries no valid timestamp") from None
    age = now.timestamp() - signed_at
    if age > max_age.total_seconds():
        raise StaleRequest("the callback is too old; start the connection again")
    if -age > max_skew.total_seconds():
        raise StaleRequest("the callback's timestamp is in the future")
    return _shop_domain(_single(params, "shop"))


def authorize_query(*, client_id: str, scopes: Sequence[str], redirect_uri: str, state: str) -> str:
    """The query of ``/admin/oauth/authorize`` for an offline token (no per-user grant)."""
    return urllib.parse.urlencode(
        {
            "client_id": client_id,
            "scope": ",".join(scopes),
            "redirect_uri": redirect_uri,
            "state": state,
        }
    )


def webhook_signature(body: bytes, secret: str) -> str:
    """Base64 HMAC-SHA256 of a raw webhook body (``X-Shopify-Hmac-Sha256``)."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def webhook_signature_valid(body: bytes, signature: str | None, secrets: Sequence[str]) -> bool:
    """Constant-time check against every secret (current and, during a rotation, previous)."""
    if not signature:
        return False
    candidate = signature.strip().encode("utf-8", "replace")
    matches = [
        hmac.compare_digest(webhook_signature(body, secret).encode(), candidate)
        for secret in secrets
    ]
    return any(matches)
