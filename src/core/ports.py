"""Ports: what the core needs from the outside world, named by role.

Adapters implement these (``adapters.memory``, ``adapters.postgres``, ``adapters.shopify``,
``adapters.crypto``, ``adapters.ratelimit``). The composition root picks which.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Literal, Protocol, Self

from attrs import frozen

from core.model import (
    Alert,
    AlertStatus,
    ApiToken,
    Backlog,
    CatalogVariant,
    Client,
    DirtyStock,
    InboxEvent,
    InboxStatus,
    Integration,
    InventoryPushState,
    Job,
    JobKind,
    LocationMapping,
    OpenUnits,
    OrderRef,
    OrderStatus,
    OutboundOrder,
    OutboxCommand,
    OutboxStatus,
    Product,
    ProductMapping,
    Shipment,
    StockLevel,
    StockMovement,
    SyncRun,
    User,
    UserSession,
    Warehouse,
)
from core.store import (
    CatalogPage,
    Credentials,
    FulfillmentRequest,
    FulfillmentResult,
    InventoryBatch,
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
    WebhookSubscription,
)

__all__ = [
    "AlertRepository",
    "ApiTokenRepository",
    "CatalogRepository",
    "Cipher",
    "ClientRepository",
    "Clock",
    "IdGenerator",
    "InboxRepository",
    "InboxWriter",
    "IntegrationRepository",
    "InventorySyncRepository",
    "JobRepository",
    "LocationMappingRepository",
    "Metrics",
    "OrderCursor",
    "OrderRepository",
    "OrderSearch",
    "OutboxRepository",
    "PasswordHasher",
    "ProductMappingRepository",
    "ProductRepository",
    "Rate",
    "RateLimitDecision",
    "RateLimiter",
    "ShipmentRepository",
    "StockRepository",
    "StorePlatform",
    "SyncRunRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UserRepository",
    "UserSessionRepository",
    "WarehouseRepository",
]


# --- small services ----------------------------------------------------------------------------


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class IdGenerator(Protocol):
    def new_id(self) -> str:
        """A new unique identifier (a UUID in text form)."""
        ...


class Cipher(Protocol):
    """Authenticated encryption with key ids, so keys rotate and old ciphertexts still open."""

    def encrypt(self, plaintext: bytes, *, associated_data: bytes = b"") -> str:
        """Seal with the current key; the text result names the key id it was sealed with."""
        ...

    def decrypt(self, ciphertext: str, *, associated_data: bytes = b"") -> bytes:
        """Open with the key named in the ciphertext. Raises ``CryptoError`` if tampered."""
        ...


@frozen
class Rate:
    """``amount`` units per ``per_seconds`` seconds (``limits``' "10 per 60 seconds")."""

    amount: int
    per_seconds: int

    def __str__(self) -> str:
        return f"{self.amount} per {self.per_seconds} seconds"


@frozen
class RateLimitDecision:
    allowed: bool
    remaining: int
    retry_after: float  # seconds until ``cost`` units would be allowed again (0 when allowed)


class RateLimiter(Protocol):
    """A shared budget per key. With Redis storage every process of a deployment shares it."""

    def acquire(self, key: str, rate: Rate, cost: int = 1) -> RateLimitDecision:
        """Take ``cost`` units if they are available; say when to come back if not."""
        ...

    def peek(self, key: str, rate: Rate, cost: int = 1) -> RateLimitDecision:
        """Would ``cost`` units be allowed now? Takes nothing."""
        ...

    def reset(self, key: str, rate: Rate) -> None: ...


class Metrics(Protocol):
    """What the application counts and times, for operators' dashboards and alerts.

    Named by what happened, not by metric: the adapter decides names, labels and buckets.
    Every method is cheap, thread-safe and never raises. ``core.observability.NoMetrics``,
    the default, records nothing. Label values passed in must come from a small, known set
    (topics the app handles, operation names, outcomes), never from request data.
    """

    def webhook_received(self, platform: str, topic: str, outcome: str) -> None:
        """A webhook request was answered: ``stored``, ``duplicate``, ``bad_hmac``,
        ``too_large``, ``rate_limited``, ``invalid`` ..."""
        ...

    def work_finished(
        self, queue: Literal["inbox", "outbox", "jobs"], kind: str, outcome: str, seconds: float
    ) -> None:
        """The worker finished one queue item or job (``kind``: its topic, command kind or
        job kind) with ``done``, ``skipped``, ``retry``, ``dead``, ``failed`` or ``lost``,
        after ``seconds``."""
        ...

    def worker_polled(self, when: datetime) -> None:
        """A worker looked for due work (its heartbeat)."""
        ...

    def store_request(
        self,
        platform: str,
        operation: str,
        outcome: str,
        *,
        requested_cost: float | None = None,
        actual_cost: float | None = None,
    ) -> None:
        """One request to a store's API was answered (or failed): ``ok``, ``throttled``,
        ``unavailable``, ``auth_error`` or ``rejected``; the cost points the store reported
        for a query it ran."""
        ...

    def order_applied(self, platform: str, outcome: str, latency_seconds: float) -> None:
        """A store order change reached the warehouse order (``imported``, ``updated``,
        ``cancelled``, ``closed``), ``latency_seconds`` after the store made it."""
        ...

    def inventory_pushed(
        self, platform: str, *, applied: int = 0, stale: int = 0, refused: int = 0, failed: int = 0
    ) -> None:
        """One batch of inventory quantities was sent: how many the store applied, found
        stale (compare-and-set), refused, or how many failed with the call."""
        ...


# --- the store platform ------------------------------------------------------------------------


class StorePlatform(Protocol):
    """What any store (Shopify, later TikTok Shop, Amazon, ...) must offer the core.

    Methods that talk to the store raise ``PlatformError`` subclasses: ``PlatformUnavailable``
    and ``PlatformThrottled`` are retryable, ``PlatformAuthError`` means the credentials are
    no longer accepted, ``PlatformRejected`` means the store refused the request.
    """

    name: str
    inventory_batch_limit: int  # the most quantities one ``set_inventory`` batch may hold

    # connect
    def normalize_shop(self, raw: str) -> str:
        """A shop name or domain as typed by a user, validated. Raises ``InvalidShop``."""
        ...

    def authorization_url(self, shop: str, *, state: str, redirect_uri: str) -> str: ...

    def shop_exists(self, shop: str) -> bool | None:
        """Whether the store platform knows this (normalized) shop: ``False`` only when it
        says so for certain, ``None`` when it could not be asked. Needs no credentials and
        changes nothing (the portal asks before sending a merchant to a consent page)."""
        ...

    def verify_callback(self, params: Mapping[str, str | Sequence[str]], now: datetime) -> str:
        """Check a callback's signature, timestamp and shop; return the shop.

        Raises ``InvalidSignature``, ``StaleRequest`` or ``InvalidShop``.
        """
        ...

    def exchange_code(self, shop: str, code: str) -> Credentials: ...

    def refresh_credentials(self, shop: str, credentials: Credentials) -> Credentials: ...

    # webhooks
    def verify_webhook(self, body: bytes, signature: str | None) -> bool:
        """Constant-time check of a webhook body signature (current or previous secret)."""
        ...

    def parse_webhook(self, topic: str, payload: Mapping[str, object], shop: str) -> StoreEvent:
        """Turn a webhook payload into a core event. Raises ``PayloadError``."""
        ...

    def parse_order(self, payload: Mapping[str, object]) -> StoreOrder:
        """Turn a stored order payload into a ``StoreOrder``. Raises ``PayloadError``."""
        ...

    def webhook_topics(self) -> tuple[str, ...]:
        """The topics a connected store must be subscribed to."""
        ...

    def webhook_subscriptions(self, session: StoreSession) -> list[WebhookSubscription]: ...

    def create_webhook_subscription(
        self, session: StoreSession, topic: str, uri: str
    ) -> WebhookSubscription: ...

    def delete_webhook_subscription(self, session: StoreSession, subscription_id: str) -> None: ...

    # reading the store
    def shop_info(self, session: StoreSession) -> ShopInfo: ...

    def locations(self, session: StoreSession) -> list[StoreLocation]: ...

    def catalog(self, session: StoreSession, cursor: str | None = None) -> CatalogPage: ...

    def orders_updated_since(
        self, session: StoreSession, since: datetime, cursor: str | None = None
    ) -> OrdersPage: ...

    def order(self, session: StoreSession, order_id: str) -> StoreOrder | None: ...

    def fulfillment_orders(
        self, session: StoreSession, order_id: str
    ) -> list[StoreFulfillmentOrder]: ...

    def order_fulfillments(self, session: StoreSession, order_id: str) -> StoreFulfillments:
        """The fulfillments the store recorded for the order, with their tracking numbers
        (how a retried fulfilment recognises its own after an unknown outcome)."""
        ...

    # writing to the store
    def create_fulfillment(
        self, session: StoreSession, request: FulfillmentRequest
    ) -> FulfillmentResult: ...

    def inventory_levels(
        self, session: StoreSession, pairs: Sequence[tuple[str, str]]
    ) -> list[StoreInventoryLevel]:
        """Current levels of these ``(inventory item id, location id)`` pairs, any number of
        them (the adapter pages). A pair the store does not stock is left out of the answer."""
        ...

    def inventory_snapshot(
        self, session: StoreSession, location_ids: Sequence[str], *, expected_items: int
    ) -> InventorySnapshot:
        """Every level at these locations. ``expected_items`` (the catalogue's size as last
        loaded) lets the adapter choose between paging and an asynchronous bulk export."""
        ...

    def set_inventory(self, session: StoreSession, batch: InventoryBatch) -> InventoryResult:
        """Apply one batch (<= ``inventory_batch_limit``) of on-hand quantities, compare-and-set.

        A stale compare is a per-item result, not an exception; retrying with the same
        idempotency key after an unknown outcome applies the batch at most once."""
        ...


# --- persistence -------------------------------------------------------------------------------


class ClientRepository(Protocol):
    def add(self, client: Client) -> None:
        """Raises ``Conflict`` if a client with that name exists."""
        ...

    def get(self, client_id: str) -> Client | None: ...

    def get_by_name(self, name: str) -> Client | None: ...

    def list(self) -> list[Client]: ...

    def update(self, client: Client) -> None: ...


class UserRepository(Protocol):
    def add(self, user: User) -> None:
        """Raises ``Conflict`` if the e-mail (case-insensitive) is taken."""
        ...

    def get(self, user_id: str) -> User | None: ...

    def get_by_email(self, email: str) -> User | None: ...

    def list(self, client_id: str | None = None) -> list[User]: ...

    def update(self, user: User) -> None: ...


class ApiTokenRepository(Protocol):
    def add(self, token: ApiToken) -> None: ...

    def get_by_hash(self, token_hash: str) -> ApiToken | None: ...

    def touch(self, token_id: str, when: datetime) -> None: ...

    def delete_for_user(self, user_id: str) -> int: ...


class UserSessionRepository(Protocol):
    """Signed-in browsers, found by the digest of their session id."""

    def add(self, session: UserSession) -> None:
        """Raises ``Conflict`` if the id hash is taken."""
        ...

    def get(self, id_hash: str) -> UserSession | None: ...

    def for_user(self, user_id: str) -> builtins.list[UserSession]:
        """The user's sessions, revoked and expired ones included, oldest first."""
        ...

    def touch(self, id_hash: str, when: datetime) -> None:
        """Record that the session was used at ``when``."""
        ...

    def revoke(self, id_hash: str, when: datetime) -> bool:
        """End the session; ``False`` if there is none or it was revoked already."""
        ...

    def revoke_for_user(self, user_id: str, when: datetime, *, keep: str | None = None) -> int:
        """End every unrevoked, unexpired session of the user but the one whose id hash is
        ``keep``; how many were ended."""
        ...

    def purge(self, before: datetime) -> int:
        """Delete the sessions whose absolute lifetime ended before ``before``; how many."""
        ...


class WarehouseRepository(Protocol):
    def add(self, warehouse: Warehouse) -> None:
        """Raises ``Conflict`` if the code is taken."""
        ...

    def get(self, warehouse_id: str) -> Warehouse | None: ...

    def get_by_code(self, code: str) -> Warehouse | None: ...

    def list(self) -> list[Warehouse]: ...


class ProductRepository(Protocol):
    def add(self, product: Product) -> None:
        """Raises ``Conflict`` if the client already has that SKU (case-insensitive)."""
        ...

    def get(self, product_id: str) -> Product | None: ...

    def get_many(self, product_ids: Iterable[str]) -> builtins.list[Product]:
        """The products of these ids that exist, in one read."""
        ...

    def get_by_sku(self, client_id: str, sku: str) -> Product | None:
        """Case-insensitive."""
        ...

    def find_by_barcode(self, client_id: str, barcode: str) -> list[Product]: ...

    def list(
        self,
        client_id: str | None = None,
        *,
        q: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Product]: ...

    def update(self, product: Product) -> None: ...


class StockRepository(Protocol):
    def get_level(self, product_id: str, warehouse_id: str) -> StockLevel | None:
        """The level, locked for the rest of the unit of work."""
        ...

    def save_level(self, level: StockLevel) -> None: ...

    def levels(
        self,
        *,
        product_id: str | None = None,
        warehouse_id: str | None = None,
        client_id: str | None = None,
        product_ids: Iterable[str] | None = None,
    ) -> list[StockLevel]:
        """Levels matching every filter given (``product_ids``: any of these products)."""
        ...

    def add_movement(self, movement: StockMovement) -> None: ...

    def movements(
        self,
        *,
        product_id: str | None = None,
        warehouse_id: str | None = None,
        order_id: str | None = None,
        limit: int = 1000,
    ) -> list[StockMovement]: ...


@frozen
class OrderCursor:
    """Where a page of orders (newest first) starts or ends: its edge order's creation time
    and id, the sort key of every order list."""

    created_at: datetime
    id: str


@frozen
class OrderSearch:
    """A page of orders, newest first. ``q`` matches, in any case and anywhere in the text,
    the order number, the store's order number, a line's SKU, the ship-to name or the
    e-mail. ``after``: the page of orders older than that cursor; ``before``: the page just
    newer than it (still listed newest first)."""

    client_id: str | None = None
    status: OrderStatus | None = None
    q: str | None = None
    after: OrderCursor | None = None
    before: OrderCursor | None = None
    limit: int = 50


class OrderRepository(Protocol):
    def add(self, order: OutboundOrder) -> None:
        """Raises ``Conflict`` for a second order of one (integration, external order id), or
        a second order number for one client."""
        ...

    def get(self, order_id: str) -> OutboundOrder | None:
        """The order with its items, locked for the rest of the unit of work."""
        ...

    def get_by_external(self, integration_id: str, external_order_id: str) -> OutboundOrder | None:
        """Locked like ``get``."""
        ...

    def peek_external(self, integration_id: str, external_order_id: str) -> OutboundOrder | None:
        """As ``get_by_external``, without locking: to decide whether a store read is needed."""
        ...

    def update(self, order: OutboundOrder) -> None:
        """Saves the order and its items (items added, changed or removed)."""
        ...

    def open_units(self, integration_id: str) -> builtins.list[OpenUnits]:
        """The integration's open orders' units still to ship, summed per product, warehouse,
        store variant, store location and whether they are reserved (mapped lines only)."""
        ...

    def list(
        self,
        *,
        client_id: str | None = None,
        status: OrderStatus | None = None,
        integration_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[OutboundOrder]: ...

    def search(self, query: OrderSearch) -> builtins.list[OutboundOrder]:
        """Up to ``query.limit`` orders with their items, newest first, without locking: for
        pages. Served by indexes (keyset on the sort, trigram for ``q``), not scans."""
        ...

    def number_taken(self, client_id: str, number: str) -> bool:
        """Does the client have an order with this number?"""
        ...

    def refs_by_external(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], OrderRef]:
        """The orders these ``(integration id, external order id)`` became, in one read;
        keys with no order are left out."""
        ...

    def awaiting_stock(self, warehouse_id: str, product_id: str) -> builtins.list[str]:
        """Ids of ``pending`` orders at the warehouse with a line of the product, rush first,
        then oldest first."""
        ...

    def for_customer(
        self, integration_id: str, *, email: str | None, external_order_ids: Iterable[str]
    ) -> builtins.list[OutboundOrder]:
        """Orders of one store customer (by e-mail or order ids), for redaction requests."""
        ...


class ShipmentRepository(Protocol):
    def add(self, shipment: Shipment) -> None: ...

    def get(self, shipment_id: str) -> Shipment | None: ...

    def for_order(self, order_id: str) -> list[Shipment]: ...

    def for_orders(self, order_ids: Iterable[str]) -> list[Shipment]:
        """The shipments of several orders in one read, oldest first."""
        ...

    def update(self, shipment: Shipment) -> None: ...


class IntegrationRepository(Protocol):
    def add(self, integration: Integration) -> None:
        """Raises ``Conflict`` if the client already has this (platform, shop)."""
        ...

    def get(self, integration_id: str) -> Integration | None:
        """Locked for the rest of the unit of work."""
        ...

    def peek(self, integration_id: str) -> Integration | None:
        """Read without locking: for hot paths that only look (webhook ingest, handlers)."""
        ...

    def find(self, client_id: str, platform: str, shop_domain: str) -> Integration | None: ...

    def for_shop(self, platform: str, shop_domain: str) -> builtins.list[Integration]:
        """Every integration of the shop, whatever its status (compliance requests arrive
        after an uninstall), oldest first."""
        ...

    def connected_for_shop(self, platform: str, shop_domain: str) -> list[Integration]:
        """Integrations of the shop whose status is not ``disconnected``."""
        ...

    def list(self, client_id: str | None = None) -> list[Integration]: ...

    def update(self, integration: Integration) -> None: ...


class LocationMappingRepository(Protocol):
    def add(self, mapping: LocationMapping) -> None:
        """Raises ``Conflict`` for a second mapping of one store location."""
        ...

    def get(self, mapping_id: str) -> LocationMapping | None: ...

    def get_by_external(
        self, integration_id: str, external_location_id: str
    ) -> LocationMapping | None: ...

    def for_integration(self, integration_id: str) -> list[LocationMapping]: ...

    def update(self, mapping: LocationMapping) -> None: ...


class ProductMappingRepository(Protocol):
    def add(self, mapping: ProductMapping) -> None:
        """Raises ``Conflict`` for a second mapping of one store variant."""
        ...

    def get(self, mapping_id: str) -> ProductMapping | None: ...

    def get_by_variant(
        self, integration_id: str, external_variant_id: str
    ) -> ProductMapping | None: ...

    def for_product(self, product_id: str) -> list[ProductMapping]: ...

    def for_integration(self, integration_id: str) -> list[ProductMapping]: ...

    def for_variants(
        self, integration_id: str, external_variant_ids: Iterable[str]
    ) -> list[ProductMapping]:
        """The mappings of these store variants, in one read."""
        ...

    def update(self, mapping: ProductMapping) -> None: ...

    def delete(self, mapping_id: str) -> None: ...


class InventorySyncRepository(Protocol):
    """What stock sync needs to remember: which stock changed, what each store was told."""

    def mark_dirty(
        self, integration_id: str, product_id: str, warehouse_id: str, when: datetime
    ) -> None:
        """Record (or bump the version of) a change to push; cheap, called on every movement."""
        ...

    def dirty(
        self,
        integration_id: str,
        *,
        limit: int = 10_000,
        product_ids: Iterable[str] | None = None,
    ) -> list[DirtyStock]:
        """Changes not pushed yet, oldest first (``product_ids``: only of these products)."""
        ...

    def clear_dirty(self, marks: Iterable[DirtyStock]) -> int:
        """Remove the marks whose version is still the one given (a mark made since stays)."""
        ...

    def states(
        self, integration_id: str, *, mapping_ids: Iterable[str] | None = None
    ) -> list[InventoryPushState]:
        """What each store location was told, for every mapping or only the ones given."""
        ...

    def save_states(self, states: Iterable[InventoryPushState]) -> None:
        """Insert or replace, by (mapping, location)."""
        ...


class CatalogRepository(Protocol):
    def upsert(self, variants: Iterable[CatalogVariant]) -> int: ...

    def get(self, integration_id: str, external_variant_id: str) -> CatalogVariant | None: ...

    def list(
        self,
        integration_id: str,
        *,
        mapped: bool | None = None,
        q: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[CatalogVariant]:
        """``mapped``: only variants with (True) or without (False) a product mapping."""
        ...

    def count(
        self, integration_id: str, *, mapped: bool | None = None, q: str | None = None
    ) -> int: ...

    def delete_missing(self, integration_id: str, keep: Iterable[str]) -> int:
        """Forget variants no longer in the store."""
        ...


class InboxWriter(Protocol):
    """Stores one inbox event in a transaction of its own: all a webhook request writes, in
    as few round trips as the storage allows."""

    def add(self, event: InboxEvent, *, payload_json: bytes | None = None) -> bool:
        """``InboxRepository.add`` in a unit of work of its own, committed when this returns:
        ``False`` (and nothing stored) if the (platform, delivery id) is already stored."""
        ...


class InboxRepository(Protocol):
    def add(self, event: InboxEvent, *, payload_json: bytes | None = None) -> bool:
        """Store the event; ``False`` (and nothing stored) if its (platform, delivery id) is
        already stored.

        ``payload_json``: the JSON document the payload is (a webhook's raw body), if the
        caller has it. The event stored then has the document's value as its payload: an
        adapter whose storage reads JSON (``jsonb``) stores the document itself where that
        reads it as ``json.loads`` would, and otherwise decodes it (``load_document``);
        ``event.payload`` is that value already decoded, or empty when the caller did not
        decode the document. A document that is no JSON object, or none the storage can hold,
        raises ``PayloadError`` and nothing is stored."""
        ...

    def get(self, event_id: str) -> InboxEvent | None:
        """Locked for the rest of the unit of work."""
        ...

    def claim_due(
        self,
        now: datetime,
        *,
        limit: int,
        lease_seconds: float,
        worker_id: str,
    ) -> list[InboxEvent]:
        """Claim up to ``limit`` due events: claimable ones whose ``next_attempt_at`` passed,
        and ``processing`` ones whose lease expired. Marks them ``processing`` under this
        worker's lease and counts the attempt. Two workers never get the same event."""
        ...

    def update(self, event: InboxEvent) -> None: ...

    def list(
        self,
        *,
        integration_id: str | None = None,
        status: InboxStatus | None = None,
        limit: int = 100,
        offset: int = 0,
        integration_ids: Sequence[str] | None = None,
        before: tuple[datetime, str] | None = None,
    ) -> list[InboxEvent]:
        """Newest first (``received_at``, then id, descending). ``integration_ids``: only
        events of these integrations (none: nothing); ``before``: only events older than this
        ``(received_at, id)`` (keyset paging: the last row of the previous page)."""
        ...

    def for_store_order(
        self, integration_id: str, external_order_id: str, *, limit: int = 50
    ) -> builtins.list[InboxEvent]:
        """The integration's events about one store order (the order's id in the payload, or
        an order edit's ``order_id``), newest first."""
        ...

    def counts(self, integration_id: str, since: datetime) -> dict[str, int]:
        """Events received since ``since`` by status."""
        ...

    def backlog(self) -> Backlog:
        """Unfinished events by state and the arrival of the oldest (monitoring)."""
        ...


class OutboxRepository(Protocol):
    def add(self, command: OutboxCommand) -> bool:
        """``False`` (nothing stored) if a command with that idempotency key exists."""
        ...

    def get(self, command_id: str) -> OutboxCommand | None:
        """Locked for the rest of the unit of work."""
        ...

    def claim_due(
        self,
        now: datetime,
        *,
        limit: int,
        lease_seconds: float,
        worker_id: str,
    ) -> list[OutboxCommand]:
        """As ``InboxRepository.claim_due``."""
        ...

    def update(self, command: OutboxCommand) -> None: ...

    def backlog(self) -> Backlog:
        """Unfinished commands by state and the creation of the oldest (monitoring)."""
        ...

    def list(
        self,
        *,
        integration_id: str | None = None,
        status: OutboxStatus | None = None,
        kind: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[OutboxCommand]: ...


class AlertRepository(Protocol):
    def add(self, alert: Alert) -> None: ...

    def get(self, alert_id: str) -> Alert | None: ...

    def update(self, alert: Alert) -> None:
        """Save a changed alert (acknowledged, resolved). Raises ``NotFound``."""
        ...

    def list(
        self,
        *,
        client_id: str | None = None,
        integration_id: str | None = None,
        unresolved_only: bool = False,
        subject_id: str | None = None,
        code: str | None = None,
        limit: int = 100,
        status: AlertStatus | None = None,
        order_id: str | None = None,
        offset: int = 0,
    ) -> list[Alert]:
        """Newest first. ``status``: ``open`` (neither acknowledged nor resolved),
        ``acknowledged`` (not resolved) or ``resolved``."""
        ...

    def count_unresolved(self, integration_id: str) -> int:
        """How many of the integration's alerts are not resolved."""
        ...

    def resolve(self, alert_id: str, when: datetime) -> None: ...


class SyncRunRepository(Protocol):
    def add(self, run: SyncRun) -> None: ...

    def update(self, run: SyncRun) -> None: ...

    def latest(self, integration_id: str, kind: str) -> SyncRun | None: ...

    def list(self, *, integration_id: str | None = None, limit: int = 50) -> list[SyncRun]: ...


class JobRepository(Protocol):
    """Jobs and their progress; a claim hands a job to one worker only."""

    def add(self, job: Job) -> bool:
        """Store a queued job; ``False`` (nothing stored) if the integration already has a
        queued or running job of that kind."""
        ...

    def get(self, job_id: str) -> Job | None:
        """Locked for the rest of the unit of work."""
        ...

    def peek(self, job_id: str) -> Job | None:
        """Read without locking: what readers of progress use."""
        ...

    def pending(self, integration_id: str, kind: JobKind) -> Job | None:
        """The integration's queued or running job of this kind, if any."""
        ...

    def claim_due(
        self, now: datetime, *, limit: int, lease_seconds: float, worker_id: str
    ) -> builtins.list[Job]:
        """Claim up to ``limit`` jobs, earliest due first: queued ones whose
        ``next_attempt_at`` passed and running ones whose lease expired (their worker died).
        Marks them running under this worker's lease and counts the attempt (``Job.start``).
        Two workers never get the same job."""
        ...

    def update(self, job: Job) -> None: ...

    def list(
        self, integration_id: str, *, kind: JobKind | None = None, limit: int = 20
    ) -> builtins.list[Job]:
        """The integration's jobs, newest first."""
        ...


class UnitOfWork(Protocol):
    """One transaction. ``with uow: ...; uow.commit()``; leaving without commit rolls back."""

    # Repositories are read-only properties, so an adapter's own repository classes (which
    # satisfy these protocols) can stand in for them.

    @property
    def clients(self) -> ClientRepository: ...

    @property
    def users(self) -> UserRepository: ...

    @property
    def api_tokens(self) -> ApiTokenRepository: ...

    @property
    def user_sessions(self) -> UserSessionRepository: ...

    @property
    def warehouses(self) -> WarehouseRepository: ...

    @property
    def products(self) -> ProductRepository: ...

    @property
    def stock(self) -> StockRepository: ...

    @property
    def orders(self) -> OrderRepository: ...

    @property
    def shipments(self) -> ShipmentRepository: ...

    @property
    def integrations(self) -> IntegrationRepository: ...

    @property
    def locations(self) -> LocationMappingRepository: ...

    @property
    def mappings(self) -> ProductMappingRepository: ...

    @property
    def catalog(self) -> CatalogRepository: ...

    @property
    def inventory(self) -> InventorySyncRepository: ...

    @property
    def inbox(self) -> InboxRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def alerts(self) -> AlertRepository: ...

    @property
    def sync_runs(self) -> SyncRunRepository: ...

    @property
    def jobs(self) -> JobRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def snapshot(self) -> None:
        """Let the transaction about to begin read one state of the data, however many reads
        it makes: reads that must agree (stock levels and the orders that reserve them)
        cannot see a change committed between them. Call it before the transaction's first
        statement; it is for transactions that only read."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


class PasswordHasher(Protocol):
    """Slow, salted password hashing (argon2id or scrypt)."""

    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool:
        """Constant-time check; ``False`` for a wrong password or a malformed hash."""
        ...

    def needs_rehash(self, password_hash: str) -> bool: ...
