"""Orders: the merchant's list and the staff views."""

from __future__ import annotations

from flask import redirect, render_template
from werkzeug.wrappers import Response

from core.model import ORDER_STATUSES
from core.services import orders
from core.services._context import require_staff
from entrypoints.web.auth import login_required
from entrypoints.web.context import actor, ctx
from entrypoints.web.errors import ApiError
from entrypoints.web.inputs import arg, page_args
from entrypoints.web.portal._common import bp

# --- home and orders -------------------------------------------------------------------------


@bp.get("/")
def home() -> Response:
    return redirect("/portal/orders")


@bp.get("/portal/orders")
@login_required
def orders_page() -> str:
    found = orders.list_orders(ctx(), actor(), limit=200)
    return render_template("orders.html", orders=found)


# --- staff -----------------------------------------------------------------------------------


def _client_names() -> dict[str, str]:
    with ctx().uow() as uow:
        return {c.id: c.name for c in uow.clients.list()}


@bp.get("/staff/orders")
@login_required
def staff_orders_page() -> str:
    user = actor()
    require_staff(user)
    status = arg("status")
    if status is not None and status not in ORDER_STATUSES:
        raise ApiError(400, "invalid_query", f"status must be one of {', '.join(ORDER_STATUSES)}")
    client_id = arg("client_id")
    limit, offset = page_args()
    found = orders.list_orders(
        ctx(),
        user,
        client_id=client_id,
        status=status,
        limit=limit + 1,
        offset=offset,
    )
    return render_template(
        "staff_orders.html",
        orders=found[:limit],
        clients=_client_names(),
        statuses=ORDER_STATUSES,
        selected_status=status or "",
        selected_client=client_id or "",
        page=offset // limit + 1,
        per_page=limit,
        has_more=len(found) > limit,
    )
