"""One order's page: its lines, address, shipments, store order and events; and the staff
actions on it (ship, change status, release the hold, cancel).

Another client's order is a 404 page. Client users see the page without the forms, and
their posts are 403. Each action is a form with the session's CSRF token; it redirects back
with a fixed message when it worked, and shows the page again with the error inline (status
422 or 409, the values typed kept) when it did not: never a raw JSON answer.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from werkzeug.wrappers import Response

from core.errors import DomainError, IllegalTransition, InvalidInput
from core.model import Integration, OutboundOrder
from core.services import fulfillment, order_views, orders
from core.services._context import require_staff
from core.services.fulfillment import ShipLine
from entrypoints.web.auth import login_required
from entrypoints.web.context import actor, ctx, services
from entrypoints.web.portal._common import MESSAGES, _back, _checked, _notices, bp

MAX_TEXT = 100  # carrier and tracking number, as the shipping service allows
MAX_URL = 2000
MAX_REASON = 500


class FormError(Exception):
    """An action's input or outcome to show on the page: a ``MESSAGES`` code and a status."""

    def __init__(self, code: str, status: int = 422) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


def store_admin_url(store: Integration | None, order: OutboundOrder) -> str | None:
    """The order in the store's admin, where the platform's address for it is known."""
    if store is None or order.external is None or store.platform != "shopify":
        return None
    shop = services().settings.shopify_shop_url_template.replace("{shop}", store.shop_domain)
    return f"{shop}/admin/orders/{order.external.external_order_id}"


def _render(order_id: str, *, error: str | None = None, status: int = 200) -> tuple[str, int]:
    user = actor()
    detail = order_views.order_detail(ctx(), user, order_id)
    notices = _notices()
    if error is not None:
        notices = {"message": None, "error": MESSAGES[error]}
    page = render_template(
        "order.html",
        d=detail,
        o=detail.order,
        staff=user.is_staff,
        admin_url=store_admin_url(detail.store, detail.order),
        form=request.form if error is not None else {},
        **notices,
    )
    return page, status


@bp.get("/portal/orders/<order_id>")
@login_required
def order_page(order_id: str) -> tuple[str, int]:
    return _render(order_id)


def _act(order_id: str, action: Any) -> Response | tuple[str, int]:
    """Run a staff action; its ``FormError`` or the core's refusal shows on the page."""
    require_staff(actor())
    try:
        code = action()
    except FormError as exc:
        return _render(order_id, error=exc.code, status=exc.status)
    return _back("portal.order_page", order_id=order_id, message=code)


# --- shipping --------------------------------------------------------------------------------


def _text(name: str, limit: int) -> str | None:
    value = (request.form.get(name) or "").strip()
    if len(value) > limit:
        raise FormError("ship_field_too_long")
    return value or None


def _ship_lines(order: OutboundOrder) -> list[ShipLine]:
    """The quantity typed for each line still to ship (blank or 0: not in this shipment)."""
    lines = []
    for item in order.items:
        raw = (request.form.get(f"qty-{item.id}") or "").strip()
        if not raw or item.remaining <= 0:
            continue
        if not raw.isdigit() or len(raw) > 9:
            raise FormError("ship_quantity_invalid")
        quantity = int(raw)
        if quantity > item.remaining:
            raise FormError("ship_quantity_over")
        if quantity:
            lines.append(ShipLine(item.id, quantity))
    if not lines:
        raise FormError("ship_nothing_chosen")
    return lines


@bp.post("/portal/orders/<order_id>/ship")
@login_required
def ship_order(order_id: str) -> Response | tuple[str, int]:
    def ship() -> str:
        user = actor()
        order = order_views.order_detail(ctx(), user, order_id).order
        carrier = _text("carrier", MAX_TEXT)
        tracking = _text("tracking_number", MAX_TEXT)
        url = _text("tracking_url", MAX_URL)
        if carrier is None:
            raise FormError("ship_carrier_missing")
        if tracking is None:
            raise FormError("ship_tracking_missing")
        if url is not None and not url.lower().startswith(("https://", "http://")):
            raise FormError("ship_url_invalid")
        if not order.holds_reservations:
            raise FormError("not_shippable", 409)
        lines = _ship_lines(order)
        try:
            fulfillment.ship(
                ctx(),
                user,
                order_id,
                carrier=carrier,
                tracking_number=tracking,
                tracking_url=url,
                lines=lines,
            )
        except InvalidInput:  # the order changed since it was read: quantities no longer fit
            raise FormError("ship_quantity_over") from None
        except DomainError as exc:
            code = "not_shippable" if exc.code == "not_shippable" else "ship_refused"
            raise FormError(code, 409) from None
        return "order_shipped"

    return _act(order_id, ship)


# --- status, hold, cancel --------------------------------------------------------------------


@bp.post("/portal/orders/<order_id>/status")
@login_required
def set_order_status(order_id: str) -> Response | tuple[str, int]:
    def move() -> str:
        user = actor()
        detail = order_views.order_detail(ctx(), user, order_id)
        wanted = request.form.get("status", "")
        if wanted not in detail.moves:
            raise FormError("illegal_transition", 409)
        try:
            orders.advance(ctx(), user, order_id, status=wanted)
        except IllegalTransition:
            raise FormError("illegal_transition", 409) from None
        return "status_changed"

    return _act(order_id, move)


@bp.post("/portal/orders/<order_id>/release-hold")
@login_required
def release_order_hold(order_id: str) -> Response | tuple[str, int]:
    def release() -> str:
        user = actor()
        order_views.order_detail(ctx(), user, order_id)  # 404 before anything else
        try:
            orders.release_hold(ctx(), user, order_id)
        except DomainError as exc:
            known = ("not_on_hold", "unmapped_lines")
            raise FormError(exc.code if exc.code in known else "illegal_transition", 409) from None
        return "hold_released"

    return _act(order_id, release)


@bp.post("/portal/orders/<order_id>/cancel")
@login_required
def cancel_order(order_id: str) -> Response | tuple[str, int]:
    def cancel() -> str:
        user = actor()
        order = order_views.order_detail(ctx(), user, order_id).order
        reason = (request.form.get("reason") or "").strip()
        if len(reason) > MAX_REASON:
            raise FormError("cancel_reason_too_long")
        if not _checked("confirm"):
            raise FormError("confirm_cancel")
        if not order.can_become("cancelled"):
            raise FormError("illegal_transition", 409)
        try:
            orders.cancel_order(ctx(), user, order_id, reason=reason)
        except IllegalTransition:
            raise FormError("illegal_transition", 409) from None
        return "order_cancelled"

    return _act(order_id, cancel)
