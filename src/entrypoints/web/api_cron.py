"""``POST /api/cron/…``: scheduled work triggered over HTTP by an outside scheduler.

Authenticated by ``Authorization: Bearer $CRON_SECRET`` only (no session, no CSRF, no user):
without ``CRON_SECRET`` the endpoints do not exist (404). The token is compared in constant
time and never logged; failures spend the per-address budget of failed tokens, so guessing is
answered 429 as for API tokens. The work is queued for the workers, keyed by job and time
slot, so a scheduler that fires twice queues once.
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, request

from core.services import schedule
from entrypoints.web.auth import AUTH_FAILURES, refuse_if_throttled, throttle
from entrypoints.web.context import services
from entrypoints.web.errors import ApiError

bp = Blueprint("cron_api", __name__, url_prefix="/api/cron")


def _require_cron_secret() -> None:
    secret = services().settings.cron_secret
    if not secret:
        raise ApiError(404, "not_found", "the cron endpoints are off (CRON_SECRET is not set)")
    refuse_if_throttled("auth-fail", AUTH_FAILURES)
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        sent.strip().encode(), secret.encode()
    ):
        throttle("auth-fail", AUTH_FAILURES)
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <CRON_SECRET>")


@bp.post("/sync-shopify-inventory")
def sync_shopify_inventory() -> dict[str, Any]:
    """Queue the inventory sync of every Shopify store that is due (automatic sync on and its
    interval passed); ``queued`` is false when this time slot's sync was queued already."""
    _require_cron_secret()
    sc = services().store
    results = [
        {
            "integration_id": integration.id,
            "shop": integration.shop_domain,
            "queued": schedule.enqueue(sc, job, integration),
        }
        for job, integration in schedule.due(sc, ("inventory",))
        if integration.platform == "shopify"
    ]
    return {"results": results}
