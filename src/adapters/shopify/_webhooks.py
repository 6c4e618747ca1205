"""Webhook payloads (REST-shaped JSON) into the core's events.

Each topic maps to one payload shape; ``parse_webhook`` structures the payload with the
Shopify converter and maps it to a ``StoreEvent``. A whole order payload has an ``id``, line
items and ``updated_at``; every other field may be missing (old payloads lack
``current_quantity``, ``fulfillable_quantity``, ``admin_graphql_api_id``). An order webhook
that is not a whole order (a subscription filtered with ``fields=``, say ``id,updated_at``)
still names its order (``id`` or ``admin_graphql_api_id``): it becomes ``OrderChanged``, and
the handler reads the order from the store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Final

from attrs import frozen

from adapters.shopify._converter import Id, Tags, structure
from adapters.shopify._oauth import normalize_shop
from core.errors import InvalidShop, PayloadError
from core.model.orders import Address
from core.store import (
    AppUninstalled,
    CustomersDataRequest,
    CustomersRedact,
    OrderCancelled,
    OrderChanged,
    OrderEdited,
    OrderFulfilled,
    OrderPlaced,
    OrderUpdated,
    ShopRedact,
    StoreEvent,
    StoreOrder,
    StoreOrderLine,
)

__all__ = ["REQUIRED_TOPICS", "TOPICS", "parse_order", "parse_webhook", "shipping_methods"]

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
"""``updated_at`` of a payload that carries neither ``updated_at`` nor ``created_at``: older
than anything applied, so such a payload never overwrites newer state."""


# --- REST shapes (only the fields read) --------------------------------------------------------


@frozen
class RestAddress:
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
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
class RestShippingLine:
    title: str | None = None
    code: str | None = None


@frozen
class RestLineItem:
    id: Id
    quantity: int
    variant_id: Id | None = None
    product_id: Id | None = None
    sku: str | None = None
    title: str | None = None
    name: str | None = None
    current_quantity: int | None = None
    fulfillable_quantity: int | None = None
    requires_shipping: bool | None = None
    fulfillment_service: str | None = None
    price: str | None = None


@frozen
class RestCustomer:
    id: Id | None = None
    email: str | None = None


@frozen
class RestOrder:
    id: Id
    line_items: tuple[RestLineItem, ...]
    updated_at: datetime | None = None
    created_at: datetime | None = None
    cancelled_at: datetime | None = None
    closed_at: datetime | None = None
    order_number: Id | None = None
    name: str | None = None
    email: str | None = None
    contact_email: str | None = None
    phone: str | None = None
    test: bool | None = None
    financial_status: str | None = None
    fulfillment_status: str | None = None
    source_name: str | None = None
    tags: Tags | None = None
    note: str | None = None
    shipping_address: RestAddress | None = None
    shipping_lines: tuple[RestShippingLine, ...] | None = None
    currency: str | None = None
    customer: RestCustomer | None = None


@frozen
class RestOrderRef:
    """What any order webhook names, however its fields were filtered."""

    id: Id | None = None
    admin_graphql_api_id: Id | None = None
    updated_at: datetime | None = None


@frozen
class RestOrderEdit:
    order_id: Id
    id: Id | None = None
    created_at: datetime | None = None


@frozen
class RestOrderEditPayload:
    order_edit: RestOrderEdit


@frozen
class RestComplianceCustomer:
    id: Id | None = None
    email: str | None = None


@frozen
class RestDataRequestRef:
    id: Id | None = None


@frozen
class RestCustomersDataRequest:
    customer: RestComplianceCustomer | None = None
    orders_requested: tuple[Id, ...] | None = None
    data_request: RestDataRequestRef | None = None


@frozen
class RestCustomersRedact:
    customer: RestComplianceCustomer | None = None
    orders_to_redact: tuple[Id, ...] | None = None


@frozen
class RestShopRedact:
    shop_domain: str | None = None


# --- mapping -----------------------------------------------------------------------------------


def _blank_to_none(value: str | None) -> str | None:
    return value if value and value.strip() else None


def _address(a: RestAddress | None) -> Address | None:
    if a is None:
        return None
    full_name = " ".join(p for p in (a.first_name, a.last_name) if p and p.strip())
    return Address(
        name=_blank_to_none(a.name) or full_name or None,
        company=_blank_to_none(a.company),
        address1=_blank_to_none(a.address1),
        address2=_blank_to_none(a.address2),
        city=_blank_to_none(a.city),
        province=_blank_to_none(a.province),
        province_code=_blank_to_none(a.province_code),
        zip=_blank_to_none(a.zip),
        country=_blank_to_none(a.country),
        country_code=_blank_to_none(a.country_code),
        phone=_blank_to_none(a.phone),
    )


def shipping_methods(pairs: list[tuple[str | None, str | None]]) -> tuple[str, ...]:
    """Titles and codes of shipping lines, each once, in order."""
    seen: dict[str, None] = {}
    for title, code in pairs:
        for value in (title, code):
            if value and value.strip():
                seen.setdefault(value.strip(), None)
    return tuple(seen)


def _line(li: RestLineItem) -> StoreOrderLine:
    return StoreOrderLine(
        id=li.id,
        quantity=li.quantity,
        variant_id=li.variant_id,
        product_id=li.product_id,
        sku=_blank_to_none(li.sku),
        title=li.title or li.name or "",
        current_quantity=li.current_quantity,
        fulfillable_quantity=li.fulfillable_quantity,
        requires_shipping=True if li.requires_shipping is None else li.requires_shipping,
        fulfillment_service=li.fulfillment_service,
        unit_price=li.price,
    )


def _order(o: RestOrder) -> StoreOrder:
    if not o.line_items:
        raise PayloadError(f"order {o.id} payload has no line items")
    return StoreOrder(
        id=o.id,
        updated_at=o.updated_at or o.created_at or EPOCH,
        lines=tuple(_line(li) for li in o.line_items),
        number=o.order_number or "",
        name=o.name or "",
        created_at=o.created_at,
        cancelled_at=o.cancelled_at,
        closed_at=o.closed_at,
        email=_blank_to_none(o.email) or _blank_to_none(o.contact_email),
        phone=_blank_to_none(o.phone),
        test=bool(o.test),
        financial_status=o.financial_status,
        fulfillment_status=o.fulfillment_status,
        source_name=o.source_name,
        tags=o.tags or (),
        note=o.note,
        shipping_address=_address(o.shipping_address),
        shipping_methods=shipping_methods([(s.title, s.code) for s in o.shipping_lines or ()]),
        currency=o.currency,
        customer_id=o.customer.id if o.customer else None,
    )


def parse_order(payload: Mapping[str, object]) -> StoreOrder:
    """A REST order (a webhook's body, or a stored one) as a ``StoreOrder``.

    Raises ``PayloadError`` naming what is wrong (no id, no line items, a wrong type).
    """
    return _order(structure(payload, RestOrder, "order payload"))


# --- topics ------------------------------------------------------------------------------------


def _edited(payload: Mapping[str, object], _: str) -> StoreEvent:
    edit = structure(payload, RestOrderEditPayload, "orders/edited payload").order_edit
    return OrderEdited(order_id=edit.order_id, edited_at=edit.created_at)


def _data_request(payload: Mapping[str, object], shop: str) -> StoreEvent:
    body = structure(payload, RestCustomersDataRequest, "customers/data_request payload")
    return CustomersDataRequest(
        shop=shop,
        customer_id=body.customer.id if body.customer else None,
        email=body.customer.email if body.customer else None,
        order_ids=body.orders_requested or (),
        request_id=body.data_request.id if body.data_request else None,
    )


def _redact(payload: Mapping[str, object], shop: str) -> StoreEvent:
    body = structure(payload, RestCustomersRedact, "customers/redact payload")
    return CustomersRedact(
        shop=shop,
        customer_id=body.customer.id if body.customer else None,
        email=body.customer.email if body.customer else None,
        order_ids=body.orders_to_redact or (),
    )


def _shop_redact(payload: Mapping[str, object], shop: str) -> StoreEvent:
    structure(payload, RestShopRedact, "shop/redact payload")
    return ShopRedact(shop=shop)


def _uninstalled(payload: Mapping[str, object], shop: str) -> StoreEvent:
    if not isinstance(payload, Mapping):
        raise PayloadError("app/uninstalled payload is not a JSON object")
    return AppUninstalled(shop=shop)


def _is_whole_order(payload: Mapping[str, object]) -> bool:
    """Does the payload carry the order itself (not only which order changed)?"""
    lines = payload.get("line_items")
    if isinstance(lines, list) and not lines:  # an order has lines: these are not its own
        return False
    return "line_items" in payload and payload.get("updated_at") is not None


def _order_event(
    kind: Callable[[StoreOrder], StoreEvent],
) -> Callable[[Mapping[str, object], str], StoreEvent]:
    def parse(payload: Mapping[str, object], _: str) -> StoreEvent:
        if _is_whole_order(payload):
            return kind(parse_order(payload))
        ref = structure(payload, RestOrderRef, "order payload")
        order_id = ref.id or ref.admin_graphql_api_id
        if order_id is None:
            raise PayloadError("order payload names no order (no id, no admin_graphql_api_id)")
        return OrderChanged(order_id=order_id, updated_at=ref.updated_at)

    return parse


TOPICS: Final[Mapping[str, Callable[[Mapping[str, object], str], StoreEvent]]] = {
    "orders/create": _order_event(OrderPlaced),
    "orders/updated": _order_event(OrderUpdated),
    "orders/cancelled": _order_event(OrderCancelled),
    "orders/fulfilled": _order_event(OrderFulfilled),
    "orders/edited": _edited,
    "app/uninstalled": _uninstalled,
    "customers/data_request": _data_request,
    "customers/redact": _redact,
    "shop/redact": _shop_redact,
}
"""Every topic the adapter understands, and how its payload becomes a core event."""

REQUIRED_TOPICS: Final = (
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "orders/fulfilled",
    "orders/edited",
    "app/uninstalled",
)
"""Topics a connected store must be subscribed to (compliance topics are app-level)."""


def parse_webhook(topic: str, payload: Mapping[str, object], shop: str) -> StoreEvent:
    """A webhook's core event. Raises ``PayloadError`` (unknown topic, bad shop, bad payload)."""
    handler = TOPICS.get(topic.strip().lower() if isinstance(topic, str) else "")
    if handler is None:
        raise PayloadError(f"unknown webhook topic {topic!r}")
    try:
        domain = normalize_shop(shop)
    except InvalidShop:
        raise PayloadError(f"webhook shop {shop!r} is not a valid shop domain") from None
    return handler(payload, domain)
