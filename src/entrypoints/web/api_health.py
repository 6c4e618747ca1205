"""``GET /api/health/integrations``: per store, status, last syncs, backlog and failures."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from core.services import health
from entrypoints.web import presenters
from entrypoints.web.context import actor, ctx

bp = Blueprint("health_api", __name__, url_prefix="/api/health")


@bp.get("/integrations")
def integrations() -> dict[str, Any]:
    rows = health.integration_health(ctx(), actor())
    return {
        "integrations": [
            {
                "id": row.integration.id,
                "client_id": row.integration.client_id,
                "platform": row.integration.platform,
                "shop_domain": row.integration.shop_domain,
                "shop_name": row.integration.shop_name,
                "status": row.integration.status,
                "last_order_sync": presenters.ts(row.integration.orders_synced_at),
                "last_inventory_sync": presenters.ts(row.integration.inventory_synced_at),
                "backlog": row.backlog,
                "failed": row.failed,
                "dead": row.dead,
                "received_24h": row.received_24h,
                "error_rate_24h": row.error_rate_24h,
                "open_alerts": row.open_alerts,
                "last_error": row.integration.last_error or row.last_orders_sync_error,
            }
            for row in rows
        ]
    }
