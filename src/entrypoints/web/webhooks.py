"""Webhook endpoints: verify, store, answer. Nothing else happens inside the request.

The signature is checked first, over the raw body, before any lookup (401 if bad or missing).
Only failed checks are counted, per source address: past ``BAD_SIGNATURES`` an address's bad
signatures are answered 429 instead of 401. A valid signature is never refused by that count
and costs no round trip to the limiter's storage, so nobody sharing or spoofing the store's
address can lock its deliveries out. Valid deliveries are rate limited per integration (429
with Retry-After: the store simply retries later) through the shared limiter, which fails open
so a Redis outage never loses a delivery. The event is committed before the 200 goes out.
"""

from __future__ import annotations

import json
from datetime import datetime

from flask import Blueprint, Response, request

from core.errors import PayloadError
from core.ports import Rate
from core.services import webhooks
from core.services.webhooks import Delivery, ShopMismatch
from entrypoints.web.auth import client_address
from entrypoints.web.context import services
from entrypoints.web.errors import ApiError

bp = Blueprint("webhooks", __name__, url_prefix="/api/webhooks")

BAD_SIGNATURES = Rate(30, 60)  # per source address
DELIVERIES = Rate(6000, 60)  # per integration (or shop, app-level): generous
# The two answers, encoded once rather than by Flask's JSON provider on every delivery.
ANSWERS = {
    outcome: json.dumps({"status": outcome}, separators=(",", ":")).encode() + b"\n"
    for outcome in ("stored", "duplicate")
}


def _header(name: str, *, required: bool = True, max_length: int = 255) -> str | None:
    value = request.headers.get(name)
    if value is None or not value.strip():
        if required:
            raise ApiError(400, "missing_header", f"the {name} header is required")
        return None
    if len(value) > max_length:
        raise ApiError(400, "invalid_header", f"the {name} header is too long")
    return value.strip()


def _triggered_at() -> datetime | None:
    raw = request.headers.get("X-Shopify-Triggered-At")
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


def _receive(platform_name: str, integration_id: str | None) -> Response:
    platform = services().platforms.get(platform_name)
    if platform is None:
        raise ApiError(404, "not_found", "no such webhook endpoint")
    body = request.get_data(cache=False)
    if not platform.verify_webhook(body, request.headers.get("X-Shopify-Hmac-Sha256")):
        counted = services().webhook_limiter.acquire(
            f"webhook-bad-hmac:{client_address()}", BAD_SIGNATURES
        )
        if not counted.allowed:
            raise ApiError(
                429, "rate_limited", "too many bad signatures", retry_after=counted.retry_after
            )
        raise ApiError(401, "invalid_hmac", "the webhook signature is missing or wrong")
    topic = _header("X-Shopify-Topic", max_length=100) or ""
    shop = (_header("X-Shopify-Shop-Domain", max_length=255) or "").lower()
    delivery_id = _header("X-Shopify-Webhook-Id", max_length=255) or ""
    budget = services().webhook_limiter.acquire(f"webhook:{integration_id or shop}", DELIVERIES)
    if not budget.allowed:
        raise ApiError(
            429, "rate_limited", "too many deliveries; retry later", retry_after=budget.retry_after
        )
    delivery = Delivery(
        platform=platform_name,
        topic=topic,
        shop=shop,
        delivery_id=delivery_id,
        body=body,
        event_id=_header("X-Shopify-Event-Id", required=False),
        triggered_at=_triggered_at(),
    )
    try:
        outcome = webhooks.receive(
            services().store,
            delivery,
            integration_id=integration_id,
            shops=services().integration_shops,
        )
    except ShopMismatch as exc:
        raise ApiError(401, "shop_mismatch", exc.message) from None
    except PayloadError as exc:
        raise ApiError(400, "invalid_payload", exc.message) from None
    return Response(ANSWERS[outcome], status=200, mimetype="application/json")


@bp.post("/<platform>/<integration_id>")
def per_integration(platform: str, integration_id: str) -> Response:
    return _receive(platform, integration_id)


@bp.post("/<platform>")
def app_level(platform: str) -> Response:
    return _receive(platform, None)
