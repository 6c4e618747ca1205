"""REST-shaped JSON: webhook bodies and control API answers, as Shopify's fixtures show them.

Webhook payloads are still REST-shaped in 2026 (``tests/fixtures/shopify/rest-2026-07``): the
``orders/*`` topics send the ``order`` object, ``orders/edited`` an ``order_edit``,
``app/uninstalled`` the shop, the compliance topics their own small documents.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from adapters.shopify.sandbox.ids import gid, inventory_level_gid, rest_time
from adapters.shopify.sandbox.state import (
    STORED_QUANTITIES,
    Customer,
    Fulfillment,
    FulfillmentOrder,
    InventoryLevel,
    LineItem,
    Location,
    Order,
    Product,
    ShippingLine,
    Shop,
    Subscription,
    Variant,
    topic_name,
)

__all__ = [
    "ADDRESS_KEYS",
    "country_name",
    "customer_json",
    "fulfillment_json",
    "fulfillment_order_json",
    "inventory_level_detail_json",
    "inventory_level_json",
    "location_json",
    "money",
    "normalize_address",
    "order_json",
    "order_totals",
    "product_json",
    "shop_json",
    "subscription_json",
]

ADDRESS_KEYS = (
    "first_name",
    "address1",
    "phone",
    "city",
    "zip",
    "province",
    "country",
    "last_name",
    "address2",
    "company",
    "latitude",
    "longitude",
    "name",
    "country_code",
    "province_code",
)

_COUNTRIES = {
    "US": "United States",
    "CA": "Canada",
    "GB": "United Kingdom",
    "DE": "Germany",
    "FR": "France",
    "NL": "Netherlands",
    "AU": "Australia",
    "IE": "Ireland",
    "ES": "Spain",
    "IT": "Italy",
}


def country_name(code: str | None) -> str | None:
    if code is None:
        return None
    return _COUNTRIES.get(code.upper(), code.upper())


def money(amount: Decimal | str) -> str:
    return f"{Decimal(amount):.2f}"


def money_set(amount: Decimal | str, currency: str) -> dict[str, Any]:
    value = {"amount": money(amount), "currency_code": currency}
    return {"shop_money": dict(value), "presentment_money": dict(value)}


def normalize_address(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """A REST address with every key Shopify sends (missing ones are ``None``)."""
    if raw is None:
        return None
    address: dict[str, Any] = {key: raw.get(key) for key in ADDRESS_KEYS}
    if address["country_code"] is None and isinstance(raw.get("country"), str):
        reverse = {name.lower(): code for code, name in _COUNTRIES.items()}
        address["country_code"] = reverse.get(str(raw["country"]).lower())
    if address["country"] is None:
        address["country"] = country_name(address["country_code"])
    if address["name"] is None:
        parts = [address["first_name"], address["last_name"]]
        address["name"] = " ".join(p for p in parts if p) or None
    return address


# --- orders ------------------------------------------------------------------------------------


def order_totals(order: Order) -> dict[str, Decimal]:
    original = sum((Decimal(li.price) * li.quantity for li in order.line_items), Decimal(0))
    current = sum((Decimal(li.price) * li.current_quantity for li in order.line_items), Decimal(0))
    shipping = sum((Decimal(sl.price) for sl in order.shipping_lines), Decimal(0))
    return {
        "line_items": original,
        "subtotal": original,
        "current_subtotal": current,
        "shipping": shipping,
        "total": original + shipping,
        "current_total": current + shipping,
        "weight": Decimal(sum(li.grams * li.current_quantity for li in order.line_items)),
    }


def _line_fulfillment_status(line: LineItem) -> str | None:
    if line.fulfilled_quantity == 0:
        return None
    return "fulfilled" if line.fulfilled_quantity >= line.current_quantity else "partial"


def line_item_json(order: Order, line: LineItem) -> dict[str, Any]:
    fulfillable = (
        0 if order.cancelled_at else max(0, line.current_quantity - line.fulfilled_quantity)
    )
    return {
        "id": line.id,
        "admin_graphql_api_id": gid("LineItem", line.id),
        "attributed_staffs": [],
        "current_quantity": line.current_quantity,
        "fulfillable_quantity": fulfillable,
        "fulfillment_service": "manual",
        "fulfillment_status": _line_fulfillment_status(line),
        "gift_card": False,
        "grams": line.grams,
        "name": line.name,
        "price": money(line.price),
        "price_set": money_set(line.price, order.currency),
        "product_exists": line.product_id is not None,
        "product_id": line.product_id,
        "properties": [dict(p) for p in line.properties],
        "quantity": line.quantity,
        "requires_shipping": line.requires_shipping,
        "sku": line.sku,
        "taxable": line.taxable,
        "title": line.title,
        "total_discount": "0.00",
        "total_discount_set": money_set("0", order.currency),
        "variant_id": line.variant_id,
        "variant_inventory_management": "shopify" if line.tracked else None,
        "variant_title": line.variant_title,
        "vendor": line.vendor,
        "tax_lines": [],
        "duties": [],
        "discount_allocations": [],
    }


def shipping_line_json(line: ShippingLine, currency: str) -> dict[str, Any]:
    return {
        "id": line.id,
        "carrier_identifier": None,
        "code": line.code,
        "discounted_price": money(line.price),
        "discounted_price_set": money_set(line.price, currency),
        "is_removed": False,
        "phone": None,
        "price": money(line.price),
        "price_set": money_set(line.price, currency),
        "requested_fulfillment_service_id": None,
        "source": line.source,
        "title": line.title,
        "tax_lines": [],
        "discount_allocations": [],
    }


def customer_json(shop: Shop, customer: Customer, order: Order | None = None) -> dict[str, Any]:
    offset = shop.utc_offset_minutes
    address = order.shipping_address if order is not None else None
    return {
        "id": customer.id,
        "email": customer.email,
        "created_at": rest_time(customer.created_at, offset),
        "updated_at": rest_time(customer.updated_at, offset),
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "state": "disabled",
        "note": None,
        "verified_email": True,
        "multipass_identifier": None,
        "tax_exempt": False,
        "phone": customer.phone,
        "tags": "",
        "currency": shop.currency,
        "tax_exemptions": [],
        "admin_graphql_api_id": gid("Customer", customer.id),
        "default_address": (
            {
                "id": customer.id,
                "customer_id": customer.id,
                **{k: address.get(k) for k in ADDRESS_KEYS if k not in {"latitude", "longitude"}},
                "country_name": address.get("country"),
                "default": True,
            }
            if address
            else None
        ),
    }


def order_json(shop: Shop, order: Order) -> dict[str, Any]:
    """The REST ``order`` object: the body of ``orders/*`` webhooks."""
    offset = shop.utc_offset_minutes
    currency = order.currency
    totals = order_totals(order)
    zero = money_set("0", currency)
    customer = shop.customers.get(order.customer_id) if order.customer_id else None
    fulfillments = [shop.fulfillments[f] for f in order.fulfillment_ids if f in shop.fulfillments]
    paid = order.financial_status in {"paid", "partially_refunded"}
    return {
        "id": order.id,
        "admin_graphql_api_id": gid("Order", order.id),
        "app_id": None,
        "browser_ip": None,
        "buyer_accepts_marketing": False,
        "cancel_reason": order.cancel_reason,
        "cancelled_at": rest_time(order.cancelled_at, offset),
        "cart_token": None,
        "checkout_id": None,
        "checkout_token": None,
        "client_details": None,
        "closed_at": rest_time(order.closed_at, offset),
        "confirmation_number": order.token[:9].upper(),
        "confirmed": True,
        "contact_email": order.email,
        "created_at": rest_time(order.created_at, offset),
        "currency": currency,
        "current_subtotal_price": money(totals["current_subtotal"]),
        "current_subtotal_price_set": money_set(totals["current_subtotal"], currency),
        "current_total_additional_fees_set": None,
        "current_total_discounts": "0.00",
        "current_total_discounts_set": zero,
        "current_total_duties_set": None,
        "current_total_price": money(totals["current_total"]),
        "current_total_price_set": money_set(totals["current_total"], currency),
        "current_total_tax": "0.00",
        "current_total_tax_set": zero,
        "customer_locale": "en",
        "device_id": None,
        "discount_codes": [],
        "duties_included": False,
        "email": order.email,
        "estimated_taxes": False,
        "financial_status": order.financial_status,
        "fulfillment_status": order.fulfillment_status,
        "landing_site": None,
        "landing_site_ref": None,
        "location_id": None,
        "merchant_business_entity_id": f"MTU{shop.id}",
        "merchant_of_record_app_id": None,
        "name": order.name,
        "note": order.note,
        "note_attributes": [dict(a) for a in order.note_attributes],
        "number": order.number - 1000,
        "order_number": order.number,
        "order_status_url": (
            f"https://{shop.domain}/{shop.id}/orders/{order.token}/authenticate?key=sandbox"
        ),
        "original_total_additional_fees_set": None,
        "original_total_duties_set": None,
        "payment_gateway_names": ["bogus"],
        "phone": order.phone,
        "po_number": None,
        "presentment_currency": currency,
        "processed_at": rest_time(order.created_at, offset),
        "reference": None,
        "referring_site": None,
        "source_identifier": None,
        "source_name": order.source_name,
        "source_url": None,
        "subtotal_price": money(totals["subtotal"]),
        "subtotal_price_set": money_set(totals["subtotal"], currency),
        "tags": ", ".join(order.tags),
        "tax_exempt": False,
        "tax_lines": [],
        "taxes_included": False,
        "test": order.test,
        "token": order.token,
        "total_cash_rounding_payment_adjustment_set": zero,
        "total_cash_rounding_refund_adjustment_set": zero,
        "total_discounts": "0.00",
        "total_discounts_set": zero,
        "total_line_items_price": money(totals["line_items"]),
        "total_line_items_price_set": money_set(totals["line_items"], currency),
        "total_outstanding": "0.00" if paid else money(totals["total"]),
        "total_price": money(totals["total"]),
        "total_price_set": money_set(totals["total"], currency),
        "total_shipping_price_set": money_set(totals["shipping"], currency),
        "total_tax": "0.00",
        "total_tax_set": zero,
        "total_tip_received": "0.00",
        "total_weight": int(totals["weight"]),
        "updated_at": rest_time(order.updated_at, offset),
        "user_id": None,
        "billing_address": normalize_address(order.billing_address),
        "customer": customer_json(shop, customer, order) if customer else None,
        "discount_applications": [],
        "fulfillments": [fulfillment_json(shop, order, f) for f in fulfillments],
        "line_items": [line_item_json(order, line) for line in order.line_items],
        "payment_terms": None,
        "refunds": [],
        "shipping_address": normalize_address(order.shipping_address),
        "shipping_lines": [shipping_line_json(sl, currency) for sl in order.shipping_lines],
    }


def fulfillment_json(shop: Shop, order: Order, fulfillment: Fulfillment) -> dict[str, Any]:
    offset = shop.utc_offset_minutes
    lines = []
    for line_item_id, quantity in fulfillment.lines:
        line = order.line(line_item_id)
        if line is None:
            continue
        item = line_item_json(order, line)
        item["quantity"] = quantity
        lines.append(item)
    return {
        "id": fulfillment.id,
        "admin_graphql_api_id": gid("Fulfillment", fulfillment.id),
        "created_at": rest_time(fulfillment.created_at, offset),
        "location_id": fulfillment.location_id,
        "name": fulfillment.name,
        "order_id": order.id,
        "origin_address": {},
        "receipt": {},
        "service": "manual",
        "shipment_status": None,
        "status": fulfillment.status.lower(),
        "tracking_company": fulfillment.tracking_company,
        "tracking_number": fulfillment.tracking_numbers[0]
        if fulfillment.tracking_numbers
        else None,
        "tracking_numbers": list(fulfillment.tracking_numbers),
        "tracking_url": fulfillment.tracking_urls[0] if fulfillment.tracking_urls else None,
        "tracking_urls": list(fulfillment.tracking_urls),
        "updated_at": rest_time(fulfillment.updated_at, offset),
        "line_items": lines,
        "notify_customer": fulfillment.notify_customer,
        "fulfillment_order_ids": list(fulfillment.fulfillment_order_ids),
        "origin": fulfillment.origin,
    }


def fulfillment_order_json(shop: Shop, fo: FulfillmentOrder) -> dict[str, Any]:
    offset = shop.utc_offset_minutes
    order = shop.orders[fo.order_id]
    location = shop.locations[fo.location_id]
    address = normalize_address(order.shipping_address) or {}
    line_items = []
    for fo_line in fo.lines:
        line = order.line(fo_line.line_item_id)
        line_items.append(
            {
                "id": fo_line.id,
                "shop_id": shop.id,
                "fulfillment_order_id": fo.id,
                "quantity": fo_line.total_quantity,
                "line_item_id": fo_line.line_item_id,
                "inventory_item_id": line.inventory_item_id if line else None,
                "fulfillable_quantity": fo_line.remaining_quantity,
                "variant_id": line.variant_id if line else None,
            }
        )
    return {
        "id": fo.id,
        "admin_graphql_api_id": gid("FulfillmentOrder", fo.id),
        "created_at": rest_time(fo.created_at, offset),
        "updated_at": rest_time(fo.updated_at, offset),
        "shop_id": shop.id,
        "order_id": order.id,
        "assigned_location_id": location.id,
        "request_status": "unsubmitted",
        "status": fo.status.lower(),
        "fulfill_at": None,
        "fulfill_by": None,
        "supported_actions": (
            ["create_fulfillment", "cancel_fulfillment_order"]
            if fo.status in {"OPEN", "IN_PROGRESS"}
            else []
        ),
        "destination": {
            key: address.get(key)
            for key in ("address1", "address2", "city", "company", "country", "first_name")
        }
        | {
            "email": order.email,
            "last_name": address.get("last_name"),
            "phone": address.get("phone"),
            "province": address.get("province"),
            "zip": address.get("zip"),
        },
        "line_items": line_items,
        "international_duties": None,
        "fulfillment_holds": [],
        "delivery_method": {"id": fo.id, "method_type": "shipping"},
        "assigned_location": {
            "address1": location.address1,
            "address2": location.address2,
            "city": location.city,
            "country_code": location.country_code,
            "location_id": location.id,
            "name": location.name,
            "phone": location.phone,
            "province": location.province,
            "zip": location.zip,
        },
        "merchant_requests": [],
        "fulfillment_ids": list(fo.fulfillment_ids),
    }


# --- shop, catalog, stock ----------------------------------------------------------------------


def shop_json(shop: Shop) -> dict[str, Any]:
    """The REST ``shop`` object (also the body of ``app/uninstalled``)."""
    offset = shop.utc_offset_minutes
    primary = shop.locations.get(shop.primary_location_id)
    hours, minutes = divmod(abs(offset), 60)
    sign = "-" if offset < 0 else "+"
    return {
        "id": shop.id,
        "name": shop.name,
        "email": shop.email,
        "domain": shop.domain,
        "province": primary.province if primary else None,
        "country": shop.country_code,
        "address1": primary.address1 if primary else None,
        "zip": primary.zip if primary else None,
        "city": primary.city if primary else None,
        "source": None,
        "phone": None,
        "latitude": None,
        "longitude": None,
        "primary_locale": "en",
        "address2": primary.address2 if primary else None,
        "created_at": rest_time(shop.created_at, offset),
        "updated_at": rest_time(shop.updated_at, offset),
        "country_code": shop.country_code,
        "country_name": country_name(shop.country_code),
        "currency": shop.currency,
        "customer_email": shop.email,
        "timezone": f"(GMT{sign}{hours:02d}:{minutes:02d}) {shop.iana_timezone}",
        "iana_timezone": shop.iana_timezone,
        "shop_owner": shop.shop_owner,
        "money_format": "${{amount}}",
        "money_with_currency_format": "${{amount}} " + shop.currency,
        "weight_unit": "kg",
        "province_code": primary.province_code if primary else None,
        "taxes_included": False,
        "auto_configure_tax_inclusivity": None,
        "tax_shipping": None,
        "county_taxes": True,
        "plan_display_name": shop.plan_display_name,
        "plan_name": shop.plan_name,
        "has_discounts": False,
        "has_gift_cards": False,
        "myshopify_domain": shop.domain,
        "google_apps_domain": None,
        "google_apps_login_enabled": None,
        "money_in_emails_format": "${{amount}}",
        "money_with_currency_in_emails_format": "${{amount}} " + shop.currency,
        "eligible_for_payments": True,
        "requires_extra_payments_agreement": False,
        "password_enabled": False,
        "has_storefront": True,
        "finances": True,
        "primary_location_id": shop.primary_location_id,
        "checkout_api_supported": True,
        "multi_location_enabled": True,
        "setup_required": False,
        "pre_launch_enabled": False,
        "enabled_presentment_currencies": [shop.currency],
        "marketing_sms_consent_enabled_at_checkout": False,
        "transactional_sms_disabled": False,
    }


def location_json(shop: Shop, location: Location) -> dict[str, Any]:
    offset = shop.utc_offset_minutes
    return {
        "id": location.id,
        "name": location.name,
        "address1": location.address1,
        "address2": location.address2,
        "city": location.city,
        "zip": location.zip,
        "province": location.province,
        "country": location.country_code,
        "phone": location.phone,
        "created_at": rest_time(location.created_at, offset),
        "updated_at": rest_time(location.updated_at, offset),
        "country_code": location.country_code,
        "country_name": country_name(location.country_code),
        "province_code": location.province_code,
        "legacy": False,
        "active": location.active,
        "admin_graphql_api_id": gid("Location", location.id),
        "fulfills_online_orders": location.fulfills_online_orders,
        "is_primary": location.id == shop.primary_location_id,
    }


def variant_json(shop: Shop, variant: Variant) -> dict[str, Any]:
    offset = shop.utc_offset_minutes
    item = shop.inventory_items[variant.inventory_item_id]
    return {
        "id": variant.id,
        "product_id": variant.product_id,
        "title": variant.title,
        "price": money(variant.price),
        "sku": variant.sku,
        "barcode": variant.barcode,
        "position": variant.position,
        "inventory_policy": variant.inventory_policy.lower(),
        "compare_at_price": variant.compare_at_price,
        "taxable": variant.taxable,
        "grams": variant.grams,
        "inventory_item_id": variant.inventory_item_id,
        "inventory_management": "shopify" if item.tracked else None,
        "requires_shipping": item.requires_shipping,
        "inventory_quantity": shop.available(item.id),
        "created_at": rest_time(variant.created_at, offset),
        "updated_at": rest_time(variant.updated_at, offset),
        "admin_graphql_api_id": gid("ProductVariant", variant.id),
    }


def product_json(shop: Shop, product: Product) -> dict[str, Any]:
    offset = shop.utc_offset_minutes
    return {
        "id": product.id,
        "title": product.title,
        "handle": product.handle,
        "vendor": product.vendor,
        "product_type": product.product_type,
        "status": product.status.lower(),
        "tags": ", ".join(product.tags),
        "created_at": rest_time(product.created_at, offset),
        "updated_at": rest_time(product.updated_at, offset),
        "admin_graphql_api_id": gid("Product", product.id),
        "variants": [variant_json(shop, shop.variants[v]) for v in product.variant_ids],
    }


def inventory_level_json(shop: Shop, level: InventoryLevel) -> dict[str, Any]:
    """The REST ``inventory_level``, as the ``inventory_levels/update`` webhook sends it.

    Only Shopify's documented fields: the quantities other than ``available`` (on hand,
    committed, ...) are not in it; an app reads them over GraphQL.
    """
    return {
        "inventory_item_id": level.inventory_item_id,
        "location_id": level.location_id,
        "available": level.available,
        "updated_at": rest_time(level.updated_at, shop.utc_offset_minutes),
        "admin_graphql_api_id": inventory_level_gid(level.location_id, level.inventory_item_id),
    }


def inventory_level_detail_json(shop: Shop, level: InventoryLevel) -> dict[str, Any]:
    """The control API's view of a level: the REST fields, the variant and every quantity."""
    item = shop.inventory_items.get(level.inventory_item_id)
    variant = shop.variants.get(item.variant_id) if item else None
    return {
        **inventory_level_json(shop, level),
        "variant_id": variant.id if variant else None,
        "sku": variant.sku if variant else None,
        "active": level.active,
        **{name: level.quantity(name) for name in STORED_QUANTITIES},
    }


def subscription_json(shop: Shop, subscription: Subscription) -> dict[str, Any]:
    """The REST ``webhook`` object for a subscription."""
    offset = shop.utc_offset_minutes
    return {
        "id": subscription.id,
        "address": subscription.uri,
        "topic": topic_name(subscription.topic),
        "created_at": rest_time(subscription.created_at, offset),
        "updated_at": rest_time(subscription.updated_at, offset),
        "format": subscription.format.lower(),
        "fields": list(subscription.include_fields),
        "metafield_namespaces": [],
        "api_version": subscription.api_version,
        "private_metafield_namespaces": [],
        "admin_graphql_api_id": gid("WebhookSubscription", subscription.id),
    }
