"""Everything the simulated Shopify holds, in memory, behind one lock.

Records are mutable attrs classes; the operations that change them live in ``commerce``
(the store's rules), ``oauth`` (installations and tokens) and ``graphql_api`` (the API). Every
reader and writer holds ``SandboxState.lock``; webhook deliveries leave through the event
sinks registered here, never while a delivery's HTTP call is in progress.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from attrs import define, field, frozen

from adapters.shopify.sandbox.config import SandboxClock
from adapters.shopify.sandbox.ids import SandboxError, truncate

__all__ = [
    "BULK_ACTIVE",
    "QUANTITY_NAMES",
    "AccessToken",
    "AdjustmentGroup",
    "ApiCall",
    "AuthorizationCode",
    "Bucket",
    "BulkOperation",
    "Customer",
    "Faults",
    "Fulfillment",
    "FulfillmentOrder",
    "FulfillmentOrderLine",
    "IdempotencyRecord",
    "Installation",
    "InventoryChange",
    "InventoryItem",
    "InventoryLevel",
    "LineItem",
    "Location",
    "Order",
    "Product",
    "RefreshToken",
    "SandboxState",
    "ShippingLine",
    "Shop",
    "Subscription",
    "Variant",
    "WebhookEvent",
    "WebhookTarget",
    "topic_enum",
    "topic_name",
]

# Shopify's inventory states. ``available`` is computed: on_hand minus the unavailable ones.
QUANTITY_NAMES = (
    "available",
    "on_hand",
    "committed",
    "reserved",
    "incoming",
    "damaged",
    "safety_stock",
    "quality_control",
)
STORED_QUANTITIES = QUANTITY_NAMES[1:]
UNAVAILABLE_QUANTITIES = ("committed", "reserved", "damaged", "safety_stock", "quality_control")


def topic_enum(topic: str) -> str:
    """``orders/create`` -> ``ORDERS_CREATE`` (the GraphQL ``WebhookSubscriptionTopic``)."""
    return topic.upper().replace("/", "_")


def topic_name(enum_value: str) -> str:
    """``ORDERS_CREATE`` -> ``orders/create``: the first underscore separates resource and event."""
    lowered = enum_value.lower()
    # Resources with an underscore of their own.
    for prefix in _COMPOUND_RESOURCES:
        if lowered.startswith(prefix + "_"):
            return prefix + "/" + lowered[len(prefix) + 1 :]
    resource, _, event = lowered.partition("_")
    return f"{resource}/{event}"


_COMPOUND_RESOURCES = (
    "bulk_operations",
    "inventory_levels",
    "inventory_items",
    "fulfillment_orders",
    "fulfillment_events",
    "draft_orders",
    "order_transactions",
)


# --- the catalog and stock ----------------------------------------------------------------------


@define
class Location:
    id: int
    name: str
    created_at: datetime
    updated_at: datetime
    active: bool = True
    fulfills_online_orders: bool = True
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province: str | None = None
    province_code: str | None = None
    zip: str | None = None
    country_code: str = "US"
    phone: str | None = None


@define
class Product:
    id: int
    title: str
    handle: str
    created_at: datetime
    updated_at: datetime
    vendor: str = ""
    product_type: str = ""
    status: str = "ACTIVE"
    tags: list[str] = field(factory=list)
    variant_ids: list[int] = field(factory=list)


@define
class Variant:
    id: int
    product_id: int
    inventory_item_id: int
    title: str
    position: int
    created_at: datetime
    updated_at: datetime
    sku: str | None = None
    barcode: str | None = None
    price: str = "0.00"
    compare_at_price: str | None = None
    inventory_policy: str = "DENY"
    taxable: bool = True
    grams: int = 0


@define
class InventoryItem:
    id: int
    variant_id: int
    created_at: datetime
    updated_at: datetime
    tracked: bool = True
    requires_shipping: bool = True
    unit_cost: str | None = None


@define
class InventoryLevel:
    inventory_item_id: int
    location_id: int
    created_at: datetime
    updated_at: datetime
    quantities: dict[str, int] = field(factory=lambda: dict.fromkeys(STORED_QUANTITIES, 0))
    active: bool = True

    def quantity(self, name: str) -> int:
        if name == "available":
            return self.quantities["on_hand"] - sum(
                self.quantities[n] for n in UNAVAILABLE_QUANTITIES
            )
        return self.quantities[name]

    @property
    def available(self) -> int:
        return self.quantity("available")


@frozen
class InventoryChange:
    name: str
    delta: int
    quantity_after: int
    inventory_item_id: int
    location_id: int
    ledger_document_uri: str | None = None


@define
class AdjustmentGroup:
    id: int
    created_at: datetime
    reason: str
    reference_document_uri: str | None
    changes: list[InventoryChange]


# --- orders ------------------------------------------------------------------------------------


@define
class Customer:
    id: int
    email: str | None
    created_at: datetime
    updated_at: datetime
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None


@define
class LineItem:
    id: int
    title: str
    quantity: int
    current_quantity: int
    price: str
    variant_id: int | None = None
    product_id: int | None = None
    inventory_item_id: int | None = None
    variant_title: str | None = None
    sku: str | None = None
    vendor: str | None = None
    requires_shipping: bool = True
    taxable: bool = True
    grams: int = 0
    fulfilled_quantity: int = 0
    tracked: bool = False  # inventory tracked: the order commits stock
    properties: list[dict[str, str]] = field(factory=list)

    @property
    def name(self) -> str:
        return f"{self.title} - {self.variant_title}" if self.variant_title else self.title


@define
class ShippingLine:
    id: int
    title: str
    code: str
    price: str = "0.00"
    source: str = "shopify"


@define
class FulfillmentOrderLine:
    id: int
    line_item_id: int
    total_quantity: int
    remaining_quantity: int


@define
class FulfillmentOrder:
    id: int
    order_id: int
    location_id: int
    status: str
    created_at: datetime
    updated_at: datetime
    lines: list[FulfillmentOrderLine] = field(factory=list)
    fulfillment_ids: list[int] = field(factory=list)


@define
class Fulfillment:
    id: int
    order_id: int
    location_id: int
    name: str
    created_at: datetime
    updated_at: datetime
    lines: list[tuple[int, int]]  # (line item id, quantity)
    fulfillment_order_ids: list[int]
    status: str = "SUCCESS"
    tracking_company: str | None = None
    tracking_numbers: list[str] = field(factory=list)
    tracking_urls: list[str] = field(factory=list)
    notify_customer: bool = False
    origin: str = "api"  # "api": an app's fulfillmentCreate; "admin": the merchant

    @property
    def total_quantity(self) -> int:
        return sum(q for _, q in self.lines)


@define
class Order:
    id: int
    number: int
    token: str
    created_at: datetime
    updated_at: datetime
    line_items: list[LineItem]
    email: str | None = None
    phone: str | None = None
    currency: str = "USD"
    financial_status: str = "paid"
    test: bool = False
    source_name: str = "web"
    tags: list[str] = field(factory=list)
    note: str | None = None
    shipping_address: dict[str, Any] | None = None
    billing_address: dict[str, Any] | None = None
    shipping_lines: list[ShippingLine] = field(factory=list)
    customer_id: int | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    closed_at: datetime | None = None
    fulfillment_order_ids: list[int] = field(factory=list)
    fulfillment_ids: list[int] = field(factory=list)
    edited: bool = False
    note_attributes: list[dict[str, str]] = field(factory=list)

    @property
    def name(self) -> str:
        return f"#{self.number}"

    def line(self, line_item_id: int) -> LineItem | None:
        for line in self.line_items:
            if line.id == line_item_id:
                return line
        return None

    @property
    def fulfillment_status(self) -> str | None:
        """REST ``fulfillment_status``: ``None``, ``"partial"`` or ``"fulfilled"``."""
        fulfilled = sum(line.fulfilled_quantity for line in self.line_items)
        if fulfilled == 0:
            return None
        if all(line.fulfilled_quantity >= line.current_quantity for line in self.line_items):
            return "fulfilled"
        return "partial"


# --- app, tokens and webhooks ------------------------------------------------------------------


@define
class Installation:
    scopes: tuple[str, ...]
    installed_at: datetime
    installed: bool = True
    uninstalled_at: datetime | None = None


@define
class AuthorizationCode:
    code: str = field(repr=False)
    shop: str
    client_id: str
    scopes: tuple[str, ...]
    redirect_uri: str
    expires_at: datetime
    used: bool = False


@define
class AccessToken:
    token: str = field(repr=False)
    shop: str
    scopes: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime | None = None  # None: a non-expiring offline token
    revoked: bool = False


@define
class RefreshToken:
    token: str = field(repr=False)
    shop: str
    scopes: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    parent: str | None = field(default=None, repr=False)  # the refresh token this one replaced
    revoked: bool = False


@define
class Subscription:
    id: int
    topic: str  # the GraphQL enum value, e.g. ORDERS_CREATE
    uri: str
    api_version: str
    created_at: datetime
    updated_at: datetime
    format: str = "JSON"
    include_fields: list[str] = field(factory=list)
    filter: str | None = None
    name: str | None = None


@frozen
class WebhookTarget:
    uri: str
    api_version: str
    subscription_id: int | None = None
    include_fields: tuple[str, ...] = ()


@frozen
class WebhookEvent:
    """One thing that happened in a shop; several subscriptions make several deliveries."""

    event_id: str
    shop: str
    topic: str
    payload: dict[str, Any]
    triggered_at: datetime
    targets: tuple[WebhookTarget, ...]


@define
class IdempotencyRecord:
    fingerprint: str
    result: Any
    created_at: datetime


BULK_ACTIVE = frozenset({"CREATED", "RUNNING"})


@define
class BulkOperation:
    """A bulk query: ``CREATED``, ``RUNNING`` from ``running_after``, then ``COMPLETED`` (or
    ``FAILED``) at ``finished_after`` (``time.monotonic()`` instants: real time)."""

    id: int
    query: str
    created_at: datetime
    scopes: frozenset[str] = frozenset()
    api_version: str = ""
    running_after: float = 0.0
    finished_after: float = 0.0
    status: str = "CREATED"
    completed_at: datetime | None = None
    object_count: int = 0
    root_object_count: int = 0
    jsonl: str = ""
    error_code: str | None = None
    errors: list[str] = field(factory=list)  # why it failed, for the control API

    @property
    def active(self) -> bool:
        return self.status in BULK_ACTIVE

    @property
    def file_size(self) -> int:
        return len(self.jsonl.encode())


@define
class Bucket:
    """Shopify's leaky bucket of GraphQL cost points for one app on one shop."""

    maximum: int
    restore_rate: float
    available: float
    updated_at: datetime

    def refill(self, now: datetime) -> float:
        elapsed = max(0.0, (now - self.updated_at).total_seconds())
        self.available = min(float(self.maximum), self.available + elapsed * self.restore_rate)
        self.updated_at = now
        return self.available


@define
class Shop:
    domain: str
    id: int
    name: str
    email: str
    created_at: datetime
    updated_at: datetime
    primary_location_id: int = 0
    currency: str = "USD"
    plan_name: str = "basic"
    plan_display_name: str = "Basic"
    shop_owner: str = "Sandbox Owner"
    iana_timezone: str = "UTC"
    utc_offset_minutes: int = 0
    country_code: str = "US"
    bucket_size: int | None = None  # None: the app's configured bucket
    restore_rate: float | None = None
    locations: dict[int, Location] = field(factory=dict)
    products: dict[int, Product] = field(factory=dict)
    variants: dict[int, Variant] = field(factory=dict)
    inventory_items: dict[int, InventoryItem] = field(factory=dict)
    levels: dict[tuple[int, int], InventoryLevel] = field(factory=dict)  # (item, location)
    levels_by_item: dict[int, dict[int, InventoryLevel]] = field(factory=dict)  # item, location
    customers: dict[int, Customer] = field(factory=dict)
    orders: dict[int, Order] = field(factory=dict)
    fulfillment_orders: dict[int, FulfillmentOrder] = field(factory=dict)
    fulfillments: dict[int, Fulfillment] = field(factory=dict)
    subscriptions: dict[int, Subscription] = field(factory=dict)
    adjustment_groups: dict[int, AdjustmentGroup] = field(factory=dict)
    idempotency: dict[str, IdempotencyRecord] = field(factory=dict)
    bulk_operations: dict[int, BulkOperation] = field(factory=dict)
    installation: Installation | None = None
    bucket: Bucket | None = None
    next_order_number: int = 1001

    @property
    def short_name(self) -> str:
        return self.domain.split(".", 1)[0]

    def location(self, location_id: int) -> Location:
        location = self.locations.get(location_id)
        if location is None:
            raise SandboxError(f"location {location_id} not found", code="not_found", status=404)
        return location

    def order(self, order_id: int) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise SandboxError(f"order {order_id} not found", code="not_found", status=404)
        return order

    def variant(self, variant_id: int) -> Variant:
        variant = self.variants.get(variant_id)
        if variant is None:
            raise SandboxError(f"variant {variant_id} not found", code="not_found", status=404)
        return variant

    def variant_by_sku(self, sku: str) -> Variant:
        for variant in self.variants.values():
            if variant.sku == sku:
                return variant
        raise SandboxError(f"no variant has the SKU {sku!r}", code="not_found", status=404)

    def add_level(self, level: InventoryLevel) -> None:
        self.levels[(level.inventory_item_id, level.location_id)] = level
        self.levels_by_item.setdefault(level.inventory_item_id, {})[level.location_id] = level

    def item_levels(self, item_id: int, *, include_inactive: bool = False) -> list[InventoryLevel]:
        """The item's levels, by location id."""
        found = self.levels_by_item.get(item_id, {})
        return [
            found[location_id]
            for location_id in sorted(found)
            if include_inactive or found[location_id].active
        ]

    def available(self, item_id: int) -> int:
        """Available units of an item over every location where it is stocked."""
        return sum(level.available for level in self.item_levels(item_id))

    def locations_by_priority(self) -> list[Location]:
        """The primary location first, then the others in the order they were added."""
        return sorted(
            self.locations.values(), key=lambda loc: (loc.id != self.primary_location_id, loc.id)
        )


# --- faults and the call log -------------------------------------------------------------------


@define
class Faults:
    """Injected misbehaviour. Rates are probabilities drawn from the seeded generator."""

    throttle_status: int = 200  # 429: answer THROTTLED with HTTP 429 instead of 200
    error_rate: float = 0.0  # share of GraphQL requests answered with ``error_status``
    error_status: int = 503
    # "before": nothing applied; "after": applied, the answer lost; "either": one or the other
    # at random for each failed request
    error_mode: str = "before"
    latency: float = 0.0  # seconds added to every GraphQL request
    webhook_drop_rate: float = 0.0
    webhook_duplicate_rate: float = 0.0
    webhook_reorder_window: int = 0  # hold this many deliveries and send them shuffled
    webhook_delay: float = 0.0  # seconds before a delivery is sent


@frozen
class ApiCall:
    id: int
    at: datetime
    shop: str
    api_version: str
    operation_type: str
    operation_name: str | None
    root_fields: tuple[str, ...]
    requested_cost: int | None
    actual_cost: int | None
    throttled: bool
    status: int
    idempotency_keys: tuple[str, ...] = ()
    error_codes: tuple[str, ...] = ()
    user_error_codes: tuple[str, ...] = ()
    fault: str | None = None
    duration_ms: float = 0.0


# --- the state ---------------------------------------------------------------------------------

EventSink = Callable[[WebhookEvent], None]


class SandboxState:
    """All shops, tokens, faults and the call log. Hold ``lock`` to read or change any of it."""

    FIRST_ID = 7_000_000_001

    def __init__(self, clock: SandboxClock | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock or SandboxClock()
        self._sinks: list[EventSink] = []
        self.shops: dict[str, Shop] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.calls: list[ApiCall] = []
        self.faults = Faults()
        self.auto_approve: bool | None = None  # None: the configured value
        self.compliance_webhook_url: str | None = None
        self.bulk_operation_seconds: float | None = None  # None: the configured value
        self._next_id = self.FIRST_ID

    def reset(self) -> None:
        with self.lock:
            self.shops.clear()
            self.codes.clear()
            self.access_tokens.clear()
            self.refresh_tokens.clear()
            self.calls.clear()
            self.faults = Faults()
            self.auto_approve = None
            self.compliance_webhook_url = None
            self.bulk_operation_seconds = None

    def next_id(self) -> int:
        with self.lock:
            value = self._next_id
            self._next_id += 1
            return value

    def now(self) -> datetime:
        return truncate(self.clock.now())

    def shop(self, domain: str) -> Shop:
        shop = self.shops.get(domain.lower())
        if shop is None:
            raise SandboxError(f"shop {domain} not found", code="shop_not_found", status=404)
        return shop

    # events

    def add_sink(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def remove_sink(self, sink: EventSink) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)

    def publish(self, event: WebhookEvent) -> None:
        for sink in list(self._sinks):
            sink(event)
