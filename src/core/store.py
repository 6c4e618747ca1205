"""What any store platform looks like to the core: platform-neutral values and events.

Adapters (Shopify today; TikTok Shop, Amazon later) translate their own shapes into these.
Ids are the platform's own identifiers as text (Shopify: numeric ids, e.g. ``"450789469"``;
GraphQL gids are converted at the adapter edge).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from attrs import frozen

from core.model.orders import Address

__all__ = [
    "AppUninstalled",
    "CatalogPage",
    "Credentials",
    "CustomersDataRequest",
    "CustomersRedact",
    "FulfillmentLines",
    "FulfillmentRequest",
    "FulfillmentResult",
    "InventoryBatch",
    "InventoryItemResult",
    "InventoryQuantity",
    "InventoryResult",
    "InventorySnapshot",
    "OrderCancelled",
    "OrderChanged",
    "OrderEdited",
    "OrderFulfilled",
    "OrderPlaced",
    "OrderUpdated",
    "OrdersPage",
    "ShopInfo",
    "ShopRedact",
    "StoreEvent",
    "StoreFulfillmentOrder",
    "StoreFulfillmentOrderLine",
    "StoreInventoryLevel",
    "StoreLocation",
    "StoreOrder",
    "StoreOrderLine",
    "StoreSession",
    "StoreVariant",
    "Tracking",
    "WebhookSubscription",
]


@frozen
class Credentials:
    """What a code exchange or refresh returns. Never logged; stored only encrypted."""

    access_token: str
    scopes: tuple[str, ...] = ()
    expires_at: datetime | None = None  # None: a non-expiring offline token
    refresh_token: str | None = None
    refresh_token_expires_at: datetime | None = None

    def __repr__(self) -> str:  # keep the tokens out of logs and tracebacks
        return (
            f"Credentials(access_token=<redacted>, scopes={self.scopes!r}, "
            f"expires_at={self.expires_at!r}, refresh_token="
            f"{'<redacted>' if self.refresh_token else None}, "
            f"refresh_token_expires_at={self.refresh_token_expires_at!r})"
        )


@frozen
class StoreSession:
    """What a store API call needs: which shop, and a current access token."""

    shop: str
    access_token: str

    def __repr__(self) -> str:  # keep the token out of logs and tracebacks
        return f"StoreSession(shop={self.shop!r}, access_token=<redacted>)"


@frozen
class ShopInfo:
    shop: str
    name: str
    email: str | None = None
    currency: str | None = None
    plan: str | None = None
    primary_location_id: str | None = None


@frozen
class StoreLocation:
    id: str
    name: str
    active: bool = True
    fulfills_online_orders: bool = True
    is_primary: bool = False


@frozen
class StoreVariant:
    variant_id: str
    product_id: str
    inventory_item_id: str | None
    sku: str | None
    barcode: str | None
    title: str = ""
    product_title: str = ""
    requires_shipping: bool = True
    tracked: bool = True


@frozen
class CatalogPage:
    variants: tuple[StoreVariant, ...]
    next_cursor: str | None = None


@frozen
class StoreOrderLine:
    id: str
    quantity: int
    variant_id: str | None = None
    product_id: str | None = None
    sku: str | None = None
    title: str = ""
    current_quantity: int | None = None  # after edits and removals; None in old payloads
    fulfillable_quantity: int | None = None
    requires_shipping: bool = True
    fulfillment_service: str | None = None
    unit_price: str | None = None
    barcode: str | None = None


@frozen
class StoreOrder:
    id: str
    updated_at: datetime
    lines: tuple[StoreOrderLine, ...]
    number: str = ""  # "1001": the store's order number without its prefix
    name: str = ""  # "#1001"
    created_at: datetime | None = None
    cancelled_at: datetime | None = None
    closed_at: datetime | None = None
    email: str | None = None
    phone: str | None = None
    test: bool = False
    financial_status: str | None = None
    fulfillment_status: str | None = None  # None | "partial" | "fulfilled" | "restocked"
    source_name: str | None = None
    tags: tuple[str, ...] = ()
    note: str | None = None
    shipping_address: Address | None = None
    shipping_methods: tuple[str, ...] = ()  # titles and codes of the shipping lines
    currency: str | None = None
    customer_id: str | None = None
    draft: bool = False


@frozen
class OrdersPage:
    orders: tuple[StoreOrder, ...]
    next_cursor: str | None = None


FulfillmentOrderStatus = Literal[
    "OPEN", "IN_PROGRESS", "CLOSED", "CANCELLED", "ON_HOLD", "SCHEDULED", "INCOMPLETE"
]


@frozen
class StoreFulfillmentOrderLine:
    id: str
    line_item_id: str
    total_quantity: int
    remaining_quantity: int
    variant_id: str | None = None
    sku: str | None = None
    requires_shipping: bool = True


@frozen
class StoreFulfillmentOrder:
    id: str
    order_id: str
    location_id: str | None
    status: str
    lines: tuple[StoreFulfillmentOrderLine, ...]


@frozen
class Tracking:
    company: str
    number: str
    url: str | None = None


@frozen
class FulfillmentLines:
    fulfillment_order_id: str
    lines: tuple[tuple[str, int], ...]  # (fulfillment order line id, quantity)


@frozen
class FulfillmentRequest:
    """One store fulfillment: lines of fulfillment orders of one order at one location."""

    order_id: str
    lines_by_fulfillment_order: tuple[FulfillmentLines, ...]
    tracking: Tracking
    notify_customer: bool = True


@frozen
class FulfillmentResult:
    fulfillment_id: str
    status: str
    tracking_url: str | None = None


@frozen
class InventoryQuantity:
    """Set the store's stock *on hand* of one item at one location.

    On hand is what the store counts before subtracting its own commitments: a store that
    sells from it subtracts the units of its unfulfilled orders itself (Shopify: ``available
    = on_hand - committed - ...``), so orders placed but not yet imported are respected.
    """

    inventory_item_id: str
    location_id: str
    quantity: int
    change_from: int | None  # compare-and-set: the on hand we believe the store has; None skips


@frozen
class InventoryBatch:
    """Quantities applied all or nothing, once per ``idempotency_key`` (reuse it on retry).

    At most ``StorePlatform.inventory_batch_limit`` quantities.
    """

    idempotency_key: str
    quantities: tuple[InventoryQuantity, ...]
    reason: str = "correction"
    reference_uri: str | None = None


InventoryItemStatus = Literal["applied", "stale", "rejected", "not_applied"]


@frozen
class InventoryItemResult:
    quantity: InventoryQuantity
    status: InventoryItemStatus
    message: str = ""


@frozen
class InventoryResult:
    items: tuple[InventoryItemResult, ...]

    @property
    def stale(self) -> tuple[InventoryItemResult, ...]:
        return tuple(i for i in self.items if i.status == "stale")

    @property
    def applied(self) -> tuple[InventoryItemResult, ...]:
        return tuple(i for i in self.items if i.status == "applied")


@frozen
class StoreInventoryLevel:
    """One item stocked at one location, as the store counts it."""

    inventory_item_id: str
    location_id: str
    on_hand: int
    available: int
    committed: int = 0


@frozen
class InventorySnapshot:
    """Every level of the store's tracked items at some locations (drift repair).

    ``items`` are the inventory items the store still has (a deleted variant's item is not
    among them); ``locations`` the asked-for locations that still exist and are active. An
    item in ``items`` without a level at a location in ``locations`` is not stocked there.
    """

    levels: tuple[StoreInventoryLevel, ...]
    items: frozenset[str]
    locations: frozenset[str]


@frozen
class WebhookSubscription:
    id: str
    topic: str  # the platform-neutral topic name, e.g. "orders/create"
    uri: str


# --- events parsed from webhooks ---------------------------------------------------------------


@frozen
class OrderPlaced:
    order: StoreOrder


@frozen
class OrderUpdated:
    order: StoreOrder


@frozen
class OrderCancelled:
    order: StoreOrder


@frozen
class OrderFulfilled:
    order: StoreOrder


@frozen
class OrderEdited:
    """An order edit; the payload carries only the edit, so the handler re-reads the order."""

    order_id: str
    edited_at: datetime | None = None


@frozen
class OrderChanged:
    """An order webhook whose payload is not a whole order (a subscription filtered with
    ``fields=``, a payload without its time): which order, and when it changed if the payload
    says. The handler reads the order from the store, as it does for every order webhook."""

    order_id: str
    updated_at: datetime | None = None


@frozen
class AppUninstalled:
    shop: str


@frozen
class CustomersDataRequest:
    shop: str
    customer_id: str | None
    email: str | None
    order_ids: tuple[str, ...] = ()
    request_id: str | None = None


@frozen
class CustomersRedact:
    shop: str
    customer_id: str | None
    email: str | None
    order_ids: tuple[str, ...] = ()


@frozen
class ShopRedact:
    shop: str


StoreEvent = (
    OrderPlaced
    | OrderUpdated
    | OrderCancelled
    | OrderFulfilled
    | OrderEdited
    | OrderChanged
    | AppUninstalled
    | CustomersDataRequest
    | CustomersRedact
    | ShopRedact
)
