"""What every portal page shares: the blueprint, the fixed message texts, form and query
helpers, tenant checks on integrations."""

from __future__ import annotations

import logging
from math import ceil
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Blueprint, redirect, request, url_for
from werkzeug.wrappers import Response

from core.model import Integration, User
from core.ports import Rate
from core.services import integrations, tenancy
from entrypoints.web.context import ctx
from entrypoints.web.errors import ApiError
from entrypoints.web.inputs import arg

log = logging.getLogger(__name__)

bp = Blueprint("portal", __name__)

PORTAL = "/portal/settings/integrations"
INBOX_STATUSES = ("received", "processing", "processed", "failed", "skipped", "dead")
RETRYABLE = frozenset({"failed", "dead", "skipped"})
PRODUCT_CHOICES = 200  # products offered in each mapping select; more are reached by SKU
SKU_LOOKUP_LIMIT = 1000
PASSWORD_CHANGES = Rate(5, 900)  # per user: each attempt checks the current password

MESSAGES = {
    # the store connection (the OAuth callback's answers)
    "shopify_connected": "Your Shopify store is connected. Orders will arrive shortly.",
    "missing_params": "The store's answer was incomplete. Please try again.",
    "invalid_hmac": "The store's answer could not be verified. Please try again.",
    "invalid_state": "The connection request expired or was not started here. Please try again.",
    "token_exchange_failed": "The store did not grant access. Please try again.",
    "save_failed": "The connection could not be saved. Please try again or contact support.",
    # connecting a store and its settings
    "shop_required": "Type your store's name, e.g. your-store.myshopify.com.",
    "invalid_shop": (
        "That is not a Shopify store name. Type it as your-store or your-store.myshopify.com "
        "(letters, digits and hyphens)."
    ),
    "unknown_shop": (
        "Shopify has no store by that name. Check the spelling: it is the name in your "
        "store's admin address (your-store.myshopify.com)."
    ),
    "choose_client": "Choose the client the store belongs to.",
    "unknown_client": "That client no longer exists. Reload the page and choose another.",
    "unknown_platform": "That store platform is not available here.",
    "settings_saved": "The store's settings are saved.",
    "invalid_interval": (
        f"The inventory sync interval must be a whole number of minutes from "
        f"{integrations.MIN_INTERVAL_MINUTES} to {integrations.MAX_INTERVAL_MINUTES}; "
        "nothing was changed."
    ),
    "invalid_buffer": (
        f"The inventory buffer must be a whole number from 0 to {integrations.MAX_BUFFER}; "
        "nothing was changed."
    ),
    "invalid_settings": "Those settings could not be saved; nothing was changed.",
    # integrations
    "disconnected": "The store is disconnected. Its orders and history are kept.",
    "confirm_disconnect": "Tick the confirmation box to disconnect the store.",
    "not_connected": "The store is not connected; reconnect it first.",
    # long work, queued as jobs (their progress shows on the page)
    "order_sync_queued": (
        "Order sync queued: recent orders are read from the store and imported. Its progress "
        "shows with the store below."
    ),
    "inventory_push_queued": (
        "Inventory push queued: the store's levels are read, and every synced variant that "
        "differs from the warehouse is set. Its progress shows with the store below."
    ),
    "catalogue_refresh_queued": (
        "Catalogue refresh queued: the store's variants are read again and new ones auto-mapped "
        "by SKU or barcode. Its progress shows above the variants."
    ),
    "job_pending": "That is already queued or running; its progress is shown here.",
    # products and mappings
    "mapped": "The variant is mapped to the product.",
    "unmapped": "The mapping is removed.",
    "sync_on": "Stock of this product is synced to the store again.",
    "sync_off": "Stock of this product is no longer synced to the store.",
    "auto_mapped": "Auto-map: {mapped} variant(s) mapped, {skipped} left for you to map.",
    "choose_product": "Choose a product or type its SKU.",
    "unknown_sku": "No product of yours has that SKU.",
    "mapping_target_missing": "That store variant or product no longer exists. Reload the page.",
    "already_mapped": "That variant is already mapped. Remove its mapping first.",
    "mapping_missing": "That mapping no longer exists.",
    # locations
    "location_saved": "The location is saved.",
    "location_target_missing": "That location or warehouse no longer exists. Reload the page.",
    # events
    "event_retried": "The event is queued to run again.",
    "not_retryable": (
        "That event cannot be retried: only failed or dead events, and events skipped for a "
        "reason that may have been fixed since, run again. The page below shows its status now."
    ),
    "event_status_unknown": "That status is not one the events page knows; showing every status.",
    "cursor_invalid": (
        "That page link is broken or out of date; showing the newest events instead."
    ),
    "per_page_invalid": "Rows per page must be a whole number from 1 to 200; showing 50.",
    # alerts
    "alert_acknowledged": (
        "The alert is acknowledged: it leaves the open list and stays here until resolved."
    ),
    "alert_resolved": "The alert is resolved.",
    "alert_already_resolved": "That alert was already resolved; nothing was changed.",
    "alert_status_unknown": (
        "That status is not one the alerts inbox knows; showing open and acknowledged alerts."
    ),
    "alert_kind_invalid": (
        "A kind is a lower-case code such as order_on_hold; showing alerts of every kind."
    ),
    "page_invalid": "That page number is not valid; showing the first page.",
    # an order's page (staff actions)
    "order_shipped": (
        "The shipment is recorded. A store order is marked fulfilled in the store, with the "
        "tracking, within moments."
    ),
    "status_changed": "The order's status is changed.",
    "hold_released": "The hold is released; the order is allocated as soon as stock allows.",
    "order_cancelled": "The order is cancelled; the stock it reserved is free again.",
    "ship_carrier_missing": "Enter the carrier; nothing is shipped.",
    "ship_tracking_missing": "Enter the tracking number; nothing is shipped.",
    "ship_field_too_long": (
        "The carrier and tracking number may have at most 100 characters and the tracking URL "
        "2000; nothing is shipped."
    ),
    "ship_url_invalid": "The tracking URL must start with https:// or http://; nothing is shipped.",
    "ship_quantity_invalid": "Quantities must be whole numbers; nothing is shipped.",
    "ship_quantity_over": (
        "A quantity is more than what is left to ship on its line; nothing is shipped."
    ),
    "ship_nothing_chosen": "Enter a quantity for at least one line; nothing is shipped.",
    "not_shippable": "Only allocated, picking or packing orders can ship; nothing is shipped.",
    "ship_refused": "The shipment could not be recorded. Reload the page and try again.",
    "illegal_transition": "The order cannot move to that status from where it is now.",
    "not_on_hold": "The order is not on hold.",
    "unmapped_lines": (
        "Some lines' store variants are still not mapped to products: map them first (the "
        "links below), then release the hold."
    ),
    "confirm_cancel": "Tick the confirmation box to cancel the order.",
    "cancel_reason_too_long": "The reason may have at most 500 characters; nothing is changed.",
    # the account
    "password_changed": "Your password is changed. Your other sessions are signed out.",
    "wrong_password": "The current password is wrong; the password is not changed.",
    "password_too_short": (
        f"A password needs at least {tenancy.MIN_PASSWORD_LENGTH} characters; "
        "the password is not changed."
    ),
    "password_too_long": "A password may have at most 1024 characters; it is not changed.",
    "passwords_differ": "The new password and its confirmation differ; it is not changed.",
    # any form
    "field_too_long": (
        "A field you sent is too long, so nothing was changed. Shorten it and try again."
    ),
    "missing_field": (
        "The form was incomplete, so nothing was changed. Reload the page and try again."
    ),
}

# Messages that carry counts: the names of their whole-number query parameters.
COUNTED = {
    "auto_mapped": ("mapped", "skipped"),
}
MAX_COUNT_DIGITS = 9


# --- small helpers ---------------------------------------------------------------------------


def _count(name: str) -> int:
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) <= MAX_COUNT_DIGITS else 0


def _text(code: str | None) -> str | None:
    """The fixed text for a message code from the query; unknown codes show nothing."""
    text = MESSAGES.get(code or "")
    if text is None:
        return None
    return text.format(**{name: _count(name) for name in COUNTED.get(code or "", ())})


def _notices() -> dict[str, str | None]:
    return {"message": _text(arg("message")), "error": _text(arg("error"))}


class FormInvalid(ApiError):
    """A form field too long or missing. The portal answers it as post/redirect/get: back to
    the page the form came from, which shows the message for ``code`` (never a bare 400)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(400, code, message)


def _field(name: str, *, max_length: int = 200) -> str | None:
    value = (request.form.get(name) or "").strip()
    if not value:
        return None
    if len(value) > max_length:
        raise FormInvalid("field_too_long", f"{name} is too long")
    return value


def _required(name: str) -> str:
    value = _field(name)
    if value is None:
        raise FormInvalid("missing_field", f"the form lacks {name}; reload the page")
    return value


_NOTICE_PARAMS = frozenset({"message", "error", "success"}) | {
    name for names in COUNTED.values() for name in names
}


def _form_page() -> str:
    """The portal page the form was posted from (its query kept, old notices dropped), or the
    integrations page when the browser did not say or named another site."""
    referrer = request.referrer or ""
    parts = urlsplit(referrer)
    if (
        len(referrer) > 2000
        or parts.netloc != request.host
        or not parts.path.startswith(("/portal/", "/staff/"))
    ):
        return PORTAL
    kept = [(k, v) for k, v in parse_qsl(parts.query) if k not in _NOTICE_PARAMS]
    return parts.path + (f"?{urlencode(kept)}" if kept else "")


@bp.errorhandler(FormInvalid)
def _form_invalid(exc: FormInvalid) -> Response:
    page = _form_page()
    separator = "&" if "?" in page else "?"
    return redirect(f"{page}{separator}{urlencode({'error': exc.code})}")


def _checked(name: str) -> bool:
    return request.form.get(name) in ("1", "on", "true")


def _back(endpoint: str, **params: Any) -> Response:
    """Redirect to a page with the query given (``message``/``error`` codes, filters, counts);
    empty values are left out."""
    query = {key: value for key, value in params.items() if value not in (None, "", 0, False)}
    return redirect(url_for(endpoint, **query))


def _shopify_store(user: User, integration_id: str) -> Integration:
    """The integration if the user may see it and it is a Shopify store; else 404."""
    found = integrations.get_integration(ctx(), user, integration_id)
    if found.platform != "shopify":
        raise ApiError(404, "not_found", "integration not found")
    return found


def _managed(user: User, integration_id: str, *, shopify: bool = True) -> Integration:
    """The integration if the user may change it: 404 if unseen, 403 for a member."""
    if shopify:
        found = _shopify_store(user, integration_id)
    else:
        found = integrations.get_integration(ctx(), user, integration_id)
    integrations.require_manager(user, found)
    return found


def _paging(limit: int, offset: int, total: int) -> dict[str, int]:
    return {
        "page": offset // limit + 1,
        "pages": max(1, ceil(total / limit)),
        "per_page": limit,
        "total": total,
    }
