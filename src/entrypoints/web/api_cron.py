"""``POST /api/cron/…``: scheduled work triggered over HTTP by an outside scheduler.

Authenticated by ``Authorization: Bearer $CRON_SECRET`` only (no session, no CSRF, no user):
without ``CRON_SECRET`` the endpoints do not exist (404). The token is compared in constant
time and never logged. Failures spend a per-address budget of their own (``CRON_FAILURES``;
bad API tokens do not lock the scheduler out), and once it is spent the address is refused
before the check, right secret or not: unlike API tokens, which are long and random, an
operator-chosen secret may be short enough to guess. The work is queued for the workers,
keyed by job and time slot, so a scheduler that fires twice queues once.
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, request

from core.ports import Rate
from core.services import schedule
from entrypoints.web.auth import refuse_if_throttled, throttle
from entrypoints.web.context import services
from entrypoints.web.errors import ApiError

bp = Blueprint("cron_api", __name__, url_prefix="/api/cron")

CRON_FAILURES = Rate(20, 300)  # wrong cron secrets, per source address


def _require_cron_secret() -> None:
    secret = services().settings.cron_secret
    if not secret:
        raise ApiError(404, "not_found", "the cron endpoints are off (CRON_SECRET is not set)")
    refuse_if_throttled("cron-fail", CRON_FAILURES)
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        sent.strip().encode(), secret.encode()
    ):
        throttle("cron-fail", CRON_FAILURES)
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
