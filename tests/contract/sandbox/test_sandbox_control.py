"""The control API and the pieces around it: shops, catalog, stock, clock, reset, concurrency."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from adapters.shopify.sandbox import (
    SandboxConfig,
    SandboxControlError,
    SandboxServer,
    create_sandbox_app,
)

from .conftest import SHOP, GraphQL, stock_product


def test_a_shop_comes_with_a_primary_location(sandbox: SandboxServer) -> None:
    created = sandbox.control.create_shop(SHOP, name="Acme", currency="EUR")
    assert created["shop"] == SHOP
    assert created["currency"] == "EUR"
    [location] = sandbox.control.locations(SHOP)
    assert location["id"] == created["primary_location_id"]
    assert location["is_primary"] is True
    assert [s["shop"] for s in sandbox.control.shops()] == [SHOP]


@pytest.mark.parametrize(
    ("domain", "status"), [("acme.example.com", 400), ("-bad.myshopify.com", 400)]
)
def test_a_shop_domain_must_be_a_myshopify_domain(
    sandbox: SandboxServer, domain: str, status: int
) -> None:
    with pytest.raises(SandboxControlError) as refused:
        sandbox.control.create_shop(domain)
    assert refused.value.status == status
    assert refused.value.error == "invalid_shop"


def test_a_shop_exists_once(sandbox: SandboxServer, shop: dict[str, Any]) -> None:
    with pytest.raises(SandboxControlError) as refused:
        sandbox.control.create_shop(SHOP)
    assert refused.value.status == 409


def test_many_shops_are_independent(sandbox: SandboxServer, shop: dict[str, Any]) -> None:
    sandbox.control.create_shop("other.myshopify.com")
    stock_product(sandbox, "ONLY-HERE", 3)
    assert sandbox.control.products("other.myshopify.com") == []
    assert len(sandbox.control.products(SHOP)) == 1


def test_an_unknown_shop_is_404(sandbox: SandboxServer) -> None:
    with pytest.raises(SandboxControlError) as refused:
        sandbox.control.orders("ghost.myshopify.com")
    assert refused.value.status == 404


def test_products_can_be_created_in_a_batch(sandbox: SandboxServer, shop: dict[str, Any]) -> None:
    primary = shop["primary_location_id"]
    created = sandbox.control.create_products(
        SHOP,
        [
            {"title": f"Item {i}", "variants": [{"sku": f"I-{i}", "inventory": {str(primary): i}}]}
            for i in range(20)
        ],
    )
    assert len(created) == 20
    assert sandbox.control.inventory_level(SHOP, location_id=primary, sku="I-7")["on_hand"] == 7


def test_a_variant_edit_moves_its_updated_at(sandbox: SandboxServer, gql: GraphQL) -> None:
    variant = stock_product(sandbox, "OLD", 1)
    sandbox.control.advance_clock(120)
    changed = sandbox.control.update_variant(SHOP, variant["id"], sku="NEW", barcode="999")
    assert changed["sku"] == "NEW"
    assert changed["updated_at"] > variant["updated_at"]
    data = gql.data('{ productVariants(first: 5, query: "barcode:999") { nodes { sku } } }')
    assert data["productVariants"]["nodes"] == [{"sku": "NEW"}]


def test_setting_available_through_the_control_api_moves_on_hand(
    sandbox: SandboxServer, shop: dict[str, Any]
) -> None:
    stock_product(sandbox, "TEE", 10)
    sandbox.control.place_order(SHOP, [{"sku": "TEE", "quantity": 4}])
    level = sandbox.control.set_inventory(SHOP, sku="TEE", available=10)
    assert (level["available"], level["on_hand"], level["committed"]) == (10, 14, 4)
    level = sandbox.control.set_inventory(SHOP, sku="TEE", reserved=2)
    assert (level["available"], level["on_hand"], level["reserved"]) == (8, 14, 2)


def test_orders_route_to_a_location_that_has_the_stock(
    sandbox: SandboxServer, shop: dict[str, Any]
) -> None:
    annex = sandbox.control.create_location(SHOP, "Annex")
    stock_product(sandbox, "SPLIT", {shop["primary_location_id"]: 1, annex["id"]: 5})
    order = sandbox.control.place_order(SHOP, [{"sku": "SPLIT", "quantity": 3}])
    [fo] = sandbox.control.fulfillment_orders(SHOP, order["id"])
    assert fo["assigned_location_id"] == annex["id"]


def test_a_custom_line_without_a_variant_is_allowed(
    sandbox: SandboxServer, shop: dict[str, Any]
) -> None:
    order = sandbox.control.place_order(
        SHOP, [{"title": "Gift wrapping", "price": "2.50", "requires_shipping": False}]
    )
    line = order["line_items"][0]
    assert (line["variant_id"], line["product_id"], line["sku"]) == (None, None, None)
    assert line["requires_shipping"] is False
    assert order["total_price"] == "2.50"


def test_bad_order_input_is_a_400_not_a_crash(sandbox: SandboxServer, shop: dict[str, Any]) -> None:
    for bad in ([], [{"sku": "X", "quantity": "many"}], [{"quantity": 1}]):
        with pytest.raises(SandboxControlError) as refused:
            sandbox.control.place_order(SHOP, bad)
        assert refused.value.status in {400, 404}


def test_the_clock_can_be_advanced(sandbox: SandboxServer) -> None:
    before = sandbox.control.clock()
    after = sandbox.control.advance_clock(3600)
    assert before["frozen"] is True
    assert after["now"] == "2026-11-02T10:30:00+00:00"


def test_reset_forgets_everything(sandbox: SandboxServer, gql: GraphQL) -> None:
    sandbox.control.set_faults(latency=0.01)
    gql("{ shop { name } }")
    sandbox.control.reset()
    assert sandbox.control.shops() == []
    assert sandbox.control.calls() == []
    assert sandbox.control.faults()["latency"] == 0.0


def test_the_app_settings_can_switch_auto_approve(sandbox: SandboxServer) -> None:
    assert sandbox.control.app()["auto_approve"] is True
    assert sandbox.control.update_app(auto_approve=False)["auto_approve"] is False


def test_concurrent_compare_and_set_lets_exactly_one_writer_win(
    sandbox: SandboxServer, gql: GraphQL, shop: dict[str, Any]
) -> None:
    variant = stock_product(sandbox, "RACE", 10)
    mutation = """mutation($input: InventorySetQuantitiesInput!, $key: String!) {
      inventorySetQuantities(input: $input) @idempotent(key: $key) { userErrors { code } } }"""
    outcomes: list[list[str]] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        body = gql(
            mutation,
            {
                "key": f"writer-{n}",
                "input": {
                    "name": "available",
                    "reason": "correction",
                    "quantities": [
                        {
                            "inventoryItemId": f"gid://shopify/InventoryItem/{variant['inventory_item_id']}",
                            "locationId": f"gid://shopify/Location/{shop['primary_location_id']}",
                            "quantity": 100 + n,
                            "changeFromQuantity": 10,
                        }
                    ],
                },
            },
        )
        with lock:
            outcomes.append(
                [e["code"] for e in body["data"]["inventorySetQuantities"]["userErrors"]]
            )

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [[]] + [["CHANGE_FROM_QUANTITY_STALE"]] * 7
    level = sandbox.control.inventory_level(
        SHOP, location_id=shop["primary_location_id"], sku="RACE"
    )
    assert 100 <= level["available"] < 108


def test_the_app_factory_works_without_a_server() -> None:
    app = create_sandbox_app(config=SandboxConfig())
    try:
        client = app.test_client()
        created = client.post("/_sandbox/shops", json={"shop": SHOP})
        assert created.status_code == 201
        index = client.get("/").get_json()
        assert index["shop_url_template"].endswith("/store/{shop}")
        bad = client.post("/_sandbox/shops", data="not json", content_type="application/json")
        assert bad.status_code == 400
        assert bad.get_json()["error"] == "invalid_json"
    finally:
        app.extensions["sandbox"].close()
