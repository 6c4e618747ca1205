"""Connecting a store: the authorization redirect, the callback, and the setup job.

``begin`` validates the shop and returns the consent URL with a fresh nonce (the web layer
keeps the nonce in a signed cookie too). ``complete`` checks the callback's signature,
timestamp, shop and nonce, exchanges the code, seals the credentials and saves the integration
(one per client, platform and shop), then queues ``integration.setup``: the shop's name,
webhook subscriptions, locations (the store's primary location maps to the client's default
warehouse), the catalog and auto-mapping.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

from attrs import frozen

from core.errors import (
    InvalidShop,
    InvalidSignature,
    PermissionDenied,
    PlatformError,
    StaleRequest,
    StorelinkError,
)
from core.model import Integration, LocationMapping, OutboxCommand, User
from core.ports import UnitOfWork
from core.services import _skips as skips
from core.services import mapping
from core.services._context import Context, resolve_alerts
from core.services._stock_queue import queue_sync
from core.services.integrations import (
    StoreContext,
    choose_order_prefix,
    session_for,
    store_credentials,
)
from core.services.worker import OutboxApply, Skip, done, record
from core.store import Credentials, StoreLocation
from core.text import storable_text

SETUP_COMMAND = "integration.setup"
MAX_SHOP_NAME = 255
CATALOG_COMMAND = "catalog.refresh"
# alerts about lost access to a store, resolved when it is connected again
ACCESS_ALERTS = ("store_auth_failed", "app_uninstalled")

ConnectError = Literal[
    "missing_params", "invalid_hmac", "invalid_state", "token_exchange_failed", "save_failed"
]


class ConnectFailed(StorelinkError):
    """The callback was refused; ``code`` is one of INTERFACE.md's error codes."""

    def __init__(self, code: ConnectError, message: str) -> None:
        super().__init__(message, code=code)


@frozen
class PendingConnect:
    """What ``begin`` hands the web layer to keep (signed) until the callback."""

    nonce: str
    client_id: str
    user_id: str
    shop: str
    platform: str


def begin(
    sc: StoreContext,
    actor: User,
    *,
    platform: str,
    client_id: str | None,
    shop: str,
    redirect_uri: str,
) -> tuple[str, PendingConnect]:
    """Validate the shop and who asks; the consent URL and what to remember."""
    store = sc.platform(platform)
    target = client_id if actor.is_staff and client_id else actor.client_id
    if target is None:
        raise PermissionDenied("staff must say which client the store belongs to (client_id)")
    if not actor.can_manage_integrations(target):
        raise PermissionDenied("only the client's owner or admin may connect a store")
    with sc.ctx.uow() as uow:
        if uow.clients.get(target) is None:
            raise PermissionDenied("unknown client")
    normalized = store.normalize_shop(shop)
    nonce = secrets.token_urlsafe(24)
    url = store.authorization_url(normalized, state=nonce, redirect_uri=redirect_uri)
    return url, PendingConnect(nonce, target, actor.id, normalized, platform)


def shop_unknown(sc: StoreContext, platform: str, shop: str) -> bool:
    """True when the store platform says for certain that it has no such shop (a normalized
    name); a store that cannot be asked is given the benefit of the doubt."""
    return sc.platform(platform).shop_exists(shop) is False


def complete(
    sc: StoreContext,
    pending: PendingConnect | None,
    params: Mapping[str, str | Sequence[str]],
) -> Integration:
    """Check the callback, exchange the code, save the integration and queue its setup."""
    if not all(
        isinstance(params.get(k), str) and params.get(k)
        for k in ("code", "hmac", "shop", "state", "timestamp")
    ):
        raise ConnectFailed("missing_params", "the store's answer lacks required parameters")
    store = sc.platform(pending.platform if pending else "shopify")
    now = sc.ctx.clock.now()
    try:
        shop = store.verify_callback(params, now)
    except (InvalidSignature, StaleRequest, InvalidShop) as exc:
        raise ConnectFailed("invalid_hmac", exc.message) from None
    state = str(params["state"])
    if pending is None or not hmac.compare_digest(state.encode(), pending.nonce.encode()):
        raise ConnectFailed("invalid_state", "the connection request expired or was not ours")
    if shop != pending.shop:
        raise ConnectFailed("invalid_state", "the store answering is not the one asked")
    try:
        credentials = store.exchange_code(shop, str(params["code"]))
    except PlatformError as exc:
        raise ConnectFailed("token_exchange_failed", exc.message) from None
    try:
        return _save(sc, pending, credentials, now)
    except StorelinkError as exc:
        raise ConnectFailed("save_failed", exc.message) from None


def _save(
    sc: StoreContext, pending: PendingConnect, credentials: Credentials, now: datetime
) -> Integration:
    ctx = sc.ctx
    with ctx.uow() as uow:
        integration = uow.integrations.find(pending.client_id, pending.platform, pending.shop)
        if integration is None:
            integration = Integration(
                id=ctx.ids.new_id(),
                client_id=pending.client_id,
                platform=pending.platform,
                shop_domain=pending.shop,
                created_at=now,
                updated_at=now,
                order_prefix=choose_order_prefix(
                    uow, pending.client_id, pending.platform, pending.shop
                ),
            )
            store_credentials(sc.cipher, integration, credentials, now)
            integration.status = "active"
            integration.connected_at = now
            uow.integrations.add(integration)
        else:
            integration = uow.integrations.get(integration.id) or integration
            store_credentials(sc.cipher, integration, credentials, now)
            integration.status = "active"
            integration.connected_at = now
            integration.disconnected_at = None
            integration.last_error = None
            if not integration.order_prefix:  # only a store connected before prefixes were kept
                integration.order_prefix = choose_order_prefix(
                    uow, integration.client_id, integration.platform, integration.shop_domain
                )
            uow.integrations.update(integration)
            # reconnected: what the lost access (revoked token, uninstall) alerted about is over
            resolve_alerts(uow, ctx, codes=ACCESS_ALERTS, integration_id=integration.id)
        enqueue(
            uow,
            ctx,
            integration,
            SETUP_COMMAND,
            key=f"{SETUP_COMMAND}:{integration.id}:{now.isoformat()}",
        )
        uow.commit()
    return integration


def enqueue(
    uow: UnitOfWork,
    ctx: Context,
    integration: Integration,
    kind: str,
    *,
    key: str,
    payload: dict[str, object] | None = None,
) -> bool:
    now = ctx.clock.now()
    return uow.outbox.add(
        OutboxCommand(
            id=ctx.ids.new_id(),
            kind=kind,
            idempotency_key=key,
            created_at=now,
            next_attempt_at=now,
            integration_id=integration.id,
            payload={"integration_id": integration.id, **(payload or {})},
        )
    )


# --- the setup job -----------------------------------------------------------------------------


def ensure_webhooks(sc: StoreContext, integration_id: str) -> dict[str, int]:
    """Subscribe to every required topic at our address; remove our stale subscriptions."""
    with sc.ctx.uow() as uow:
        integration = uow.integrations.peek(integration_id)
    if integration is None or not integration.is_connected:
        return {"created": 0, "kept": 0, "removed": 0}
    store = sc.platform(integration.platform)
    session = session_for(sc, integration_id)
    ours = sc.webhook_url(integration)
    wanted = set(store.webhook_topics())
    existing = store.webhook_subscriptions(session)
    counts = {"created": 0, "kept": 0, "removed": 0}
    have: set[str] = set()
    for sub in existing:
        if sub.uri == ours and sub.topic in wanted and sub.topic not in have:
            have.add(sub.topic)
            counts["kept"] += 1
        elif sub.uri == ours:  # a duplicate or a topic we no longer want
            store.delete_webhook_subscription(session, sub.id)
            counts["removed"] += 1
    for topic in sorted(wanted - have):
        store.create_webhook_subscription(session, topic, ours)
        counts["created"] += 1
    with sc.ctx.uow() as uow:
        locked = uow.integrations.get(integration_id)
        if locked is not None:
            locked.webhooks_checked_at = sc.ctx.clock.now()
            uow.integrations.update(locked)
            uow.commit()
    return counts


def load_shop(sc: StoreContext, integration_id: str) -> str:
    """Record the shop's name as the store shows it (read again at every setup, so a shop
    the merchant renamed shows its new name once it is reconnected)."""
    with sc.ctx.uow() as uow:
        integration = uow.integrations.peek(integration_id)
    if integration is None or not integration.is_connected:
        return ""
    info = sc.platform(integration.platform).shop_info(session_for(sc, integration_id))
    name = storable_text(info.name).strip()[:MAX_SHOP_NAME]
    with sc.ctx.uow() as uow:
        locked = uow.integrations.get(integration_id)
        if locked is not None and locked.shop_name != name:
            locked.shop_name = name
            locked.updated_at = sc.ctx.clock.now()
            uow.integrations.update(locked)
            uow.commit()
    return name


def load_locations(sc: StoreContext, integration_id: str) -> int:
    """Record the store's locations; the primary one maps to the client's default warehouse
    when nothing is mapped yet. Existing choices are kept."""
    with sc.ctx.uow() as uow:
        integration = uow.integrations.peek(integration_id)
    if integration is None or not integration.is_connected:
        return 0
    store = sc.platform(integration.platform)
    session = session_for(sc, integration_id)
    locations = store.locations(session)
    with sc.ctx.uow() as uow:
        client = uow.clients.get(integration.client_id)
        known = {m.external_location_id: m for m in uow.locations.for_integration(integration_id)}
        any_default = any(m.is_default for m in known.values())
        for location in _primary_first(locations):
            mapping_ = known.get(location.id)
            if mapping_ is None:
                make_default = location.is_primary and not any_default
                uow.locations.add(
                    LocationMapping(
                        id=sc.ctx.ids.new_id(),
                        integration_id=integration_id,
                        external_location_id=location.id,
                        name=storable_text(location.name),
                        warehouse_id=client.default_warehouse_id
                        if make_default and client
                        else None,
                        is_default=make_default,
                        active=location.active,
                    )
                )
                any_default = any_default or make_default
            else:
                mapping_.name = storable_text(location.name)
                mapping_.active = location.active
                uow.locations.update(mapping_)
        uow.commit()
    return len(locations)


def _primary_first(locations: list[StoreLocation]) -> list[StoreLocation]:
    return sorted(locations, key=lambda loc: (not loc.is_primary, loc.name, loc.id))


def setup(sc: StoreContext, integration_id: str) -> dict[str, int]:
    """The whole setup job; each step is idempotent, so a retry after a failure is safe."""
    load_shop(sc, integration_id)
    webhooks = ensure_webhooks(sc, integration_id)
    locations = load_locations(sc, integration_id)
    catalog = mapping.refresh_catalog(sc, integration_id)
    auto = mapping.auto_map(sc.ctx, integration_id)
    with sc.ctx.uow() as uow:  # from now on the store shows what the warehouse can ship
        integration = uow.integrations.peek(integration_id)
        if integration and integration.is_connected and integration.settings.auto_sync_inventory:
            queue_sync(uow, sc.ctx, integration_id, why="connected")
            uow.commit()
    return {
        "webhooks": webhooks["created"] + webhooks["kept"],
        "webhooks_created": webhooks["created"],
        "locations": locations,
        "variants": catalog,
        "auto_mapped": auto.mapped,
    }


def on_setup_command(sc: StoreContext, command: OutboxCommand) -> OutboxApply:
    """Worker handler for ``integration.setup``: runs its own short transactions."""
    integration_id = str(command.payload.get("integration_id") or command.integration_id or "")
    if not _connected(sc, integration_id):
        return done(Skip(skips.INTEGRATION_NO_LONGER_CONNECTED))
    return record(dict(setup(sc, integration_id)))


def on_catalog_command(sc: StoreContext, command: OutboxCommand) -> OutboxApply:
    integration_id = str(command.payload.get("integration_id") or command.integration_id or "")
    if not _connected(sc, integration_id):
        return done(Skip(skips.INTEGRATION_NO_LONGER_CONNECTED))
    loaded = mapping.refresh_catalog(sc, integration_id)
    auto = mapping.auto_map(sc.ctx, integration_id) if command.payload.get("auto_map") else None
    return record({"variants": loaded, "auto_mapped": auto.mapped if auto else 0})


def _connected(sc: StoreContext, integration_id: str) -> bool:
    with sc.ctx.uow() as uow:
        integration = uow.integrations.peek(integration_id)
    return integration is not None and integration.is_connected
