"""Orders: the list every user works from (search, status, client for staff, keyset pages)
and the staff health page. One order's page and its actions are in ``order_page``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from core.model import ORDER_STATUSES, OrderStatus
from core.ports import OrderCursor
from core.services import order_views
from core.services._context import require_staff
from entrypoints.web.auth import login_required
from entrypoints.web.context import actor, ctx
from entrypoints.web.errors import ApiError
from entrypoints.web.inputs import MAX_PER_PAGE, arg
from entrypoints.web.portal._common import _notices, bp

ORDERS_PER_PAGE = 50
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# --- home and orders -------------------------------------------------------------------------


@bp.get("/")
def home() -> Response:
    return redirect("/portal/orders")


def encode_cursor(cursor: OrderCursor) -> str:
    """``<microseconds since 1970>.<order id>``: exact, and plain in a URL."""
    micros = (cursor.created_at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}.{cursor.id}"


def _cursor_arg(name: str) -> OrderCursor | None:
    raw = arg(name)
    if raw is None:
        return None
    micros, _, order_id = raw.partition(".")
    digits = micros.removeprefix("-")
    if not digits.isdigit() or len(digits) > 18 or not order_id:
        raise ApiError(400, "invalid_query", f"{name} is not a page of this list; start over")
    try:
        created_at = _EPOCH + timedelta(microseconds=int(micros))
    except OverflowError:
        raise ApiError(400, "invalid_query", f"{name} is out of range; start over") from None
    return OrderCursor(created_at=created_at, id=order_id)


def _status_arg() -> OrderStatus | None:
    status = arg("status")
    if status is not None and status not in ORDER_STATUSES:
        raise ApiError(400, "invalid_query", f"status must be one of {', '.join(ORDER_STATUSES)}")
    return status


def _per_page() -> int:
    raw = request.args.get("per_page", "")
    if not raw:
        return ORDERS_PER_PAGE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PER_PAGE:
        raise ApiError(400, "invalid_query", f"per_page must be 1-{MAX_PER_PAGE}")
    return int(raw)


@bp.get("/portal/orders")
@login_required
def orders_page() -> str:
    user = actor()
    status = _status_arg()
    q = arg("q")
    client_id = arg("client") if user.is_staff else None
    per_page = _per_page()
    found = order_views.list_orders(
        ctx(),
        user,
        client_id=client_id,
        status=status,
        q=q,
        after=_cursor_arg("after"),
        before=_cursor_arg("before"),
        limit=per_page,
    )
    filters = {
        "q": q,
        "status": status,
        "client": client_id,
        "per_page": per_page if per_page != ORDERS_PER_PAGE else None,
    }
    return render_template(
        "orders.html",
        rows=found.rows,
        clients=found.clients,
        staff=user.is_staff,
        statuses=ORDER_STATUSES,
        q=q or "",
        selected_status=status or "",
        selected_client=client_id or "",
        filtered=bool(q or status or client_id),
        filters={key: value for key, value in filters.items() if value},
        newer=encode_cursor(found.newer) if found.newer else None,
        older=encode_cursor(found.older) if found.older else None,
        **_notices(),
    )


# --- staff -----------------------------------------------------------------------------------


def _client_names() -> dict[str, str]:
    with ctx().uow() as uow:
        return {c.id: c.name for c in uow.clients.list()}


@bp.get("/staff/orders")
@login_required
def staff_orders_page() -> Response:
    """The staff view of every client's orders is the orders list itself (with its client
    column and filter); old links (``client_id``, ``status``) keep working."""
    require_staff(actor())
    query: dict[str, Any] = {
        "client": arg("client_id") or arg("client"),
        "status": arg("status"),
        "q": arg("q"),
    }
    return redirect(url_for("portal.orders_page", **{k: v for k, v in query.items() if v}))
