"""GraphQL answers: attrs shapes mirroring what the documents select, mapped to core types.

Orders read over GraphQL become the same ``StoreOrder`` as webhook payloads, with the
numeric ids of the REST shape (gids are reduced to their number), so both sources agree.
"""

from __future__ import annotations

import re
from datetime import datetime

from attrs import frozen

from adapters.shopify._converter import Id, Tags, graphql_shape
from adapters.shopify._webhooks import shipping_methods
from core.model.orders import Address
from core.store import (
    ShopInfo,
    StoreFulfillmentOrder,
    StoreFulfillmentOrderLine,
    StoreInventoryLevel,
    StoreLocation,
    StoreOrder,
    StoreOrderLine,
    StoreVariant,
    WebhookSubscription,
)

__all__ = [
    "ActiveBulkAnswer",
    "BulkInventoryLevel",
    "BulkOperationAnswer",
    "BulkRunAnswer",
    "CatalogAnswer",
    "FulfillmentCreateAnswer",
    "FulfillmentOrderLinesAnswer",
    "FulfillmentOrdersAnswer",
    "InventoryItemsAnswer",
    "InventorySetAnswer",
    "LevelsByIdAnswer",
    "LocationLevelsAnswer",
    "LocationsAnswer",
    "OrderAnswer",
    "OrderLinesAnswer",
    "OrderShippingLinesAnswer",
    "OrdersAnswer",
    "PageInfo",
    "ShopAnswer",
    "TrackedItem",
    "WebhookCreateAnswer",
    "WebhookDeleteAnswer",
    "WebhooksAnswer",
]


@graphql_shape
@frozen
class PageInfo:
    """A connection's paging. A next page without a cursor to reach it is refused here, so
    no reader can take what it has for everything."""

    has_next_page: bool
    end_cursor: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.has_next_page and not self.end_cursor:
            raise ValueError("pageInfo says there is a next page but gives no endCursor")

    @property
    def next_cursor(self) -> str | None:
        return self.end_cursor if self.has_next_page else None


@graphql_shape
@frozen
class Ref:
    id: Id


@graphql_shape
@frozen
class UserError:
    message: str
    field: tuple[str, ...] | None = None
    code: str | None = None


# --- shop and locations ------------------------------------------------------------------------


@graphql_shape
@frozen
class Plan:
    public_display_name: str | None = None


@graphql_shape
@frozen
class Shop:
    name: str
    myshopify_domain: str | None = None
    email: str | None = None
    contact_email: str | None = None
    currency_code: str | None = None
    plan: Plan | None = None


@graphql_shape
@frozen
class ShopAnswer:
    shop: Shop
    primary_location: Ref | None = None

    def to_core(self, shop: str) -> ShopInfo:
        s = self.shop
        return ShopInfo(
            shop=shop,
            name=s.name,
            email=s.contact_email or s.email,
            currency=s.currency_code,
            plan=s.plan.public_display_name if s.plan else None,
            primary_location_id=self.primary_location.id if self.primary_location else None,
        )


@graphql_shape
@frozen
class Location:
    id: Id
    name: str
    is_active: bool = True
    fulfills_online_orders: bool = True


@graphql_shape
@frozen
class LocationConnection:
    nodes: tuple[Location, ...]
    page_info: PageInfo


@graphql_shape
@frozen
class LocationsAnswer:
    locations: LocationConnection
    primary_location: Ref | None = None

    def to_core(self) -> list[StoreLocation]:
        primary = self.primary_location.id if self.primary_location else None
        return [
            StoreLocation(
                id=n.id,
                name=n.name,
                active=n.is_active,
                fulfills_online_orders=n.fulfills_online_orders,
                is_primary=n.id == primary,
            )
            for n in self.locations.nodes
        ]


# --- catalog -----------------------------------------------------------------------------------


@graphql_shape
@frozen
class VariantProduct:
    id: Id
    title: str = ""


@graphql_shape
@frozen
class InventoryItem:
    id: Id
    tracked: bool = True
    requires_shipping: bool = True


@graphql_shape
@frozen
class Variant:
    id: Id
    product: VariantProduct
    sku: str | None = None
    barcode: str | None = None
    title: str = ""
    inventory_item: InventoryItem | None = None

    def to_core(self) -> StoreVariant:
        item = self.inventory_item
        return StoreVariant(
            variant_id=self.id,
            product_id=self.product.id,
            inventory_item_id=item.id if item else None,
            sku=self.sku or None,
            barcode=self.barcode or None,
            title=self.title,
            product_title=self.product.title,
            requires_shipping=item.requires_shipping if item else True,
            tracked=item.tracked if item else True,
        )


@graphql_shape
@frozen
class VariantConnection:
    nodes: tuple[Variant, ...]
    page_info: PageInfo


@graphql_shape
@frozen
class CatalogAnswer:
    product_variants: VariantConnection


# --- inventory levels --------------------------------------------------------------------------


@graphql_shape
@frozen
class Quantity:
    name: str
    quantity: int


def _level(item_id: str, location_id: str, quantities: tuple[Quantity, ...]) -> StoreInventoryLevel:
    """A level from Shopify's named quantities (one it did not send counts 0)."""
    named = {q.name: q.quantity for q in quantities}
    return StoreInventoryLevel(
        inventory_item_id=item_id,
        location_id=location_id,
        on_hand=named.get("on_hand", 0),
        available=named.get("available", 0),
        committed=named.get("committed", 0),
    )


@graphql_shape
@frozen
class LevelQuantities:
    quantities: tuple[Quantity, ...]

    def to_core(self, item_id: str, location_id: str) -> StoreInventoryLevel:
        return _level(item_id, location_id, self.quantities)


@graphql_shape
@frozen
class LevelsByIdAnswer:
    """``nodes(ids:)``: one entry per id asked, in order; ``None`` where nothing is stocked."""

    nodes: tuple[LevelQuantities | None, ...]


@graphql_shape
@frozen
class TrackedItem:
    id: Id
    tracked: bool = True


@graphql_shape
@frozen
class TrackedItemConnection:
    nodes: tuple[TrackedItem, ...]
    page_info: PageInfo


@graphql_shape
@frozen
class InventoryItemsAnswer:
    inventory_items: TrackedItemConnection


@graphql_shape
@frozen
class LocationLevel:
    item: Ref
    quantities: tuple[Quantity, ...]

    def to_core(self, location_id: str) -> StoreInventoryLevel:
        return _level(self.item.id, location_id, self.quantities)


@graphql_shape
@frozen
class LocationLevelConnection:
    nodes: tuple[LocationLevel, ...]
    page_info: PageInfo


@graphql_shape
@frozen
class LocationLevels:
    inventory_levels: LocationLevelConnection


@graphql_shape
@frozen
class LocationLevelsAnswer:
    location: LocationLevels | None = None


@graphql_shape
@frozen
class BulkInventoryLevel:
    """A level line of the inventory bulk export (its item is the line's ``__parentId``)."""

    location: Ref
    quantities: tuple[Quantity, ...]

    def to_core(self, item_id: str) -> StoreInventoryLevel:
        return _level(item_id, self.location.id, self.quantities)


# --- orders ------------------------------------------------------------------------------------


@graphql_shape
@frozen
class Money:
    amount: str


@graphql_shape
@frozen
class MoneyBag:
    shop_money: Money


@graphql_shape
@frozen
class LineItemVariant:
    id: Id
    barcode: str | None = None


@graphql_shape
@frozen
class LineItem:
    id: Id
    quantity: int
    current_quantity: int | None = None
    unfulfilled_quantity: int | None = None
    sku: str | None = None
    title: str = ""
    requires_shipping: bool = True
    variant: LineItemVariant | None = None
    product: Ref | None = None
    original_unit_price_set: MoneyBag | None = None

    def to_core(self) -> StoreOrderLine:
        return StoreOrderLine(
            id=self.id,
            quantity=self.quantity,
            variant_id=self.variant.id if self.variant else None,
            product_id=self.product.id if self.product else None,
            sku=self.sku or None,
            title=self.title,
            current_quantity=self.current_quantity,
            fulfillable_quantity=self.unfulfilled_quantity,
            requires_shipping=self.requires_shipping,
            unit_price=(
                self.original_unit_price_set.shop_money.amount
                if self.original_unit_price_set
                else None
            ),
            barcode=(self.variant.barcode or None) if self.variant else None,
        )


@graphql_shape
@frozen
class LineItemConnection:
    nodes: tuple[LineItem, ...]
    page_info: PageInfo


@graphql_shape
@frozen
class MailingAddress:
    name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province: str | None = None
    province_code: str | None = None
    zip: str | None = None
    country: str | None = None
    country_code_v2: str | None = None
    phone: str | None = None

    def to_core(self) -> Address:
        return Address(
            name=self.name or None,
            company=self.company or None,
            address1=self.address1 or None,
            address2=self.address2 or None,
            city=self.city or None,
            province=self.province or None,
            province_code=self.province_code or None,
            zip=self.zip or None,
            country=self.country or None,
            country_code=self.country_code_v2 or None,
            phone=self.phone or None,
        )


@graphql_shape
@frozen
class ShippingLine:
    title: str | None = None
    code: str | None = None


@graphql_shape
@frozen
class ShippingLineConnection:
    nodes: tuple[ShippingLine, ...]
    page_info: PageInfo


_FINANCIAL = {
    "AUTHORIZED": "authorized",
    "EXPIRED": "expired",
    "PAID": "paid",
    "PARTIALLY_PAID": "partially_paid",
    "PARTIALLY_REFUNDED": "partially_refunded",
    "PENDING": "pending",
    "REFUNDED": "refunded",
    "VOIDED": "voided",
}
# GraphQL's display status -> REST's fulfillment_status (None: nothing fulfilled yet)
_FULFILLMENT = {
    "FULFILLED": "fulfilled",
    "PARTIALLY_FULFILLED": "partial",
    "RESTOCKED": "restocked",
}


@graphql_shape
@frozen
class Order:
    id: Id
    updated_at: datetime
    line_items: LineItemConnection
    name: str = ""
    number: Id | None = None
    created_at: datetime | None = None
    cancelled_at: datetime | None = None
    closed_at: datetime | None = None
    email: str | None = None
    phone: str | None = None
    test: bool = False
    display_financial_status: str | None = None
    display_fulfillment_status: str | None = None
    source_name: str | None = None
    tags: Tags | None = None
    note: str | None = None
    currency_code: str | None = None
    customer: Ref | None = None
    shipping_address: MailingAddress | None = None
    shipping_lines: ShippingLineConnection | None = None

    @property
    def order_number(self) -> str:
        """REST's ``order_number`` ("1001"), the number shown in ``name``.

        Shopify documents ``number`` as the number inside ``name``; some sources give REST's
        older ``number`` (``order_number - 1000``) instead. Whichever ``name`` shows wins, so
        webhooks and reconciliation agree.
        """
        if self.number is None:
            return ""
        shown = re.findall(r"[0-9]+", self.name)
        shifted = str(int(self.number) + 1000)
        if self.number not in shown and shifted in shown:
            return shifted
        return self.number

    def to_core(
        self,
        more_lines: tuple[LineItem, ...] = (),
        more_shipping: tuple[ShippingLine, ...] = (),
    ) -> StoreOrder:
        """The order, with the line items and shipping lines of the pages after the first."""
        financial = self.display_financial_status
        shipping = (*(self.shipping_lines.nodes if self.shipping_lines else ()), *more_shipping)
        fulfillment = self.display_fulfillment_status
        return StoreOrder(
            id=self.id,
            updated_at=self.updated_at,
            lines=tuple(li.to_core() for li in (*self.line_items.nodes, *more_lines)),
            number=self.order_number,
            name=self.name,
            created_at=self.created_at,
            cancelled_at=self.cancelled_at,
            closed_at=self.closed_at,
            email=self.email or None,
            phone=self.phone or None,
            test=self.test,
            financial_status=_FINANCIAL.get(financial, financial.lower()) if financial else None,
            fulfillment_status=_FULFILLMENT.get(fulfillment or ""),
            source_name=self.source_name,
            tags=self.tags or (),
            note=self.note,
            shipping_address=self.shipping_address.to_core() if self.shipping_address else None,
            shipping_methods=shipping_methods([(s.title, s.code) for s in shipping]),
            currency=self.currency_code,
            customer_id=self.customer.id if self.customer else None,
        )


@graphql_shape
@frozen
class OrderConnection:
    nodes: tuple[Order, ...]
    page_info: PageInfo


@graphql_shape
@frozen
class OrdersAnswer:
    orders: OrderConnection


@graphql_shape
@frozen
class OrderAnswer:
    order: Order | None = None


@graphql_shape
@frozen
class OrderLines:
    line_items: LineItemConnection


@graphql_shape
@frozen
class OrderLinesAnswer:
    order: OrderLines | None = None


@graphql_shape
@frozen
class OrderShippingLines:
    shipping_lines: ShippingLineConnection


@graphql_shape
@frozen
class OrderShippingLinesAnswer:
    order: OrderShippingLines | None = None


# --- fulfillment orders ------------------------------------------------------------------------


@graphql_shape
@frozen
class FulfillmentOrderLine:
    id: Id
    total_quantity: int
    remaining_quantity: int
    line_item: Ref
    requires_shipping: bool = True
    sku: str | None = None
    variant: Ref | None = None

    def to_core(self) -> StoreFulfillmentOrderLine:
        return StoreFulfillmentOrderLine(
            id=self.id,
            line_item_id=self.line_item.id,
            total_quantity=self.total_quantity,
            remaining_quantity=self.remaining_quantity,
            variant_id=self.variant.id if self.variant else None,
            sku=self.sku or None,
            requires_shipping=self.requires_shipping,
        )


@graphql_shape
@frozen
class FulfillmentOrderLineConnection:
    nodes: tuple[FulfillmentOrderLine, ...]
    page_info: PageInfo


@graphql_shape
@frozen
class AssignedLocation:
    location: Ref | None = None


@graphql_shape
@frozen
class FulfillmentOrder:
    id: Id
    status: str
    line_items: FulfillmentOrderLineConnection
    assigned_location: AssignedLocation | None = None

    def to_core(
        self, order_id: str, more_lines: tuple[FulfillmentOrderLine, ...] = ()
    ) -> StoreFulfillmentOrder:
        location = self.assigned_location.location if self.assigned_location else None
        return StoreFulfillmentOrder(
            id=self.id,
            order_id=order_id,
            location_id=location.id if location else None,
            status=self.status,
            lines=tuple(li.to_core() for li in (*self.line_items.nodes, *more_lines)),
        )


@graphql_shape
@frozen
class FulfillmentOrderConnection:
    nodes: tuple[FulfillmentOrder, ...]
    page_info: PageInfo


@graphql_shape
@frozen
class OrderFulfillmentOrders:
    id: Id
    fulfillment_orders: FulfillmentOrderConnection


@graphql_shape
@frozen
class FulfillmentOrdersAnswer:
    order: OrderFulfillmentOrders | None = None


@graphql_shape
@frozen
class FulfillmentOrderLines:
    line_items: FulfillmentOrderLineConnection


@graphql_shape
@frozen
class FulfillmentOrderLinesAnswer:
    fulfillment_order: FulfillmentOrderLines | None = None


# --- mutations ---------------------------------------------------------------------------------


@graphql_shape
@frozen
class TrackingInfo:
    company: str | None = None
    number: str | None = None
    url: str | None = None


@graphql_shape
@frozen
class Fulfillment:
    id: Id
    status: str
    tracking_info: tuple[TrackingInfo, ...] = ()


@graphql_shape
@frozen
class FulfillmentCreatePayload:
    user_errors: tuple[UserError, ...]
    fulfillment: Fulfillment | None = None


@graphql_shape
@frozen
class FulfillmentCreateAnswer:
    fulfillment_create: FulfillmentCreatePayload


@graphql_shape
@frozen
class InventorySetPayload:
    user_errors: tuple[UserError, ...]
    inventory_adjustment_group: Ref | None = None


@graphql_shape
@frozen
class InventorySetAnswer:
    inventory_set_quantities: InventorySetPayload


@graphql_shape
@frozen
class BulkOperation:
    id: Id
    status: str
    error_code: str | None = None
    object_count: int | None = None
    url: str | None = None


@graphql_shape
@frozen
class BulkRunPayload:
    user_errors: tuple[UserError, ...]
    bulk_operation: BulkOperation | None = None


@graphql_shape
@frozen
class BulkRunAnswer:
    bulk_operation_run_query: BulkRunPayload


@graphql_shape
@frozen
class BulkOperationAnswer:
    bulk_operation: BulkOperation | None = None


@graphql_shape
@frozen
class BulkOperationList:
    nodes: tuple[BulkOperation, ...]


@graphql_shape
@frozen
class ActiveBulkAnswer:
    bulk_operations: BulkOperationList


# --- webhook subscriptions ---------------------------------------------------------------------


@graphql_shape
@frozen
class Subscription:
    id: Id
    topic: str
    uri: str

    def to_core(self, topic: str) -> WebhookSubscription:
        return WebhookSubscription(id=self.id, topic=topic, uri=self.uri)


@graphql_shape
@frozen
class SubscriptionConnection:
    nodes: tuple[Subscription, ...]
    page_info: PageInfo


@graphql_shape
@frozen
class WebhooksAnswer:
    webhook_subscriptions: SubscriptionConnection


@graphql_shape
@frozen
class WebhookCreatePayload:
    user_errors: tuple[UserError, ...]
    webhook_subscription: Subscription | None = None


@graphql_shape
@frozen
class WebhookCreateAnswer:
    webhook_subscription_create: WebhookCreatePayload


@graphql_shape
@frozen
class WebhookDeletePayload:
    user_errors: tuple[UserError, ...]
    deleted_webhook_subscription_id: Id | None = None


@graphql_shape
@frozen
class WebhookDeleteAnswer:
    webhook_subscription_delete: WebhookDeletePayload
