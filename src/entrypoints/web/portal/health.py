"""The staff health page: each store's backlog, failures and open alerts, linked to the
events and the alerts inbox filtered to that store."""

from __future__ import annotations

from flask import render_template

from core.services import health
from core.services._context import require_staff
from entrypoints.web.auth import login_required
from entrypoints.web.context import actor, ctx
from entrypoints.web.portal._common import bp
from entrypoints.web.portal.alerts import _client_names


@bp.get("/staff/health")
@login_required
def staff_health_page() -> str:
    user = actor()
    require_staff(user)
    rows = health.integration_health(ctx(), user)
    return render_template(
        "staff_health.html",
        rows=rows,
        clients=_client_names(),
        open_alerts=sum(row.open_alerts for row in rows),
    )
