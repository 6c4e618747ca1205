"""Stores: integrations, the catalogue and mappings, locations."""

from __future__ import annotations

from typing import Any, Literal

from attrs import frozen
from flask import redirect, render_template, request
from werkzeug.wrappers import Response

from core.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    InvalidShop,
    NotFound,
    PermissionDenied,
)
from core.model import JOB_KINDS, Client, Integration, JobKind, Product, SyncRun, User
from core.services import connect, integrations, jobs, mapping
from core.services import stock as stock_services
from core.services.connect import SETUP_COMMAND
from core.services.mapping import VariantRow
from entrypoints.web import presenters
from entrypoints.web.api_integrations import OAUTH_STARTS, consent_redirect
from entrypoints.web.auth import login_required, throttle
from entrypoints.web.context import actor, ctx, services
from entrypoints.web.inputs import MAX_PER_PAGE, arg, page_args
from entrypoints.web.portal._common import (
    MESSAGES,
    PORTAL,
    PRODUCT_CHOICES,
    SKU_LOOKUP_LIMIT,
    _back,
    _checked,
    _field,
    _managed,
    _notices,
    _paging,
    _required,
    _shopify_store,
    bp,
)

# --- integrations ----------------------------------------------------------------------------

MAX_SHOP_TYPED = 255  # longer than any shop domain: refused without asking the store
SHOP_SHOWN_AGAIN = 100  # what the connect form shows again after an error
MAX_WHOLE_DIGITS = 9


@frozen
class SetupProgress:
    """What the latest setup job of a store did, or how far it got."""

    state: Literal["running", "retrying", "done", "failed", "skipped"]
    result: dict[str, int]
    error: str | None
    attempts: int


def _setup_progress(found: list[Integration]) -> dict[str, SetupProgress]:
    """The latest ``integration.setup`` command of each store, read in one unit of work."""
    progress: dict[str, SetupProgress] = {}
    with ctx().uow() as uow:
        for integration in found:
            latest = uow.outbox.list(integration_id=integration.id, kind=SETUP_COMMAND, limit=1)
            if not latest:
                continue
            command = latest[0]
            result = {k: v for k, v in command.result.items() if isinstance(v, int)}
            state: Literal["running", "retrying", "done", "failed", "skipped"]
            if command.status in ("pending", "processing"):
                state = "running"
            elif command.status == "failed":
                state = "retrying"
            elif command.status == "dead":
                state = "failed"
            else:
                state = "done" if "variants" in result else "skipped"
            progress[integration.id] = SetupProgress(state, result, command.error, command.attempts)
    return progress


def _client_choices(user: User) -> list[Client]:
    if not user.is_staff:
        return []
    with ctx().uow() as uow:
        return sorted(uow.clients.list(), key=lambda c: (c.name.lower(), c.id))


@bp.get(PORTAL)
@login_required
def integrations_page() -> str:
    user = actor()
    found = integrations.list_integrations(ctx(), user)
    success = arg("success")
    notices = _notices()
    # a notice about one store's form shows in that store's box
    focus = request.args.get("integration", "")
    focused = focus if any(i.id == focus for i in found) else None
    shop = request.args.get("shop", "")
    clients = _client_choices(user)
    progress = _setup_progress(found)
    latest = _latest_jobs(found, JOB_KINDS)
    return render_template(
        "integrations.html",
        integrations=found,
        inventory_runs=_inventory_runs(found),
        setup=progress,
        jobs=latest,
        refreshing=any(p.state in ("running", "retrying") for p in progress.values())
        or any(line.pending for lines in latest.values() for line in lines),
        success=MESSAGES.get(success or "") if success == "shopify_connected" else None,
        message=None if focused else notices["message"],
        error=None if focused else notices["error"],
        store_message=notices["message"] if focused else None,
        store_error=notices["error"] if focused else None,
        focused=focused,
        shop=shop if len(shop) <= SHOP_SHOWN_AGAIN else "",
        clients=clients,
        client_names={c.id: c.name for c in clients},
        selected_client=request.args.get("client", ""),
        manageable={i.id for i in found if user.can_manage_integrations(i.client_id)},
        can_connect=user.role in ("owner", "admin") or user.is_staff,
        platforms=sorted(services().platforms),
        min_interval=integrations.MIN_INTERVAL_MINUTES,
        max_interval=integrations.MAX_INTERVAL_MINUTES,
        max_buffer=integrations.MAX_BUFFER,
    )


@bp.post(f"{PORTAL}/connect")
@login_required
def connect_store() -> Response:
    """The "Connect" (and "Reconnect") form: checks the shop and the client here, so a
    mistake shows on the page, then leaves for the store's consent page."""
    user = actor()
    platform = _field("platform") or "shopify"
    raw_shop = (request.form.get("shop") or "").strip()
    client_id = _field("client_id") if user.is_staff else None
    again = {
        "shop": raw_shop if len(raw_shop) <= SHOP_SHOWN_AGAIN else None,
        "client": client_id,
    }
    if platform not in services().platforms:
        return _back("portal.integrations_page", error="unknown_platform", **again)
    if not raw_shop:
        return _back("portal.integrations_page", error="shop_required", **again)
    if len(raw_shop) > MAX_SHOP_TYPED:
        return _back("portal.integrations_page", error="invalid_shop", **again)
    if user.is_staff and client_id is None:
        return _back("portal.integrations_page", error="choose_client", **again)
    throttle("oauth-start", OAUTH_STARTS)
    try:
        url, pending = connect.begin(
            services().store,
            user,
            platform=platform,
            client_id=client_id,
            shop=raw_shop,
            redirect_uri=f"{services().settings.app_url}/api/integrations/{platform}/callback",
        )
    except InvalidShop:
        return _back("portal.integrations_page", error="invalid_shop", **again)
    except PermissionDenied:
        if not user.is_staff:
            raise  # a member: the 403 page
        return _back("portal.integrations_page", error="unknown_client", **again)
    if connect.shop_unknown(services().store, platform, pending.shop):
        return _back("portal.integrations_page", error="unknown_shop", **again)
    return consent_redirect(url, pending)


def _whole(name: str, low: int, high: int) -> int | None:
    raw = (request.form.get(name) or "").strip()
    if not raw.isdigit() or len(raw) > MAX_WHOLE_DIGITS:
        return None
    value = int(raw)
    return value if low <= value <= high else None


@bp.post(f"{PORTAL}/settings")
@login_required
def save_settings() -> Response:
    """Every setting of a store at once (unticked boxes are off); nothing half-saved."""
    user = actor()
    found = _managed(user, _required("integration"), shopify=False)
    back = {"integration": found.id, "_anchor": f"store-{found.id}"}
    interval = _whole(
        "sync_inventory_interval_minutes",
        integrations.MIN_INTERVAL_MINUTES,
        integrations.MAX_INTERVAL_MINUTES,
    )
    if interval is None:
        return _back("portal.integrations_page", error="invalid_interval", **back)
    buffer = _whole("inventory_buffer", 0, integrations.MAX_BUFFER)
    if buffer is None:
        return _back("portal.integrations_page", error="invalid_buffer", **back)
    try:
        integrations.update_settings(
            ctx(),
            user,
            found.id,
            {
                "auto_import_orders": _checked("auto_import_orders"),
                "auto_sync_inventory": _checked("auto_sync_inventory"),
                "sync_inventory_interval_minutes": interval,
                "inventory_buffer": buffer,
                "fulfillment_notify_customer": _checked("fulfillment_notify_customer"),
            },
        )
    except InvalidInput:
        return _back("portal.integrations_page", error="invalid_settings", **back)
    return _back("portal.integrations_page", message="settings_saved", **back)


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


def _latest_jobs(
    found: list[Integration], kinds: tuple[JobKind, ...]
) -> dict[str, list[presenters.JobLine]]:
    """Each store's latest job of each kind (those it ever had), read in one unit of work;
    the stores are the ones the user may see already."""
    lines: dict[str, list[presenters.JobLine]] = {}
    with ctx().uow() as uow:
        for integration in found:
            latest = [
                j for kind in kinds for j in uow.jobs.list(integration.id, kind=kind, limit=1)
            ]
            if latest:
                lines[integration.id] = [presenters.job_line(j) for j in latest]
    return lines


def _queue(integration: Integration, kind: JobKind) -> str:
    """Queue the job (or find the one already pending): the message code to answer with."""
    if not integration.is_connected:
        return "not_connected"
    try:
        _job, new = jobs.request(services().store, actor(), integration.id, kind)
    except DomainError as exc:
        if exc.code != "integration_not_connected":  # disconnected since it was read
            raise
        return "not_connected"
    return f"{kind}_queued" if new else "job_pending"


def _store_back(integration: Integration, code: str) -> Response:
    """Back to the integrations page, the notice in the store's box."""
    notice = "error" if code == "not_connected" else "message"
    return _back(
        "portal.integrations_page",
        integration=integration.id,
        _anchor=f"store-{integration.id}",
        **{notice: code},
    )


@bp.post(f"{PORTAL}/sync-orders")
@login_required
def sync_orders() -> Response:
    """The "Sync orders now" button: an order sync as a job; the page shows its progress."""
    found = _managed(actor(), _required("integration"), shopify=False)
    return _store_back(found, _queue(found, "order_sync"))


def _inventory_runs(found: list[Integration]) -> dict[str, SyncRun]:
    """The latest full inventory sync of each store, read in one unit of work."""
    with ctx().uow() as uow:
        runs = {i.id: uow.sync_runs.latest(i.id, "inventory") for i in found}
    return {key: run for key, run in runs.items() if run is not None}


@bp.post(f"{PORTAL}/sync-inventory")
@login_required
def sync_inventory() -> Response:
    """The "Push inventory now" button: a full sync (read the store's levels, repair drift,
    push every synced variant that differs) as a job, whatever the store's automatic sync
    settings; the page shows its progress."""
    found = _managed(actor(), _required("integration"), shopify=False)
    return _store_back(found, _queue(found, "inventory_push"))


# --- the store's catalog and product mappings ------------------------------------------------


def _product_names(client_id: str, ids: set[str]) -> dict[str, Product]:
    """The client's products of these ids, in one read."""
    if not ids:
        return {}
    with ctx().uow() as uow:
        found = uow.products.get_many(sorted(ids))
    return {p.id: p for p in found if p.client_id == client_id}


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
    variant = arg("variant", max_length=100)  # one store variant (a held order's link)
    limit, offset = page_args()
    if variant is not None:
        one = mapping.variant_row(ctx(), user, found.id, variant)
        rows, total = ([one], 1) if one is not None else ([], 0)
    else:
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
    known.update(_product_names(found.client_id, missing))
    refresh = _latest_jobs([found], ("catalogue_refresh",)).get(found.id, [])
    return render_template(
        "products.html",
        integration=found,
        refresh=refresh[0] if refresh else None,
        rows=rows,
        stock=_variant_stock(found, rows),
        products=known,
        choices=choices,
        more_products=len(choices) == PRODUCT_CHOICES,
        can_manage=can_manage,
        q=q or "",
        unmapped=unmapped,
        variant=variant,
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
    products = sorted({m.product_id for m in mappings})
    with ctx().uow() as uow:
        locations = uow.locations.for_integration(integration.id)
        served = {loc.warehouse_id for loc in locations if loc.warehouse_id}
        if not served:
            return {}
        # the page's products only: a page costs the same with 10 or 10,000 variants
        levels = uow.stock.levels(product_ids=products)
        states = uow.inventory.states(integration.id, mapping_ids=[m.id for m in mappings])
        marks = uow.inventory.dirty(integration.id, product_ids=products)
        codes = {w.id: w.code for w in uow.warehouses.list()}
    waiting = frozenset((d.product_id, d.warehouse_id) for d in marks)
    return presenters.variant_stock(mappings, locations, levels, states, codes, waiting=waiting)


def _products_back(integration_id: str, **notice: Any) -> Response:
    """Back to the products page with the filters and page the form carried."""
    page = request.form.get("page", "")
    per_page = request.form.get("per_page", "")
    return _back(
        "portal.products_page",
        integration=integration_id,
        q=(request.form.get("q") or "")[:200],
        unmapped="1" if _checked("unmapped") else None,
        variant=(request.form.get("variant") or "")[:100],
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


@bp.post(f"{PORTAL}/shopify/products/refresh")
@login_required
def refresh_catalogue() -> Response:
    """The "Refresh catalogue" button: read the store's variants again and auto-map the new
    ones, as a job; the page shows its progress."""
    found = _managed(actor(), _required("integration"))
    code = _queue(found, "catalogue_refresh")
    notice = "error" if code == "not_connected" else "message"
    return _products_back(found.id, **{notice: code})


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
