"""A sandbox saved to a file and started again from it is the same store: its shops,
products, stock, orders and tokens are there, and the ids it hands out never repeat."""

from __future__ import annotations

import json
from pathlib import Path

from adapters.shopify.sandbox import SandboxConfig, SandboxServer
from adapters.shopify.sandbox import persistence as sandbox_file

SHOP = "acme.myshopify.com"


def _sandbox(path: Path) -> SandboxServer:
    return SandboxServer(SandboxConfig(auto_approve=True), state=sandbox_file.load(path))


def test_a_restarted_sandbox_keeps_its_store_and_never_repeats_an_id(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.json"
    assert sandbox_file.load(path) is None
    with _sandbox(path) as first:
        shop = first.control.create_shop(SHOP, name="Acme")
        location = str(shop["primary_location_id"])
        first.control.create_product(SHOP, "Tent", [{"sku": "TENT-1", "inventory": {location: 10}}])
        placed = [
            first.control.place_order(SHOP, [{"sku": "TENT-1", "quantity": 1}]) for _ in range(2)
        ]
        token = first.control.issue_token(SHOP, ["read_orders"])
        sandbox_file.save(first.state, path)
        before = first.control.orders(SHOP)
    assert not list(tmp_path.glob(".sandbox-*"))  # the temporary file was renamed, not left
    assert json.loads(path.read_text())["format"] == sandbox_file.FORMAT

    with _sandbox(path) as second:
        assert second.control.orders(SHOP) == before
        again = second.control.place_order(SHOP, [{"sku": "TENT-1", "quantity": 1}])
        with second.state.lock:
            kept_token = token["access_token"] in second.state.access_tokens
            level = second.state.shops[SHOP].item_levels(
                second.state.shops[SHOP].variant_by_sku("TENT-1").inventory_item_id
            )

    assert again["id"] not in {p["id"] for p in placed}
    assert again["id"] > max(p["id"] for p in placed)
    assert again["order_number"] == placed[-1]["order_number"] + 1
    assert kept_token
    assert [lv.quantity("on_hand") for lv in level] == [10]
