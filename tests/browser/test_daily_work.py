"""A day's work in the portal, in a real browser: a held order mapped free from its own page,
staff shipping an order with tracking that reaches the store, an alert acknowledged, and a
catalogue refresh followed from queued to done."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page

from core.model import OutboundOrder
from core.services import SYSTEM
from core.services import stock as stock_services
from tests.browser.conftest import (
    SHOP,
    WAIT_SECONDS,
    Portal,
    expect,
    goto,
    screenshot,
    sign_in,
)

STORE_SKU = "STOVE-OLD"  # the store still sells the stove under its old SKU
STOVE = "STOVE-1"  # what the warehouse calls it


def _stove(portal: Portal, *, in_store_as: str = STORE_SKU) -> str:
    """A stove the warehouse stocks as ``STOVE-1`` and the store sells as ``in_store_as``;
    the warehouse product's id."""
    ctx = portal.services.ctx
    product = stock_services.create_product(
        ctx, SYSTEM, client_id=portal.client.id, sku=STOVE, name="Camp stove"
    )
    stock_services.receive_stock(
        ctx, SYSTEM, product_id=product.id, warehouse_id=portal.warehouse.id, quantity=8
    )
    location = str(portal.control.locations(SHOP)[0]["id"])
    portal.control.create_product(
        SHOP, "Camp stove", [{"sku": in_store_as, "price": "60.00", "inventory": {location: 4}}]
    )
    return product.id


def _held_order(portal: Portal) -> tuple[dict[str, Any], OutboundOrder]:
    """The store's order for the stove under its old SKU, held in the warehouse."""
    placed = portal.place_order({STORE_SKU: 1, "MAT-XL": 1})
    order = portal.wait_for_order(placed)
    assert order.status == "on_hold", order.status
    return placed, order


def _status(portal: Portal, placed: dict[str, Any]) -> str | None:
    found = portal.order_for(placed)
    return found.status if found else None


def test_a_held_orders_page_links_to_its_variant_and_mapping_it_there_releases_the_order(
    page: Page, portal: Portal
) -> None:
    _stove(portal)
    portal.connect()
    placed, order = _held_order(portal)
    sign_in(page, portal.owner)
    goto(page, f"/portal/orders/{order.id}")
    expect(page.get_by_text("Status: on_hold")).to_be_visible()
    link = page.get_by_role("link", name=re.compile(rf"store variant \d+ \({STORE_SKU}\)"))
    expect(link).to_be_visible()
    link.click()
    expect(page).to_have_url(re.compile(r"/shopify/products\?integration=.+&variant=\d+"))
    row = page.locator("tbody tr").filter(has_text=STORE_SKU)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("not mapped")
    screenshot(page, "the-variant-to-map")
    row.get_by_label("Product").select_option(label=f"{STOVE} · Camp stove")
    row.get_by_role("button", name="Map").click()
    expect(page.get_by_role("status")).to_have_text("The variant is mapped to the product.")
    expect(page.locator("tbody tr").filter(has_text=STORE_SKU)).to_contain_text(
        f"{STOVE} · Camp stove"
    )
    screenshot(page, "mapped")

    portal.wait_until(lambda: _status(portal, placed) not in (None, "on_hold"), "the release")
    goto(page, f"/portal/orders/{order.id}")
    expect(page.get_by_text("Status: allocated")).to_be_visible()
    expect(page.get_by_text("held:")).to_have_count(0)


def test_staff_ship_an_order_with_tracking_and_the_store_shows_the_fulfilment(
    page: Page, portal: Portal
) -> None:
    portal.connect()
    placed = portal.place_order({"TENT-2P": 1, "LAMP-USB": 2})
    order = portal.wait_for_order(placed)
    portal.wait_until(lambda: _status(portal, placed) == "allocated", "the order allocated")
    sign_in(page, portal.staff)
    goto(page, f"/portal/orders/{order.id}")
    page.get_by_label("Carrier").fill("UPS")
    page.get_by_label("Tracking number").fill("1ZBROWSER42")
    page.get_by_role("button", name="Ship", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("The shipment is recorded.")
    expect(page.get_by_text("Status: shipped")).to_be_visible()
    shipments = page.locator("table").filter(has_text="Tracking")
    expect(shipments).to_contain_text("1ZBROWSER42")
    screenshot(page, "shipped")

    fulfilled = portal.wait_until(
        lambda: portal.control.fulfillments(SHOP, placed["id"]), "the store's fulfilment"
    )
    assert [(f["tracking_company"], f["tracking_number"]) for f in fulfilled] == [
        ("UPS", "1ZBROWSER42")
    ]
    portal.wait_until(
        lambda: portal.control.order(SHOP, placed["id"])["fulfillment_status"] == "fulfilled",
        "the store order fulfilled",
    )
    page.reload()  # the shipment's state in the store follows
    expect(shipments).to_contain_text("synced")
    screenshot(page, "synced-to-the-store")


def test_an_alert_acknowledged_in_the_inbox_leaves_the_open_list(
    page: Page, portal: Portal
) -> None:
    _stove(portal)
    portal.connect()
    _, order = _held_order(portal)
    sign_in(page, portal.owner)
    goto(page, "/portal/alerts?status=open")
    row = page.locator("tbody tr").filter(has_text="order_on_hold")
    expect(row).to_have_count(1)
    expect(row.get_by_role("link", name="the order")).to_have_attribute(
        "href", f"/portal/orders/{order.id}"
    )
    expect(row.get_by_role("link", name="Acme Outdoors")).to_be_visible()
    screenshot(page, "open-alert")
    row.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status")).to_contain_text("The alert is acknowledged")
    expect(page).to_have_url(re.compile(r"status=open"))
    expect(page.locator("tbody tr").filter(has_text="order_on_hold")).to_have_count(0)
    screenshot(page, "open-list-after")

    goto(page, "/portal/alerts?status=acknowledged")
    acknowledged = page.locator("tbody tr").filter(has_text="order_on_hold")
    expect(acknowledged).to_contain_text("acknowledged")
    expect(acknowledged.get_by_role("button", name="Resolve")).to_be_visible()


def test_refresh_catalogue_shows_its_progress_through_to_done(page: Page, portal: Portal) -> None:
    integration = portal.connect()
    _stove(portal, in_store_as=STOVE)  # new in the store since the setup read the catalogue
    sign_in(page, portal.owner)
    products = f"/portal/settings/integrations/shopify/products?integration={integration.id}"
    goto(page, products)
    expect(page.get_by_text("3 variant(s).")).to_be_visible()
    page.get_by_role("button", name="Refresh catalogue").click()
    expect(page.get_by_role("status")).to_contain_text("Catalogue refresh queued")
    progress = page.get_by_test_id("catalogue-refresh")
    expect(progress).to_contain_text(re.compile(r"Catalogue refresh\s+(queued|running|done)"))
    screenshot(page, "refresh-asked")
    # the page refreshes itself while the job is pending
    expect(progress).to_contain_text(
        re.compile(r"Catalogue refresh\s+done .*: 4 variants read, 1 auto-mapped, 0 left to map\."),
        timeout=WAIT_SECONDS * 1000,
    )
    expect(page.get_by_text("4 variant(s).")).to_be_visible()
    expect(page.locator("tbody tr").filter(has_text=STOVE)).to_contain_text(f"{STOVE} · Camp stove")
    screenshot(page, "refresh-done")

    goto(page, "/portal/settings/integrations")  # the store's latest work says the same
    expect(page.get_by_test_id("store-jobs")).to_contain_text(
        re.compile(r"Catalogue refresh\s+done .*: 4 variants read, 1 auto-mapped")
    )
