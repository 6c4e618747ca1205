"""Outbound orders, their items and shipments, and the order status machine.

``pending -> allocated -> picking -> packing -> shipped``; ``on_hold -> pending``; anything
before ``shipped`` may become ``cancelled``. An illegal transition raises and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from attrs import define, field, frozen

from core.errors import IllegalTransition

OrderStatus = Literal[
    "pending", "allocated", "picking", "packing", "shipped", "on_hold", "cancelled"
]
ORDER_STATUSES: tuple[OrderStatus, ...] = (
    "pending",
    "allocated",
    "picking",
    "packing",
    "shipped",
    "on_hold",
    "cancelled",
)
OPEN_STATUSES: frozenset[OrderStatus] = frozenset(
    {"pending", "allocated", "picking", "packing", "on_hold"}
)
# Statuses in which the order still holds stock reservations for its unshipped quantities.
RESERVING_STATUSES: frozenset[OrderStatus] = frozenset({"allocated", "picking", "packing"})
# Statuses in which the store may still change the order (address, quantities) before picking.
EDITABLE_STATUSES: frozenset[OrderStatus] = frozenset({"pending", "allocated", "on_hold"})

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    "pending": frozenset({"allocated", "on_hold", "cancelled"}),
    "allocated": frozenset({"picking", "pending", "on_hold", "cancelled"}),
    "picking": frozenset({"packing", "cancelled"}),
    "packing": frozenset({"shipped", "cancelled"}),
    "on_hold": frozenset({"pending", "cancelled"}),
    "shipped": frozenset(),
    "cancelled": frozenset(),
}

ShipmentSync = Literal["not_required", "pending", "synced", "failed"]


@frozen
class Address:
    name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province: str | None = None
    province_code: str | None = None
    zip: str | None = None
    country: str | None = None
    country_code: str | None = None
    phone: str | None = None


@frozen
class ExternalRef:
    """Where an order came from: ``(platform, integration, external order id, number)``."""

    platform: str
    integration_id: str
    external_order_id: str
    external_number: str = ""


@define
class OutboundItem:
    id: str
    product_id: str | None  # None while the store line is not mapped to a product (order on hold)
    sku: str
    name: str
    quantity: int
    shipped_quantity: int = 0
    unit_price: str | None = None  # decimal as text, in the order's currency
    external_line_id: str | None = None
    external_variant_id: str | None = None
    external_fulfillment_order_id: str | None = None
    external_fulfillment_order_line_id: str | None = None
    barcode: str | None = None
    external_location_id: str | None = None  # the store location of its fulfillment order

    @property
    def remaining(self) -> int:
        return self.quantity - self.shipped_quantity


@define
class OutboundOrder:
    id: str
    client_id: str
    warehouse_id: str
    number: str
    created_at: datetime
    updated_at: datetime
    status: OrderStatus = "pending"
    source: str = "manual"
    external: ExternalRef | None = None
    ship_to: Address | None = None
    email: str | None = None
    rush: bool = False
    notes: str = ""
    hold_reason: str | None = None
    items: list[OutboundItem] = field(factory=list)
    external_updated_at: datetime | None = None  # the store's updated_at last applied
    currency: str | None = None
    # when the store says the order was created: with the number, what tells a store order
    # from another one a store gave the same id (a store reset, a simulated store restarted)
    external_created_at: datetime | None = None

    def can_become(self, status: OrderStatus) -> bool:
        return status in TRANSITIONS[self.status]

    def transition(self, status: OrderStatus, now: datetime) -> None:
        if not self.can_become(status):
            raise IllegalTransition(f"order {self.number} cannot go from {self.status} to {status}")
        self.status = status
        self.updated_at = now

    def item(self, item_id: str) -> OutboundItem | None:
        return next((i for i in self.items if i.id == item_id), None)

    @property
    def fully_shipped(self) -> bool:
        return all(i.remaining == 0 for i in self.items)

    @property
    def unmapped_items(self) -> list[OutboundItem]:
        return [i for i in self.items if i.product_id is None]

    @property
    def holds_reservations(self) -> bool:
        return self.status in RESERVING_STATUSES


@frozen
class OpenUnits:
    """Units of one store's open orders still to ship, per product and warehouse, by the store
    variant and location they were ordered from (``None``: not known)."""

    product_id: str
    warehouse_id: str
    variant_id: str | None
    location_id: str | None
    reserved: int  # of orders that hold stock reservations
    unreserved: int  # of orders pending stock or on hold


@frozen
class OrderRef:
    """A warehouse order as a link names it: which store order it is, its number, status."""

    id: str
    number: str
    status: OrderStatus
    integration_id: str
    external_order_id: str


@frozen
class ShipmentLine:
    item_id: str
    quantity: int


@define
class Shipment:
    id: str
    order_id: str
    client_id: str
    lines: list[ShipmentLine]
    carrier: str
    tracking_number: str
    created_at: datetime
    tracking_url: str | None = None
    sync_state: ShipmentSync = "not_required"
    external_fulfillment_id: str | None = None
    synced_at: datetime | None = None
    sync_error: str | None = None


def open_units(orders: Iterable[OutboundOrder]) -> list[OpenUnits]:
    """``OpenUnits`` of these orders (the rule the database adapters' queries follow)."""
    sums: dict[tuple[str, str, str | None, str | None], list[int]] = {}
    for order in orders:
        if order.status not in OPEN_STATUSES:
            continue
        reserving = order.status in RESERVING_STATUSES
        for item in order.items:
            if item.product_id is None or item.remaining <= 0:
                continue
            key = (
                item.product_id,
                order.warehouse_id,
                item.external_variant_id,
                item.external_location_id,
            )
            pair = sums.setdefault(key, [0, 0])
            pair[0 if reserving else 1] += item.remaining
    return [
        OpenUnits(product, warehouse, variant, location, reserved, unreserved)
        for (product, warehouse, variant, location), (reserved, unreserved) in sorted(
            sums.items(), key=lambda kv: tuple(x or "" for x in kv[0])
        )
    ]
