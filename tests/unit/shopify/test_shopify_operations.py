"""Port operations over scripted GraphQL answers: what is sent, and what the core gets back."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from adapters.shopify import ShopifyPlatform
from core.errors import InvalidInput, PlatformRejected, PlatformUnavailable
from core.model.orders import Address
from core.store import (
    FulfillmentLines,
    FulfillmentRequest,
    InventoryBatch,
    InventoryQuantity,
    InventorySnapshot,
    ShopInfo,
    StoreFulfillmentOrderLine,
    StoreInventoryLevel,
    StoreLocation,
    StoreSession,
    StoreVariant,
    Tracking,
    WebhookSubscription,
)


def _page(nodes: list[Any], cursor: str | None = None) -> dict[str, Any]:
    return {"nodes": nodes, "pageInfo": {"hasNextPage": cursor is not None, "endCursor": cursor}}


# --- reading -----------------------------------------------------------------------------------


def test_shop_info_names_the_shop_and_its_primary_location(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.append(
        answers.ok(
            {
                "shop": {
                    "name": "Acme",
                    "email": "owner@acme.test",
                    "contactEmail": "hello@acme.test",
                    "currencyCode": "EUR",
                    "myshopifyDomain": "acme.myshopify.com",
                    "plan": {"publicDisplayName": "Basic"},
                },
                "primaryLocation": {"id": "gid://shopify/Location/77"},
            }
        )
    )
    assert platform.shop_info(session) == ShopInfo(
        shop="acme.myshopify.com",
        name="Acme",
        email="hello@acme.test",
        currency="EUR",
        plan="Basic",
        primary_location_id="77",
    )


def test_locations_are_read_page_by_page_and_mark_the_primary_one(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    primary = {"id": "gid://shopify/Location/2"}
    shop.script.extend(
        [
            answers.ok(
                {
                    "locations": _page(
                        [
                            {
                                "id": "gid://shopify/Location/1",
                                "name": "Shop",
                                "isActive": True,
                                "fulfillsOnlineOrders": False,
                            }
                        ],
                        cursor="c1",
                    ),
                    "primaryLocation": primary,
                }
            ),
            answers.ok(
                {
                    "locations": _page(
                        [
                            {
                                "id": "gid://shopify/Location/2",
                                "name": "Warehouse",
                                "isActive": True,
                                "fulfillsOnlineOrders": True,
                            }
                        ]
                    ),
                    "primaryLocation": primary,
                }
            ),
        ]
    )
    assert platform.locations(session) == [
        StoreLocation(id="1", name="Shop", fulfills_online_orders=False),
        StoreLocation(id="2", name="Warehouse", is_primary=True),
    ]
    assert [b["variables"]["after"] for b in shop.bodies()] == [None, "c1"]


def test_a_catalog_page_carries_variants_with_inventory_items_and_the_next_cursor(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    variant = {
        "id": "gid://shopify/ProductVariant/11",
        "sku": "SKU-1",
        "barcode": "",
        "title": "Red",
        "product": {"id": "gid://shopify/Product/5", "title": "Shirt"},
        "inventoryItem": {
            "id": "gid://shopify/InventoryItem/21",
            "tracked": True,
            "requiresShipping": False,
        },
    }
    shop.script.append(answers.ok({"productVariants": _page([variant], cursor="next")}))
    page = platform.catalog(session, cursor="start")
    assert page.variants == (
        StoreVariant(
            variant_id="11",
            product_id="5",
            inventory_item_id="21",
            sku="SKU-1",
            barcode=None,
            title="Red",
            product_title="Shirt",
            requires_shipping=False,
            tracked=True,
        ),
    )
    assert page.next_cursor == "next"
    assert shop.bodies()[0]["variables"] == {"first": 250, "after": "start"}


def _graphql_order(**fields: Any) -> dict[str, Any]:
    order = {
        "id": "gid://shopify/Order/450789469",
        "name": "#1001",
        "number": 1001,
        "createdAt": "2026-02-01T10:00:00Z",
        "updatedAt": "2026-02-02T10:00:00Z",
        "cancelledAt": None,
        "closedAt": None,
        "email": "bob@example.com",
        "phone": None,
        "test": False,
        "displayFinancialStatus": "PARTIALLY_REFUNDED",
        "displayFulfillmentStatus": "PARTIALLY_FULFILLED",
        "sourceName": "web",
        "tags": ["rush", "vip"],
        "note": "leave at door",
        "currencyCode": "USD",
        "customer": {"id": "gid://shopify/Customer/207119551"},
        "shippingAddress": {
            "name": "Bob Norman",
            "company": None,
            "address1": "Chestnut Street 92",
            "address2": "",
            "city": "Louisville",
            "province": "Kentucky",
            "provinceCode": "KY",
            "zip": "40202",
            "country": "United States",
            "countryCodeV2": "US",
            "phone": None,
        },
        "shippingLines": _page([{"title": "Express", "code": "EXP"}]),
        "lineItems": _page([_line_item(466157049)]),
    }
    order.update(fields)
    return order


def _line_item(number: int) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/LineItem/{number}",
        "quantity": 2,
        "currentQuantity": 1,
        "unfulfilledQuantity": 1,
        "sku": "IPOD2008GREEN",
        "title": "IPod Nano - 8gb",
        "requiresShipping": True,
        "variant": {"id": "gid://shopify/ProductVariant/39072856", "barcode": "1234"},
        "product": {"id": "gid://shopify/Product/632910392"},
        "originalUnitPriceSet": {"shopMoney": {"amount": "199.0"}},
    }


def test_orders_read_over_graphql_match_the_webhook_shape(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.append(answers.ok({"orders": _page([_graphql_order()], cursor="o2")}))
    page = platform.orders_updated_since(session, datetime(2026, 2, 1, 9, 30, tzinfo=UTC))
    (order,) = page.orders
    assert page.next_cursor == "o2"
    assert (order.id, order.number, order.name) == ("450789469", "1001", "#1001")
    assert order.updated_at == datetime(2026, 2, 2, 10, 0, tzinfo=UTC)
    assert (order.financial_status, order.fulfillment_status) == ("partially_refunded", "partial")
    assert order.tags == ("rush", "vip")
    assert order.shipping_methods == ("Express", "EXP")
    assert order.customer_id == "207119551"
    assert order.shipping_address == Address(
        name="Bob Norman",
        address1="Chestnut Street 92",
        city="Louisville",
        province="Kentucky",
        province_code="KY",
        zip="40202",
        country="United States",
        country_code="US",
    )
    (line,) = order.lines
    assert (line.id, line.variant_id, line.product_id, line.barcode) == (
        "466157049",
        "39072856",
        "632910392",
        "1234",
    )
    assert (line.quantity, line.current_quantity, line.fulfillable_quantity) == (2, 1, 1)
    assert line.unit_price == "199.0"
    variables = shop.bodies()[0]["variables"]
    assert variables["query"] == "updated_at:>='2026-02-01T09:30:00Z'"
    assert variables["after"] is None


def test_an_order_with_more_lines_than_a_page_is_read_whole(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    first = _graphql_order(lineItems=_page([_line_item(1)], cursor="l1"))
    shop.script.extend(
        [
            answers.ok({"order": first}),
            answers.ok({"order": {"lineItems": _page([_line_item(2)], cursor="l2")}}),
            answers.ok({"order": {"lineItems": _page([_line_item(3)])}}),
        ]
    )
    order = platform.order(session, "450789469")
    assert order is not None
    assert [line.id for line in order.lines] == ["1", "2", "3"]
    bodies = shop.bodies()
    assert bodies[0]["variables"] == {"id": "gid://shopify/Order/450789469"}
    assert [b["variables"]["after"] for b in bodies[1:]] == ["l1", "l2"]


def test_a_missing_order_is_none(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.append(answers.ok({"order": None}))
    assert platform.order(session, "404") is None


def test_orders_since_a_naive_time_are_refused(
    platform: ShopifyPlatform, session: StoreSession
) -> None:
    with pytest.raises(InvalidInput):
        platform.orders_updated_since(session, datetime(2026, 1, 1))


def test_an_id_that_is_not_a_shopify_id_is_refused_before_any_call(
    platform: ShopifyPlatform, shop: Any, session: StoreSession
) -> None:
    with pytest.raises(InvalidInput):
        platform.order(session, "1 OR 1=1")
    assert shop.requests == []


def _fo_line(number: int, remaining: int = 1) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/FulfillmentOrderLineItem/{number}",
        "totalQuantity": 2,
        "remainingQuantity": remaining,
        "requiresShipping": True,
        "sku": "SKU-1",
        "lineItem": {"id": f"gid://shopify/LineItem/{number + 100}"},
        "variant": {"id": "gid://shopify/ProductVariant/9"},
    }


def test_fulfillment_orders_carry_their_location_and_every_line(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    fulfillment_order = {
        "id": "gid://shopify/FulfillmentOrder/31",
        "status": "OPEN",
        "assignedLocation": {"location": {"id": "gid://shopify/Location/2"}},
        "lineItems": _page([_fo_line(1)], cursor="f1"),
    }
    shop.script.extend(
        [
            answers.ok(
                {
                    "order": {
                        "id": "gid://shopify/Order/7",
                        "fulfillmentOrders": _page([fulfillment_order]),
                    }
                }
            ),
            answers.ok({"fulfillmentOrder": {"lineItems": _page([_fo_line(2, remaining=0)])}}),
        ]
    )
    (fo,) = platform.fulfillment_orders(session, "7")
    assert (fo.id, fo.order_id, fo.location_id, fo.status) == ("31", "7", "2", "OPEN")
    assert fo.lines == (
        StoreFulfillmentOrderLine(
            id="1",
            line_item_id="101",
            total_quantity=2,
            remaining_quantity=1,
            variant_id="9",
            sku="SKU-1",
        ),
        StoreFulfillmentOrderLine(
            id="2",
            line_item_id="102",
            total_quantity=2,
            remaining_quantity=0,
            variant_id="9",
            sku="SKU-1",
        ),
    )
    assert shop.bodies()[1]["variables"] == {
        "id": "gid://shopify/FulfillmentOrder/31",
        "after": "f1",
    }


# --- fulfillment -------------------------------------------------------------------------------


def _request(**fields: Any) -> FulfillmentRequest:
    values: dict[str, Any] = {
        "order_id": "7",
        "lines_by_fulfillment_order": (FulfillmentLines("31", (("1", 2), ("2", 1))),),
        "tracking": Tracking(company="UPS", number="1Z999", url="https://track.example/1Z999"),
        "notify_customer": False,
    }
    values.update(fields)
    return FulfillmentRequest(**values)


def test_a_fulfillment_sends_exactly_the_chosen_lines_with_tracking(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.append(
        answers.ok(
            {
                "fulfillmentCreate": {
                    "fulfillment": {
                        "id": "gid://shopify/Fulfillment/55",
                        "status": "SUCCESS",
                        "trackingInfo": [
                            {"company": "UPS", "number": "1Z999", "url": "https://ups/1Z999"}
                        ],
                    },
                    "userErrors": [],
                }
            }
        )
    )
    result = platform.create_fulfillment(session, _request())
    assert (result.fulfillment_id, result.status, result.tracking_url) == (
        "55",
        "success",
        "https://ups/1Z999",
    )
    assert shop.bodies()[0]["variables"] == {
        "fulfillment": {
            "lineItemsByFulfillmentOrder": [
                {
                    "fulfillmentOrderId": "gid://shopify/FulfillmentOrder/31",
                    "fulfillmentOrderLineItems": [
                        {"id": "gid://shopify/FulfillmentOrderLineItem/1", "quantity": 2},
                        {"id": "gid://shopify/FulfillmentOrderLineItem/2", "quantity": 1},
                    ],
                }
            ],
            "notifyCustomer": False,
            "trackingInfo": {
                "company": "UPS",
                "number": "1Z999",
                "url": "https://track.example/1Z999",
            },
        }
    }


def test_a_refused_fulfillment_is_a_rejection_with_shopifys_messages(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.append(
        answers.ok(
            {
                "fulfillmentCreate": {
                    "fulfillment": None,
                    "userErrors": [
                        {
                            "field": ["fulfillment"],
                            "message": "Invalid fulfillment order line item quantity requested.",
                        }
                    ],
                }
            }
        )
    )
    with pytest.raises(PlatformRejected, match="Invalid fulfillment order line item quantity"):
        platform.create_fulfillment(session, _request())


@pytest.mark.parametrize(
    "lines",
    [(), (FulfillmentLines("31", ()),), (FulfillmentLines("31", (("1", 0),)),)],
    ids=["no fulfillment order", "no lines", "zero quantity"],
)
def test_a_fulfillment_that_names_no_lines_is_refused_before_any_call(
    platform: ShopifyPlatform, shop: Any, session: StoreSession, lines: Any
) -> None:
    with pytest.raises(InvalidInput):
        platform.create_fulfillment(session, _request(lines_by_fulfillment_order=lines))
    assert shop.requests == []


# --- inventory ---------------------------------------------------------------------------------


def _batch(count: int = 3, key: str = "key-1") -> InventoryBatch:
    return InventoryBatch(
        idempotency_key=key,
        quantities=tuple(
            InventoryQuantity(str(100 + i), "2", 10 + i, None if i == 0 else 5)
            for i in range(count)
        ),
        reason="correction",
        reference_uri="storelink://sync/1",
    )


def _set_answer(*errors: dict[str, Any]) -> dict[str, Any]:
    group = None if errors else {"id": "gid://shopify/InventoryAdjustmentGroup/9"}
    return {
        "inventorySetQuantities": {"inventoryAdjustmentGroup": group, "userErrors": list(errors)}
    }


def test_an_inventory_batch_sends_every_quantity_with_its_compare_value_and_the_key(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.append(answers.ok(_set_answer()))
    result = platform.set_inventory(session, _batch())
    assert [i.status for i in result.items] == ["applied"] * 3
    assert result.applied == result.items
    variables = shop.bodies()[0]["variables"]
    assert variables["key"] == "key-1"
    assert (
        variables["input"]["name"] == "on_hand"
    )  # the core sets on hand; Shopify derives available
    assert variables["input"]["reason"] == "correction"
    assert variables["input"]["referenceDocumentUri"] == "storelink://sync/1"
    assert variables["input"]["quantities"] == [
        {
            "inventoryItemId": "gid://shopify/InventoryItem/100",
            "locationId": "gid://shopify/Location/2",
            "quantity": 10,
            "changeFromQuantity": None,
        },
        {
            "inventoryItemId": "gid://shopify/InventoryItem/101",
            "locationId": "gid://shopify/Location/2",
            "quantity": 11,
            "changeFromQuantity": 5,
        },
        {
            "inventoryItemId": "gid://shopify/InventoryItem/102",
            "locationId": "gid://shopify/Location/2",
            "quantity": 12,
            "changeFromQuantity": 5,
        },
    ]


def test_a_stale_compare_is_reported_for_that_quantity_and_the_rest_not_applied(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.append(
        answers.ok(
            _set_answer(
                {
                    "code": "CHANGE_FROM_QUANTITY_STALE",
                    "field": ["input", "quantities", "1", "changeFromQuantity"],
                    "message": "The specified compare quantity does not match",
                }
            )
        )
    )
    batch = _batch()
    result = platform.set_inventory(session, batch)
    assert [i.status for i in result.items] == ["not_applied", "stale", "not_applied"]
    assert result.stale[0].quantity == batch.quantities[1]
    assert "compare quantity" in result.stale[0].message


def test_a_quantity_shopify_refuses_for_another_reason_is_rejected(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.append(
        answers.ok(
            _set_answer(
                {
                    "code": "INVALID_INVENTORY_ITEM",
                    "field": ["input", "quantities", "0", "inventoryItemId"],
                    "message": "The specified inventory item could not be found.",
                },
                {
                    "code": "CHANGE_FROM_QUANTITY_STALE",
                    "field": ["input", "quantities", "2", "changeFromQuantity"],
                    "message": "stale",
                },
            )
        )
    )
    result = platform.set_inventory(session, _batch())
    assert [i.status for i in result.items] == ["rejected", "not_applied", "stale"]


def test_an_error_about_the_whole_batch_rejects_every_quantity(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.append(
        answers.ok(
            _set_answer(
                {"code": "INVALID_REASON", "field": ["input", "reason"], "message": "bad reason"}
            )
        )
    )
    result = platform.set_inventory(session, _batch())
    assert [(i.status, i.message) for i in result.items] == [("rejected", "bad reason")] * 3


def test_a_batch_over_250_quantities_is_refused_before_any_call(
    platform: ShopifyPlatform, shop: Any, session: StoreSession
) -> None:
    with pytest.raises(InvalidInput, match="250"):
        platform.set_inventory(session, _batch(251))
    assert shop.requests == []


def test_a_batch_of_exactly_250_quantities_is_one_call(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.append(answers.ok(_set_answer()))
    assert len(platform.set_inventory(session, _batch(250)).applied) == 250
    assert len(shop.requests) == 1


def test_an_empty_batch_needs_no_call(
    platform: ShopifyPlatform, shop: Any, session: StoreSession
) -> None:
    result = platform.set_inventory(session, InventoryBatch(idempotency_key="k", quantities=()))
    assert result.items == ()
    assert shop.requests == []


def test_a_batch_still_being_applied_under_its_key_is_asked_again(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    concurrent = {"code": "IDEMPOTENCY_CONCURRENT_REQUEST", "field": None, "message": "busy"}
    shop.script.extend([answers.ok(_set_answer(concurrent)), answers.ok(_set_answer())])
    assert [i.status for i in platform.set_inventory(session, _batch()).items] == ["applied"] * 3
    assert shop.bodies()[0] == shop.bodies()[1]


def test_a_batch_that_stays_concurrent_is_unavailable(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    concurrent = {"code": "IDEMPOTENCY_CONCURRENT_REQUEST", "field": None, "message": "busy"}
    shop.default = lambda _: answers.ok(_set_answer(concurrent))
    with pytest.raises(PlatformUnavailable):
        platform.set_inventory(session, _batch())


@pytest.mark.parametrize(
    "code", ["IDEMPOTENCY_KEY_PARAMETER_MISMATCH", "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED"]
)
def test_a_misused_idempotency_key_is_a_rejection_naming_the_code(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession, code: str
) -> None:
    shop.script.append(answers.ok(_set_answer({"code": code, "field": None, "message": "no"})))
    with pytest.raises(PlatformRejected) as caught:
        platform.set_inventory(session, _batch())
    assert caught.value.code == code.lower()


# --- webhook subscriptions ---------------------------------------------------------------------


def _subscription(number: int, topic: str, uri: str) -> dict[str, Any]:
    return {"id": f"gid://shopify/WebhookSubscription/{number}", "topic": topic, "uri": uri}


def test_subscriptions_are_listed_with_platform_neutral_topics(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.extend(
        [
            answers.ok(
                {
                    "webhookSubscriptions": _page(
                        [_subscription(1, "ORDERS_CREATE", "https://app/h")], cursor="w1"
                    )
                }
            ),
            answers.ok(
                {
                    "webhookSubscriptions": _page(
                        [_subscription(2, "INVENTORY_LEVELS_UPDATE", "https://app/h")]
                    )
                }
            ),
        ]
    )
    assert platform.webhook_subscriptions(session) == [
        WebhookSubscription(id="1", topic="orders/create", uri="https://app/h"),
        WebhookSubscription(id="2", topic="inventory_levels/update", uri="https://app/h"),
    ]


def test_a_subscription_is_created_for_the_topic_in_json(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.append(
        answers.ok(
            {
                "webhookSubscriptionCreate": {
                    "webhookSubscription": _subscription(3, "ORDERS_EDITED", "https://app/h"),
                    "userErrors": [],
                }
            }
        )
    )
    created = platform.create_webhook_subscription(session, "orders/edited", "https://app/h")
    assert created == WebhookSubscription(id="3", topic="orders/edited", uri="https://app/h")
    assert shop.bodies()[0]["variables"] == {
        "topic": "ORDERS_EDITED",
        "subscription": {"uri": "https://app/h", "format": "JSON"},
    }


def test_creating_a_subscription_that_exists_returns_the_existing_one(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    taken = {
        "field": ["webhookSubscription", "callbackUrl"],
        "message": "Address for this topic has already been taken",
    }
    shop.script.extend(
        [
            answers.ok(
                {"webhookSubscriptionCreate": {"webhookSubscription": None, "userErrors": [taken]}}
            ),
            answers.ok(
                {
                    "webhookSubscriptions": _page(
                        [_subscription(4, "ORDERS_CREATE", "https://app/h")]
                    )
                }
            ),
        ]
    )
    existing = platform.create_webhook_subscription(session, "orders/create", "https://app/h")
    assert existing.id == "4"


def test_a_refused_subscription_is_a_rejection(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    refused = {"field": ["webhookSubscription", "uri"], "message": "Address is invalid"}
    shop.script.extend(
        [
            answers.ok(
                {
                    "webhookSubscriptionCreate": {
                        "webhookSubscription": None,
                        "userErrors": [refused],
                    }
                }
            ),
            answers.ok({"webhookSubscriptions": _page([])}),
        ]
    )
    with pytest.raises(PlatformRejected, match="Address is invalid"):
        platform.create_webhook_subscription(session, "orders/create", "ftp://nope")


def test_a_subscription_is_deleted_by_its_gid(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.append(
        answers.ok(
            {
                "webhookSubscriptionDelete": {
                    "deletedWebhookSubscriptionId": "gid://shopify/WebhookSubscription/4",
                    "userErrors": [],
                }
            }
        )
    )
    platform.delete_webhook_subscription(session, "4")
    assert shop.bodies()[0]["variables"] == {"id": "gid://shopify/WebhookSubscription/4"}


def test_deleting_a_subscription_that_is_gone_counts_as_deleted(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    gone = {"field": ["id"], "message": "Webhook subscription does not exist"}
    shop.script.extend(
        [
            answers.ok(
                {
                    "webhookSubscriptionDelete": {
                        "deletedWebhookSubscriptionId": None,
                        "userErrors": [gone],
                    }
                }
            ),
            answers.ok({"webhookSubscriptions": _page([])}),
        ]
    )
    platform.delete_webhook_subscription(session, "4")
    assert len(shop.requests) == 2


# --- bulk catalog ------------------------------------------------------------------------------


def _bulk(status: str, url: str | None = None, error: str | None = None) -> dict[str, Any]:
    return {
        "bulkOperation": {
            "id": "gid://shopify/BulkOperation/8",
            "status": status,
            "errorCode": error,
            "objectCount": "2" if url else "0",
            "url": url,
        }
    }


def _operations(shop: Any) -> list[str]:
    """The GraphQL operations sent, by name, in order (downloads left out)."""
    names = []
    for request in shop.requests:
        if request.method == "POST":
            match = re.search(r"(?:query|mutation) (\w+)", json.loads(request.content)["query"])
            assert match is not None
            names.append(match[1])
    return names


def _started(status: str = "CREATED") -> dict[str, Any]:
    return {"bulkOperationRunQuery": {**_bulk(status), "userErrors": []}}


def _jsonl_variant(number: int) -> str:
    return json.dumps(
        {
            "id": f"gid://shopify/ProductVariant/{number}",
            "sku": f"SKU-{number}",
            "barcode": None,
            "title": "Default Title",
            "product": {"id": "gid://shopify/Product/5", "title": "Shirt"},
            "inventoryItem": {
                "id": f"gid://shopify/InventoryItem/{number + 1000}",
                "tracked": True,
                "requiresShipping": True,
            },
        }
    )


def test_a_bulk_catalog_export_is_started_polled_and_read(
    *,
    platform: ShopifyPlatform,
    shop: Any,
    answers: Any,
    session: StoreSession,
    fake_sleep: Any,
) -> None:
    url = "https://storage.example/bulk/8.jsonl?signature=abc"
    shop.script.extend(
        [
            answers.ok(_started()),
            answers.ok(_bulk("RUNNING")),
            answers.ok(_bulk("COMPLETED", url)),
            httpx.Response(200, text=f"{_jsonl_variant(1)}\n{_jsonl_variant(2)}\n"),
        ]
    )
    variants = platform.bulk_catalog(session)
    assert [(v.variant_id, v.sku, v.inventory_item_id) for v in variants] == [
        ("1", "SKU-1", "1001"),
        ("2", "SKU-2", "1002"),
    ]
    assert fake_sleep.calls == [1.0, 2.0]  # the start answers CREATED: the first poll waits
    assert _operations(shop) == ["BulkOperationRunQuery", "BulkOperation", "BulkOperation"]
    download = shop.requests[-1]
    assert str(download.url) == url
    assert "X-Shopify-Access-Token" not in download.headers
    assert "productVariants" in json.loads(shop.requests[0].content)["variables"]["query"]


def test_an_empty_bulk_export_is_an_empty_catalog(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.extend(
        [
            answers.ok(_started()),
            answers.ok(_bulk("COMPLETED")),
        ]
    )
    assert platform.bulk_catalog(session) == ()


def test_a_failed_bulk_export_is_unavailable_with_its_error_code(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.extend(
        [
            answers.ok(_started()),
            answers.ok(_bulk("FAILED", error="TIMEOUT")),
        ]
    )
    with pytest.raises(PlatformUnavailable, match="TIMEOUT"):
        platform.bulk_catalog(session)


def test_a_refused_bulk_export_is_a_rejection(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    invalid = {"code": "INVALID", "field": ["query"], "message": "Bulk queries cannot nest"}
    shop.script.append(
        answers.ok({"bulkOperationRunQuery": {"bulkOperation": None, "userErrors": [invalid]}})
    )
    with pytest.raises(PlatformRejected, match="cannot nest"):
        platform.bulk_catalog(session)


def _busy() -> dict[str, Any]:
    busy = {
        "code": "OPERATION_IN_PROGRESS",
        "field": None,
        "message": "A bulk query operation for this app and shop is already in progress: "
        "gid://shopify/BulkOperation/7.",
    }
    return {"bulkOperationRunQuery": {"bulkOperation": None, "userErrors": [busy]}}


def _active(*statuses: str) -> dict[str, Any]:
    nodes = [
        {
            "id": "gid://shopify/BulkOperation/7",
            "status": status,
            "errorCode": None,
            "objectCount": "0",
            "url": None,
        }
        for status in statuses
    ]
    return {"bulkOperations": {"nodes": nodes}}


def test_a_bulk_export_waits_for_another_bulk_query_of_the_app_to_end_then_starts(
    *,
    platform: ShopifyPlatform,
    shop: Any,
    answers: Any,
    session: StoreSession,
    fake_sleep: Any,
) -> None:
    shop.script.extend(
        [
            answers.ok(_busy()),
            answers.ok(_active("RUNNING")),
            answers.ok(_active()),  # the other one ended
            answers.ok(_started()),
            answers.ok(_bulk("COMPLETED")),
        ]
    )
    assert platform.bulk_catalog(session) == ()
    assert _operations(shop) == [
        "BulkOperationRunQuery",
        "ActiveBulkOperations",
        "ActiveBulkOperations",
        "BulkOperationRunQuery",
        "BulkOperation",
    ]
    assert fake_sleep.calls == [1.0, 1.0]  # polling starts over for our own operation


def test_a_busy_shop_whose_bulk_query_just_ended_is_asked_again_after_a_pause(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession, fake_sleep: Any
) -> None:
    shop.script.extend(
        [
            answers.ok(_busy()),
            answers.ok(_active()),  # already gone
            answers.ok(_started("COMPLETED")),  # done at once: nothing to poll
        ]
    )
    assert platform.bulk_catalog(session) == ()
    assert fake_sleep.calls == [1.0]
    assert _operations(shop) == [
        "BulkOperationRunQuery",
        "ActiveBulkOperations",
        "BulkOperationRunQuery",
    ]


def test_a_bulk_query_that_keeps_the_shop_busy_too_long_is_unavailable(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.append(answers.ok(_busy()))
    shop.default = lambda _: answers.ok(_active("RUNNING"))
    with pytest.raises(PlatformUnavailable, match="did not finish"):
        platform.bulk_catalog(session, max_wait_seconds=20)


@pytest.mark.parametrize(
    ("number", "name", "expected"),
    [(1001, "#1001", "1001"), (1, "#1001", "1001"), (1001, "EN1001-A", "1001"), (7, "#7", "7")],
)
def test_the_order_number_is_the_one_its_name_shows(
    *,
    platform: ShopifyPlatform,
    shop: Any,
    answers: Any,
    session: StoreSession,
    number: int,
    name: str,
    expected: str,
) -> None:
    shop.script.append(answers.ok({"order": _graphql_order(number=number, name=name)}))
    order = platform.order(session, "450789469")
    assert order is not None
    assert (order.number, order.name) == (expected, name)


# --- inventory reads ---------------------------------------------------------------------------


def _locations(*active: tuple[str, bool]) -> dict[str, Any]:
    nodes = [
        {
            "id": f"gid://shopify/Location/{number}",
            "name": f"L{number}",
            "isActive": is_active,
            "fulfillsOnlineOrders": True,
        }
        for number, is_active in active
    ]
    return {"locations": _page(nodes), "primaryLocation": {"id": "gid://shopify/Location/1"}}


def _quantities(on_hand: int, available: int, committed: int) -> list[dict[str, Any]]:
    return [
        {"name": "on_hand", "quantity": on_hand},
        {"name": "available", "quantity": available},
        {"name": "committed", "quantity": committed},
    ]


def _level_line(item: int, location: int, on_hand: int) -> str:
    return json.dumps(
        {
            "location": {"id": f"gid://shopify/Location/{location}"},
            "quantities": _quantities(on_hand, on_hand, 0),
            "__parentId": f"gid://shopify/InventoryItem/{item}",
        }
    )


def _item_line(item: int, *, tracked: bool = True) -> str:
    return json.dumps({"id": f"gid://shopify/InventoryItem/{item}", "tracked": tracked})


def _bulk_answers(answers: Any, *lines: str) -> list[Any]:
    url = "https://storage.example/bulk/9.jsonl"
    return [
        answers.ok(_locations(("1", True), ("2", True), ("3", False))),
        answers.ok(_started()),
        answers.ok(_bulk("COMPLETED", url)),
        httpx.Response(200, text="\n".join(lines) + "\n"),
    ]


def test_a_bulk_snapshot_matches_levels_to_items_by_parent_in_any_order(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.extend(
        _bulk_answers(
            answers,
            _level_line(10, 1, 5),  # before its item's line: the order is not guaranteed
            _item_line(10),
            _item_line(11, tracked=False),
            _level_line(11, 1, 3),  # an untracked item's level: not drift, left out
            _level_line(10, 2, 4),  # a location not asked for: left out
            _level_line(10, 3, 1),  # an inactive location: left out
        )
    )
    snapshot = platform.inventory_snapshot(session, ["1", "3", "4"], expected_items=5000)
    assert snapshot == InventorySnapshot(
        levels=(StoreInventoryLevel("10", "1", on_hand=5, available=5, committed=0),),
        items=frozenset({"10", "11"}),
        locations=frozenset({"1"}),
    )
    assert "inventoryItems" in json.loads(shop.requests[1].content)["variables"]["query"]


def test_a_bulk_file_with_an_unusable_line_is_a_rejection(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.extend(_bulk_answers(answers, _item_line(10), '{"location": 5, "__parentId": 1}'))
    with pytest.raises(PlatformRejected, match="bulk"):
        platform.inventory_snapshot(session, ["1"], expected_items=5000)


def test_a_snapshot_up_to_the_threshold_is_paged(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    level = {"item": {"id": "gid://shopify/InventoryItem/10"}, "quantities": _quantities(7, 5, 2)}
    shop.script.extend(
        [
            answers.ok(_locations(("1", True))),
            answers.ok({"inventoryItems": _page([{"id": "gid://shopify/InventoryItem/10"}])}),
            answers.ok({"location": {"inventoryLevels": _page([level])}}),
        ]
    )
    snapshot = platform.inventory_snapshot(
        session, ["1"], expected_items=platform.config.inventory_bulk_threshold
    )
    assert snapshot.levels == (StoreInventoryLevel("10", "1", 7, 5, 2),)
    assert _operations(shop) == ["Locations", "InventoryItems", "LocationInventoryLevels"]


def test_levels_by_pair_are_asked_by_inventory_level_gid_and_nulls_left_out(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.append(answers.ok({"nodes": [None, {"quantities": _quantities(4, 3, 1)}]}))
    levels = platform.inventory_levels(session, [("10", "1"), ("11", "gid://shopify/Location/2")])
    assert levels == [StoreInventoryLevel("11", "2", 4, 3, 1)]
    assert shop.bodies()[0]["variables"]["ids"] == [
        "gid://shopify/InventoryLevel/1?inventory_item_id=10",
        "gid://shopify/InventoryLevel/2?inventory_item_id=11",
    ]


def test_an_answer_that_does_not_match_the_ids_asked_is_a_rejection(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.append(answers.ok({"nodes": [None]}))
    with pytest.raises(PlatformRejected):
        platform.inventory_levels(session, [("10", "1"), ("11", "1")])


# --- reading whole: every page, or an error -----------------------------------------------------


def test_a_page_of_lines_that_fails_is_an_error_not_a_partial_order(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    first = _graphql_order(lineItems=_page([_line_item(1)], cursor="l1"))
    shop.script.append(answers.ok({"order": first}))
    shop.default = lambda _request: httpx.Response(503)
    with pytest.raises(PlatformUnavailable, match="OrderLineItems"):
        platform.order(session, "450789469")


def test_an_order_gone_between_two_pages_of_its_lines_is_unavailable_not_partial(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    first = _graphql_order(lineItems=_page([_line_item(1)], cursor="l1"))
    shop.script.extend([answers.ok({"order": first}), answers.ok({"order": None})])
    with pytest.raises(PlatformUnavailable, match="disappeared"):
        platform.order(session, "450789469")


def test_a_next_page_without_a_cursor_is_a_rejection_not_the_end(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    lines = {"nodes": [_line_item(1)], "pageInfo": {"hasNextPage": True, "endCursor": None}}
    shop.script.append(answers.ok({"order": _graphql_order(lineItems=lines)}))
    with pytest.raises(PlatformRejected, match=r"line_items\.page_info"):
        platform.order(session, "450789469")


def test_shipping_lines_beyond_the_first_page_are_read(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    first = _graphql_order(shippingLines=_page([{"title": "Standard", "code": "STD"}], "s1"))
    shop.script.extend(
        [
            answers.ok({"order": first}),
            answers.ok({"order": {"shippingLines": _page([{"title": "Next day", "code": "ND"}])}}),
        ]
    )
    order = platform.order(session, "450789469")
    assert order is not None
    assert order.shipping_methods == ("Standard", "STD", "Next day", "ND")
    assert _operations(shop) == ["Order", "OrderShippingLines"]
    assert shop.bodies()[1]["variables"] == {"id": "gid://shopify/Order/450789469", "after": "s1"}


def _fulfillment_order(number: int, lines: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/FulfillmentOrder/{number}",
        "status": "OPEN",
        "assignedLocation": {"location": {"id": "gid://shopify/Location/2"}},
        "lineItems": lines,
    }


def test_an_order_gone_between_pages_of_its_fulfillment_orders_is_unavailable(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    page = _page([_fulfillment_order(31, _page([_fo_line(1)]))], cursor="fo1")
    shop.script.extend(
        [
            answers.ok({"order": {"id": "gid://shopify/Order/7", "fulfillmentOrders": page}}),
            answers.ok({"order": None}),
        ]
    )
    with pytest.raises(PlatformUnavailable, match="disappeared"):
        platform.fulfillment_orders(session, "7")


def test_a_fulfillment_order_gone_between_pages_of_its_lines_is_unavailable(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    page = _page([_fulfillment_order(31, _page([_fo_line(1)], cursor="f1"))])
    shop.script.extend(
        [
            answers.ok({"order": {"id": "gid://shopify/Order/7", "fulfillmentOrders": page}}),
            answers.ok({"fulfillmentOrder": None}),
        ]
    )
    with pytest.raises(PlatformUnavailable, match="disappeared"):
        platform.fulfillment_orders(session, "7")


def test_a_location_gone_between_pages_of_its_levels_is_unavailable_not_half_read(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    level = {"item": {"id": "gid://shopify/InventoryItem/10"}, "quantities": _quantities(7, 5, 2)}
    shop.script.extend(
        [
            answers.ok(_locations(("1", True))),
            answers.ok({"inventoryItems": _page([{"id": "gid://shopify/InventoryItem/10"}])}),
            answers.ok({"location": {"inventoryLevels": _page([level], cursor="v1")}}),
            answers.ok({"location": None}),
        ]
    )
    with pytest.raises(PlatformUnavailable, match="disappeared"):
        platform.inventory_snapshot(session, ["1"], expected_items=1)


def test_a_location_gone_before_its_levels_are_read_is_not_in_the_snapshot(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    shop.script.extend(
        [
            answers.ok(_locations(("1", True))),
            answers.ok({"inventoryItems": _page([{"id": "gid://shopify/InventoryItem/10"}])}),
            answers.ok({"location": None}),
        ]
    )
    snapshot = platform.inventory_snapshot(session, ["1"], expected_items=1)
    assert snapshot.locations == frozenset()  # not "no stock of item 10 there"


def test_text_in_an_answer_is_made_storable(
    platform: ShopifyPlatform, shop: Any, answers: Any, session: StoreSession
) -> None:
    body = {"data": {"shop": {"name": "Acme\x00 Outdoor \ud800"}}, "extensions": answers.cost()}
    shop.script.append(httpx.Response(200, content=json.dumps(body).encode()))  # escaped
    assert platform.shop_info(session).name == "Acme Outdoor \ufffd"
