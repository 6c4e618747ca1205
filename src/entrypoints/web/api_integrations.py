"""Connecting stores and everything about a connected one: settings, disconnect, order and
inventory sync, the catalog and product mappings, locations, and the webhook events kept for
it.

Syncing orders, pushing inventory and refreshing the catalogue are jobs: the request queues
one (or finds the one already queued or running) and answers 202 with it and its address;
the workers run it, and ``GET .../jobs/<job_id>`` shows its progress."""

from __future__ import annotations

from typing import Any

from attrs import asdict, frozen
from flask import Blueprint, redirect, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from core.errors import InvalidInput, InvalidShop, PermissionDenied, StorelinkError
from core.model import JOB_KINDS, Integration, JobKind
from core.ports import Rate
from core.services import connect, integrations, jobs, mapping
from core.services.connect import ConnectFailed, PendingConnect
from core.services.worker import retry
from entrypoints.web import presenters
from entrypoints.web.auth import throttle
from entrypoints.web.context import actor, ctx, services
from entrypoints.web.errors import ApiError
from entrypoints.web.inputs import arg, json_body, page_args, parse

bp = Blueprint("integrations_api", __name__, url_prefix="/api/integrations")

Json = tuple[dict[str, Any], int, dict[str, str]] | tuple[dict[str, Any], int] | dict[str, Any]

OAUTH_COOKIE = "storelink_oauth"
OAUTH_MAX_AGE = 600  # seconds from consent redirect to callback
OAUTH_STARTS = Rate(20, 60)  # per source address
NONCE_ONCE = Rate(1, 3600)  # a nonce opens one callback
PORTAL = "/portal/settings/integrations"
INBOX_STATUSES = ("received", "processing", "processed", "failed", "skipped", "dead")


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(services().settings.secret_key, salt="storelink-oauth-connect")


def _redirect_uri(platform: str) -> str:
    return f"{services().settings.app_url}/api/integrations/{platform}/callback"


# --- connect -------------------------------------------------------------------------------


@bp.get("/<platform>/auth")
def auth(platform: str) -> Response:
    user = actor()
    throttle("oauth-start", OAUTH_STARTS)
    shop = request.args.get("shop", "")
    try:
        url, pending = connect.begin(
            services().store,
            user,
            platform=platform,
            client_id=arg("client_id"),
            shop=shop,
            redirect_uri=_redirect_uri(platform),
        )
    except InvalidShop as exc:
        raise ApiError(400, "invalid_shop", exc.message) from None
    return consent_redirect(url, pending)


def consent_redirect(url: str, pending: PendingConnect) -> Response:
    """To the store's consent page, with what to check at the callback in a signed cookie
    (also how the portal's "Connect" form leaves)."""
    response = redirect(url)
    response.set_cookie(
        OAUTH_COOKIE,
        _serializer().dumps(asdict(pending)),
        max_age=OAUTH_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=services().settings.is_https,
        path=f"/api/integrations/{pending.platform}/callback",
    )
    return response


def _pending(platform: str) -> PendingConnect | None:
    raw = request.cookies.get(OAUTH_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer().loads(raw, max_age=OAUTH_MAX_AGE)
        pending = PendingConnect(**data)
    except (BadSignature, TypeError, ValueError):
        return None
    return pending if pending.platform == platform else None


@bp.get("/<platform>/callback")
def callback(platform: str) -> Response:
    pending = _pending(platform)
    params: dict[str, str | list[str]] = {
        key: values if len(values) > 1 or key.endswith("[]") else values[0]
        for key, values in request.args.lists()
    }
    try:
        if pending is not None:
            first_use = services().rate_limiter.acquire(f"oauth-nonce:{pending.nonce}", NONCE_ONCE)
            if not first_use.allowed:
                raise ConnectFailed("invalid_state", "this connection request was already used")
        connect.complete(services().store, pending, params)
    except ConnectFailed as exc:
        target = f"{PORTAL}?error={exc.code}"
    except StorelinkError:
        target = f"{PORTAL}?error=save_failed"
    else:
        target = f"{PORTAL}?success={platform}_connected"
    response = redirect(target)
    response.delete_cookie(OAUTH_COOKIE, path=f"/api/integrations/{platform}/callback")
    return response


# --- integrations ------------------------------------------------------------------------


@bp.get("")
def list_all() -> Json:
    found = integrations.list_integrations(ctx(), actor(), arg("client_id"))
    return {"integrations": [presenters.integration(i) for i in found]}


@bp.get("/<integration_id>")
def get_one(integration_id: str) -> Json:
    return presenters.integration(integrations.get_integration(ctx(), actor(), integration_id))


@bp.patch("/<integration_id>")
def patch(integration_id: str) -> Json:
    body = json_body()
    changes = body.get("settings", body)
    if not isinstance(changes, dict) or not changes:
        raise InvalidInput('send the settings to change, e.g. {"inventory_buffer": 2}')
    return presenters.integration(
        integrations.update_settings(ctx(), actor(), integration_id, changes)
    )


@bp.delete("/<platform>/<integration_id>")
def disconnect(platform: str, integration_id: str) -> Json:
    _manageable(platform, integration_id)
    return presenters.integration(
        integrations.disconnect(services().store, actor(), integration_id)
    )


def _manageable(platform: str, integration_id: str) -> Integration:
    """The integration, if the caller may change it (404 for another platform's or tenant's)."""
    user = actor()
    found = integrations.get_integration(ctx(), user, integration_id)
    if found.platform != platform:
        raise ApiError(404, "not_found", "integration not found")
    integrations.require_manager(user, found)
    return found


def _job_started(platform: str, integration_id: str, kind: JobKind) -> Json:
    """Queue the job (or find the one pending): 202 with it and where to read its progress."""
    found = _manageable(platform, integration_id)
    job, _created = jobs.request(services().store, actor(), found.id, kind)
    return {"job": presenters.job(job)}, 202, {"Location": _job_url(job.integration_id, job.id)}


def _job_url(integration_id: str, job_id: str) -> str:
    return f"/api/integrations/{integration_id}/jobs/{job_id}"


@bp.post("/<platform>/<integration_id>/sync-orders")
def sync_orders(platform: str, integration_id: str) -> Json:
    """Reconcile the store's orders (and import those skipped while automatic import was
    off), as a job."""
    return _job_started(platform, integration_id, "order_sync")


@bp.post("/<platform>/<integration_id>/sync-inventory")
def sync_inventory(platform: str, integration_id: str) -> Json:
    """A full inventory sync as a job: read the store's levels, repair drift, push what
    differs."""
    return _job_started(platform, integration_id, "inventory_push")


@bp.get("/<integration_id>/jobs")
def list_jobs(integration_id: str) -> Json:
    """The store's latest jobs, newest first (``?kind=``, ``?limit=`` up to 100)."""
    kind = arg("kind")
    if kind is not None and kind not in JOB_KINDS:
        raise ApiError(400, "invalid_query", f"kind must be one of {', '.join(JOB_KINDS)}")
    raw = arg("limit") or "20"
    if not raw.isdigit() or not 1 <= int(raw) <= jobs.MAX_LISTED:
        raise ApiError(400, "invalid_query", f"limit must be 1 to {jobs.MAX_LISTED}")
    limit = int(raw)
    found = jobs.list_jobs(
        services().store,
        actor(),
        integration_id,
        kind=kind,
        limit=limit,
    )
    return {"jobs": [presenters.job(j) for j in found]}


@bp.get("/<integration_id>/jobs/<job_id>")
def get_job(integration_id: str, job_id: str) -> Json:
    return {"job": presenters.job(jobs.get_job(services().store, actor(), integration_id, job_id))}


# --- catalog and mappings --------------------------------------------------------------------


@frozen
class MapIn:
    external_variant_id: str
    product_id: str


@frozen
class MappingPatch:
    sync_inventory: bool


@bp.get("/<platform>/<integration_id>/products")
def products(platform: str, integration_id: str) -> Json:
    limit, offset = page_args()
    flag = request.args.get("unmapped")
    mapped_flag = request.args.get("mapped")
    mapped: bool | None = None
    if flag in ("1", "true"):
        mapped = False
    elif mapped_flag in ("1", "true"):
        mapped = True
    rows, total = mapping.list_variants(
        ctx(), actor(), integration_id, mapped=mapped, q=arg("q"), limit=limit, offset=offset
    )
    return {
        "variants": [
            {
                **presenters.catalog_variant(row.variant),
                "mapping": presenters.mapping(row.mapping) if row.mapping else None,
            }
            for row in rows
        ],
        "total": total,
    }


@bp.post("/<platform>/<integration_id>/products/refresh")
def refresh_products(platform: str, integration_id: str) -> Json:
    """Reload the store's catalogue and auto-map what it can, as a job."""
    return _job_started(platform, integration_id, "catalogue_refresh")


@bp.post("/<platform>/<integration_id>/mappings")
def map_one(platform: str, integration_id: str) -> Json:
    body = parse(MapIn)
    created = mapping.map_variant(
        ctx(),
        actor(),
        integration_id,
        external_variant_id=body.external_variant_id,
        product_id=body.product_id,
    )
    return presenters.mapping(created), 201


@bp.post("/<platform>/<integration_id>/mappings/auto")
def map_auto(platform: str, integration_id: str) -> Json:
    _manageable(platform, integration_id)
    result = mapping.auto_map(ctx(), integration_id)
    return {"mapped": result.mapped, "skipped": result.skipped}


@bp.patch("/<platform>/<integration_id>/mappings/<mapping_id>")
def patch_mapping(platform: str, integration_id: str, mapping_id: str) -> Json:
    body = parse(MappingPatch)
    return presenters.mapping(
        mapping.set_mapping_sync(
            ctx(), actor(), integration_id, mapping_id, sync_inventory=body.sync_inventory
        )
    )


@bp.delete("/<platform>/<integration_id>/mappings/<mapping_id>")
def delete_mapping(platform: str, integration_id: str, mapping_id: str) -> Json:
    mapping.remove_mapping(ctx(), actor(), integration_id, mapping_id)
    return {"deleted": mapping_id}


# --- locations --------------------------------------------------------------------------------


@frozen
class LocationIn:
    warehouse_id: str | None
    sync_inventory: bool | None = None
    is_default: bool | None = None


@bp.get("/<platform>/<integration_id>/locations")
def locations(platform: str, integration_id: str) -> Json:
    found = mapping.list_locations(ctx(), actor(), integration_id)
    return {"locations": [presenters.location(m) for m in found]}


@bp.put("/<platform>/<integration_id>/locations/<location_id>")
def put_location(platform: str, integration_id: str, location_id: str) -> Json:
    body = parse(LocationIn)
    return presenters.location(
        mapping.update_location(
            ctx(),
            actor(),
            integration_id,
            location_id,
            warehouse_id=body.warehouse_id,
            sync_inventory=body.sync_inventory,
            is_default=body.is_default,
        )
    )


# --- events ----------------------------------------------------------------------------------


@bp.get("/<integration_id>/events")
def events(integration_id: str) -> Json:
    integrations.get_integration(ctx(), actor(), integration_id)
    status = arg("status")
    if status is not None and status not in INBOX_STATUSES:
        raise ApiError(400, "invalid_query", f"status must be one of {', '.join(INBOX_STATUSES)}")
    limit, offset = page_args()
    with ctx().uow() as uow:
        found = uow.inbox.list(
            integration_id=integration_id,
            status=status,  # type: ignore[arg-type]
            limit=limit,
            offset=offset,
        )
    return {"events": [presenters.inbox_event(e) for e in found]}


@bp.post("/<integration_id>/events/<event_id>/retry")
def retry_event(integration_id: str, event_id: str) -> Json:
    user = actor()
    found = integrations.get_integration(ctx(), user, integration_id)
    if not user.can_manage_integrations(found.client_id):
        raise PermissionDenied("only the client's owner or admin (or staff) may replay events")
    with ctx().uow() as uow:
        event = uow.inbox.get(event_id)
    if event is None or event.integration_id != integration_id:
        raise ApiError(404, "not_found", "event not found")
    replayed = retry(ctx(), kind="inbox", item_id=event_id)
    return presenters.inbox_event(replayed)  # type: ignore[arg-type]
