"""The integration side: a connected store, how its locations and variants map to ours."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from attrs import define, field, frozen

IntegrationStatus = Literal["pending", "active", "paused", "error", "disconnected"]


@define
class IntegrationSettings:
    auto_import_orders: bool = True
    auto_sync_inventory: bool = True
    sync_inventory_interval_minutes: int = 60
    inventory_buffer: int = 0
    fulfillment_notify_customer: bool = True


@define
class Integration:
    """A client's connected store. ``credentials`` is ciphertext from the ``Cipher`` port."""

    id: str
    client_id: str
    platform: str
    shop_domain: str
    created_at: datetime
    updated_at: datetime
    shop_name: str = ""
    status: IntegrationStatus = "pending"
    credentials: str | None = None
    token_expires_at: datetime | None = None
    refresh_token_expires_at: datetime | None = None
    scopes: list[str] = field(factory=list)
    settings: IntegrationSettings = field(factory=IntegrationSettings)
    orders_synced_at: datetime | None = None  # reconciliation watermark
    inventory_synced_at: datetime | None = None
    webhooks_checked_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    connected_at: datetime | None = None
    disconnected_at: datetime | None = None
    # what its orders' numbers start with (``SH-``, ``SH-OUTLET-``): chosen when the store is
    # first connected, unique among the client's stores, never changed afterwards
    order_prefix: str = ""

    @property
    def is_connected(self) -> bool:
        return self.status in ("active", "paused", "error") and self.credentials is not None


@define
class LocationMapping:
    """A store location and the warehouse that serves it (``None``: not fulfilled by us)."""

    id: str
    integration_id: str
    external_location_id: str
    name: str
    warehouse_id: str | None = None
    is_default: bool = False
    sync_inventory: bool = True
    active: bool = True


@define
class ProductMapping:
    """A store variant and the product it is. What its stock sync last did per store location
    is an ``InventoryPushState``."""

    id: str
    integration_id: str
    product_id: str
    external_variant_id: str
    created_at: datetime
    external_product_id: str | None = None
    external_inventory_item_id: str | None = None
    sku: str | None = None
    barcode: str | None = None
    sync_inventory: bool = True


@define
class InventoryPushState:
    """Stock sync of one mapped variant at one store location.

    ``quantity`` is the on hand the store was last told or last seen to have: the
    compare-and-set value of the next push (``None``: unknown, read the store first).
    ``problem`` is a lasting refusal (the variant is gone, the item is not stocked at the
    location, the location is gone): such a pair is not pushed again until a drift repair
    finds it fixed. ``error`` is the last transient failure.
    """

    mapping_id: str
    location_id: str  # the store's location id
    integration_id: str
    quantity: int | None = None
    pushed_at: datetime | None = None
    error: str | None = None
    error_at: datetime | None = None
    problem: str | None = None


@frozen
class DirtyStock:
    """A product's stock at a warehouse changed since the integration last pushed it.

    ``version`` grows with every mark, so a push clears only the marks it has seen."""

    integration_id: str
    product_id: str
    warehouse_id: str
    version: int
    marked_at: datetime


@define
class CatalogVariant:
    """The store's catalog as last loaded, so mapping pages need no store API call."""

    integration_id: str
    external_variant_id: str
    loaded_at: datetime
    external_product_id: str | None = None
    external_inventory_item_id: str | None = None
    sku: str | None = None
    barcode: str | None = None
    title: str = ""
    product_title: str = ""
    requires_shipping: bool = True
