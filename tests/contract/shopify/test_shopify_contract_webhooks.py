"""Webhooks the sandbox sends: signed with the app secret, parsed by the same parser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.shopify import ShopifyPlatform
from core.store import (
    AppUninstalled,
    CustomersDataRequest,
    CustomersRedact,
    OrderCancelled,
    OrderEdited,
    OrderFulfilled,
    OrderPlaced,
    OrderUpdated,
    ShopRedact,
    StoreEvent,
    StoreOrder,
    StoreSession,
)

from .conftest import SHOP, Delivery, Receiver, stock

ADDRESS = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "address1": "12 St James's Square",
    "city": "London",
    "zip": "SW1Y 4JH",
    "country_code": "GB",
}


@pytest.fixture
def subscribed(platform: ShopifyPlatform, session: StoreSession, receiver: Receiver) -> Receiver:
    for topic in platform.webhook_topics():
        platform.create_webhook_subscription(session, topic, receiver.url)
    return receiver


def _event(platform: ShopifyPlatform, control: Any, receiver: Receiver, topic: str) -> StoreEvent:
    control.flush_webhooks()
    deliveries = receiver.of_topic(topic)
    assert deliveries, f"no {topic} delivery"
    delivery = deliveries[-1]
    assert platform.verify_webhook(delivery.body, delivery.signature)
    assert delivery.shop == SHOP
    return platform.parse_webhook(topic, delivery.json(), delivery.shop)


def _placed(control: Any, location: int, **options: Any) -> dict[str, Any]:
    stock(control, location, "TEE-1", "TEE-2", barcode="4006381333931")
    order: dict[str, Any] = control.place_order(
        SHOP,
        [{"sku": "TEE-1", "quantity": 2}, {"sku": "TEE-2", "quantity": 1}],
        email="ada@example.com",
        shipping_address=ADDRESS,
        shipping_method="Express",
        tags=["rush"],
        **options,
    )
    return order


def _comparable(order: StoreOrder) -> tuple[Any, ...]:
    """What both sources carry (REST lines have no barcode; GraphQL no fulfillment service)."""
    lines = tuple(
        (
            line.id,
            line.variant_id,
            line.product_id,
            line.sku,
            line.quantity,
            line.current_quantity,
            line.fulfillable_quantity,
            line.requires_shipping,
        )
        for line in order.lines
    )
    return (
        order.id,
        order.number,
        order.name,
        order.email,
        order.test,
        order.tags,
        order.note,
        order.shipping_address,
        order.shipping_methods,
        order.currency,
        order.customer_id,
        order.financial_status,
        order.fulfillment_status,
        order.cancelled_at,
        lines,
    )


def test_a_new_order_webhook_verifies_and_parses_like_the_order_read_over_graphql(
    platform: ShopifyPlatform,
    control: Any,
    session: StoreSession,
    subscribed: Receiver,
    primary_location: int,
) -> None:
    placed = _placed(control, primary_location)
    event = _event(platform, control, subscribed, "orders/create")
    assert isinstance(event, OrderPlaced)
    assert event.order.id == str(placed["id"])
    read = platform.order(session, str(placed["id"]))
    assert read is not None
    assert _comparable(event.order) == _comparable(read)
    assert abs(event.order.updated_at - read.updated_at) < timedelta(seconds=1)
    since = datetime.now(UTC) - timedelta(hours=1)
    (reconciled,) = platform.orders_updated_since(session, since).orders
    assert _comparable(reconciled) == _comparable(event.order)


def test_an_address_change_arrives_as_an_order_update(
    platform: ShopifyPlatform, control: Any, subscribed: Receiver, primary_location: int
) -> None:
    placed = _placed(control, primary_location)
    control.update_shipping_address(SHOP, placed["id"], address1="1 New Street")
    event = _event(platform, control, subscribed, "orders/updated")
    assert isinstance(event, OrderUpdated)
    assert event.order.shipping_address is not None
    assert event.order.shipping_address.address1 == "1 New Street"


def test_a_cancellation_arrives_with_its_time(
    platform: ShopifyPlatform, control: Any, subscribed: Receiver, primary_location: int
) -> None:
    placed = _placed(control, primary_location)
    control.cancel_order(SHOP, placed["id"])
    event = _event(platform, control, subscribed, "orders/cancelled")
    assert isinstance(event, OrderCancelled)
    assert event.order.id == str(placed["id"])
    assert event.order.cancelled_at is not None


def test_a_fulfilment_elsewhere_arrives_as_order_fulfilled(
    platform: ShopifyPlatform, control: Any, subscribed: Receiver, primary_location: int
) -> None:
    placed = _placed(control, primary_location)
    control.fulfill_order(SHOP, placed["id"], tracking_company="UPS", tracking_number="1Z1")
    event = _event(platform, control, subscribed, "orders/fulfilled")
    assert isinstance(event, OrderFulfilled)
    assert event.order.fulfillment_status == "fulfilled"
    assert all(line.fulfillable_quantity == 0 for line in event.order.lines)


def test_an_edit_names_the_order_to_re_read(
    platform: ShopifyPlatform,
    control: Any,
    session: StoreSession,
    subscribed: Receiver,
    primary_location: int,
) -> None:
    placed = _placed(control, primary_location)
    first_line = placed["line_items"][0]["id"]
    control.edit_order(SHOP, placed["id"], quantities={first_line: 1})
    event = _event(platform, control, subscribed, "orders/edited")
    assert isinstance(event, OrderEdited)
    assert event.order_id == str(placed["id"])
    reread = platform.order(session, event.order_id)
    assert reread is not None
    assert reread.lines[0].current_quantity == 1


def test_an_uninstall_arrives_as_app_uninstalled(
    platform: ShopifyPlatform, control: Any, subscribed: Receiver
) -> None:
    control.uninstall(SHOP)
    event = _event(platform, control, subscribed, "app/uninstalled")
    assert event == AppUninstalled(shop=SHOP)


def test_compliance_requests_parse_into_their_events(
    platform: ShopifyPlatform, control: Any, receiver: Receiver, primary_location: int
) -> None:
    control.update_app(compliance_webhook_url=receiver.url)
    placed = _placed(control, primary_location)
    customer_id = placed["customer"]["id"]
    control.compliance(SHOP, "customers/data_request", customer_id=customer_id)
    control.compliance(SHOP, "customers/redact", customer_id=customer_id)
    control.compliance(SHOP, "shop/redact")
    request = _event(platform, control, receiver, "customers/data_request")
    assert isinstance(request, CustomersDataRequest)
    assert (request.customer_id, request.email) == (str(customer_id), "ada@example.com")
    assert request.order_ids == (str(placed["id"]),)
    redact = _event(platform, control, receiver, "customers/redact")
    assert isinstance(redact, CustomersRedact)
    assert redact.order_ids == (str(placed["id"]),)
    assert _event(platform, control, receiver, "shop/redact") == ShopRedact(shop=SHOP)


def test_a_delivery_whose_body_was_changed_does_not_verify(
    platform: ShopifyPlatform, control: Any, subscribed: Receiver, primary_location: int
) -> None:
    _placed(control, primary_location)
    control.flush_webhooks()
    delivery: Delivery = subscribed.of_topic("orders/create")[0]
    assert platform.verify_webhook(delivery.body, delivery.signature)
    assert not platform.verify_webhook(delivery.body.replace(b"Ada", b"Eve"), delivery.signature)
