"""Webhook endpoints: verify, parse, store, answer. Nothing else happens inside the request.

The signature is checked first, over the raw body, before any lookup or parsing (401 if bad
or missing). Only failures are counted, per source address and endpoint: past
``BAD_SIGNATURES`` a wrong signature is answered 429, while a correctly signed delivery from
the same address is never refused for them. A signed body is then parsed strictly
(``strict_json``); one that is not a JSON object, or is hostile (nested too deep, NUL or lone
surrogates, numbers that are not finite), is answered 400 and not stored, so it can never sit
in the inbox as an event no worker can handle (the store retries it, then gives up). A body
whose bytes show it meets every rule but the syntax (``strict_json.parse_elsewhere``, as
nearly every order does) is not parsed here but by the inbox, storing it; should that find no
JSON, the strict parser answers why (400), after the delivery budget was spent. Valid
deliveries are rate limited per integration (429 with Retry-After: the store retries later)
through the shared limiter, which fails open so a Redis outage never loses a delivery. The
event is committed before the 200 goes out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, Literal

from attrs import evolve
from flask import Blueprint, Response, request
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException

from core.errors import NotFound, PayloadError, StorelinkError
from core.ports import Rate, RateLimiter
from core.services import webhooks
from core.services.webhooks import Delivery, ShopMismatch
from entrypoints.bootstrap import Services
from entrypoints.web import strict_json
from entrypoints.web.auth import client_address
from entrypoints.web.context import services
from entrypoints.web.errors import ApiError

bp = Blueprint("webhooks", __name__, url_prefix="/api/webhooks")

BAD_SIGNATURES = Rate(30, 60)  # failures per source address and endpoint
BAD_SIGNATURES_ANYWHERE = Rate(300, 60)  # failures per source address, all endpoints together
DELIVERIES = Rate(6000, 60)  # per integration (or shop, app-level): generous
# The two answers, encoded once rather than by Flask's JSON provider on every delivery.
ANSWERS = {
    outcome: json.dumps({"status": outcome}, separators=(",", ":")).encode() + b"\n"
    for outcome in ("stored", "duplicate")
}


def _header(
    headers: Headers, name: str, *, required: bool = True, max_length: int = 255
) -> str | None:
    value = headers.get(name)
    if value is None or not value.strip():
        if required:
            raise ApiError(400, "missing_header", f"the {name} header is required")
        return None
    if len(value) > max_length:
        raise ApiError(400, "invalid_header", f"the {name} header is too long")
    return value.strip()


def _triggered_at(headers: Headers) -> datetime | None:
    raw = headers.get("X-Shopify-Triggered-At")
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


def _count_bad_signature(limiter: RateLimiter, integration_id: str | None) -> None:
    """Spend one unit of this address's budgets of bad signatures, at this endpoint and at
    all of them (made-up integration ids open no fresh budgets); 429 once one is spent. A
    correctly signed delivery never gets this answer."""
    address = client_address()
    endpoint = limiter.acquire(
        f"webhook-bad-hmac:{address}:{integration_id or 'app'}", BAD_SIGNATURES
    )
    anywhere = limiter.acquire(f"webhook-bad-hmac:{address}", BAD_SIGNATURES_ANYWHERE)
    decision = endpoint if not endpoint.allowed else anywhere
    if not decision.allowed:
        raise ApiError(
            429, "rate_limited", "too many bad signatures", retry_after=decision.retry_after
        )


Outcome = Literal["stored", "duplicate"]


def _receive(svc: Services, platform_name: str, integration_id: str | None) -> Outcome:
    platform = svc.platforms.get(platform_name)
    if platform is None:
        raise ApiError(404, "not_found", "no such webhook endpoint")
    headers = request.headers
    body = request.get_data(cache=False)
    if not platform.verify_webhook(body, headers.get("X-Shopify-Hmac-Sha256")):
        _count_bad_signature(svc.webhook_limiter, integration_id)
        raise ApiError(401, "invalid_hmac", "the webhook signature is missing or wrong")
    # a body that meets every rule but the syntax goes on unparsed: the inbox parses it
    payload = None if strict_json.parse_elsewhere(body) else _json_object(body)
    topic = _header(headers, "X-Shopify-Topic", max_length=100) or ""
    shop = (_header(headers, "X-Shopify-Shop-Domain", max_length=255) or "").lower()
    delivery_id = _header(headers, "X-Shopify-Webhook-Id", max_length=255) or ""
    budget = svc.webhook_limiter.acquire(f"webhook:{integration_id or shop}", DELIVERIES)
    if not budget.allowed:
        raise ApiError(
            429, "rate_limited", "too many deliveries; retry later", retry_after=budget.retry_after
        )
    delivery = Delivery(
        platform=platform_name,
        topic=topic,
        shop=shop,
        delivery_id=delivery_id,
        payload=payload,
        event_id=_header(headers, "X-Shopify-Event-Id", required=False),
        triggered_at=_triggered_at(headers),
        body=body,  # parsed above or by the inbox; stored as it is where that keeps its value
    )
    try:
        return _store(svc, delivery, integration_id)
    except PayloadError:
        # the inbox could not keep the body as it is (no JSON, if it was not parsed): the
        # strict parser says why, or reads it, and what it read is stored instead
        parsed = delivery.payload if delivery.payload is not None else _json_object(body)
        return _store(svc, evolve(delivery, payload=parsed, body=None), integration_id)


def _json_object(body: bytes) -> dict[str, Any]:
    payload = strict_json.loads(body, store_text=True)
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_payload", "the body is not a JSON object")
    return payload


def _store(svc: Services, delivery: Delivery, integration_id: str | None) -> Outcome:
    try:
        return webhooks.receive(
            svc.store, delivery, integration_id=integration_id, shops=svc.integration_shops
        )
    except ShopMismatch as exc:
        raise ApiError(401, "shop_mismatch", exc.message) from None


# ApiError codes -> the outcome counted
_OUTCOMES = {
    "invalid_hmac": "bad_hmac",
    "rate_limited": "rate_limited",
    "shop_mismatch": "shop_mismatch",
    "invalid_payload": "invalid",
    "missing_header": "invalid",
    "invalid_header": "invalid",
    "not_found": "unknown_endpoint",
}


def _outcome(exc: Exception) -> str:
    if isinstance(exc, ApiError):
        return _OUTCOMES.get(exc.code, "refused")
    if isinstance(exc, HTTPException) and exc.code == 413:
        return "too_large"
    if isinstance(exc, NotFound):
        return "unknown_integration"
    if isinstance(exc, StorelinkError):
        return "refused"
    return "error"


def _counted(view: Callable[..., Outcome]) -> Callable[..., Response]:
    """Hand the view the services (looked up once a request), answer its outcome (its
    encoded-once body), and count the answer by platform, topic and outcome; labels only from
    known values (the path and headers are the caller's to choose)."""

    @wraps(view)
    def wrapped(**path: str) -> Response:
        svc = services()
        platform = path["platform"]
        outcome = "error"
        try:
            outcome = view(svc, **path)
            return Response(ANSWERS[outcome], status=200, mimetype="application/json")
        except Exception as exc:
            outcome = _outcome(exc)
            raise
        finally:
            topic = request.headers.get("X-Shopify-Topic", "")
            svc.metrics.webhook_received(
                platform if platform in svc.platforms else "unknown",
                topic if topic in svc.handlers.inbox else "other",
                outcome,
            )

    return wrapped


@bp.post("/<platform>/<integration_id>")
@_counted
def per_integration(svc: Services, platform: str, integration_id: str) -> Outcome:
    return _receive(svc, platform, integration_id)


@bp.post("/<platform>")
@_counted
def app_level(svc: Services, platform: str) -> Outcome:
    return _receive(svc, platform, None)
