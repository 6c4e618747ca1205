"""The portal's shell and integrations page in a real browser: signing in, connecting a store
through the store's consent page, orders arriving, settings, mistakes shown on the page, and
a layout that holds on a phone."""

from __future__ import annotations

import re

from playwright.sync_api import Page

from core.services import SYSTEM, tenancy
from tests.browser.conftest import (
    NARROW,
    SHOP,
    Portal,
    User,
    connect_store,
    expect,
    goto,
    screenshot,
    sign_in,
)

INTEGRATIONS = "/portal/settings/integrations"


def test_signing_in_lands_on_the_orders_page_and_a_wrong_password_says_so_on_the_form(
    page: Page, portal: Portal
) -> None:
    page.goto("/portal/settings/integrations")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("E-mail").fill(portal.owner.email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("wrong")
    expect(page.get_by_label("E-mail")).to_have_value(portal.owner.email)
    screenshot(page, "wrong-password")

    page.get_by_label("Password").fill(portal.owner.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(INTEGRATIONS) + "$"))
    expect(page.get_by_role("heading", name="Store integrations")).to_be_visible()
    expect(page.get_by_text("No store connected yet.")).to_be_visible()

    goto(page, "/login")  # signed in already: straight on
    expect(page).to_have_url(re.compile(r"/portal/orders$"))
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))


def test_connecting_a_store_through_its_consent_page_shows_the_setup_progress(
    page: Page, portal: Portal
) -> None:
    sign_in(page, portal.owner)
    connect_store(page, portal)
    page.reload()  # the page refreshes itself while setting up; this is the settled view
    expect(page.get_by_role("status")).to_contain_text("Your Shopify store is connected")
    progress = page.get_by_test_id("setup-progress")
    expect(progress).to_contain_text("Setup finished")
    expect(progress).to_contain_text(re.compile(r"Webhooks subscribed\s*6\b"))
    expect(progress).to_contain_text(re.compile(r"Locations loaded\s*1\b"))
    expect(progress).to_contain_text(re.compile(r"Variants read\s*3\b"))
    expect(progress).to_contain_text(re.compile(r"Mapped to your products\s*3\b"))
    expect(page.get_by_role("heading", name="Acme Outdoors")).to_be_visible()
    expect(page.get_by_test_id("store-status")).to_have_text("active")
    screenshot(page, "connected")


def test_an_order_placed_in_the_store_arrives_on_the_orders_page(
    page: Page, portal: Portal
) -> None:
    portal.connect()
    sign_in(page, portal.owner)
    placed = portal.place_order({"MAT-XL": 2})
    order = portal.wait_for_order(placed)
    goto(page, "/portal/orders")
    expect(page.get_by_text(order.number, exact=False).first).to_be_visible()


def test_changing_a_setting_saves_it_and_a_bad_value_is_refused_on_the_page(
    page: Page, portal: Portal
) -> None:
    integration = portal.connect()
    sign_in(page, portal.owner)
    goto(page, INTEGRATIONS)
    page.get_by_text("Settings of Acme Outdoors").click()
    buffer = page.get_by_label("Inventory buffer")
    buffer.fill("3")
    page.get_by_label("Let Shopify e-mail the customer when an order ships").uncheck()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_have_text("The store's settings are saved.")
    expect(page.get_by_label("Inventory buffer")).to_have_value("3")
    expect(
        page.get_by_label("Let Shopify e-mail the customer when an order ships")
    ).not_to_be_checked()
    screenshot(page, "settings-saved")
    saved = portal.integration()
    assert saved is not None
    assert saved.settings.inventory_buffer == 3
    assert saved.settings.fulfillment_notify_customer is False

    # the browser's own range check is bypassed, as a hand-made request would
    interval = page.get_by_label("Full inventory check every (minutes)")
    interval.evaluate("input => input.removeAttribute('min')")
    interval.fill("1")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("alert")).to_contain_text("inventory sync interval must be")
    screenshot(page, "settings-refused")
    still = portal.integration()
    assert still is not None
    assert still.settings == saved.settings
    assert integration.id in page.url


def test_a_shop_name_that_is_not_a_store_shows_an_error_on_the_form(
    page: Page, portal: Portal
) -> None:
    sign_in(page, portal.owner)
    goto(page, INTEGRATIONS)
    shop = page.get_by_label("Store name")
    for typed, says in [
        ("evil.com", "not a Shopify store name"),
        ("a" * 5000, "not a Shopify store name"),
        ("nobody-here.myshopify.com", "Shopify has no store by that name"),
    ]:
        shop.evaluate("input => input.removeAttribute('maxlength')")
        shop.fill(typed)
        page.get_by_role("button", name="Connect", exact=True).click()
        expect(page).to_have_url(re.compile(re.escape(INTEGRATIONS)))
        expect(page.get_by_role("alert")).to_contain_text(says)
        expect(page.get_by_role("heading", name="Connect a Shopify store")).to_be_visible()
        screenshot(page, f"bad-shop-{typed[:20]}")
    assert portal.integration("nobody-here.myshopify.com") is None


def test_staff_choose_the_client_by_name_when_connecting(page: Page, portal: Portal) -> None:
    sign_in(page, portal.staff)
    goto(page, INTEGRATIONS)
    page.get_by_label("Client").select_option(label="Acme Outdoors")
    page.get_by_label("Store name").fill(SHOP)
    page.get_by_role("button", name="Connect", exact=True).click()
    page.get_by_role("button", name="Install").click()
    expect(page).to_have_url(re.compile(r"success=shopify_connected"))
    portal.wait_for_setup()
    page.reload()
    expect(page.get_by_text("Acme Outdoors · status")).to_be_visible()


def _box(page: Page, locator: str) -> dict[str, float]:
    box = page.locator(locator).bounding_box()
    assert box is not None, f"{locator} is not shown"
    return box


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_at_390_pixels_wide_no_page_scrolls_sideways_and_the_email_clears_sign_out(
    page: Page, portal: Portal
) -> None:
    portal.connect()
    long_email = User("a.very.long.address.for.testing.the.header@acme-outdoors.test")
    tenancy.create_user(
        portal.services.ctx,
        portal.services.passwords,
        SYSTEM,
        email=long_email.email,
        password=long_email.password,
        client_id=portal.client.id,
        role="admin",
    )
    page.set_viewport_size(NARROW)
    sign_in(page, long_email)
    for path in [INTEGRATIONS, "/portal/orders", "/portal/events", "/portal/account", "/nowhere"]:
        response = page.goto(path)
        assert response is not None
        screenshot(page, f"narrow-{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= NARROW["width"], f"{path} is {width} px wide"
        email = _box(page, "[data-testid=signed-in-as]")
        sign_out = _box(page, ".session button")
        assert not _overlap(email, sign_out), f"on {path} the e-mail overlaps Sign out"
        assert email["x"] + email["width"] <= NARROW["width"]
        assert sign_out["x"] + sign_out["width"] <= NARROW["width"]
