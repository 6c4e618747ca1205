"""Pages for merchants and staff. Views parse the query or the form, call the use case and
render a template; a form posts, then redirects back with a message code that names one of
the fixed texts below (input is never echoed into a message).

Tenant rules are the API's: another client's integration is a 404 page, a member may look but
not change (403 page), staff see everything. Every form that changes state carries the
session's CSRF token (``auth._check_csrf`` refuses a POST without it).
"""

from __future__ import annotations

import logging
from math import ceil
from typing import Any, cast

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from core.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    PlatformAuthError,
    StorelinkError,
)
from core.model import ORDER_STATUSES, InboxStatus, Integration, Product, SyncRun, User
from core.ports import Rate
from core.services import (
    health,
    integrations,
    inventory,
    mapping,
    order_import,
    orders,
    sessions,
    tenancy,
)
from core.services import stock as stock_services
from core.services._context import require_staff
from core.services.mapping import VariantRow
from core.services.worker import retry
from entrypoints.web import presenters
from entrypoints.web.auth import login_required, session_policy, throttle
from entrypoints.web.context import actor, ctx, services
from entrypoints.web.errors import ApiError
from entrypoints.web.inputs import MAX_PER_PAGE, arg, page_args

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
    # integrations
    "disconnected": "The store is disconnected. Its orders and history are kept.",
    "confirm_disconnect": "Tick the confirmation box to disconnect the store.",
    "orders_synced": "Orders synced: {imported} imported, {updated} updated, {skipped} unchanged.",
    "orders_sync_incomplete": (
        "Orders synced with problems: {imported} imported, {updated} updated, "
        "{skipped} unchanged; some orders failed and will be tried again on the next sync."
    ),
    "sync_failed": "The store could not be reached to sync orders. Please try again later.",
    "not_connected": "The store is not connected; reconnect it first.",
    "inventory_pushed": "Inventory pushed: {updated} updated, {unchanged} already right.",
    "inventory_push_incomplete": (
        "Inventory pushed with problems: {updated} updated, {unchanged} already right, "
        "{failed} not set; the store's Products page shows why for each variant."
    ),
    "inventory_push_failed": (
        "The store could not be reached to push inventory. Please try again later."
    ),
    "store_access_refused": (
        "The store no longer accepts storelink's access; reconnect the store."
    ),
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
    "not_retryable": "Only failed, dead or skipped events can be retried.",
    # the account
    "password_changed": "Your password is changed. Your other sessions are signed out.",
    "wrong_password": "The current password is wrong; the password is not changed.",
    "password_too_short": (
        f"A password needs at least {tenancy.MIN_PASSWORD_LENGTH} characters; "
        "the password is not changed."
    ),
    "password_too_long": "A password may have at most 1024 characters; it is not changed.",
    "passwords_differ": "The new password and its confirmation differ; it is not changed.",
}

# Messages that carry counts: the names of their whole-number query parameters.
COUNTED = {
    "orders_synced": ("imported", "updated", "skipped"),
    "orders_sync_incomplete": ("imported", "updated", "skipped"),
    "auto_mapped": ("mapped", "skipped"),
    "inventory_pushed": ("updated", "unchanged"),
    "inventory_push_incomplete": ("updated", "unchanged", "failed"),
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


def _field(name: str, *, max_length: int = 200) -> str | None:
    value = (request.form.get(name) or "").strip()
    if not value:
        return None
    if len(value) > max_length:
        raise ApiError(400, "invalid_input", f"{name} is too long")
    return value


def _required(name: str) -> str:
    value = _field(name)
    if value is None:
        raise ApiError(400, "missing_field", f"the form lacks {name}; reload the page")
    return value


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


# --- home and orders -------------------------------------------------------------------------


@bp.get("/")
def home() -> Response:
    return redirect("/portal/orders")


@bp.get("/portal/orders")
@login_required
def orders_page() -> str:
    found = orders.list_orders(ctx(), actor(), limit=200)
    return render_template("orders.html", orders=found)


# --- integrations ----------------------------------------------------------------------------


@bp.get(PORTAL)
@login_required
def integrations_page() -> str:
    user = actor()
    found = integrations.list_integrations(ctx(), user)
    success = arg("success")
    return render_template(
        "integrations.html",
        integrations=found,
        inventory_runs=_inventory_runs(found),
        success=MESSAGES.get(success or "") if success == "shopify_connected" else None,
        **_notices(),
        manageable={i.id for i in found if user.can_manage_integrations(i.client_id)},
        can_connect=user.role in ("owner", "admin") or user.is_staff,
        platforms=sorted(services().platforms),
    )


@bp.post(f"{PORTAL}/disconnect")
@login_required
def disconnect() -> Response:
    user = actor()
    integration_id = _required("integration")
    _managed(user, integration_id, shopify=False)
    if not _checked("confirm"):
        return _back("portal.integrations_page", error="confirm_disconnect")
    integrations.disconnect(services().store, user, integration_id)
    return _back("portal.integrations_page", message="disconnected")


@bp.post(f"{PORTAL}/sync-orders")
@login_required
def sync_orders() -> Response:
    user = actor()
    found = _managed(user, _required("integration"), shopify=False)
    if not found.is_connected:
        return _back("portal.integrations_page", error="not_connected")
    try:
        report = order_import.reconcile(services().store, found.id, manual=True)
    except StorelinkError as exc:
        log.warning("manual order sync of %s failed: %s", found.id, exc.code)
        return _back("portal.integrations_page", error="sync_failed")
    counts = report.as_dict()
    if report.errors or report.failed:
        return _back("portal.integrations_page", error="orders_sync_incomplete", **counts)
    return _back("portal.integrations_page", message="orders_synced", **counts)


def _inventory_runs(found: list[Integration]) -> dict[str, SyncRun]:
    """The latest full inventory sync of each store, read in one unit of work."""
    with ctx().uow() as uow:
        runs = {i.id: uow.sync_runs.latest(i.id, "inventory") for i in found}
    return {key: run for key, run in runs.items() if run is not None}


@bp.post(f"{PORTAL}/sync-inventory")
@login_required
def sync_inventory() -> Response:
    """The "Push inventory now" button: a full sync (read the store's levels, repair drift,
    push every synced variant that differs), whatever the store's automatic sync settings."""
    user = actor()
    found = _managed(user, _required("integration"), shopify=False)
    if not found.is_connected:
        return _back("portal.integrations_page", error="not_connected")
    try:
        report = inventory.sync_now(services().store, user, found.id)
    except PlatformAuthError:
        return _back("portal.integrations_page", error="store_access_refused")
    except StorelinkError as exc:
        log.warning("manual inventory push of %s failed: %s", found.id, exc.code)
        return _back("portal.integrations_page", error="inventory_push_failed")
    counts = {"updated": report.updated, "unchanged": report.unchanged, "failed": report.failed}
    if report.failed or report.errors:
        return _back("portal.integrations_page", error="inventory_push_incomplete", **counts)
    return _back("portal.integrations_page", message="inventory_pushed", **counts)


# --- the store's catalog and product mappings ------------------------------------------------


def _product_names(user: User, client_id: str, ids: set[str]) -> dict[str, Product]:
    found: dict[str, Product] = {}
    for product_id in ids:
        try:
            found[product_id] = stock_services.get_product(ctx(), user, product_id)
        except NotFound:
            continue
    return found


@bp.get(f"{PORTAL}/shopify/products")
@login_required
def products_page() -> Response | str:
    user = actor()
    integration_id = arg("integration")
    if integration_id is None:
        return redirect(PORTAL)
    found = _shopify_store(user, integration_id)
    unmapped = request.args.get("unmapped") in ("1", "true", "on")
    q = arg("q")
    limit, offset = page_args()
    rows, total = mapping.list_variants(
        ctx(),
        user,
        found.id,
        mapped=False if unmapped else None,
        q=q,
        limit=limit,
        offset=offset,
    )
    can_manage = user.can_manage_integrations(found.client_id)
    choices = (
        stock_services.list_products(ctx(), user, client_id=found.client_id, limit=PRODUCT_CHOICES)
        if can_manage
        else []
    )
    known = {p.id: p for p in choices}
    missing = {r.mapping.product_id for r in rows if r.mapping} - known.keys()
    known.update(_product_names(user, found.client_id, missing))
    return render_template(
        "products.html",
        integration=found,
        rows=rows,
        stock=_variant_stock(found, rows),
        products=known,
        choices=choices,
        more_products=len(choices) == PRODUCT_CHOICES,
        can_manage=can_manage,
        q=q or "",
        unmapped=unmapped,
        **_paging(limit, offset, total),
        **_notices(),
    )


def _variant_stock(
    integration: Integration, rows: list[VariantRow]
) -> dict[str, presenters.VariantStock]:
    """Warehouse stock and push state of the page's mapped variants: a few batched reads
    (locations, levels, push states, warehouse codes), never one per variant."""
    mappings = [r.mapping for r in rows if r.mapping is not None]
    if not mappings:
        return {}
    with ctx().uow() as uow:
        locations = uow.locations.for_integration(integration.id)
        served = {loc.warehouse_id for loc in locations if loc.warehouse_id}
        if not served:
            return {}
        # one read of the client's levels, narrowed to the warehouse when only one serves
        only = next(iter(served)) if len(served) == 1 else None
        levels = uow.stock.levels(client_id=integration.client_id, warehouse_id=only)
        states = uow.inventory.states(integration.id)
        codes = {w.id: w.code for w in uow.warehouses.list()}
    return presenters.variant_stock(mappings, locations, levels, states, codes)


def _products_back(integration_id: str, **notice: Any) -> Response:
    """Back to the products page with the filters and page the form carried."""
    page = request.form.get("page", "")
    per_page = request.form.get("per_page", "")
    return _back(
        "portal.products_page",
        integration=integration_id,
        q=(request.form.get("q") or "")[:200],
        unmapped="1" if _checked("unmapped") else None,
        page=int(page) if page.isdigit() and 1 < int(page) < 10**6 else None,
        per_page=int(per_page)
        if per_page.isdigit() and 1 <= int(per_page) <= MAX_PER_PAGE
        else None,
        **notice,
    )


def _product_by_sku(user: User, client_id: str, sku: str) -> str | None:
    found = stock_services.list_products(
        ctx(), user, client_id=client_id, q=sku, limit=SKU_LOOKUP_LIMIT
    )
    wanted = sku.lower()
    return next((p.id for p in found if p.sku.lower() == wanted), None)


@bp.post(f"{PORTAL}/shopify/products/map")
@login_required
def map_variant() -> Response:
    user = actor()
    found = _managed(user, _required("integration"))
    variant_id = _required("external_variant_id")
    product_id = _field("product_id")
    sku = _field("sku")
    if product_id is None and sku is not None:
        product_id = _product_by_sku(user, found.client_id, sku)
        if product_id is None:
            return _products_back(found.id, error="unknown_sku")
    if product_id is None:
        return _products_back(found.id, error="choose_product")
    try:
        mapping.map_variant(
            ctx(), user, found.id, external_variant_id=variant_id, product_id=product_id
        )
    except NotFound:
        return _products_back(found.id, error="mapping_target_missing")
    except Conflict:
        return _products_back(found.id, error="already_mapped")
    return _products_back(found.id, message="mapped")


@bp.post(f"{PORTAL}/shopify/products/unmap")
@login_required
def unmap_variant() -> Response:
    user = actor()
    found = _managed(user, _required("integration"))
    try:
        mapping.remove_mapping(ctx(), user, found.id, _required("mapping_id"))
    except NotFound:
        return _products_back(found.id, error="mapping_missing")
    return _products_back(found.id, message="unmapped")


@bp.post(f"{PORTAL}/shopify/products/sync")
@login_required
def toggle_mapping_sync() -> Response:
    user = actor()
    found = _managed(user, _required("integration"))
    wanted = _checked("sync_inventory")
    try:
        mapping.set_mapping_sync(
            ctx(), user, found.id, _required("mapping_id"), sync_inventory=wanted
        )
    except NotFound:
        return _products_back(found.id, error="mapping_missing")
    return _products_back(found.id, message="sync_on" if wanted else "sync_off")


@bp.post(f"{PORTAL}/shopify/products/auto-map")
@login_required
def auto_map() -> Response:
    user = actor()
    found = _managed(user, _required("integration"))
    result = mapping.auto_map(ctx(), found.id)
    return _products_back(
        found.id, message="auto_mapped", mapped=result.mapped, skipped=result.skipped
    )


# --- store locations -------------------------------------------------------------------------


@bp.get(f"{PORTAL}/shopify/locations")
@login_required
def locations_page() -> Response | str:
    user = actor()
    integration_id = arg("integration")
    if integration_id is None:
        return redirect(PORTAL)
    found = _shopify_store(user, integration_id)
    locations = mapping.list_locations(ctx(), user, found.id)
    warehouses = stock_services.list_warehouses(ctx())
    return render_template(
        "locations.html",
        integration=found,
        locations=locations,
        warehouses=warehouses,
        warehouse_names={w.id: f"{w.code} · {w.name}" for w in warehouses},
        can_manage=user.can_manage_integrations(found.client_id),
        **_notices(),
    )


@bp.post(f"{PORTAL}/shopify/locations")
@login_required
def save_location() -> Response:
    user = actor()
    found = _managed(user, _required("integration"))
    try:
        mapping.update_location(
            ctx(),
            user,
            found.id,
            _required("location_id"),
            warehouse_id=_field("warehouse_id"),
            sync_inventory=_checked("sync_inventory"),
            is_default=_checked("is_default"),
        )
    except NotFound:
        return _back("portal.locations_page", integration=found.id, error="location_target_missing")
    return _back("portal.locations_page", integration=found.id, message="location_saved")


# --- webhook events --------------------------------------------------------------------------


def _status_filter() -> str | None:
    status = arg("status")
    if status is not None and status not in INBOX_STATUSES:
        raise ApiError(400, "invalid_query", f"status must be one of {', '.join(INBOX_STATUSES)}")
    return status


@bp.get("/portal/events")
@login_required
def events_page() -> str:
    user = actor()
    visible = integrations.list_integrations(ctx(), user)
    integration_id = arg("integration")
    status = _status_filter()
    limit, offset = page_args()
    chosen = (
        [integrations.get_integration(ctx(), user, integration_id)] if integration_id else visible
    )
    found = []
    with ctx().uow() as uow:
        for integration in chosen:
            found.extend(
                uow.inbox.list(
                    integration_id=integration.id,
                    status=cast(InboxStatus | None, status),
                    limit=offset + limit + 1,
                )
            )
    found.sort(key=lambda e: (e.received_at, e.id), reverse=True)
    stores = {i.id: i for i in [*visible, *chosen]}
    return render_template(
        "events.html",
        events=found[offset : offset + limit],
        stores=stores,
        integrations=visible,
        manageable={i for i, s in stores.items() if user.can_manage_integrations(s.client_id)},
        retryable=RETRYABLE,
        statuses=INBOX_STATUSES,
        selected_integration=integration_id or "",
        selected_status=status or "",
        page=offset // limit + 1,
        per_page=limit,
        has_more=len(found) > offset + limit,
        **_notices(),
    )


@bp.post("/portal/events/retry")
@login_required
def retry_event() -> Response:
    user = actor()
    found = _managed(user, _required("integration"), shopify=False)
    event_id = _required("event_id")
    with ctx().uow() as uow:
        event = uow.inbox.get(event_id)
    if event is None or event.integration_id != found.id:
        raise ApiError(404, "not_found", "event not found")
    status = _field("filter_status")
    back: dict[str, Any] = {
        "integration": _field("filter_integration"),
        "status": status if status in INBOX_STATUSES else None,
    }
    try:
        retry(ctx(), kind="inbox", item_id=event.id)
    except InvalidInput:
        return _back("portal.events_page", error="not_retryable", **back)
    return _back("portal.events_page", message="event_retried", **back)


# --- the account: password and sessions ------------------------------------------------------


@bp.get("/portal/account")
@login_required
def account_page() -> str:
    user = actor()
    return render_template(
        "account.html",
        user=user,
        live_sessions=sessions.live_sessions(ctx(), user.id, session_policy()),
        min_password_length=tenancy.MIN_PASSWORD_LENGTH,
        **_notices(),
    )


@bp.post("/portal/account/password")
@login_required
def change_password() -> Response:
    """Change one's password (the current one asked again); other sessions are signed out."""
    user = actor()
    throttle("password-change", PASSWORD_CHANGES, key=user.id)
    new = request.form.get("new_password", "")
    if new != request.form.get("confirm_password", ""):
        return _back("portal.account_page", error="passwords_differ")
    try:
        tenancy.change_password(
            ctx(),
            services().passwords,
            user.id,
            current=request.form.get("current_password", "")[:1025],
            new=new,
            keep_session=g.get("session_id"),
        )
    except AuthenticationFailed:
        return _back("portal.account_page", error="wrong_password")
    except InvalidInput:
        short = len(new) < tenancy.MIN_PASSWORD_LENGTH
        return _back(
            "portal.account_page", error="password_too_short" if short else "password_too_long"
        )
    return _back("portal.account_page", message="password_changed")


@bp.post("/portal/account/sign-out-everywhere")
@login_required
def sign_out_everywhere() -> Response:
    """End every session of the user, this one included."""
    sessions.end_all(ctx(), actor().id)
    session.clear()
    return redirect(url_for("auth.login"))


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


@bp.get("/staff/health")
@login_required
def staff_health_page() -> str:
    user = actor()
    require_staff(user)
    return render_template(
        "staff_health.html",
        rows=health.integration_health(ctx(), user),
        clients=_client_names(),
    )
