"""Pages for merchants and staff. Views read through the use cases and render templates."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request
from werkzeug.wrappers import Response

from core.services import integrations, orders
from entrypoints.web.auth import login_required
from entrypoints.web.context import actor, ctx, services

bp = Blueprint("portal", __name__)

MESSAGES = {
    "shopify_connected": "Your Shopify store is connected. Orders will arrive shortly.",
    "missing_params": "The store's answer was incomplete. Please try again.",
    "invalid_hmac": "The store's answer could not be verified. Please try again.",
    "invalid_state": "The connection request expired or was not started here. Please try again.",
    "token_exchange_failed": "The store did not grant access. Please try again.",
    "save_failed": "The connection could not be saved. Please try again or contact support.",
}


@bp.get("/")
def home() -> Response:
    return redirect("/portal/orders")


@bp.get("/portal/settings/integrations")
@login_required
def integrations_page() -> str:
    user = actor()
    found = integrations.list_integrations(ctx(), user)
    success = request.args.get("success")
    error = request.args.get("error")
    return render_template(
        "integrations.html",
        integrations=found,
        success=MESSAGES.get(success or ""),
        error=MESSAGES.get(error or ""),
        can_connect=user.role in ("owner", "admin") or user.is_staff,
        platforms=sorted(services().platforms),
    )


@bp.get("/portal/orders")
@login_required
def orders_page() -> str:
    found = orders.list_orders(ctx(), actor(), limit=200)
    return render_template("orders.html", orders=found)
