"""The store's rules: catalog, stock, orders, fulfillment orders, fulfillments, subscriptions.

Shared by the GraphQL API (what an app may do) and the control API (what a merchant or a
customer does). Callers hold ``state.lock``. Every change stamps ``updated_at`` and publishes
the webhook events Shopify would send.

Stock follows Shopify's model per (inventory item, location): ``on_hand`` and the unavailable
states (``committed``, ``reserved``, ``damaged``, ``safety_stock``, ``quality_control``), with
``available = on_hand - unavailable``. Placing an order commits units at the location its
fulfillment order is assigned to (available down, on hand unchanged); fulfilling removes them
from ``committed`` and ``on_hand`` (which may go negative, as in Shopify); cancelling or
editing an order down releases them. A deleted variant takes its inventory item and levels
with it; orders keep their lines, which then move no stock.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlsplit

from attrs import frozen

from adapters.shopify.sandbox.config import SandboxConfig
from adapters.shopify.sandbox.ids import SandboxError, rest_time
from adapters.shopify.sandbox.payloads import (
    fulfillment_json,
    inventory_level_json,
    money,
    normalize_address,
    order_json,
    product_json,
    shop_json,
)
from adapters.shopify.sandbox.state import (
    STORED_QUANTITIES,
    AdjustmentGroup,
    Bucket,
    Customer,
    Fulfillment,
    FulfillmentOrder,
    FulfillmentOrderLine,
    InventoryChange,
    InventoryItem,
    InventoryLevel,
    LineItem,
    Location,
    Order,
    Product,
    SandboxState,
    ShippingLine,
    Shop,
    Subscription,
    Variant,
    WebhookEvent,
    WebhookTarget,
    topic_enum,
)

__all__ = [
    "COMPLIANCE_TOPICS",
    "INVENTORY_REASONS",
    "SHOP_DOMAIN",
    "Commerce",
    "QuantityChange",
    "UserErrors",
    "tracking_url",
]

SHOP_DOMAIN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$")
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
INVENTORY_REASONS = frozenset(
    {
        "correction",
        "cycle_count_available",
        "damaged",
        "movement_canceled",
        "movement_created",
        "movement_received",
        "movement_updated",
        "other",
        "promotion",
        "quality_control",
        "received",
        "reservation_created",
        "reservation_deleted",
        "reservation_updated",
        "restock",
        "safety_stock",
        "shrinkage",
    }
)
MAX_QUANTITY = 1_000_000_000
CANCEL_REASONS = ("customer", "declined", "fraud", "inventory", "other", "staff")

# Carriers whose tracking URL Shopify builds itself when the company name matches exactly.
_CARRIER_URLS = {
    "UPS": "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums={}",
    "USPS": "https://tools.usps.com/go/TrackConfirmAction?qtc_tLabels1={}",
    "FedEx": "https://www.fedex.com/fedextrack/?trknbr={}",
    "DHL Express": "https://www.dhl.com/en/express/tracking.html?AWB={}&brand=DHL",
    "Canada Post": "https://www.canadapost-postescanada.ca/track-reperez/en#/search?searchFor={}",
    "Royal Mail": "https://www.royalmail.com/track-your-item#/tracking-results/{}",
}


def tracking_url(company: str | None, number: str | None) -> str | None:
    template = _CARRIER_URLS.get(company or "")
    if template is None or not number:
        return None
    return template.format(quote(number, safe=""))


class UserErrors(Exception):
    """Several refusals at once (a mutation's ``userErrors``); nothing was applied."""

    def __init__(self, errors: Sequence[SandboxError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = list(errors)


@frozen
class QuantityChange:
    """One entry of ``inventorySetQuantities``; ``change_from`` is absent or an explicit null."""

    inventory_item_id: int | None
    location_id: int | None
    quantity: int
    has_change_from: bool
    change_from: int | None


def _text(value: object, name: str, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise SandboxError(f"{name} is required", code="invalid", status=400)
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise SandboxError(f"{name} must be text", code="invalid", status=400)
    return str(value)


def _int(value: object, name: str, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SandboxError(f"{name} must be an integer", code="invalid", status=400)
    try:
        number = int(value)
    except ValueError:
        raise SandboxError(f"{name} must be an integer", code="invalid", status=400) from None
    if minimum is not None and number < minimum:
        raise SandboxError(f"{name} must be at least {minimum}", code="invalid", status=400)
    return number


def _price(value: object, name: str) -> str:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise SandboxError(f"{name} must be a decimal amount", code="invalid", status=400) from None
    if amount < 0:
        raise SandboxError(f"{name} must not be negative", code="invalid", status=400)
    return money(amount)


def _tags(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    if isinstance(value, list):
        return [str(t).strip() for t in value if str(t).strip()]
    raise SandboxError("tags must be a list or a comma-separated string", status=400)


def _handle(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "product"


class Commerce:
    """The store's rules over one ``SandboxState``. Callers hold ``state.lock``."""

    def __init__(self, state: SandboxState, config: SandboxConfig) -> None:
        self.state = state
        self.config = config

    # --- events ------------------------------------------------------------------------------

    def emit(self, shop: Shop, topic: str, payload: dict[str, Any]) -> WebhookEvent | None:
        """Publish an event to the shop's subscriptions for ``topic`` (``None``: no subscriber)."""
        wanted = topic_enum(topic)
        targets = tuple(
            WebhookTarget(
                uri=sub.uri,
                api_version=sub.api_version,
                subscription_id=sub.id,
                include_fields=tuple(sub.include_fields),
            )
            for sub in shop.subscriptions.values()
            if sub.topic == wanted
        )
        if not targets:
            return None
        return self._publish(shop, topic, payload, targets)

    def _publish(
        self, shop: Shop, topic: str, payload: dict[str, Any], targets: tuple[WebhookTarget, ...]
    ) -> WebhookEvent:
        event = WebhookEvent(
            event_id=str(uuid.uuid4()),
            shop=shop.domain,
            topic=topic,
            payload=payload,
            triggered_at=self.state.clock.now(),
            targets=targets,
        )
        self.state.publish(event)
        return event

    def _order_changed(self, shop: Shop, order: Order, *topics: str) -> None:
        order.updated_at = self.state.now()
        payload = order_json(shop, order)
        for topic in (*topics, "orders/updated"):
            self.emit(shop, topic, payload)

    def _level_changed(self, shop: Shop, level: InventoryLevel) -> None:
        level.updated_at = self.state.now()
        self.emit(shop, "inventory_levels/update", inventory_level_json(shop, level))

    # --- shops and locations -------------------------------------------------------------------

    def create_shop(
        self,
        domain: str,
        *,
        name: str | None = None,
        email: str | None = None,
        currency: str = "USD",
        plan_name: str = "basic",
        plan_display_name: str = "Basic",
        location_name: str = "Main warehouse",
        iana_timezone: str = "UTC",
        utc_offset_minutes: int = 0,
        country_code: str = "US",
        bucket_size: int | None = None,
        restore_rate: float | None = None,
    ) -> Shop:
        domain = domain.strip().lower()
        if not SHOP_DOMAIN.match(domain):
            raise SandboxError(
                "shop must be a NAME.myshopify.com domain", code="invalid_shop", status=400
            )
        if domain in self.state.shops:
            raise SandboxError(f"shop {domain} exists", code="shop_exists", status=409)
        now = self.state.now()
        short = domain.split(".", 1)[0]
        shop = Shop(
            domain=domain,
            id=self.state.next_id(),
            name=name or short.replace("-", " ").title(),
            email=email or f"owner@{short}.example",
            created_at=now,
            updated_at=now,
            currency=currency,
            plan_name=plan_name,
            plan_display_name=plan_display_name,
            iana_timezone=iana_timezone,
            utc_offset_minutes=utc_offset_minutes,
            country_code=country_code,
            bucket_size=bucket_size,
            restore_rate=restore_rate,
        )
        self.state.shops[domain] = shop
        primary = self.add_location(shop, location_name, country_code=country_code)
        shop.primary_location_id = primary.id
        return shop

    def add_location(
        self,
        shop: Shop,
        name: str,
        *,
        active: bool = True,
        fulfills_online_orders: bool = True,
        address1: str | None = None,
        address2: str | None = None,
        city: str | None = None,
        province: str | None = None,
        province_code: str | None = None,
        zip: str | None = None,
        country_code: str = "US",
        phone: str | None = None,
    ) -> Location:
        if not name.strip():
            raise SandboxError("name is required", code="invalid", status=400)
        if any(loc.name == name for loc in shop.locations.values()):
            raise SandboxError(f"a location named {name!r} exists", code="conflict", status=409)
        now = self.state.now()
        location = Location(
            id=self.state.next_id(),
            name=name,
            created_at=now,
            updated_at=now,
            active=active,
            fulfills_online_orders=fulfills_online_orders,
            address1=address1,
            address2=address2,
            city=city,
            province=province,
            province_code=province_code,
            zip=zip,
            country_code=country_code,
            phone=phone,
        )
        shop.locations[location.id] = location
        return location

    def bucket(self, shop: Shop) -> Bucket:
        """The app's cost bucket on ``shop``, refilled to now."""
        maximum = shop.bucket_size or self.config.bucket_size
        rate = shop.restore_rate or self.config.restore_rate
        now = self.state.clock.now()
        if shop.bucket is None:
            shop.bucket = Bucket(
                maximum=maximum, restore_rate=rate, available=maximum, updated_at=now
            )
        shop.bucket.maximum = maximum
        shop.bucket.restore_rate = rate
        shop.bucket.refill(now)
        return shop.bucket

    # --- catalog -------------------------------------------------------------------------------

    def add_product(self, shop: Shop, spec: dict[str, Any]) -> Product:
        title = _text(spec.get("title"), "title", required=True) or ""
        variants = spec.get("variants") or [{}]
        if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
            raise SandboxError("variants must be a list of objects", code="invalid", status=400)
        now = self.state.now()
        product = Product(
            id=self.state.next_id(),
            title=title,
            handle=_text(spec.get("handle"), "handle") or _handle(title),
            created_at=now,
            updated_at=now,
            vendor=_text(spec.get("vendor"), "vendor") or "",
            product_type=_text(spec.get("product_type"), "product_type") or "",
            status=(_text(spec.get("status"), "status") or "ACTIVE").upper(),
            tags=_tags(spec.get("tags")),
        )
        # Validate every variant before anything is stored.
        parsed = [self._variant_spec(shop, v, i) for i, v in enumerate(variants)]
        shop.products[product.id] = product
        for position, values in enumerate(parsed, start=1):
            self._add_variant(shop, product, position, values)
        return product

    def _variant_spec(self, shop: Shop, spec: dict[str, Any], index: int) -> dict[str, Any]:
        name = f"variants[{index}]"
        inventory = spec.get("inventory") or {}
        if not isinstance(inventory, dict):
            raise SandboxError(
                f"{name}.inventory must map location ids to on-hand quantities", status=400
            )
        levels = {}
        for location_key, quantity in inventory.items():
            location_id = _int(location_key, f"{name}.inventory location id")
            shop.location(location_id)
            levels[location_id] = _int(quantity, f"{name}.inventory quantity", minimum=0)
        policy = (_text(spec.get("inventory_policy"), "inventory_policy") or "DENY").upper()
        if policy not in {"DENY", "CONTINUE"}:
            raise SandboxError("inventory_policy must be DENY or CONTINUE", status=400)
        return {
            "title": _text(spec.get("title"), f"{name}.title") or "Default Title",
            "sku": _text(spec.get("sku"), f"{name}.sku"),
            "barcode": _text(spec.get("barcode"), f"{name}.barcode"),
            "price": _price(spec.get("price", "0"), f"{name}.price"),
            "tracked": bool(spec.get("tracked", True)),
            "requires_shipping": bool(spec.get("requires_shipping", True)),
            "inventory_policy": policy,
            "grams": _int(spec.get("grams", 0), f"{name}.grams", minimum=0),
            "taxable": bool(spec.get("taxable", True)),
            "levels": levels,
        }

    def _add_variant(
        self, shop: Shop, product: Product, position: int, values: dict[str, Any]
    ) -> Variant:
        now = self.state.now()
        variant_id = self.state.next_id()
        item = InventoryItem(
            id=self.state.next_id(),
            variant_id=variant_id,
            created_at=now,
            updated_at=now,
            tracked=values["tracked"],
            requires_shipping=values["requires_shipping"],
        )
        variant = Variant(
            id=variant_id,
            product_id=product.id,
            inventory_item_id=item.id,
            title=values["title"],
            position=position,
            created_at=now,
            updated_at=now,
            sku=values["sku"],
            barcode=values["barcode"],
            price=values["price"],
            inventory_policy=values["inventory_policy"],
            taxable=values["taxable"],
            grams=values["grams"],
        )
        shop.inventory_items[item.id] = item
        shop.variants[variant.id] = variant
        product.variant_ids.append(variant.id)
        levels: dict[int, int] = values["levels"] or {shop.primary_location_id: 0}
        for location_id, on_hand in levels.items():
            self.activate(shop, item.id, location_id, on_hand=on_hand)
        return variant

    def delete_variant(self, shop: Shop, variant: Variant) -> Product | None:
        """The merchant deletes a variant: its inventory item and every level of it go too.

        Deleting a product's last variant deletes the product (``products/delete``); otherwise
        the product changes (``products/update``). Returns the product if it remains.
        """
        product = shop.products[variant.product_id]
        item_id = variant.inventory_item_id
        for location_id in list(shop.levels_by_item.pop(item_id, {})):
            shop.levels.pop((item_id, location_id), None)
        shop.inventory_items.pop(item_id, None)
        shop.variants.pop(variant.id, None)
        product.variant_ids.remove(variant.id)
        if not product.variant_ids:
            shop.products.pop(product.id, None)
            self.emit(shop, "products/delete", {"id": product.id})
            return None
        for position, variant_id in enumerate(product.variant_ids, start=1):
            shop.variants[variant_id].position = position
        product.updated_at = self.state.now()
        self.emit(shop, "products/update", product_json(shop, product))
        return product

    def update_variant(self, shop: Shop, variant: Variant, changes: dict[str, Any]) -> Variant:
        item = shop.inventory_items[variant.inventory_item_id]
        if "sku" in changes:
            variant.sku = _text(changes["sku"], "sku")
        if "barcode" in changes:
            variant.barcode = _text(changes["barcode"], "barcode")
        if "price" in changes:
            variant.price = _price(changes["price"], "price")
        if "title" in changes:
            variant.title = _text(changes["title"], "title") or variant.title
        if "inventory_policy" in changes:
            policy = (_text(changes["inventory_policy"], "inventory_policy") or "").upper()
            if policy not in {"DENY", "CONTINUE"}:
                raise SandboxError("inventory_policy must be DENY or CONTINUE", status=400)
            variant.inventory_policy = policy
        now = self.state.now()
        if "tracked" in changes:
            item.tracked = bool(changes["tracked"])
            item.updated_at = now
        if "requires_shipping" in changes:
            item.requires_shipping = bool(changes["requires_shipping"])
            item.updated_at = now
        variant.updated_at = now
        shop.products[variant.product_id].updated_at = now
        return variant

    # --- stock ---------------------------------------------------------------------------------

    def level(self, shop: Shop, item_id: int, location_id: int) -> InventoryLevel | None:
        level = shop.levels.get((item_id, location_id))
        return level if level is not None and level.active else None

    def activate(
        self,
        shop: Shop,
        item_id: int,
        location_id: int,
        *,
        on_hand: int | None = None,
        available: int | None = None,
    ) -> InventoryLevel:
        """Stock an item at a location (``inventoryActivate``); an active level is kept as is."""
        if item_id not in shop.inventory_items:
            raise SandboxError("Inventory item does not exist", code="not_found", status=404)
        shop.location(location_id)
        existing = shop.levels.get((item_id, location_id))
        if existing is not None and existing.active:
            return existing
        now = self.state.now()
        level = existing or InventoryLevel(
            inventory_item_id=item_id, location_id=location_id, created_at=now, updated_at=now
        )
        level.active = True
        if on_hand is not None:
            level.quantities["on_hand"] = on_hand
        elif available is not None:
            level.quantities["on_hand"] += available - level.available
        shop.add_level(level)
        self._level_changed(shop, level)
        return level

    def set_level(
        self, shop: Shop, item_id: int, location_id: int, quantities: dict[str, int]
    ) -> InventoryLevel:
        """Set quantities as the merchant would (control API); ``available`` moves ``on_hand``."""
        level = self.activate(shop, item_id, location_id)
        for name, value in quantities.items():
            if name == "available":
                continue
            if name not in STORED_QUANTITIES:
                raise SandboxError(f"unknown quantity name {name!r}", code="invalid", status=400)
            level.quantities[name] = value
        if "available" in quantities:
            level.quantities["on_hand"] += quantities["available"] - level.available
        self._level_changed(shop, level)
        return level

    def unstock(self, shop: Shop, item_id: int, location_id: int) -> InventoryLevel:
        """``inventoryDeactivate``: the item is no longer stocked at the location.

        Refused, as Shopify does, while units are committed there or when it is the item's
        only location. Its quantities there are gone (a later activation starts from 0).
        """
        level = self.level(shop, item_id, location_id)
        if level is None:
            raise SandboxError(
                f"inventory item {item_id} is not stocked at location {location_id}",
                code="not_found",
                status=404,
            )
        name = shop.locations[location_id].name
        if level.quantity("committed"):
            raise SandboxError(
                f"The product couldn't be unstocked from {name} because it has committed "
                "quantities.",
                code="has_committed",
                status=409,
            )
        if len(shop.item_levels(item_id)) == 1:
            raise SandboxError(
                f"The product couldn't be unstocked from {name} because products need to be "
                "stocked at a minimum of 1 location.",
                code="last_location",
                status=409,
            )
        level.active = False
        level.quantities = dict.fromkeys(STORED_QUANTITIES, 0)
        level.updated_at = self.state.now()
        return level

    def delete_location(self, shop: Shop, location: Location) -> None:
        """``locationDelete``: only an inactive location, never the primary one.

        Its levels go with it. A location that fulfillment orders or fulfillments name is
        refused (Shopify keeps order history; the sandbox would lose it).
        """
        if location.id == shop.primary_location_id:
            raise SandboxError(
                "the primary location cannot be deleted", code="location_is_primary", status=409
            )
        if location.active:
            raise SandboxError(
                "The location cannot be deleted while it is active.",
                code="location_is_active",
                status=409,
            )
        if any(fo.location_id == location.id for fo in shop.fulfillment_orders.values()) or any(
            f.location_id == location.id for f in shop.fulfillments.values()
        ):
            raise SandboxError(
                "The location has orders and cannot be deleted.",
                code="location_has_pending_orders",
                status=409,
            )
        for item_id, location_id in [k for k in shop.levels if k[1] == location.id]:
            shop.levels.pop((item_id, location_id))
            shop.levels_by_item.get(item_id, {}).pop(location_id, None)
        del shop.locations[location.id]
        self.emit(shop, "locations/delete", {"id": location.id})

    def _tracked_item(self, shop: Shop, line: LineItem) -> int | None:
        """The line's inventory item if the order moves its stock (tracked, not deleted)."""
        if not line.tracked or line.inventory_item_id not in shop.inventory_items:
            return None
        return line.inventory_item_id

    def _commit(self, shop: Shop, line: LineItem, location_id: int, delta: int) -> None:
        item_id = self._tracked_item(shop, line)
        if item_id is None or delta == 0:
            return
        level = self.activate(shop, item_id, location_id)
        level.quantities["committed"] = max(0, level.quantities["committed"] + delta)
        self._level_changed(shop, level)

    def _ship(self, shop: Shop, line: LineItem, location_id: int, quantity: int) -> None:
        item_id = self._tracked_item(shop, line)
        if item_id is None or quantity == 0:
            return
        level = self.activate(shop, item_id, location_id)
        level.quantities["committed"] = max(0, level.quantities["committed"] - quantity)
        level.quantities["on_hand"] -= quantity
        self._level_changed(shop, level)

    def set_quantities(
        self,
        shop: Shop,
        *,
        name: str,
        reason: str,
        reference_document_uri: str | None,
        quantities: Sequence[QuantityChange],
    ) -> AdjustmentGroup:
        """``inventorySetQuantities``: all or nothing; every refusal is reported at once."""
        errors: list[SandboxError] = []
        if name not in {"available", "on_hand"}:
            errors.append(
                SandboxError(
                    "The quantity name must be either 'available' or 'on_hand'.",
                    code="INVALID_NAME",
                    field=["input", "name"],
                )
            )
        if reason not in INVENTORY_REASONS:
            errors.append(
                SandboxError(
                    "The specified reason is invalid.",
                    code="INVALID_REASON",
                    field=["input", "reason"],
                )
            )
        if reference_document_uri is not None and not urlsplit(reference_document_uri).scheme:
            errors.append(
                SandboxError(
                    "The reference document URI is invalid.",
                    code="INVALID_REFERENCE_DOCUMENT",
                    field=["input", "referenceDocumentUri"],
                )
            )
        seen: set[tuple[int, int]] = set()
        targets: list[tuple[InventoryLevel, QuantityChange]] = []
        for index, change in enumerate(quantities):
            path = ["input", "quantities", str(index)]
            item = shop.inventory_items.get(change.inventory_item_id or 0)
            if item is None:
                errors.append(
                    SandboxError(
                        "The specified inventory item could not be found.",
                        code="INVALID_INVENTORY_ITEM",
                        field=[*path, "inventoryItemId"],
                    )
                )
                continue
            if change.location_id not in shop.locations:
                errors.append(
                    SandboxError(
                        "The specified location could not be found.",
                        code="INVALID_LOCATION",
                        field=[*path, "locationId"],
                    )
                )
                continue
            pair = (item.id, change.location_id)
            if pair in seen:
                errors.append(
                    SandboxError(
                        "The combination of inventoryItemId and locationId must be unique.",
                        code="NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
                        field=[*path, "locationId"],
                    )
                )
                continue
            seen.add(pair)
            level = self.level(shop, *pair)
            if level is None:
                errors.append(
                    SandboxError(
                        "The specified inventory item is not stocked at the location.",
                        code="INVALID_LOCATION",
                        field=[*path, "locationId"],
                    )
                )
                continue
            if change.quantity < 0:
                errors.append(
                    SandboxError(
                        "The quantity can't be negative.",
                        code="INVALID_QUANTITY_NEGATIVE",
                        field=[*path, "quantity"],
                    )
                )
                continue
            if change.quantity > MAX_QUANTITY:
                errors.append(
                    SandboxError(
                        f"The quantity can't be higher than {MAX_QUANTITY:,}.",
                        code="INVALID_QUANTITY_TOO_HIGH",
                        field=[*path, "quantity"],
                    )
                )
                continue
            if name in {"available", "on_hand"} and change.change_from is not None:
                current = level.quantity(name)
                if current != change.change_from:
                    errors.append(
                        SandboxError(
                            "The changeFromQuantity argument no longer matches the persisted "
                            f"quantity ({current}).",
                            code="CHANGE_FROM_QUANTITY_STALE",
                            field=[*path, "changeFromQuantity"],
                        )
                    )
                    continue
            targets.append((level, change))
        if errors:
            raise UserErrors(errors)
        other = "on_hand" if name == "available" else "available"
        changes: list[InventoryChange] = []
        for level, change in targets:
            delta = change.quantity - level.quantity(name)
            level.quantities["on_hand"] += delta
            for quantity_name in (name, other):
                changes.append(
                    InventoryChange(
                        name=quantity_name,
                        delta=delta,
                        quantity_after=level.quantity(quantity_name),
                        inventory_item_id=level.inventory_item_id,
                        location_id=level.location_id,
                    )
                )
            if delta:
                self._level_changed(shop, level)
        group = AdjustmentGroup(
            id=self.state.next_id(),
            created_at=self.state.now(),
            reason=reason,
            reference_document_uri=reference_document_uri,
            changes=changes,
        )
        shop.adjustment_groups[group.id] = group
        return group

    # --- orders --------------------------------------------------------------------------------

    def _customer(self, shop: Shop, email: str | None, spec: dict[str, Any]) -> Customer | None:
        if email is None and not spec:
            return None
        for customer in shop.customers.values():
            if email is not None and customer.email == email:
                return customer
        now = self.state.now()
        customer = Customer(
            id=self.state.next_id(),
            email=email,
            created_at=now,
            updated_at=now,
            first_name=_text(spec.get("first_name"), "customer.first_name"),
            last_name=_text(spec.get("last_name"), "customer.last_name"),
            phone=_text(spec.get("phone"), "customer.phone"),
        )
        shop.customers[customer.id] = customer
        return customer

    def _route(self, shop: Shop, item_id: int | None, quantity: int) -> int:
        """Shopify's default routing: the first location (primary first) that can ship it all."""
        candidates = [
            loc for loc in shop.locations_by_priority() if loc.active and loc.fulfills_online_orders
        ]
        if not candidates:
            raise SandboxError(
                "no active location fulfils online orders", code="no_location", status=409
            )
        if item_id is None:
            return candidates[0].id
        stocked = [loc for loc in candidates if self.level(shop, item_id, loc.id) is not None]
        for loc in stocked:
            level = self.level(shop, item_id, loc.id)
            if level is not None and level.available >= quantity:
                return loc.id
        return stocked[0].id if stocked else candidates[0].id

    def _order_line(
        self, shop: Shop, spec: dict[str, Any], index: int
    ) -> tuple[LineItem, int | None]:
        name = f"line_items[{index}]"
        quantity = _int(spec.get("quantity", 1), f"{name}.quantity", minimum=1)
        variant: Variant | None = None
        if spec.get("variant_id") is not None:
            variant = shop.variant(_int(spec["variant_id"], f"{name}.variant_id"))
        elif spec.get("sku") is not None:
            variant = shop.variant_by_sku(str(spec["sku"]))
        location_id = None
        if spec.get("location_id") is not None:
            location_id = _int(spec["location_id"], f"{name}.location_id")
            if not shop.location(location_id).active:
                raise SandboxError(f"location {location_id} is inactive", status=409)
        if variant is None:
            title = _text(spec.get("title"), f"{name}.title", required=True) or ""
            line = LineItem(
                id=self.state.next_id(),
                title=title,
                quantity=quantity,
                current_quantity=quantity,
                price=_price(spec.get("price", "0"), f"{name}.price"),
                requires_shipping=bool(spec.get("requires_shipping", True)),
                sku=_text(spec.get("sku_text"), f"{name}.sku_text"),
            )
            return line, location_id
        product = shop.products[variant.product_id]
        item = shop.inventory_items[variant.inventory_item_id]
        line = LineItem(
            id=self.state.next_id(),
            title=product.title,
            quantity=quantity,
            current_quantity=quantity,
            price=_price(spec.get("price", variant.price), f"{name}.price"),
            variant_id=variant.id,
            product_id=product.id,
            inventory_item_id=item.id,
            variant_title=None if variant.title == "Default Title" else variant.title,
            sku=variant.sku,
            vendor=product.vendor or None,
            requires_shipping=item.requires_shipping,
            taxable=variant.taxable,
            grams=variant.grams,
            tracked=item.tracked,
        )
        return line, location_id

    def place_order(self, shop: Shop, spec: dict[str, Any]) -> Order:
        """A customer's checkout: lines routed to locations, one fulfillment order per location."""
        raw_lines = spec.get("line_items")
        if not isinstance(raw_lines, list) or not raw_lines:
            raise SandboxError("line_items must be a non-empty list", code="invalid", status=400)
        if not all(isinstance(line, dict) for line in raw_lines):
            raise SandboxError("each line item must be an object", code="invalid", status=400)
        parsed = [self._order_line(shop, line, i) for i, line in enumerate(raw_lines)]
        routed: list[tuple[LineItem, int]] = []
        demand: dict[tuple[int, int], int] = {}
        for line, explicit in parsed:
            location_id = explicit or self._route(shop, line.inventory_item_id, line.quantity)
            routed.append((line, location_id))
            if line.tracked and line.inventory_item_id is not None:
                key = (line.inventory_item_id, location_id)
                demand[key] = demand.get(key, 0) + line.quantity
        if not spec.get("allow_oversell"):
            for (item_id, location_id), wanted in demand.items():
                variant = shop.variants[shop.inventory_items[item_id].variant_id]
                level = self.level(shop, item_id, location_id)
                available = level.available if level is not None else 0
                if variant.inventory_policy == "DENY" and available < wanted:
                    raise SandboxError(
                        f"only {available} of {variant.sku or variant.id} available at "
                        f"location {location_id}, {wanted} ordered",
                        code="insufficient_inventory",
                        status=409,
                    )
        financial_status = (
            _text(spec.get("financial_status"), "financial_status") or "paid"
        ).lower()
        if financial_status not in {"pending", "authorized", "paid", "partially_paid"}:
            raise SandboxError("financial_status must be pending, authorized or paid", status=400)
        shipping_address = spec.get("shipping_address")
        if shipping_address is not None and not isinstance(shipping_address, dict):
            raise SandboxError("shipping_address must be an object", code="invalid", status=400)
        billing_address = spec.get("billing_address", shipping_address)
        if billing_address is not None and not isinstance(billing_address, dict):
            raise SandboxError("billing_address must be an object", code="invalid", status=400)
        shipping_lines = self._shipping_lines(spec)
        email = _text(spec.get("email"), "email")
        customer_spec = spec.get("customer") or {}
        if not isinstance(customer_spec, dict):
            raise SandboxError("customer must be an object", code="invalid", status=400)
        customer = self._customer(shop, email, customer_spec)
        now = self.state.now()
        order = Order(
            id=self.state.next_id(),
            number=shop.next_order_number,
            token=secrets.token_hex(16),
            created_at=now,
            updated_at=now,
            line_items=[line for line, _ in routed],
            email=email,
            phone=_text(spec.get("phone"), "phone"),
            currency=shop.currency,
            financial_status=financial_status,
            test=bool(spec.get("test", False)),
            source_name=_text(spec.get("source_name"), "source_name") or "web",
            tags=_tags(spec.get("tags")),
            note=_text(spec.get("note"), "note"),
            shipping_address=normalize_address(shipping_address),
            billing_address=normalize_address(billing_address),
            shipping_lines=shipping_lines,
            customer_id=customer.id if customer else None,
            note_attributes=[
                {"name": str(a.get("name")), "value": str(a.get("value"))}
                for a in spec.get("note_attributes") or []
                if isinstance(a, dict)
            ],
        )
        shop.next_order_number += 1
        shop.orders[order.id] = order
        by_location: dict[int, FulfillmentOrder] = {}
        for line, location_id in routed:
            fo = by_location.get(location_id)
            if fo is None:
                fo = FulfillmentOrder(
                    id=self.state.next_id(),
                    order_id=order.id,
                    location_id=location_id,
                    status="OPEN",
                    created_at=now,
                    updated_at=now,
                )
                by_location[location_id] = fo
                shop.fulfillment_orders[fo.id] = fo
                order.fulfillment_order_ids.append(fo.id)
            fo.lines.append(
                FulfillmentOrderLine(
                    id=self.state.next_id(),
                    line_item_id=line.id,
                    total_quantity=line.quantity,
                    remaining_quantity=line.quantity,
                )
            )
            self._commit(shop, line, location_id, line.quantity)
        payload = order_json(shop, order)
        self.emit(shop, "orders/create", payload)
        if financial_status == "paid":
            self.emit(shop, "orders/paid", payload)
        return order

    def _shipping_lines(self, spec: dict[str, Any]) -> list[ShippingLine]:
        raw = spec.get("shipping_lines")
        if raw is None and spec.get("shipping_method"):
            method = str(spec["shipping_method"])
            raw = [{"title": method, "code": method, "price": spec.get("shipping_price", "0")}]
        if raw is None:
            raw = [{"title": "Standard", "code": "Standard", "price": "0"}]
        if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
            raise SandboxError("shipping_lines must be a list of objects", status=400)
        lines = []
        for i, item in enumerate(raw):
            title = _text(item.get("title"), f"shipping_lines[{i}].title", required=True) or ""
            lines.append(
                ShippingLine(
                    id=self.state.next_id(),
                    title=title,
                    code=_text(item.get("code"), f"shipping_lines[{i}].code") or title,
                    price=_price(item.get("price", "0"), f"shipping_lines[{i}].price"),
                    source=_text(item.get("source"), f"shipping_lines[{i}].source") or "shopify",
                )
            )
        return lines

    def _live(self, order: Order) -> None:
        if order.cancelled_at is not None:
            raise SandboxError("the order is cancelled", code="order_cancelled", status=409)

    def cancel_order(
        self, shop: Shop, order: Order, *, reason: str = "customer", refund: bool = True
    ) -> Order:
        """Cancel what is not fulfilled yet; committed stock is released."""
        self._live(order)
        reason = reason.lower()
        if reason not in CANCEL_REASONS:
            raise SandboxError(f"reason must be one of {', '.join(CANCEL_REASONS)}", status=400)
        if order.fulfillment_status == "fulfilled":
            raise SandboxError(
                "a fulfilled order cannot be cancelled", code="order_fulfilled", status=409
            )
        now = self.state.now()
        for fo_id in order.fulfillment_order_ids:
            fo = shop.fulfillment_orders[fo_id]
            if fo.status in {"CLOSED", "CANCELLED"}:
                continue
            for fo_line in fo.lines:
                line = order.line(fo_line.line_item_id)
                if line is not None:
                    self._commit(shop, line, fo.location_id, -fo_line.remaining_quantity)
                fo_line.remaining_quantity = 0
            fo.status = "CLOSED" if fo.fulfillment_ids else "CANCELLED"
            fo.updated_at = now
        for line in order.line_items:
            line.current_quantity = line.fulfilled_quantity
        order.cancelled_at = now
        order.cancel_reason = reason
        order.closed_at = now
        if order.financial_status in {"paid", "partially_paid"} and refund:
            order.financial_status = "refunded"
        elif order.financial_status in {"pending", "authorized"}:
            order.financial_status = "voided"
        self._order_changed(shop, order, "orders/cancelled")
        return order

    def update_order(self, shop: Shop, order: Order, changes: dict[str, Any]) -> Order:
        """Merchant edits that are not an order edit: address, contact, tags, note."""
        known = {"shipping_address", "email", "phone", "tags", "note", "billing_address"}
        unknown = set(changes) - known
        if unknown:
            raise SandboxError(
                f"cannot change {', '.join(sorted(unknown))}", code="invalid", status=400
            )
        for key in ("shipping_address", "billing_address"):
            if key in changes:
                value = changes[key]
                if value is not None and not isinstance(value, dict):
                    raise SandboxError(f"{key} must be an object", code="invalid", status=400)
                if value is None:
                    setattr(order, key, None)
                    continue
                merged = {**(getattr(order, key) or {}), **value}
                if "first_name" in value or "last_name" in value:
                    merged.pop("name", None)
                if "country_code" in value and "country" not in value:
                    merged.pop("country", None)
                setattr(order, key, normalize_address(merged))
        if "email" in changes:
            order.email = _text(changes["email"], "email")
        if "phone" in changes:
            order.phone = _text(changes["phone"], "phone")
        if "tags" in changes:
            order.tags = _tags(changes["tags"])
        if "note" in changes:
            order.note = _text(changes["note"], "note")
        self._order_changed(shop, order)
        return order

    def edit_order(
        self,
        shop: Shop,
        order: Order,
        *,
        quantities: Sequence[dict[str, Any]] = (),
        additions: Sequence[dict[str, Any]] = (),
        notify_customer: bool = False,
        staff_note: str = "",
    ) -> Order:
        """An order edit: lower line quantities (a line at 0 stays, current 0) and add lines."""
        self._live(order)
        if not quantities and not additions:
            raise SandboxError("an edit needs line_items or add", code="invalid", status=400)
        planned: list[tuple[LineItem, int]] = []
        for i, change in enumerate(quantities):
            line_id = _int(change.get("id", change.get("line_item_id")), f"line_items[{i}].id")
            line = order.line(line_id)
            if line is None:
                raise SandboxError(f"line item {line_id} is not on the order", status=404)
            new = _int(change.get("quantity"), f"line_items[{i}].quantity", minimum=0)
            if new > line.current_quantity:
                raise SandboxError(
                    "an edit can only lower a line's quantity; add a line instead",
                    code="invalid",
                    status=422,
                )
            if new < line.fulfilled_quantity:
                raise SandboxError(
                    f"line item {line_id} has {line.fulfilled_quantity} fulfilled",
                    code="invalid",
                    status=422,
                )
            planned.append((line, new))
        added = [self._order_line(shop, spec, i) for i, spec in enumerate(additions)]
        removals = []
        for line, new in planned:
            delta = line.current_quantity - new
            if delta == 0:
                continue
            line.current_quantity = new
            removals.append({"id": line.id, "delta": delta})
            remaining = delta
            for fo_id in order.fulfillment_order_ids:
                fo = shop.fulfillment_orders[fo_id]
                for fo_line in fo.lines:
                    if fo_line.line_item_id != line.id or remaining == 0:
                        continue
                    taken = min(remaining, fo_line.remaining_quantity)
                    fo_line.remaining_quantity -= taken
                    fo_line.total_quantity -= taken
                    remaining -= taken
                    self._commit(shop, line, fo.location_id, -taken)
                self._settle_fulfillment_order(fo)
        now = self.state.now()
        additions_json = []
        for line, explicit in added:
            location_id = explicit or self._route(shop, line.inventory_item_id, line.quantity)
            order.line_items.append(line)
            additions_json.append({"id": line.id, "delta": line.quantity})
            open_here = [
                shop.fulfillment_orders[f]
                for f in order.fulfillment_order_ids
                if shop.fulfillment_orders[f].location_id == location_id
                and shop.fulfillment_orders[f].status == "OPEN"
            ]
            if open_here:
                fo = open_here[0]
            else:
                fo = FulfillmentOrder(
                    id=self.state.next_id(),
                    order_id=order.id,
                    location_id=location_id,
                    status="OPEN",
                    created_at=now,
                    updated_at=now,
                )
                shop.fulfillment_orders[fo.id] = fo
                order.fulfillment_order_ids.append(fo.id)
            fo.lines.append(
                FulfillmentOrderLine(
                    id=self.state.next_id(),
                    line_item_id=line.id,
                    total_quantity=line.quantity,
                    remaining_quantity=line.quantity,
                )
            )
            fo.updated_at = now
            self._commit(shop, line, location_id, line.quantity)
        order.edited = True
        nothing_left = all(line.current_quantity == 0 for line in order.line_items)
        if nothing_left or order.fulfillment_status == "fulfilled":
            order.closed_at = order.closed_at or now
        order.updated_at = now
        edit: dict[str, Any] = {
            "order_edit": {
                "id": self.state.next_id(),
                "app_id": None,
                "created_at": rest_time(now, shop.utc_offset_minutes),
                "notify_customer": notify_customer,
                "order_id": order.id,
                "staff_note": staff_note,
                "user_id": None,
                "line_items": {"additions": additions_json, "removals": removals},
                "discounts": {"line_item": {"additions": [], "removals": []}},
                "shipping_lines": {"additions": [], "removals": []},
            }
        }
        self.emit(shop, "orders/edited", edit)
        self._order_changed(shop, order)
        return order

    def _settle_fulfillment_order(self, fo: FulfillmentOrder) -> None:
        if fo.status not in {"OPEN", "IN_PROGRESS"}:
            return
        if all(line.remaining_quantity == 0 for line in fo.lines):
            fo.status = "CLOSED"
        elif fo.fulfillment_ids:
            fo.status = "IN_PROGRESS"
        fo.updated_at = self.state.now()

    # --- fulfillment ---------------------------------------------------------------------------

    def create_fulfillment(
        self,
        shop: Shop,
        request: Sequence[tuple[int | None, Sequence[tuple[int | None, int]] | None]],
        *,
        tracking_company: str | None = None,
        tracking_numbers: Sequence[str] = (),
        tracking_urls: Sequence[str] = (),
        notify_customer: bool = False,
        origin: str = "api",
    ) -> Fulfillment:
        """``fulfillmentCreate``: lines of fulfillment orders of one order at one location.

        ``request`` lists ``(fulfillment order id, [(line id, quantity)] or None)``; ``None``
        fulfils everything that remains on that fulfillment order.
        """
        base = ["fulfillment", "lineItemsByFulfillmentOrder"]
        if not request:
            raise UserErrors(
                [SandboxError("Line items by fulfillment order can't be blank.", field=base)]
            )
        errors: list[SandboxError] = []
        plan: list[tuple[FulfillmentOrder, list[tuple[FulfillmentOrderLine, int]]]] = []
        for index, (fo_id, lines) in enumerate(request):
            path = [*base, str(index)]
            fo = shop.fulfillment_orders.get(fo_id or 0)
            if fo is None:
                errors.append(
                    SandboxError(
                        "Fulfillment order does not exist.", field=[*path, "fulfillmentOrderId"]
                    )
                )
                continue
            if fo.status not in {"OPEN", "IN_PROGRESS"}:
                errors.append(
                    SandboxError(
                        f"Fulfillment order {fo.id} has an unfulfillable status= "
                        f"{fo.status.lower()}.",
                        field=[*path, "fulfillmentOrderId"],
                    )
                )
                continue
            wanted: dict[int, int] = {}
            if lines:
                for line_index, (line_id, quantity) in enumerate(lines):
                    line_path = [*path, "fulfillmentOrderLineItems", str(line_index)]
                    fo_line = next((li for li in fo.lines if li.id == line_id), None)
                    if fo_line is None:
                        errors.append(
                            SandboxError(
                                "Fulfillment order line item does not exist.",
                                field=[*line_path, "id"],
                            )
                        )
                        continue
                    if quantity <= 0:
                        errors.append(
                            SandboxError(
                                "Quantity must be greater than 0.", field=[*line_path, "quantity"]
                            )
                        )
                        continue
                    wanted[fo_line.id] = wanted.get(fo_line.id, 0) + quantity
            else:
                wanted = {li.id: li.remaining_quantity for li in fo.lines if li.remaining_quantity}
            chosen: list[tuple[FulfillmentOrderLine, int]] = []
            for fo_line in fo.lines:
                quantity = wanted.get(fo_line.id, 0)
                if quantity > fo_line.remaining_quantity:
                    errors.append(
                        SandboxError(
                            "Invalid fulfillment order line item quantity requested.",
                            field=[*path, "fulfillmentOrderLineItems"],
                        )
                    )
                elif quantity:
                    chosen.append((fo_line, quantity))
            if not chosen and not errors:
                errors.append(
                    SandboxError(
                        "Fulfillment order has no line items left to fulfill.",
                        field=[*path, "fulfillmentOrderId"],
                    )
                )
            plan.append((fo, chosen))
        if not errors:
            orders = {fo.order_id for fo, _ in plan}
            locations = {fo.location_id for fo, _ in plan}
            if len(orders) > 1:
                errors.append(
                    SandboxError(
                        "All fulfillment orders must belong to the same order.", field=base
                    )
                )
            if len(locations) > 1:
                errors.append(
                    SandboxError(
                        "All fulfillment orders must be assigned to the same location.", field=base
                    )
                )
        if errors:
            raise UserErrors(errors)
        order = shop.orders[plan[0][0].order_id]
        location_id = plan[0][0].location_id
        now = self.state.now()
        numbers = list(tracking_numbers)
        urls = list(tracking_urls)
        if not urls:
            urls = [u for u in (tracking_url(tracking_company, n) for n in numbers) if u]
        fulfillment = Fulfillment(
            id=self.state.next_id(),
            order_id=order.id,
            location_id=location_id,
            name=f"{order.name}.{len(order.fulfillment_ids) + 1}",
            created_at=now,
            updated_at=now,
            lines=[],
            fulfillment_order_ids=[fo.id for fo, _ in plan],
            tracking_company=tracking_company,
            tracking_numbers=numbers,
            tracking_urls=urls,
            notify_customer=notify_customer,
            origin=origin,
        )
        per_line: dict[int, int] = {}
        for fo, chosen in plan:
            for fo_line, quantity in chosen:
                fo_line.remaining_quantity -= quantity
                line = order.line(fo_line.line_item_id)
                if line is None:
                    continue
                line.fulfilled_quantity += quantity
                per_line[line.id] = per_line.get(line.id, 0) + quantity
                self._ship(shop, line, fo.location_id, quantity)
            fo.fulfillment_ids.append(fulfillment.id)
            self._settle_fulfillment_order(fo)
        fulfillment.lines = list(per_line.items())
        shop.fulfillments[fulfillment.id] = fulfillment
        order.fulfillment_ids.append(fulfillment.id)
        status = order.fulfillment_status
        if status == "fulfilled" and order.financial_status == "paid":
            order.closed_at = now
        self.emit(shop, "fulfillments/create", fulfillment_json(shop, order, fulfillment))
        topic = "orders/fulfilled" if status == "fulfilled" else "orders/partially_fulfilled"
        self._order_changed(shop, order, topic)
        return fulfillment

    def fulfill_externally(
        self,
        shop: Shop,
        order: Order,
        *,
        lines: Sequence[tuple[int, int]] | None,
        tracking_company: str | None,
        tracking_number: str | None,
        tracking_url_value: str | None,
        location_id: int | None = None,
        notify_customer: bool = False,
    ) -> list[Fulfillment]:
        """The merchant fulfils in the Shopify admin: one fulfillment per location touched."""
        self._live(order)
        fos = [
            shop.fulfillment_orders[f]
            for f in order.fulfillment_order_ids
            if shop.fulfillment_orders[f].status in {"OPEN", "IN_PROGRESS"}
            and (location_id is None or shop.fulfillment_orders[f].location_id == location_id)
        ]
        wanted: dict[int, int] | None = None
        if lines is not None:
            wanted = {}
            for line_id, quantity in lines:
                if order.line(line_id) is None:
                    raise SandboxError(f"line item {line_id} is not on the order", status=404)
                if quantity <= 0:
                    raise SandboxError("quantities must be positive", status=400)
                wanted[line_id] = wanted.get(line_id, 0) + quantity
        by_location: dict[int, list[tuple[int, list[tuple[int, int]]]]] = {}
        for fo in fos:
            chosen: list[tuple[int, int]] = []
            for fo_line in fo.lines:
                if fo_line.remaining_quantity == 0:
                    continue
                if wanted is None:
                    chosen.append((fo_line.id, fo_line.remaining_quantity))
                    continue
                left = wanted.get(fo_line.line_item_id, 0)
                take = min(left, fo_line.remaining_quantity)
                if take:
                    chosen.append((fo_line.id, take))
                    wanted[fo_line.line_item_id] = left - take
            if chosen:
                by_location.setdefault(fo.location_id, []).append((fo.id, chosen))
        if wanted is not None and any(wanted.values()):
            raise SandboxError(
                "more than the unfulfilled quantity was asked for", code="invalid", status=422
            )
        if not by_location:
            raise SandboxError("nothing left to fulfil", code="nothing_to_fulfill", status=409)
        numbers = [tracking_number] if tracking_number else []
        urls = [tracking_url_value] if tracking_url_value else []
        fulfillments = []
        for request in by_location.values():
            try:
                fulfillments.append(
                    self.create_fulfillment(
                        shop,
                        [(fo_id, chosen) for fo_id, chosen in request],
                        tracking_company=tracking_company,
                        tracking_numbers=numbers,
                        tracking_urls=urls,
                        notify_customer=notify_customer,
                        origin="admin",
                    )
                )
            except UserErrors as exc:
                raise SandboxError(exc.errors[0].message, status=422) from exc
        return fulfillments

    # --- webhook subscriptions -----------------------------------------------------------------

    def create_subscription(
        self,
        shop: Shop,
        *,
        topic: str,
        uri: str | None,
        api_version: str,
        format: str = "JSON",
        include_fields: Sequence[str] = (),
        filter: str | None = None,
        name: str | None = None,
    ) -> Subscription:
        field_path = ["webhookSubscription", "uri"]
        if not uri:
            raise UserErrors([SandboxError("Address can't be blank", field=field_path)])
        parts = urlsplit(uri)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise UserErrors([SandboxError("Address is invalid", field=field_path)])
        for existing in shop.subscriptions.values():
            if existing.topic == topic and existing.uri == uri and existing.filter == filter:
                raise UserErrors(
                    [
                        SandboxError(
                            "Address for this topic has already been taken", field=field_path
                        )
                    ]
                )
        now = self.state.now()
        subscription = Subscription(
            id=self.state.next_id(),
            topic=topic,
            uri=uri,
            api_version=api_version,
            created_at=now,
            updated_at=now,
            format=format,
            include_fields=list(include_fields),
            filter=filter,
            name=name,
        )
        shop.subscriptions[subscription.id] = subscription
        return subscription

    def delete_subscription(self, shop: Shop, subscription_id: int) -> None:
        if shop.subscriptions.pop(subscription_id, None) is None:
            raise UserErrors([SandboxError("Webhook subscription does not exist", field=["id"])])

    # --- the app -------------------------------------------------------------------------------

    def revoke_tokens(self, shop: Shop) -> int:
        count = 0
        for token in self.state.access_tokens.values():
            if token.shop == shop.domain and not token.revoked:
                token.revoked = True
                count += 1
        for refresh in self.state.refresh_tokens.values():
            if refresh.shop == shop.domain:
                refresh.revoked = True
        for code in self.state.codes.values():
            if code.shop == shop.domain:
                code.used = True
        return count

    def uninstall(self, shop: Shop) -> WebhookEvent | None:
        """The merchant removes the app: tokens die, ``app/uninstalled`` goes out, hooks go."""
        if shop.installation is None or not shop.installation.installed:
            raise SandboxError("the app is not installed", code="not_installed", status=409)
        now = self.state.now()
        shop.installation.installed = False
        shop.installation.uninstalled_at = now
        self.revoke_tokens(shop)
        event = self.emit(shop, "app/uninstalled", shop_json(shop))
        shop.subscriptions.clear()
        shop.bucket = None
        return event

    def compliance(
        self,
        shop: Shop,
        topic: str,
        *,
        customer_id: int | None = None,
        email: str | None = None,
        order_ids: Sequence[int] | None = None,
    ) -> WebhookEvent:
        """A GDPR request, sent to the app's compliance webhook URL."""
        if topic not in COMPLIANCE_TOPICS:
            raise SandboxError(
                f"topic must be one of {', '.join(COMPLIANCE_TOPICS)}", code="invalid", status=400
            )
        url = self.state.compliance_webhook_url or self.config.compliance_webhook_url
        if not url:
            raise SandboxError(
                "no compliance webhook URL is configured", code="no_compliance_url", status=409
            )
        payload: dict[str, Any] = {"shop_id": shop.id, "shop_domain": shop.domain}
        if topic != "shop/redact":
            customer = None
            if customer_id is not None:
                customer = shop.customers.get(customer_id)
            elif email is not None:
                customer = next((c for c in shop.customers.values() if c.email == email), None)
            if customer is None and customer_id is None and email is None:
                raise SandboxError("customer_id or email is required", code="invalid", status=400)
            if order_ids is None:
                order_ids = [
                    o.id
                    for o in shop.orders.values()
                    if customer is not None and o.customer_id == customer.id
                ]
            payload["customer"] = {
                "id": customer.id if customer else customer_id,
                "email": customer.email if customer else email,
                "phone": customer.phone if customer else None,
            }
            if topic == "customers/data_request":
                payload["orders_requested"] = list(order_ids)
                payload["data_request"] = {"id": self.state.next_id()}
            else:
                payload["orders_to_redact"] = list(order_ids)
        target = WebhookTarget(uri=url, api_version=self.config.api_version)
        return self._publish(shop, topic, payload, (target,))
