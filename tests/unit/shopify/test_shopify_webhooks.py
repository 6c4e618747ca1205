"""Webhooks: body signatures, and Shopify's REST payloads parsed into core events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.shopify import REQUIRED_TOPICS, ShopifyPlatform, parse_order, webhook_signature
from core.errors import PayloadError
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
    StoreOrder,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "shopify"


def _json(relative: str) -> Any:
    return json.loads((FIXTURES / relative).read_text())


# --- signatures --------------------------------------------------------------------------------


def _webhook_vectors() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = _json("hmac-vectors.json")["webhook_body"]
    return vectors


@pytest.mark.parametrize("vector", _webhook_vectors(), ids=lambda v: v["hmac_base64"][:12])
def test_the_webhook_signature_matches_shopifys_vector(vector: dict[str, Any]) -> None:
    assert webhook_signature(vector["body"].encode(), vector["secret"]) == vector["hmac_base64"]


def test_a_body_signed_with_the_client_secret_verifies(platform: ShopifyPlatform) -> None:
    body = b'{"id":1}'
    assert platform.verify_webhook(body, webhook_signature(body, "the-client-secret"))


def test_a_body_signed_with_the_previous_secret_verifies_during_rotation(
    platform: ShopifyPlatform,
) -> None:
    body = b'{"id":1}'
    assert platform.verify_webhook(body, webhook_signature(body, "the-previous-secret"))


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "not base64",
        webhook_signature(b'{"id":1}', "another-secret"),
        webhook_signature(b'{"id":2}', "the-client-secret"),
        "é" * 44,
    ],
)
def test_a_missing_or_wrong_signature_does_not_verify(
    platform: ShopifyPlatform, signature: str | None
) -> None:
    assert not platform.verify_webhook(b'{"id":1}', signature)


def test_a_changed_body_does_not_verify(platform: ShopifyPlatform) -> None:
    signature = webhook_signature(b'{"id":1}', "the-client-secret")
    assert not platform.verify_webhook(b'{"id":1} ', signature)


# --- every order example of Shopify's reference ------------------------------------------------


def _order_examples() -> Iterator[tuple[str, dict[str, Any]]]:
    for index, example in enumerate(_json("rest-2026-07/order.json")):
        for part in ("request_body", "response_body"):
            body = example.get(part)
            if not isinstance(body, dict):
                continue
            orders = ([body["order"]] if isinstance(body.get("order"), dict) else []) + list(
                body.get("orders") or []
            )
            for n, order in enumerate(orders):
                yield f"{index}-{example['method']}-{part}-{n}", order
    for name in ("legacy/order.json", "legacy/orders.json"):
        body = _json(name)
        orders = ([body["order"]] if "order" in body else []) + list(body.get("orders") or [])
        for n, order in enumerate(orders):
            yield f"{name}-{n}", order


EXAMPLES = list(_order_examples())


def test_the_reference_holds_order_examples_to_check() -> None:
    assert len(EXAMPLES) >= 30


@pytest.mark.parametrize(("name", "payload"), EXAMPLES, ids=[n for n, _ in EXAMPLES])
def test_every_reference_order_parses_or_is_a_clear_payload_error(
    name: str, payload: dict[str, Any]
) -> None:
    if "id" in payload and payload.get("line_items"):
        order = parse_order(payload)
        assert order.id == str(payload["id"])
        assert [line.id for line in order.lines] == [str(li["id"]) for li in payload["line_items"]]
        assert [line.quantity for line in order.lines] == [
            li["quantity"] for li in payload["line_items"]
        ]
        assert order.updated_at.tzinfo is not None
        if "order_number" in payload:
            assert order.number == str(payload["order_number"])
    else:
        with pytest.raises(PayloadError, match=r"line_items|no line items|\.id"):
            parse_order(payload)


def test_a_full_order_maps_every_field_the_core_reads() -> None:
    payload = _json("rest-2026-07/order.json")[7]["response_body"]["order"]
    order = parse_order(payload)
    assert order.id == "450789469"
    assert (order.number, order.name) == ("1001", "#1001")
    assert order.updated_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert order.created_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert order.email == "bob.norman@mail.example.com"
    assert order.phone == "+557734881234"
    assert order.financial_status == "partially_refunded"
    assert order.fulfillment_status is None
    assert order.source_name == "web"
    assert order.currency == "USD"
    assert order.customer_id == "207119551"
    assert order.test is False
    assert order.shipping_methods == ("Free Shipping",)
    assert order.shipping_address == Address(
        name="Bob Norman",
        address1="Chestnut Street 92",
        city="Louisville",
        province="Kentucky",
        province_code="KY",
        zip="40202",
        country="United States",
        country_code="US",
        phone="+1(502)-459-2181",
    )
    first = order.lines[0]
    assert (first.id, first.variant_id, first.product_id, first.sku) == (
        "466157049",
        "39072856",
        "632910392",
        "IPOD2008GREEN",
    )
    assert (first.quantity, first.current_quantity, first.fulfillable_quantity) == (1, 0, 0)
    assert (first.requires_shipping, first.fulfillment_service, first.unit_price) == (
        True,
        "manual",
        "199.00",
    )


def test_a_legacy_order_without_current_or_fulfillable_quantities_parses() -> None:
    order = parse_order(_json("legacy/order.json")["order"])
    assert order.number == "1001"
    assert all(line.current_quantity is None for line in order.lines)
    assert all(line.fulfillable_quantity is None for line in order.lines)
    assert order.shipping_methods == ("Free Shipping",)


def test_tags_split_on_commas() -> None:
    order = parse_order(_minimal(tags="rush, wholesale ,,vip"))
    assert order.tags == ("rush", "wholesale", "vip")


def test_a_shipping_method_keeps_its_title_and_code_once_each() -> None:
    order = parse_order(
        _minimal(
            shipping_lines=[
                {"title": "Express", "code": "EXPRESS-24"},
                {"title": "Express", "code": None},
            ]
        )
    )
    assert order.shipping_methods == ("Express", "EXPRESS-24")


def test_an_order_without_any_time_is_older_than_everything() -> None:
    order = parse_order({"id": 1, "line_items": [{"id": 2, "quantity": 1}]})
    assert order.updated_at == datetime(1970, 1, 1, tzinfo=UTC)


def test_an_order_without_updated_at_uses_created_at() -> None:
    order = parse_order(_minimal(updated_at=None, created_at="2026-02-01T10:00:00Z"))
    assert order.updated_at == datetime(2026, 2, 1, 10, 0, tzinfo=UTC)


def test_ids_given_as_text_or_gids_become_numeric_text() -> None:
    order = parse_order(
        {
            "id": "gid://shopify/Order/42",
            "line_items": [
                {"id": "7", "quantity": 1, "variant_id": "gid://shopify/ProductVariant/9"}
            ],
        }
    )
    assert (order.id, order.lines[0].id, order.lines[0].variant_id) == ("42", "7", "9")


def _minimal(**fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": 1001,
        "updated_at": "2026-02-01T10:00:00-05:00",
        "line_items": [{"id": 1, "quantity": 2, "sku": "SKU-1"}],
    }
    payload.update(fields)
    return payload


@pytest.mark.parametrize(
    ("payload", "complaint"),
    [
        ({"line_items": [{"id": 1, "quantity": 1}]}, r"required field missing @ \$\.id"),
        ({"id": 1}, r"required field missing @ \$\.line_items"),
        ({"id": 1, "line_items": []}, "no line items"),
        ({"id": 1, "line_items": None}, r"\$\.line_items"),
        ({"id": None, "line_items": [{"id": 1, "quantity": 1}]}, r"\$\.id"),
        ({"id": {"x": 1}, "line_items": [{"id": 1, "quantity": 1}]}, r"\$\.id"),
        ({"id": 1, "line_items": [{"id": 1}]}, r"\$\.line_items\[0\]\.quantity"),
        ({"id": 1, "line_items": [{"id": 1, "quantity": "two"}]}, r"\$\.line_items\[0\]"),
        (_minimal(updated_at="yesterday"), r"\$\.updated_at"),
        (_minimal(test="yes"), r"\$\.test"),
        (_minimal(shipping_address="nowhere"), r"\$\.shipping_address"),
        (_minimal(tags=5), r"\$\.tags"),
    ],
)
def test_a_broken_order_is_a_payload_error_naming_the_field(
    payload: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(PayloadError, match=complaint):
        parse_order(payload)


@pytest.mark.parametrize("payload", [None, [], "order", 42])
def test_an_order_that_is_not_an_object_is_a_payload_error(payload: Any) -> None:
    with pytest.raises(PayloadError, match="not a JSON object"):
        parse_order(payload)


# --- topics ------------------------------------------------------------------------------------

ORDER_TOPICS = [
    ("orders/create", OrderPlaced),
    ("orders/updated", OrderUpdated),
    ("orders/cancelled", OrderCancelled),
    ("orders/fulfilled", OrderFulfilled),
]


@pytest.mark.parametrize(("topic", "event_type"), ORDER_TOPICS)
def test_order_topics_become_order_events(
    platform: ShopifyPlatform, topic: str, event_type: type[Any]
) -> None:
    event = platform.parse_webhook(topic, _minimal(), "acme.myshopify.com")
    assert isinstance(event, event_type)
    assert isinstance(event.order, StoreOrder)
    assert event.order.id == "1001"


def test_an_order_edit_names_the_order_to_re_read(platform: ShopifyPlatform) -> None:
    payload = {
        "order_edit": {
            "id": 78912328,
            "app_id": None,
            "created_at": "2026-02-02T12:00:00-05:00",
            "notify_customer": False,
            "order_id": 1234,
            "staff_note": "",
            "user_id": None,
            "line_items": {"additions": [], "removals": [{"id": 66, "delta": 1}]},
        }
    }
    event = platform.parse_webhook("orders/edited", payload, "acme.myshopify.com")
    assert event == OrderEdited(order_id="1234", edited_at=datetime(2026, 2, 2, 17, 0, tzinfo=UTC))


def test_an_order_edit_without_its_order_is_a_payload_error(platform: ShopifyPlatform) -> None:
    with pytest.raises(PayloadError, match=r"order_edit\.order_id"):
        platform.parse_webhook("orders/edited", {"order_edit": {"id": 1}}, "acme.myshopify.com")


def test_app_uninstalled_names_the_shop(platform: ShopifyPlatform) -> None:
    payload = {"id": 548380009, "name": "Acme", "myshopify_domain": "acme.myshopify.com"}
    event = platform.parse_webhook("app/uninstalled", payload, "ACME.myshopify.com")
    assert event == AppUninstalled(shop="acme.myshopify.com")


def test_a_customer_data_request_names_the_customer_and_orders(platform: ShopifyPlatform) -> None:
    payload = {
        "shop_id": 954889,
        "shop_domain": "acme.myshopify.com",
        "orders_requested": [299938, 280263, 220458],
        "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
        "data_request": {"id": 9999},
    }
    event = platform.parse_webhook("customers/data_request", payload, "acme.myshopify.com")
    assert event == CustomersDataRequest(
        shop="acme.myshopify.com",
        customer_id="191167",
        email="john@example.com",
        order_ids=("299938", "280263", "220458"),
        request_id="9999",
    )


def test_a_customer_redaction_names_the_customer_and_orders(platform: ShopifyPlatform) -> None:
    payload = {
        "shop_id": 954889,
        "shop_domain": "acme.myshopify.com",
        "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
        "orders_to_redact": [299938, 280263],
    }
    event = platform.parse_webhook("customers/redact", payload, "acme.myshopify.com")
    assert event == CustomersRedact(
        shop="acme.myshopify.com",
        customer_id="191167",
        email="john@example.com",
        order_ids=("299938", "280263"),
    )


def test_a_sparse_customer_redaction_still_parses(platform: ShopifyPlatform) -> None:
    event = platform.parse_webhook("customers/redact", {}, "acme.myshopify.com")
    assert event == CustomersRedact(shop="acme.myshopify.com", customer_id=None, email=None)


def test_a_shop_redaction_names_the_shop(platform: ShopifyPlatform) -> None:
    payload = {"shop_id": 954889, "shop_domain": "acme.myshopify.com"}
    event = platform.parse_webhook("shop/redact", payload, "acme.myshopify.com")
    assert event == ShopRedact(shop="acme.myshopify.com")


def test_an_unknown_topic_is_a_payload_error(platform: ShopifyPlatform) -> None:
    with pytest.raises(PayloadError, match="unknown webhook topic"):
        platform.parse_webhook("products/update", {"id": 1}, "acme.myshopify.com")


def test_a_webhook_from_an_invalid_shop_is_a_payload_error(platform: ShopifyPlatform) -> None:
    with pytest.raises(PayloadError, match="shop"):
        platform.parse_webhook("orders/create", _minimal(), "evil.com")


def test_a_connected_store_must_have_the_order_and_uninstall_topics(
    platform: ShopifyPlatform,
) -> None:
    assert set(platform.webhook_topics()) == {
        "orders/create",
        "orders/updated",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/edited",
        "app/uninstalled",
    }
    assert platform.webhook_topics() == REQUIRED_TOPICS


@pytest.mark.parametrize(("topic", "event_type"), ORDER_TOPICS)
def test_an_order_webhook_filtered_to_a_few_fields_names_the_order_to_re_read(
    platform: ShopifyPlatform, topic: str, event_type: type[Any]
) -> None:
    payload = {"id": 1001, "updated_at": "2026-02-01T10:00:00-05:00", "note": "no lines here"}
    event = platform.parse_webhook(topic, payload, "acme.myshopify.com")
    assert event == OrderChanged(
        order_id="1001", updated_at=datetime(2026, 2, 1, 15, 0, tzinfo=UTC)
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"admin_graphql_api_id": "gid://shopify/Order/1001"},
        {"id": 1001, "line_items": [{"id": 1, "quantity": 2}]},  # no time: not a whole order
        {"id": 1001, "updated_at": "2026-02-01T10:00:00Z", "line_items": []},
    ],
    ids=["gid-only", "no-updated-at", "empty-lines"],
)
def test_an_order_webhook_that_is_not_a_whole_order_is_read_again_from_the_store(
    platform: ShopifyPlatform, payload: dict[str, Any]
) -> None:
    event = platform.parse_webhook("orders/updated", payload, "acme.myshopify.com")
    assert isinstance(event, OrderChanged)
    assert event.order_id == "1001"


def test_an_order_webhook_naming_no_order_is_a_payload_error(platform: ShopifyPlatform) -> None:
    with pytest.raises(PayloadError, match="names no order"):
        platform.parse_webhook("orders/updated", {"note": "hi"}, "acme.myshopify.com")


def test_text_a_store_cannot_store_is_made_storable_as_the_order_is_read() -> None:
    order = parse_order(
        _minimal(
            note="leave\x00 at the door",
            email="ada\ud800@example.com",
            tags="vip\x00, rush",
            shipping_address={"address1": "1 Main\x00 St", "city": "Lon\udfffdon"},
            line_items=[{"id": 1, "quantity": 1, "sku": "SKU\x00-1", "title": "Tent \ud83d"}],
        )
    )
    assert order.note == "leave at the door"
    assert order.email == "ada\ufffd@example.com"
    assert order.tags == ("vip", "rush")
    assert order.shipping_address is not None
    assert (order.shipping_address.address1, order.shipping_address.city) == (
        "1 Main St",
        "Lon\ufffddon",
    )
    assert (order.lines[0].sku, order.lines[0].title) == ("SKU-1", "Tent \ufffd")
