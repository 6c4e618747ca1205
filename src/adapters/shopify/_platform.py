"""``ShopifyPlatform``: the ``StorePlatform`` port on Shopify's GraphQL Admin API."""

from __future__ import annotations

import json
import logging
import random as _random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Final, Protocol, Self, TypeVar

import httpx
from attrs import define, field

from adapters.shopify._config import ShopifyConfig
from adapters.shopify._converter import structure
from adapters.shopify._credentials import credentials_from_token_answer
from adapters.shopify._documents import (
    DOCUMENTS,
    INVENTORY_ITEMS_PAGE_SIZE,
    INVENTORY_LEVELS_BY_ID_SIZE,
    LOCATION_LEVELS_PAGE_SIZE,
    LOCATIONS_PAGE_SIZE,
    ORDER_FULFILLMENTS_SIZE,
    ORDERS_PAGE_SIZE,
    WEBHOOKS_PAGE_SIZE,
)
from adapters.shopify._graphql import GraphQLClient, shop_base_url
from adapters.shopify._ids import from_gid, inventory_level_gid, to_gid
from adapters.shopify._oauth import (
    authorize_query,
    normalize_shop,
    verify_callback_params,
    webhook_signature_valid,
)
from adapters.shopify._shapes import (
    ActiveBulkAnswer,
    BulkInventoryLevel,
    BulkOperation,
    BulkOperationAnswer,
    BulkRunAnswer,
    CatalogAnswer,
    FulfillmentCreateAnswer,
    FulfillmentOrder,
    FulfillmentOrderLinesAnswer,
    FulfillmentOrdersAnswer,
    InventoryItemsAnswer,
    InventorySetAnswer,
    LevelsByIdAnswer,
    LocationLevelsAnswer,
    LocationsAnswer,
    Order,
    OrderAnswer,
    OrderFulfillmentsAnswer,
    OrderLinesAnswer,
    OrdersAnswer,
    OrderShippingLinesAnswer,
    PageInfo,
    ShopAnswer,
    TrackedItem,
    UserError,
    Variant,
    WebhookCreateAnswer,
    WebhookDeleteAnswer,
    WebhooksAnswer,
)
from adapters.shopify._webhooks import REQUIRED_TOPICS, parse_order, parse_webhook
from core.errors import (
    InvalidInput,
    PayloadError,
    PlatformAuthError,
    PlatformError,
    PlatformRejected,
    PlatformThrottled,
    PlatformUnavailable,
)
from core.observability import NoMetrics
from core.ports import Clock, Metrics, RateLimiter, StorePlatform
from core.store import (
    CatalogPage,
    Credentials,
    FulfillmentRequest,
    FulfillmentResult,
    InventoryBatch,
    InventoryItemResult,
    InventoryResult,
    InventorySnapshot,
    OrdersPage,
    ShopInfo,
    StoreEvent,
    StoreFulfillmentOrder,
    StoreFulfillments,
    StoreInventoryLevel,
    StoreLocation,
    StoreOrder,
    StoreSession,
    StoreVariant,
    WebhookSubscription,
)
from core.store import InventoryItemStatus as ItemStatus

__all__ = ["MAX_INVENTORY_BATCH", "ShopifyPlatform", "topic_from_enum", "topic_to_enum"]

log = logging.getLogger("adapters.shopify")

T = TypeVar("T")
A = TypeVar("A")
N = TypeVar("N")
N_co = TypeVar("N_co", covariant=True)


class _Page(Protocol[N_co]):
    """One page of a GraphQL connection, as the answer shapes hold it."""

    @property
    def nodes(self) -> tuple[N_co, ...]: ...

    @property
    def page_info(self) -> PageInfo: ...


MAX_INVENTORY_BATCH: Final = 250
_STALE: Final = "CHANGE_FROM_QUANTITY_STALE"
_CONCURRENT: Final = "IDEMPOTENCY_CONCURRENT_REQUEST"
_IDEMPOTENCY_REJECTIONS: Final = frozenset(
    {"IDEMPOTENCY_KEY_PARAMETER_MISMATCH", "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED"}
)
_BULK_DONE: Final = "COMPLETED"
_BULK_RUNNING: Final = frozenset({"CREATED", "RUNNING", "CANCELING"})
_BULK_BUSY: Final = "OPERATION_IN_PROGRESS"
_ENUM: Final = re.compile(r"[A-Z][A-Z0-9_]*")

_TOPIC_ENUMS: Final[Mapping[str, str]] = {
    "app/uninstalled": "APP_UNINSTALLED",
    "bulk_operations/finish": "BULK_OPERATIONS_FINISH",
    "fulfillment_orders/cancellation_request_submitted": (
        "FULFILLMENT_ORDERS_CANCELLATION_REQUEST_SUBMITTED"
    ),
    "fulfillment_orders/fulfillment_request_submitted": (
        "FULFILLMENT_ORDERS_FULFILLMENT_REQUEST_SUBMITTED"
    ),
    "fulfillment_orders/order_routing_complete": "FULFILLMENT_ORDERS_ORDER_ROUTING_COMPLETE",
    "fulfillments/create": "FULFILLMENTS_CREATE",
    "fulfillments/update": "FULFILLMENTS_UPDATE",
    "inventory_items/update": "INVENTORY_ITEMS_UPDATE",
    "inventory_levels/update": "INVENTORY_LEVELS_UPDATE",
    "locations/create": "LOCATIONS_CREATE",
    "locations/delete": "LOCATIONS_DELETE",
    "locations/update": "LOCATIONS_UPDATE",
    "orders/cancelled": "ORDERS_CANCELLED",
    "orders/create": "ORDERS_CREATE",
    "orders/delete": "ORDERS_DELETE",
    "orders/edited": "ORDERS_EDITED",
    "orders/fulfilled": "ORDERS_FULFILLED",
    "orders/paid": "ORDERS_PAID",
    "orders/partially_fulfilled": "ORDERS_PARTIALLY_FULFILLED",
    "orders/updated": "ORDERS_UPDATED",
    "products/create": "PRODUCTS_CREATE",
    "products/delete": "PRODUCTS_DELETE",
    "products/update": "PRODUCTS_UPDATE",
    "refunds/create": "REFUNDS_CREATE",
    "shop/update": "SHOP_UPDATE",
}
_ENUM_TOPICS: Final = {enum: topic for topic, enum in _TOPIC_ENUMS.items()}


def topic_to_enum(topic: str) -> str:
    """``"orders/create"`` -> ``"ORDERS_CREATE"`` (GraphQL's ``WebhookSubscriptionTopic``)."""
    enum = _TOPIC_ENUMS.get(topic) or topic.upper().replace("/", "_")
    if not _ENUM.fullmatch(enum):
        raise InvalidInput(f"{topic!r} is not a webhook topic")
    return enum


def topic_from_enum(enum: str) -> str:
    """``"ORDERS_CREATE"`` -> ``"orders/create"``; an enum not known here is only lowercased."""
    return _ENUM_TOPICS.get(enum, enum.lower())


def _messages(errors: Sequence[UserError]) -> str:
    return "; ".join(e.message for e in errors) or "no reason given"


def _quantity_index(error: UserError) -> int | None:
    """The quantity a user error is about: ``["input", "quantities", "3", ...]`` -> 3."""
    path = list(error.field or ())
    if "quantities" in path:
        after = path[path.index("quantities") + 1 : path.index("quantities") + 2]
        if after and after[0].isdigit():
            return int(after[0])
    return None


@define
class ShopifyPlatform:
    """The ``StorePlatform`` port for Shopify: OAuth, webhooks and the GraphQL Admin API.

    ``http`` may be given (tests pass one with a mock transport); otherwise the platform owns
    one and ``close()`` (or ``with``) closes it. ``sleep`` and ``random`` are injectable so
    retries and throttling can be tested without waiting. ``metrics`` hears every API
    request's outcome and cost.
    """

    config: ShopifyConfig
    rate_limiter: RateLimiter = field(repr=False)
    clock: Clock = field(repr=False)
    http: httpx.Client | None = field(default=None, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    random: Callable[[], float] = field(default=_random.random, repr=False)
    metrics: Metrics = field(factory=NoMetrics, repr=False, kw_only=True)
    name: str = field(default="shopify", init=False)
    inventory_batch_limit: int = field(default=MAX_INVENTORY_BATCH, init=False)
    _client: httpx.Client = field(init=False, repr=False)
    _graphql: GraphQLClient = field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._client = self.http or httpx.Client(
            timeout=httpx.Timeout(self.config.read_timeout, connect=self.config.connect_timeout),
            headers={"User-Agent": "storelink"},
        )
        self._graphql = GraphQLClient(
            config=self.config,
            http=self._client,
            rate_limiter=self.rate_limiter,
            clock=self.clock,
            sleep=self.sleep,
            random=self.random,
            metrics=self.metrics,
        )

    def close(self) -> None:
        """Close the HTTP client if the platform made it (a given one belongs to the caller)."""
        if self.http is None:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def graphql(self) -> GraphQLClient:
        return self._graphql

    # --- connect -------------------------------------------------------------------------------

    def normalize_shop(self, raw: str) -> str:
        return normalize_shop(raw)

    def shop_url(self, shop: str) -> str:
        """The base URL of a shop (after validating the name)."""
        return shop_base_url(self.config, normalize_shop(shop))

    def authorization_url(self, shop: str, *, state: str, redirect_uri: str) -> str:
        query = authorize_query(
            client_id=self.config.client_id,
            scopes=self.config.scopes,
            redirect_uri=redirect_uri,
            state=state,
        )
        return f"{self.shop_url(shop)}/admin/oauth/authorize?{query}"

    def shop_exists(self, shop: str) -> bool | None:
        """Shopify answers 404 ("this store is unavailable") for a shop it does not have.
        The authorization page is asked without a client id, so nothing is approved."""
        try:
            answer = self._client.get(
                f"{self.shop_url(shop)}/admin/oauth/authorize", follow_redirects=False
            )
        except httpx.HTTPError:
            return None
        return answer.status_code != httpx.codes.NOT_FOUND

    def verify_callback(self, params: Mapping[str, str | Sequence[str]], now: datetime) -> str:
        return verify_callback_params(
            params,
            secrets=self.config.secrets,
            now=now,
            max_age=timedelta(seconds=self.config.callback_max_age_seconds),
            max_skew=timedelta(seconds=self.config.callback_max_skew_seconds),
        )

    def exchange_code(self, shop: str, code: str) -> Credentials:
        """Trade an authorization code for an expiring offline token (``expiring: 1``)."""
        if not code:
            raise InvalidInput("the authorization code is empty")
        body = {
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "code": code,
            "expiring": 1,
        }
        answer = self._token_request(shop, body, "token exchange", refused=PlatformRejected)
        return self._credentials(answer, None, "token exchange")

    def refresh_credentials(self, shop: str, credentials: Credentials) -> Credentials:
        """A new access token (and rotated refresh token) for an expiring offline token.

        A non-expiring token has nothing to refresh and is returned as it is. A refresh token
        that is missing, expired, revoked or refused raises ``PlatformAuthError``.
        """
        if credentials.refresh_token is None:
            if credentials.expires_at is None:
                return credentials
            raise PlatformAuthError(
                f"the token of {shop} expires but there is no refresh token: reconnect the store",
                operation="token refresh",
            )
        expires = credentials.refresh_token_expires_at
        if expires is not None and self.clock.now() >= expires:
            raise PlatformAuthError(
                f"the refresh token of {shop} has expired: reconnect the store",
                operation="token refresh",
            )
        body = {
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "grant_type": "refresh_token",
            "refresh_token": credentials.refresh_token,
        }
        answer = self._token_request(shop, body, "token refresh", refused=PlatformAuthError)
        return self._credentials(answer, credentials, "token refresh")

    def _credentials(
        self, answer: Mapping[str, object], previous: Credentials | None, operation: str
    ) -> Credentials:
        try:
            return credentials_from_token_answer(answer, self.clock.now(), previous)
        except PayloadError as exc:
            raise PlatformRejected(
                f"Shopify's {operation} answer is unusable: {exc.message}", operation=operation
            ) from None

    def _token_request(
        self,
        shop: str,
        body: Mapping[str, object],
        operation: str,
        *,
        refused: type[PlatformError],
    ) -> Mapping[str, Any]:
        url = f"{self.shop_url(shop)}/admin/oauth/access_token"
        secrets = [str(v) for k, v in body.items() if k != "client_id" and isinstance(v, str)]
        failures = 0
        while True:
            reason: str
            retry_after: float | None = None
            try:
                response = self._client.post(
                    url, json=dict(body), headers={"Accept": "application/json"}
                )
            except httpx.TransportError as exc:
                reason = f"connection failed ({type(exc).__name__})"
            else:
                status = response.status_code
                if status == httpx.codes.OK:
                    try:
                        answer = json.loads(response.content)
                    except ValueError:
                        answer = None
                    if isinstance(answer, Mapping):
                        return answer
                    reason = "the answer is not a JSON object"
                elif status == httpx.codes.TOO_MANY_REQUESTS:
                    reason = "HTTP 429"
                    retry_after = _retry_after(response)
                elif status < httpx.codes.INTERNAL_SERVER_ERROR:
                    raise refused(
                        f"Shopify refused the {operation} for {shop} (HTTP {status})"
                        + _oauth_error(response, secrets),
                        operation=operation,
                    )
                else:
                    reason = f"HTTP {status}"
            if failures >= self.config.max_retries:
                if retry_after is not None:
                    raise PlatformThrottled(
                        f"Shopify {operation} for {shop} throttled after {failures + 1} attempts",
                        retry_after=retry_after,
                        operation=operation,
                    )
                raise PlatformUnavailable(
                    f"Shopify {operation} for {shop} failed after {failures + 1} attempts: "
                    f"{reason}",
                    operation=operation,
                )
            failures += 1
            delay = retry_after if retry_after is not None else self._graphql.backoff(failures)
            log.warning("shopify %s for %s: %s; retrying in %.2fs", operation, shop, reason, delay)
            self.sleep(delay)

    # --- webhooks ------------------------------------------------------------------------------

    def verify_webhook(self, body: bytes, signature: str | None) -> bool:
        return webhook_signature_valid(body, signature, self.config.secrets)

    def parse_webhook(self, topic: str, payload: Mapping[str, object], shop: str) -> StoreEvent:
        return parse_webhook(topic, payload, shop)

    def parse_order(self, payload: Mapping[str, object]) -> StoreOrder:
        return parse_order(payload)

    def webhook_topics(self) -> tuple[str, ...]:
        return REQUIRED_TOPICS

    def webhook_subscriptions(self, session: StoreSession) -> list[WebhookSubscription]:
        found: list[WebhookSubscription] = []
        cursor: str | None = None
        while True:
            answer = self._graphql.query(
                session,
                "WebhookSubscriptions",
                {"first": WEBHOOKS_PAGE_SIZE, "after": cursor},
                WebhooksAnswer,
            )
            connection = answer.webhook_subscriptions
            found.extend(n.to_core(topic_from_enum(n.topic)) for n in connection.nodes)
            cursor = connection.page_info.next_cursor
            if cursor is None:
                return found

    def create_webhook_subscription(
        self, session: StoreSession, topic: str, uri: str
    ) -> WebhookSubscription:
        """Subscribe ``uri`` to ``topic``. An existing identical subscription is returned."""
        answer = self._graphql.query(
            session,
            "WebhookSubscriptionCreate",
            {"topic": topic_to_enum(topic), "subscription": {"uri": uri, "format": "JSON"}},
            WebhookCreateAnswer,
        )
        payload = answer.webhook_subscription_create
        if payload.webhook_subscription is not None and not payload.user_errors:
            return payload.webhook_subscription.to_core(topic)
        existing = next(
            (s for s in self.webhook_subscriptions(session) if s.topic == topic and s.uri == uri),
            None,
        )
        if existing is not None:  # "address for this topic has already been taken"
            return existing
        raise PlatformRejected(
            f"Shopify refused the {topic} webhook subscription on {session.shop}: "
            f"{_messages(payload.user_errors)}",
            operation="WebhookSubscriptionCreate",
        )

    def delete_webhook_subscription(self, session: StoreSession, subscription_id: str) -> None:
        """Remove a subscription; one that is already gone counts as removed."""
        answer = self._graphql.query(
            session,
            "WebhookSubscriptionDelete",
            {"id": to_gid("WebhookSubscription", subscription_id)},
            WebhookDeleteAnswer,
        )
        payload = answer.webhook_subscription_delete
        if not payload.user_errors:
            return
        if all(s.id != subscription_id for s in self.webhook_subscriptions(session)):
            return
        raise PlatformRejected(
            f"Shopify refused to delete webhook subscription {subscription_id} on "
            f"{session.shop}: {_messages(payload.user_errors)}",
            operation="WebhookSubscriptionDelete",
        )

    # --- reading the store ---------------------------------------------------------------------

    def shop_info(self, session: StoreSession) -> ShopInfo:
        return self._graphql.query(session, "ShopInfo", {}, ShopAnswer).to_core(session.shop)

    def locations(self, session: StoreSession) -> list[StoreLocation]:
        found: list[StoreLocation] = []
        cursor: str | None = None
        while True:
            answer = self._graphql.query(
                session,
                "Locations",
                {"first": LOCATIONS_PAGE_SIZE, "after": cursor},
                LocationsAnswer,
            )
            found.extend(answer.to_core())
            cursor = answer.locations.page_info.next_cursor
            if cursor is None:
                return found

    def catalog(self, session: StoreSession, cursor: str | None = None) -> CatalogPage:
        """One page of variants (``catalog_page_size``, at most 250) with inventory item ids."""
        answer = self._graphql.query(
            session,
            "CatalogVariants",
            {"first": self.config.catalog_page_size, "after": cursor},
            CatalogAnswer,
        )
        connection = answer.product_variants
        return CatalogPage(
            variants=tuple(v.to_core() for v in connection.nodes),
            next_cursor=connection.page_info.next_cursor,
        )

    def bulk_catalog(
        self,
        session: StoreSession,
        *,
        poll_seconds: float | None = None,
        max_wait_seconds: float | None = None,
    ) -> tuple[StoreVariant, ...]:
        """Every variant in one bulk operation: worth it above a few thousand variants.

        Costs a few points whatever the catalog's size, where paging costs about 3 per variant.
        ``poll_seconds`` and ``max_wait_seconds`` override the configured polling (see
        ``_bulk_export``).
        """
        lines = self._bulk_export(
            session,
            "CatalogBulk",
            "catalog export",
            poll_seconds=poll_seconds,
            max_wait_seconds=max_wait_seconds,
        )
        return tuple(
            _line(line, Variant, "a bulk catalog line", session.shop).to_core() for line in lines
        )

    def inventory_levels(
        self, session: StoreSession, pairs: Sequence[tuple[str, str]]
    ) -> list[StoreInventoryLevel]:
        """The current levels of these ``(inventory item id, location id)`` pairs.

        One ``nodes(ids:)`` query on InventoryLevel gids per 125 pairs (4 points a pair: the
        level and its three quantities, so 500 points a query). The answer lists the levels in
        the order asked; a pair the store does not stock (its item deleted, the location gone,
        the item not stocked there) comes back null and is left out. A pair asked twice is read
        once.
        """
        wanted = list(
            dict.fromkeys(
                (_numeric("InventoryItem", item), _numeric("Location", location))
                for item, location in pairs
            )
        )
        ids = [inventory_level_gid(item, location) for item, location in wanted]
        found: list[StoreInventoryLevel] = []
        for start in range(0, len(wanted), INVENTORY_LEVELS_BY_ID_SIZE):
            chunk = wanted[start : start + INVENTORY_LEVELS_BY_ID_SIZE]
            answer = self._graphql.query(
                session,
                "InventoryLevelsById",
                {"ids": ids[start : start + INVENTORY_LEVELS_BY_ID_SIZE]},
                LevelsByIdAnswer,
            )
            if len(answer.nodes) != len(chunk):
                raise PlatformRejected(
                    f"Shopify answered {len(answer.nodes)} levels for {len(chunk)} ids on "
                    f"{session.shop}",
                    operation="InventoryLevelsById",
                )
            found.extend(
                node.to_core(item, location)
                for (item, location), node in zip(chunk, answer.nodes, strict=True)
                if node is not None
            )
        return found

    def inventory_snapshot(
        self, session: StoreSession, location_ids: Sequence[str], *, expected_items: int
    ) -> InventorySnapshot:
        """Every level of the store's tracked items at these locations, for drift repair.

        ``locations`` are the asked-for locations that exist and are active (one ``Locations``
        read); ``items`` every inventory item the store has, tracked or not (an item of a
        deleted variant is gone); ``levels`` those of tracked items at those locations. Up to
        ``inventory_bulk_threshold`` expected items the store is read in pages (items 250 a
        page, then each location's levels 199 a page); above it in one bulk operation, whose
        file lists every item and, on lines of their own, its levels at every location.
        """
        asked = list(dict.fromkeys(_numeric("Location", location) for location in location_ids))
        known = {location.id: location for location in self.locations(session)}
        active = [loc for loc in asked if loc in known and known[loc].active]
        if expected_items > self.config.inventory_bulk_threshold:
            items, levels = self._bulk_inventory(session, frozenset(active))
            read = active
        else:
            items, levels, read = self._paged_inventory(session, active)
        return InventorySnapshot(
            levels=tuple(sorted(levels, key=lambda lv: (lv.location_id, lv.inventory_item_id))),
            items=frozenset(items),
            locations=frozenset(read),
        )

    def _paged_inventory(
        self, session: StoreSession, locations: Sequence[str]
    ) -> tuple[dict[str, bool], list[StoreInventoryLevel], list[str]]:
        """Every item (id -> tracked), then each location's levels of the tracked ones, and
        the locations read (one deleted before its first page is left out; one deleted
        between two pages is ``PlatformUnavailable``, not a location with half its levels)."""
        items: dict[str, bool] = {}
        cursor: str | None = None
        while True:
            page = self._graphql.query(
                session,
                "InventoryItems",
                {"first": INVENTORY_ITEMS_PAGE_SIZE, "after": cursor},
                InventoryItemsAnswer,
            ).inventory_items
            items.update((item.id, item.tracked) for item in page.nodes)
            cursor = page.page_info.next_cursor
            if cursor is None:
                break
        levels: list[StoreInventoryLevel] = []
        read: list[str] = []
        for location in locations:
            cursor = None
            while True:
                answer = self._graphql.query(
                    session,
                    "LocationInventoryLevels",
                    {
                        "id": to_gid("Location", location),
                        "first": LOCATION_LEVELS_PAGE_SIZE,
                        "after": cursor,
                    },
                    LocationLevelsAnswer,
                )
                if answer.location is None:
                    if cursor is None:  # deleted since the locations were read
                        break
                    raise PlatformUnavailable(
                        f"location {location} on {session.shop} disappeared while its "
                        "inventory levels were read",
                        operation="LocationInventoryLevels",
                    )
                if cursor is None:
                    read.append(location)
                connection = answer.location.inventory_levels
                levels.extend(
                    node.to_core(location) for node in connection.nodes if items.get(node.item.id)
                )
                cursor = connection.page_info.next_cursor
                if cursor is None:
                    break
        return items, levels, read

    def _bulk_inventory(
        self, session: StoreSession, locations: frozenset[str]
    ) -> tuple[dict[str, bool], list[StoreInventoryLevel]]:
        """Every item (id -> tracked) and the tracked ones' levels at ``locations``, in bulk."""
        shop = session.shop
        items: dict[str, bool] = {}
        parented: list[tuple[str, BulkInventoryLevel]] = []
        for line in self._bulk_export(session, "InventoryBulk", "inventory export"):
            parent = line.get("__parentId")
            if parent is None:
                item = _line(line, TrackedItem, "a bulk inventory item line", shop)
                items[item.id] = item.tracked
                continue
            try:
                item_id = from_gid(parent)
            except PayloadError as exc:
                raise PlatformRejected(
                    f"a bulk inventory level line of {shop} is unusable: {exc.message}",
                    operation="bulk download",
                ) from None
            parented.append(
                (item_id, _line(line, BulkInventoryLevel, "a bulk inventory level line", shop))
            )
        levels = [
            level.to_core(item_id)
            for item_id, level in parented
            if items.get(item_id) and level.location.id in locations
        ]
        return items, levels

    # --- bulk operations -----------------------------------------------------------------------

    def _bulk_export(
        self,
        session: StoreSession,
        document: str,
        what: str,
        *,
        poll_seconds: float | None = None,
        max_wait_seconds: float | None = None,
    ) -> list[Mapping[str, Any]]:
        """Run ``DOCUMENTS[document]`` as a bulk query and return its JSONL lines, parsed.

        Starts ``bulkOperationRunQuery``, whose answer is the operation's first status; then
        polls ``bulkOperation(id:)`` (1 point a poll) after ``bulk_poll_seconds``, doubling up
        to ``bulk_poll_max_seconds``, until it is no longer ``CREATED`` or ``RUNNING``; then
        downloads the file (one GET of a signed URL, no token). If another bulk query of this
        app is running on the shop (Shopify runs one at a time), it first waits for that one
        to end, polling ``bulkOperations`` (filtered to the active ones) the same way. Waiting past
        ``bulk_max_wait_seconds`` in all, or an operation that ends other than ``COMPLETED``,
        is ``PlatformUnavailable``.
        """
        patience = _Patience(
            delay=poll_seconds if poll_seconds is not None else self.config.bulk_poll_seconds,
            cap=self.config.bulk_poll_max_seconds,
            left=(
                max_wait_seconds
                if max_wait_seconds is not None
                else self.config.bulk_max_wait_seconds
            ),
            what=f"the bulk {what} on {session.shop}",
        )
        started = self._start_bulk(session, document, what, patience)
        operation_id = to_gid("BulkOperation", started.id)
        patience.restart()
        found = self._await_bulk(
            started,
            lambda: (
                self._graphql.query(
                    session, "BulkOperation", {"id": operation_id}, BulkOperationAnswer
                ).bulk_operation
            ),
            patience,
        )
        status = found.status if found else "MISSING"
        if found is None or status != _BULK_DONE:
            reason = (found.error_code if found else None) or status.lower()
            raise PlatformUnavailable(
                f"the bulk {what} on {session.shop} ended {status.lower()} ({reason})",
                operation="BulkOperation",
            )
        if not found.url:  # nothing to export: no file
            return []
        text = self._download(found.url, session.shop)
        try:
            lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError:
            raise PlatformRejected(
                f"the bulk {what} file of {session.shop} is not JSONL", operation="bulk download"
            ) from None
        if not all(isinstance(line, Mapping) for line in lines):
            raise PlatformRejected(
                f"the bulk {what} file of {session.shop} holds a line that is not an object",
                operation="bulk download",
            )
        return lines

    def _start_bulk(
        self, session: StoreSession, document: str, what: str, patience: _Patience
    ) -> BulkOperation:
        """Start the bulk query, after any other bulk query of the app on the shop has ended."""

        def running() -> BulkOperation | None:
            listed = self._graphql.query(
                session, "ActiveBulkOperations", {}, ActiveBulkAnswer
            ).bulk_operations.nodes
            return next((op for op in listed if op.status in _BULK_RUNNING), None)

        while True:
            started = self._graphql.query(
                session,
                "BulkOperationRunQuery",
                {"query": DOCUMENTS[document]},
                BulkRunAnswer,
                retry_ambiguous=False,
            ).bulk_operation_run_query
            if started.bulk_operation is not None and not started.user_errors:
                return started.bulk_operation
            if _BULK_BUSY not in {e.code for e in started.user_errors}:
                raise PlatformRejected(
                    f"Shopify refused a bulk {what} on {session.shop}: "
                    f"{_messages(started.user_errors)}",
                    operation="BulkOperationRunQuery",
                )
            log.info("shopify bulk %s on %s waits for a running bulk query", what, session.shop)
            other = running()
            if other is None:  # it ended in between (or is not listed yet): a moment, then again
                patience.wait(self.sleep)
            else:
                self._await_bulk(other, running, patience)

    def _await_bulk(
        self,
        found: BulkOperation | None,
        read: Callable[[], BulkOperation | None],
        patience: _Patience,
    ) -> BulkOperation | None:
        """Poll ``read`` until the operation is no longer ``CREATED`` or ``RUNNING``."""
        while found is not None and found.status in _BULK_RUNNING:
            patience.wait(self.sleep)
            found = read()
        return found

    def _download(self, url: str, shop: str) -> str:
        """A bulk operation's result file (a signed URL: no token is sent)."""
        failures = 0
        while True:
            try:
                response = self._client.get(url, timeout=self.config.read_timeout * 4)
                if response.status_code == httpx.codes.OK:
                    return response.text
                reason = f"HTTP {response.status_code}"
                if response.status_code < httpx.codes.INTERNAL_SERVER_ERROR:
                    raise PlatformRejected(
                        f"the bulk export file of {shop} could not be read ({reason})",
                        operation="bulk download",
                    )
            except httpx.TransportError as exc:
                reason = f"connection failed ({type(exc).__name__})"
            if failures >= self.config.max_retries:
                raise PlatformUnavailable(
                    f"the bulk export file of {shop} could not be read: {reason}",
                    operation="bulk download",
                )
            failures += 1
            self.sleep(self._graphql.backoff(failures))

    def orders_updated_since(
        self, session: StoreSession, since: datetime, cursor: str | None = None
    ) -> OrdersPage:
        """Orders with ``updated_at >= since``, oldest change first, a page at a time."""
        if since.tzinfo is None:
            raise InvalidInput("orders_updated_since needs a timezone-aware time")
        stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        answer = self._graphql.query(
            session,
            "OrdersUpdatedSince",
            {"query": f"updated_at:>='{stamp}'", "first": ORDERS_PAGE_SIZE, "after": cursor},
            OrdersAnswer,
        )
        connection = answer.orders
        return OrdersPage(
            orders=tuple(self._whole_order(session, o) for o in connection.nodes),
            next_cursor=connection.page_info.next_cursor,
        )

    def order(self, session: StoreSession, order_id: str) -> StoreOrder | None:
        answer = self._graphql.query(
            session, "Order", {"id": to_gid("Order", order_id)}, OrderAnswer
        )
        return None if answer.order is None else self._whole_order(session, answer.order)

    def _whole_order(self, session: StoreSession, order: Order) -> StoreOrder:
        """The order with every line item and shipping line (pages after the first read)."""
        gid = to_gid("Order", order.id)
        lines = self._rest(
            session,
            "OrderLineItems",
            owner=gid,
            first=order.line_items.page_info,
            shape=OrderLinesAnswer,
            connection=lambda answer: answer.order.line_items if answer.order else None,
        )
        shipping = self._rest(
            session,
            "OrderShippingLines",
            owner=gid,
            first=order.shipping_lines.page_info if order.shipping_lines else None,
            shape=OrderShippingLinesAnswer,
            connection=lambda answer: answer.order.shipping_lines if answer.order else None,
        )
        return order.to_core(tuple(lines), tuple(shipping))

    def _rest(
        self,
        session: StoreSession,
        operation: str,
        *,
        owner: str,
        first: PageInfo | None,
        shape: type[A],
        connection: Callable[[A], _Page[N] | None],
    ) -> list[N]:
        """The nodes of a connection of ``owner`` (a gid) after its first page, read until
        Shopify says there are no more. ``owner`` gone between two pages is
        ``PlatformUnavailable`` (read it again later), never a part taken for the whole."""
        found: list[N] = []
        cursor = first.next_cursor if first else None
        while cursor is not None:
            answer = self._graphql.query(session, operation, {"id": owner, "after": cursor}, shape)
            page = connection(answer)
            if page is None:
                raise PlatformUnavailable(
                    f"{owner} on {session.shop} disappeared while {operation} were read",
                    operation=operation,
                )
            found.extend(page.nodes)
            cursor = page.page_info.next_cursor
        return found

    def fulfillment_orders(
        self, session: StoreSession, order_id: str
    ) -> list[StoreFulfillmentOrder]:
        """The order's fulfillment orders with locations and every line (none if no such
        order). An order gone after the first page is ``PlatformUnavailable``."""
        found: list[StoreFulfillmentOrder] = []
        cursor: str | None = None
        while True:
            answer = self._graphql.query(
                session,
                "FulfillmentOrders",
                {"id": to_gid("Order", order_id), "after": cursor},
                FulfillmentOrdersAnswer,
            )
            if answer.order is None:
                if cursor is None:
                    return found
                raise PlatformUnavailable(
                    f"order {order_id} on {session.shop} disappeared while its fulfillment "
                    "orders were read",
                    operation="FulfillmentOrders",
                )
            connection = answer.order.fulfillment_orders
            found.extend(
                self._whole_fulfillment_order(session, fo, answer.order.id)
                for fo in connection.nodes
            )
            cursor = connection.page_info.next_cursor
            if cursor is None:
                return found

    def order_fulfillments(self, session: StoreSession, order_id: str) -> StoreFulfillments:
        """The order's fulfillments with their tracking numbers and lines: the first
        ``ORDER_FULFILLMENTS_SIZE`` (``complete`` says whether that was all of them)."""
        answer = self._graphql.query(
            session, "OrderFulfillments", {"id": to_gid("Order", order_id)}, OrderFulfillmentsAnswer
        )
        if answer.order is None:
            return StoreFulfillments(())
        found = answer.order.fulfillments
        complete = len(found) < ORDER_FULFILLMENTS_SIZE and not any(
            f.fulfillment_line_items.page_info.has_next_page for f in found
        )
        return StoreFulfillments(tuple(f.to_core() for f in found), complete=complete)

    def _whole_fulfillment_order(
        self, session: StoreSession, fo: FulfillmentOrder, order_id: str
    ) -> StoreFulfillmentOrder:
        more = self._rest(
            session,
            "FulfillmentOrderLineItems",
            owner=to_gid("FulfillmentOrder", fo.id),
            first=fo.line_items.page_info,
            shape=FulfillmentOrderLinesAnswer,
            connection=lambda answer: (
                answer.fulfillment_order.line_items if answer.fulfillment_order else None
            ),
        )
        return fo.to_core(order_id, tuple(more))

    # --- writing to the store ------------------------------------------------------------------

    def create_fulfillment(
        self, session: StoreSession, request: FulfillmentRequest
    ) -> FulfillmentResult:
        """Fulfil exactly the listed fulfillment-order lines, with tracking.

        Not retried after a 5xx or timeout once sent (Shopify offers no idempotency key for
        it): the caller re-reads the fulfillment orders before trying again.
        """
        if not request.lines_by_fulfillment_order:
            raise InvalidInput("a fulfillment needs at least one fulfillment order")
        groups = []
        for group in request.lines_by_fulfillment_order:
            if not group.lines:
                raise InvalidInput(
                    f"fulfillment order {group.fulfillment_order_id} lists no lines; "
                    "name the lines to fulfil"
                )
            if any(quantity < 1 for _, quantity in group.lines):
                raise InvalidInput("fulfilled quantities must be at least 1")
            groups.append(
                {
                    "fulfillmentOrderId": to_gid("FulfillmentOrder", group.fulfillment_order_id),
                    "fulfillmentOrderLineItems": [
                        {"id": to_gid("FulfillmentOrderLineItem", line_id), "quantity": quantity}
                        for line_id, quantity in group.lines
                    ],
                }
            )
        tracking: dict[str, object] = {
            "company": request.tracking.company,
            "number": request.tracking.number,
        }
        if request.tracking.url:
            tracking["url"] = request.tracking.url
        answer = self._graphql.query(
            session,
            "FulfillmentCreate",
            {
                "fulfillment": {
                    "lineItemsByFulfillmentOrder": groups,
                    "notifyCustomer": request.notify_customer,
                    "trackingInfo": tracking,
                }
            },
            FulfillmentCreateAnswer,
            retry_ambiguous=False,
        )
        payload = answer.fulfillment_create
        if payload.user_errors or payload.fulfillment is None:
            raise PlatformRejected(
                f"Shopify refused the fulfillment of order {request.order_id} on "
                f"{session.shop}: {_messages(payload.user_errors)}",
                operation="FulfillmentCreate",
            )
        fulfillment = payload.fulfillment
        tracking_url = next((t.url for t in fulfillment.tracking_info if t.url), None)
        return FulfillmentResult(
            fulfillment_id=fulfillment.id,
            status=fulfillment.status.lower(),
            tracking_url=tracking_url or request.tracking.url,
        )

    def set_inventory(self, session: StoreSession, batch: InventoryBatch) -> InventoryResult:
        """One ``inventorySetQuantities`` of ``on_hand`` for the batch, compare-and-set on on
        hand, idempotent by key (Shopify's ``available`` then follows its own commitments).

        A quantity whose ``change_from`` no longer matches comes back ``stale``; one Shopify
        refuses for another reason ``rejected``; the others of a refused batch (Shopify applies
        all or nothing) ``not_applied``. Retries resend the batch's idempotency key.
        """
        if len(batch.quantities) > self.inventory_batch_limit:
            raise InvalidInput(
                f"an inventory batch holds at most {self.inventory_batch_limit} quantities, "
                f"not {len(batch.quantities)}"
            )
        if not batch.idempotency_key.strip():
            raise InvalidInput("an inventory batch needs an idempotency key")
        if not batch.quantities:
            return InventoryResult(items=())
        payload: dict[str, object] = {
            "name": "on_hand",
            "reason": batch.reason,
            "quantities": [
                {
                    "inventoryItemId": to_gid("InventoryItem", q.inventory_item_id),
                    "locationId": to_gid("Location", q.location_id),
                    "quantity": q.quantity,
                    "changeFromQuantity": q.change_from,
                }
                for q in batch.quantities
            ],
        }
        if batch.reference_uri:
            payload["referenceDocumentUri"] = batch.reference_uri
        variables = {"input": payload, "key": batch.idempotency_key}
        failures = 0
        while True:
            answer = self._graphql.query(
                session, "InventorySetQuantities", variables, InventorySetAnswer
            )
            errors = answer.inventory_set_quantities.user_errors
            codes = {e.code for e in errors}
            if _CONCURRENT not in codes:
                break
            # the same key is still being applied by an earlier attempt: ask again shortly
            if failures >= self.config.max_retries:
                raise PlatformUnavailable(
                    f"Shopify is still applying inventory batch {batch.idempotency_key} on "
                    f"{session.shop}",
                    operation="InventorySetQuantities",
                )
            failures += 1
            self.sleep(self._graphql.backoff(failures))
        if codes & _IDEMPOTENCY_REJECTIONS:
            code = next(c for c in codes if c in _IDEMPOTENCY_REJECTIONS)
            raise PlatformRejected(
                f"Shopify refused inventory batch {batch.idempotency_key} on {session.shop}: "
                f"{_messages(errors)}",
                code=(code or "").lower(),
                operation="InventorySetQuantities",
            )
        return _inventory_result(batch, errors)


@define
class _Patience:
    """How long a bulk export may still wait, and how long until the next poll (doubling from
    ``start``, capped at ``cap``; ``restart`` begins again at ``start`` for a new operation)."""

    delay: float
    cap: float
    left: float
    what: str
    start: float = field(init=False)

    def __attrs_post_init__(self) -> None:
        self.start = self.delay

    def restart(self) -> None:
        self.delay = self.start

    def wait(self, sleep: Callable[[float], None]) -> None:
        if self.delay > self.left:
            raise PlatformUnavailable(
                f"{self.what} did not finish in the time allowed", operation="BulkOperation"
            )
        sleep(self.delay)
        self.left -= self.delay
        self.delay = min(self.delay * 2, self.cap)


def _numeric(kind: str, value: str) -> str:
    """A core id (numeric, or a gid of ``kind``) as numeric text; ``InvalidInput`` if neither."""
    return from_gid(to_gid(kind, str(value)))


def _line(raw: Mapping[str, Any], shape: type[T], what: str, shop: str) -> T:
    """One JSONL line of a bulk file as ``shape``; an unusable one is ``PlatformRejected``."""
    try:
        return structure(raw, shape, what)
    except PayloadError as exc:
        raise PlatformRejected(
            f"{exc.message} (in the bulk file of {shop})", operation="bulk download"
        ) from None


def _inventory_result(batch: InventoryBatch, errors: Sequence[UserError]) -> InventoryResult:
    if not errors:
        return InventoryResult(
            items=tuple(InventoryItemResult(quantity=q, status="applied") for q in batch.quantities)
        )
    by_index: dict[int, UserError] = {}
    general: list[UserError] = []
    for error in errors:
        index = _quantity_index(error)
        if index is not None and 0 <= index < len(batch.quantities):
            by_index.setdefault(index, error)
        else:
            general.append(error)
    items = []
    for index, quantity in enumerate(batch.quantities):
        refused = by_index.get(index)
        if refused is not None:
            status: ItemStatus = "stale" if refused.code == _STALE else "rejected"
            items.append(
                InventoryItemResult(quantity=quantity, status=status, message=refused.message)
            )
        elif general:
            items.append(
                InventoryItemResult(
                    quantity=quantity, status="rejected", message=_messages(general)
                )
            )
        else:
            items.append(
                InventoryItemResult(
                    quantity=quantity,
                    status="not_applied",
                    message="not applied: another quantity of the batch was refused",
                )
            )
    return InventoryResult(items=tuple(items))


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(float(response.headers.get("Retry-After", "1")), 0.05)
    except ValueError:
        return 1.0


def _oauth_error(response: httpx.Response, secrets: Sequence[str]) -> str:
    """``": invalid_request (the code was used)"`` from an OAuth error answer, secrets removed."""
    try:
        answer = json.loads(response.content)
    except ValueError:
        return ""
    if not isinstance(answer, Mapping):
        return ""
    parts = [answer.get("error"), answer.get("error_description")]
    text = " - ".join(str(p) for p in parts if isinstance(p, str) and p)
    if not text and isinstance(answer.get("errors"), str):
        text = str(answer["errors"])
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    return f": {text[:300]}" if text else ""


def _as_store_platform(platform: ShopifyPlatform) -> StorePlatform:
    """Never called: lets mypy prove that ``ShopifyPlatform`` implements the port."""
    return platform
