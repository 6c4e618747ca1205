"""Connected stores: credentials at rest, fresh access tokens, settings, disconnecting.

Credentials are sealed with the ``Cipher`` port, bound to the integration's id (associated
data), so a ciphertext copied onto another row does not open. Access tokens are refreshed a
few minutes before they expire, under the integration's row lock, so one process refreshes
while the others wait and then use the new token. A refresh the store refuses puts the
integration in ``error`` with an alert.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from attrs import frozen

from core.errors import DomainError, InvalidInput, NotFound, PermissionDenied, PlatformAuthError
from core.model import Integration, IntegrationSettings, User
from core.ports import Cipher, StorePlatform, UnitOfWork
from core.serialization import dump_credentials, load_credentials
from core.services._context import Context, raise_alert, require_client_visible, resolve_alerts
from core.services._stock_queue import queue_sync
from core.store import Credentials, StoreSession

REFRESH_MARGIN = timedelta(minutes=5)
PLATFORM_CODES: Mapping[str, str] = {"shopify": "SH"}  # order numbers start with these
MAX_PREFIX_NAME = 24
MAX_BUFFER = 100_000
MIN_INTERVAL_MINUTES = 5  # of the automatic inventory sync
MAX_INTERVAL_MINUTES = 24 * 60


@frozen
class StoreContext:
    """What the store-facing use cases need beyond the core context."""

    ctx: Context
    cipher: Cipher
    platforms: Mapping[str, StorePlatform]
    app_url: str

    def platform(self, name: str) -> StorePlatform:
        platform = self.platforms.get(name)
        if platform is None:
            raise NotFound(f"platform {name!r} is not configured", code="unknown_platform")
        return platform

    def webhook_url(self, integration: Integration) -> str:
        return f"{self.app_url}/api/webhooks/{integration.platform}/{integration.id}"


def seal(cipher: Cipher, integration_id: str, credentials: Credentials) -> str:
    return cipher.encrypt(dump_credentials(credentials), associated_data=integration_id.encode())


def unseal(cipher: Cipher, integration: Integration) -> Credentials:
    if integration.credentials is None:
        raise DomainError(
            f"{integration.shop_domain} is not connected", code="integration_not_connected"
        )
    return load_credentials(
        cipher.decrypt(integration.credentials, associated_data=integration.id.encode())
    )


def store_credentials(
    cipher: Cipher, integration: Integration, credentials: Credentials, now: datetime
) -> None:
    integration.credentials = seal(cipher, integration.id, credentials)
    integration.token_expires_at = credentials.expires_at
    integration.refresh_token_expires_at = credentials.refresh_token_expires_at
    integration.scopes = list(credentials.scopes)
    integration.updated_at = now


def needs_refresh(credentials: Credentials, now: datetime) -> bool:
    return credentials.expires_at is not None and credentials.expires_at - now <= REFRESH_MARGIN


def session_for(sc: StoreContext, integration_id: str) -> StoreSession:
    """A session with a valid access token, refreshing it first when it is about to expire."""
    with sc.ctx.uow() as uow:
        integration = uow.integrations.peek(integration_id)
        if integration is None:
            raise NotFound("integration not found")
        credentials = unseal(sc.cipher, integration)
    if needs_refresh(credentials, sc.ctx.clock.now()):
        return refresh(sc, integration_id)
    return StoreSession(integration.shop_domain, credentials.access_token)


def refresh(sc: StoreContext, integration_id: str, *, force: bool = False) -> StoreSession:
    """Refresh the access token under the row lock (one refresher at a time)."""
    with sc.ctx.uow() as uow:
        integration = uow.integrations.get(integration_id)
        if integration is None:
            raise NotFound("integration not found")
        credentials = unseal(sc.cipher, integration)
        now = sc.ctx.clock.now()
        if not force and not needs_refresh(credentials, now):  # someone else just did it
            return StoreSession(integration.shop_domain, credentials.access_token)
        if credentials.refresh_token is None:
            if credentials.expires_at is None:  # a non-expiring token needs no refresh
                return StoreSession(integration.shop_domain, credentials.access_token)
            _mark_error(
                uow,
                sc.ctx,
                integration,
                "the access token expired and there is no refresh token; reconnect the store",
            )
            uow.commit()
            raise PlatformAuthError(f"{integration.shop_domain}: access token expired")
        try:
            fresh = sc.platform(integration.platform).refresh_credentials(
                integration.shop_domain, credentials
            )
        except PlatformAuthError as exc:
            _mark_error(
                uow,
                sc.ctx,
                integration,
                f"the store refused to refresh the access token ({exc.message}); "
                "reconnect the store",
            )
            uow.commit()
            raise
        store_credentials(sc.cipher, integration, fresh, now)
        if integration.status == "error":
            integration.status = "active"
            integration.last_error = None
            resolve_alerts(uow, sc.ctx, codes=("store_auth_failed",), integration_id=integration.id)
        uow.integrations.update(integration)
        uow.commit()
        return StoreSession(integration.shop_domain, fresh.access_token)


def _mark_error(uow: UnitOfWork, ctx: Context, integration: Integration, message: str) -> None:
    integration.status = "error"
    integration.last_error = message
    integration.last_error_at = ctx.clock.now()
    integration.updated_at = ctx.clock.now()
    uow.integrations.update(integration)
    raise_alert(
        uow,
        ctx,
        severity="error",
        code="store_auth_failed",
        message=f"{integration.shop_domain}: {message}",
        client_id=integration.client_id,
        integration_id=integration.id,
    )


# --- order numbering ----------------------------------------------------------------------------


def platform_code(platform: str) -> str:
    """``SH`` for Shopify: what the numbers of a platform's orders start with."""
    return PLATFORM_CODES.get(platform) or (re.sub(r"[^A-Z0-9]", "", platform.upper())[:2] or "ST")


def choose_order_prefix(uow: UnitOfWork, client_id: str, platform: str, shop_domain: str) -> str:
    """The numbering prefix of a store the client connects for the first time: ``SH-`` for
    the client's first store of the platform, so its orders are ``SH-1001``; for a later one
    the shop's name, ``SH-OUTLET-`` (``SH-OUTLET-2-`` if another store has that one), so two
    stores' ``#1001`` never collide. Kept for good: reconnecting never changes it."""
    code = platform_code(platform)
    taken = {i.order_prefix for i in uow.integrations.list(client_id)}
    first = f"{code}-"
    if first not in taken:
        return first
    name = re.sub(r"[^A-Z0-9]+", "-", shop_domain.split(".", maxsplit=1)[0].upper()).strip("-")
    base = f"{code}-{name[:MAX_PREFIX_NAME].strip('-') or 'STORE'}"
    candidate, n = f"{base}-", 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}-"
    return candidate


# --- reading and changing integrations (the API) -----------------------------------------------


def visible_integration(uow: UnitOfWork, actor: User, integration_id: str) -> Integration:
    integration = uow.integrations.peek(integration_id)
    if integration is None:
        raise NotFound("integration not found")
    require_client_visible(actor, integration.client_id, "integration")
    return integration


def require_manager(actor: User, integration: Integration) -> None:
    if not actor.can_manage_integrations(integration.client_id):
        raise PermissionDenied("only the client's owner or admin (or staff) may change this")


def list_integrations(ctx: Context, actor: User, client_id: str | None = None) -> list[Integration]:
    if not actor.is_staff:
        client_id = actor.client_id
    with ctx.uow() as uow:
        return uow.integrations.list(client_id)


def get_integration(ctx: Context, actor: User, integration_id: str) -> Integration:
    with ctx.uow() as uow:
        return visible_integration(uow, actor, integration_id)


def update_settings(
    ctx: Context, actor: User, integration_id: str, changes: Mapping[str, object]
) -> Integration:
    """Change some settings; unknown names and wrong types are refused, nothing half-applied."""
    allowed = IntegrationSettings.__attrs_attrs__
    names = {a.name: a for a in allowed}
    with ctx.uow() as uow:
        integration = visible_integration(uow, actor, integration_id)
        require_manager(actor, integration)
        integration = uow.integrations.get(integration_id) or integration
        settings = integration.settings
        before = (settings.inventory_buffer, settings.auto_sync_inventory)
        for name, value in changes.items():
            if name not in names:
                raise InvalidInput(f"unknown setting {name!r}; known: {', '.join(sorted(names))}")
            default = names[name].default
            if type(value) is not type(default):
                kind = "true or false" if isinstance(default, bool) else "a whole number"
                raise InvalidInput(f"{name} must be {kind}")
            setattr(settings, name, value)
        if not (
            MIN_INTERVAL_MINUTES <= settings.sync_inventory_interval_minutes <= MAX_INTERVAL_MINUTES
        ):
            raise InvalidInput(
                "sync_inventory_interval_minutes must be "
                f"{MIN_INTERVAL_MINUTES} to {MAX_INTERVAL_MINUTES}"
            )
        if not 0 <= settings.inventory_buffer <= MAX_BUFFER:
            raise InvalidInput(f"inventory_buffer must be 0 to {MAX_BUFFER}")
        integration.updated_at = ctx.clock.now()
        uow.integrations.update(integration)
        after = (settings.inventory_buffer, settings.auto_sync_inventory)
        if after != before and settings.auto_sync_inventory and integration.is_connected:
            # a new buffer changes every target; sync turned on starts from the store's truth
            queue_sync(uow, ctx, integration.id, why="settings")
        uow.commit()
    return integration


def disconnect(sc: StoreContext, actor: User, integration_id: str) -> Integration:
    """Delete the store's webhook subscriptions (best effort), erase the tokens, keep history."""
    ctx = sc.ctx
    with ctx.uow() as uow:
        integration = visible_integration(uow, actor, integration_id)
        require_manager(actor, integration)
    problem: str | None = None
    if integration.is_connected:
        try:
            platform = sc.platform(integration.platform)
            session = session_for(sc, integration_id)
            ours = sc.webhook_url(integration)
            for subscription in platform.webhook_subscriptions(session):
                if subscription.uri == ours:
                    platform.delete_webhook_subscription(session, subscription.id)
        except Exception as exc:  # the store may already have revoked us; disconnect anyway
            problem = getattr(exc, "message", type(exc).__name__)
    with ctx.uow() as uow:
        integration = uow.integrations.get(integration_id) or integration
        erase(integration, ctx.clock.now())
        if problem:
            integration.last_error = f"webhook subscriptions not removed: {problem}"
            integration.last_error_at = ctx.clock.now()
        uow.integrations.update(integration)
        uow.commit()
    return integration


def erase(integration: Integration, now: datetime) -> None:
    """Tokens gone, status disconnected; orders, mappings and events stay."""
    integration.status = "disconnected"
    integration.credentials = None
    integration.token_expires_at = None
    integration.refresh_token_expires_at = None
    integration.disconnected_at = now
    integration.updated_at = now
