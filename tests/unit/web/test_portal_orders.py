"""The orders list and an order's page: who sees which orders, search, filters and pages, why
a waiting order waits (with a link to map the variant that holds it), and the staff actions on
an order, each a form with the session's CSRF token whose bad input shows on the page."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.model import (
    Address,
    ExternalRef,
    InboxEvent,
    InventoryPushState,
    OutboundItem,
    OutboundOrder,
    Shipment,
)
from core.services import SYSTEM, orders
from core.services import stock as stock_services
from core.services.orders import NewItem
from entrypoints.bootstrap import Services
from tests.unit.web.conftest import People
from tests.unit.web.test_portal_pages import PRODUCTS, Shop, _landing, _sign_in, _text

Browser = tuple[FlaskClient, str]


@pytest.fixture
def shop(services: Services, people: People) -> Shop:
    return Shop(services, people)


@pytest.fixture
def owner(app: Flask, people: People) -> Browser:
    return _sign_in(app, "owner@acme.test")


@pytest.fixture
def member(app: Flask, people: People) -> Browser:
    return _sign_in(app, "member@acme.test")


@pytest.fixture
def outsider(app: Flask, people: People) -> Browser:
    return _sign_in(app, "owner@globex.test")


@pytest.fixture
def staff(app: Flask, people: People) -> Browser:
    return _sign_in(app, "staff@3pl.test")


class Orders:
    """Acme's orders as the pages find them: one allocated manual order (two lines, stock
    for both), one store order held by an unmapped variant, one pending for lack of stock;
    and one of Globex's."""

    def __init__(self, services: Services, people: People, shop: Shop) -> None:
        self.services = services
        ctx = services.ctx
        for product in (shop.tee, shop.mug):
            stock_services.receive_stock(
                ctx, SYSTEM, warehouse_id=shop.main.id, quantity=10, product_id=product.id
            )
        self.allocated = self.manual(
            people.acme.id,
            shop,
            "ACME-1",
            [NewItem(quantity=3, product_id=shop.tee.id), NewItem(1, product_id=shop.mug.id)],
            email="ada@example.com",
            ship_to=Address(name="Ada Lovelace", address1="12 St James's Square", city="London"),
        )
        self.short = self.manual(
            people.acme.id, shop, "ACME-2", [NewItem(quantity=2, product_id=shop.poster.id)]
        )
        self.foreign = self.manual(
            people.globex.id, shop, "GLOBEX-1", [NewItem(quantity=1, product_id=shop.foreign.id)]
        )
        self.held = self.store_order(shop, people.acme.id)

    def manual(
        self,
        client_id: str,
        shop: Shop,
        number: str,
        items: list[NewItem],
        **fields: object,
    ) -> OutboundOrder:
        self.services.ctx.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
        return orders.create_order(
            self.services.ctx,
            SYSTEM,
            client_id=client_id,
            warehouse_id=shop.main.id,
            items=items,
            number=number,
            **fields,  # type: ignore[arg-type]
        )

    def store_order(self, shop: Shop, client_id: str) -> OutboundOrder:
        ctx = self.services.ctx
        ctx.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
        now = ctx.clock.now()
        order = OutboundOrder(
            id=ctx.ids.new_id(),
            client_id=client_id,
            warehouse_id=shop.main.id,
            number="ACME-1001",
            created_at=now,
            updated_at=now,
            status="on_hold",
            source="shopify",
            external=ExternalRef("shopify", shop.integration.id, "450789469", "#1001"),
            email="grace@example.com",
            hold_reason="unmapped lines: POSTER-XL (variant 103)",
            items=[
                OutboundItem(
                    id=ctx.ids.new_id(),
                    product_id=None,
                    sku="POSTER-XL",
                    name="Harbour poster",
                    quantity=1,
                    external_variant_id="103",
                )
            ],
        )
        event = InboxEvent(
            id=ctx.ids.new_id(),
            platform="shopify",
            topic="orders/create",
            delivery_id="d-order-1001",
            received_at=now,
            next_attempt_at=now,
            payload={"id": 450789469, "name": "#1001"},
            integration_id=shop.integration.id,
            status="processed",
        )
        with ctx.uow() as uow:
            uow.orders.add(order)
            uow.inbox.add(event)
            uow.commit()
        return order

    def get(self, order_id: str) -> OutboundOrder:
        with self.services.ctx.uow() as uow:
            found = uow.orders.get(order_id)
        assert found is not None
        return found

    def shipments(self, order_id: str) -> list[Shipment]:
        with self.services.ctx.uow() as uow:
            return uow.shipments.for_order(order_id)


@pytest.fixture
def placed(services: Services, people: People, shop: Shop) -> Orders:
    return Orders(services, people, shop)


def _page(order: OutboundOrder) -> str:
    return f"/portal/orders/{order.id}"


def _links(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html.replace("&amp;", "&"))


# --- the list --------------------------------------------------------------------------------


def test_a_client_user_sees_only_their_clients_orders_newest_first(
    placed: Orders, member: Browser
) -> None:
    browser, _ = member
    text = _text(browser.get("/portal/orders"))
    assert text.index("ACME-1001") < text.index("ACME-2") < text.index("ACME-1 ")
    assert "GLOBEX-1" not in text
    assert "Client" not in text.split("Store")[0]  # no client column or filter for them
    # a client filter in the query is staff's alone: it shows them nothing else
    assert "GLOBEX-1" not in _text(browser.get(f"/portal/orders?client={placed.foreign.client_id}"))


def test_staff_see_every_clients_orders_with_the_client_and_filter_by_client_and_status(
    placed: Orders, people: People, staff: Browser
) -> None:
    browser, _ = staff
    everything = _text(browser.get("/portal/orders"))
    assert "ACME-1 Acme Manual allocated" in everything.replace("manual", "Manual")
    assert "GLOBEX-1 Globex" in everything
    acme = _text(browser.get(f"/portal/orders?client={people.acme.id}"))
    assert "ACME-1" in acme
    assert "GLOBEX-1 Globex" not in acme
    held = _text(browser.get("/portal/orders?status=on_hold"))
    assert "ACME-1001" in held
    assert "ACME-2" not in held
    assert browser.get("/portal/orders?status=lost").status_code == 400


def test_the_old_staff_orders_address_opens_the_list_with_its_filters(
    placed: Orders, people: People, staff: Browser, owner: Browser
) -> None:
    browser, _ = staff
    response = browser.get(f"/staff/orders?client_id={people.acme.id}&status=pending")
    path, query = _landing(response)
    assert path == "/portal/orders"
    assert query == {"client": [people.acme.id], "status": ["pending"]}
    assert owner[0].get("/staff/orders").status_code == 403


@pytest.mark.parametrize(
    ("q", "found", "not_found"),
    [
        ("acme-2", "ACME-2", "ACME-1001"),  # the order number
        ("#1001", "ACME-1001", "ACME-2"),  # the store's order number as Shopify shows it
        ("poster-x", "ACME-1001", "ACME-2"),  # a line's SKU
        ("Lovelace", "ACME-1 ", "ACME-2"),  # the customer's name
        ("GRACE@", "ACME-1001", "ACME-1 "),  # the e-mail
    ],
)
def test_the_list_searches_number_sku_customer_name_and_email(
    placed: Orders, owner: Browser, q: str, found: str, not_found: str
) -> None:
    browser, _ = owner
    text = _text(browser.get("/portal/orders", query_string={"q": q})) + " "
    assert found in text
    assert not_found not in text


def test_the_list_pages_older_and_newer_keeping_the_filters(placed: Orders, owner: Browser) -> None:
    browser, _ = owner
    first = browser.get("/portal/orders?per_page=2&q=acme").get_data(as_text=True)
    assert "ACME-1001" in first
    assert "ACME-2" in first
    assert "ACME-1<" not in first
    older = next(link for link in _links(first) if "after=" in link)
    assert parse_qs(urlsplit(older).query)["q"] == ["acme"]
    second = browser.get(older).get_data(as_text=True)
    assert ">ACME-1<" in second
    assert "ACME-1001" not in second
    assert not any("after=" in link for link in _links(second))  # the last page
    newer = next(link for link in _links(second) if "before=" in link)
    back = browser.get(newer).get_data(as_text=True)
    assert "ACME-1001" in back
    assert "ACME-2" in back
    assert browser.get("/portal/orders?after=yesterday").status_code == 400


def test_a_held_order_says_which_variant_holds_it_and_links_to_mapping_it(
    placed: Orders, shop: Shop, owner: Browser
) -> None:
    browser, _ = owner
    html = browser.get("/portal/orders").get_data(as_text=True)
    text = _text(browser.get("/portal/orders"))
    assert "on_hold held: store variant 103 (POSTER-XL) is not mapped" in text
    link = next(link for link in _links(html) if "variant=103" in link)
    assert urlsplit(link).path == PRODUCTS
    products = browser.get(link)
    assert products.status_code == 200
    page = _text(products)
    assert "Showing store variant 103 only" in page
    assert "Harbour poster A2" in page
    assert "Classic tee" not in page  # only the variant the order waits for
    assert 'name="external_variant_id" value="103"' in products.get_data(as_text=True)


def test_a_pending_order_says_which_stock_it_waits_for(placed: Orders, owner: Browser) -> None:
    text = _text(owner[0].get("/portal/orders"))
    assert "pending waiting for stock: POSTER-A2 (needs 2, 0 available)" in text


def test_an_empty_list_says_what_to_do_next(shop: Shop, owner: Browser) -> None:
    browser, _ = owner
    assert "Connect your store on the Integrations page" in _text(browser.get("/portal/orders"))
    assert "No order matches" in _text(browser.get("/portal/orders?q=nothing"))


# --- an order's page ---------------------------------------------------------------------------


def test_another_clients_order_or_an_unknown_one_is_a_404_page(
    placed: Orders, outsider: Browser, staff: Browser
) -> None:
    browser, _token = outsider
    response = browser.get(_page(placed.allocated))
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "ACME-1" not in response.get_data(as_text=True)
    assert staff[0].get("/portal/orders/nope").status_code == 404


def test_the_order_page_shows_lines_address_store_order_and_its_events(
    placed: Orders, member: Browser
) -> None:
    browser, _ = member
    response = browser.get(_page(placed.held))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    text = _text(response)
    assert "POSTER-XL Harbour poster not mapped: map store variant 103 1 0 1" in text
    assert "From the store acme.myshopify.com (acme.myshopify.com): order #1001" in text
    assert "https://acme.myshopify.com/admin/orders/450789469" in html
    assert "orders/create webhook processed" in text
    assert "d-dead" not in text  # another order's events are not here
    allocated = _text(browser.get(_page(placed.allocated)))
    assert "TEE-RED Red tee 3 0 3" in allocated
    assert "Ada Lovelace 12 St James's Square London" in allocated
    assert "Nothing shipped yet." in allocated


def test_client_users_see_the_order_page_without_actions(placed: Orders, owner: Browser) -> None:
    html = owner[0].get(_page(placed.allocated)).get_data(as_text=True)
    assert '<form method="post" action="/portal/orders/' not in html
    assert "Actions" not in _text(owner[0].get(_page(placed.allocated)))


ACTIONS = [
    ("ship", {"carrier": "DHL", "tracking_number": "JD1"}),
    ("status", {"status": "picking"}),
    ("release-hold", {}),
    ("cancel", {"confirm": "1"}),
]


@pytest.mark.parametrize(("action", "form"), ACTIONS)
@pytest.mark.parametrize("who", ["owner", "member"])
def test_a_client_users_action_is_403_and_changes_nothing(
    placed: Orders, request: pytest.FixtureRequest, who: str, action: str, form: dict[str, str]
) -> None:
    browser, token = request.getfixturevalue(who)
    response = browser.post(
        f"{_page(placed.allocated)}/{action}", data={**form, "csrf_token": token}
    )
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert placed.get(placed.allocated.id).status == "allocated"


@pytest.mark.parametrize(("action", "form"), ACTIONS)
def test_an_action_without_the_sessions_csrf_token_is_refused(
    placed: Orders, staff: Browser, action: str, form: dict[str, str]
) -> None:
    browser, _ = staff
    response = browser.post(f"{_page(placed.allocated)}/{action}", data=form)
    assert response.status_code == 403
    assert placed.get(placed.allocated.id).status == "allocated"
    assert placed.shipments(placed.allocated.id) == []


def test_staff_ship_every_line_left_and_are_sent_back_with_a_message(
    placed: Orders, staff: Browser
) -> None:
    browser, token = staff
    page = browser.get(_page(placed.allocated)).get_data(as_text=True)
    quantities = dict(re.findall(r'name="(qty-[^"]+)" min="0" max="\d+" value="(\d+)"', page))
    assert sorted(quantities.values()) == ["1", "3"]
    response = browser.post(
        f"{_page(placed.allocated)}/ship",
        data={
            **quantities,
            "carrier": "DHL",
            "tracking_number": "JD014600006281",
            "tracking_url": "https://track.example/JD014600006281",
            "csrf_token": token,
        },
    )
    path, query = _landing(response)
    assert (path, query) == (_page(placed.allocated), {"message": ["order_shipped"]})
    after = browser.get(response.headers["Location"])
    assert "The shipment is recorded" in _text(after)
    assert 'href="https://track.example/JD014600006281"' in after.get_data(as_text=True)
    assert placed.get(placed.allocated.id).status == "shipped"


def test_staff_ship_chosen_lines_and_the_order_waits_for_the_rest(
    placed: Orders, staff: Browser
) -> None:
    browser, token = staff
    tee, mug = placed.allocated.items
    response = browser.post(
        f"{_page(placed.allocated)}/ship",
        data={
            f"qty-{tee.id}": "2",
            f"qty-{mug.id}": "0",
            "carrier": "UPS",
            "tracking_number": "1Z999",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    order = placed.get(placed.allocated.id)
    assert order.status == "packing"
    assert [(i.sku, i.shipped_quantity) for i in order.items] == [("TEE-RED", 2), ("MUG-1", 0)]
    listed = _text(browser.get("/portal/orders"))
    assert "UPS 1Z999" in listed


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"carrier": "DHL"}, "Enter the tracking number"),
        ({"tracking_number": "JD1"}, "Enter the carrier"),
        ({"carrier": "DHL", "tracking_number": "JD1", "tracking_url": "javascript:x"}, "https://"),
        ({"carrier": "DHL", "tracking_number": "JD1", "qty-TEE": "4"}, "more than what is left"),
        ({"carrier": "DHL", "tracking_number": "JD1", "qty-TEE": "two"}, "whole numbers"),
        ({"carrier": "DHL", "tracking_number": "JD1", "qty-TEE": "0"}, "at least one line"),
        ({"carrier": "D" * 101, "tracking_number": "JD1"}, "at most 100 characters"),
    ],
)
def test_bad_shipping_input_shows_on_the_order_page_and_ships_nothing(
    placed: Orders, staff: Browser, form: dict[str, str], error: str
) -> None:
    browser, token = staff
    tee, mug = placed.allocated.items
    data = {key.replace("qty-TEE", f"qty-{tee.id}"): value for key, value in form.items()}
    if "qty-TEE" in form:
        data[f"qty-{mug.id}"] = "0"
    response = browser.post(f"{_page(placed.allocated)}/ship", data={**data, "csrf_token": token})
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    text = _text(response)
    assert error in text
    assert "Order ACME-1" in text  # the order's page, not an error page
    if "tracking_number" in form:
        assert 'value="JD1"' in response.get_data(as_text=True)  # what was typed is kept
    assert placed.shipments(placed.allocated.id) == []
    assert placed.get(placed.allocated.id).status == "allocated"


def test_shipping_an_order_that_holds_no_stock_says_so(placed: Orders, staff: Browser) -> None:
    browser, token = staff
    response = browser.post(
        f"{_page(placed.short)}/ship",
        data={"carrier": "DHL", "tracking_number": "JD1", "csrf_token": token},
    )
    assert response.status_code == 409
    assert "Only allocated, picking or packing orders can ship" in _text(response)


def test_only_the_moves_the_status_machine_allows_are_offered_and_others_refused(
    placed: Orders, staff: Browser
) -> None:
    browser, token = staff
    html = browser.get(_page(placed.allocated)).get_data(as_text=True)
    offered = re.findall(r'<option value="([a-z_]+)">', html)
    assert offered == ["pending", "picking", "on_hold"]
    refused = browser.post(
        f"{_page(placed.allocated)}/status", data={"status": "packing", "csrf_token": token}
    )
    assert refused.status_code == 409
    assert "cannot move to that status" in _text(refused)
    assert placed.get(placed.allocated.id).status == "allocated"
    moved = browser.post(
        f"{_page(placed.allocated)}/status", data={"status": "picking", "csrf_token": token}
    )
    assert _landing(moved) == (_page(placed.allocated), {"message": ["status_changed"]})
    assert placed.get(placed.allocated.id).status == "picking"
    held = browser.get(_page(placed.held)).get_data(as_text=True)
    assert re.findall(r'<option value="([a-z_]+)">', held) == []  # pending is "release hold"


def test_releasing_a_hold_needs_the_variant_mapped_first_and_mapping_releases_it(
    placed: Orders, shop: Shop, staff: Browser
) -> None:
    browser, token = staff
    refused = browser.post(f"{_page(placed.held)}/release-hold", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "still not mapped to products" in _text(refused)
    assert placed.get(placed.held.id).status == "on_hold"
    mapped = browser.post(
        f"{PRODUCTS}/map",
        data={
            "integration": shop.integration.id,
            "external_variant_id": "103",
            "product_id": shop.poster.id,
            "variant": "103",
            "csrf_token": token,
        },
    )
    assert _landing(mapped)[1]["variant"] == ["103"]  # back on the same variant
    # the mapping made every line resolvable: the order released itself
    assert placed.get(placed.held.id).status != "on_hold"
    again = browser.post(f"{_page(placed.held)}/release-hold", data={"csrf_token": token})
    assert "The order is not on hold" in _text(again)


def test_cancelling_needs_the_confirmation(placed: Orders, staff: Browser) -> None:
    browser, token = staff
    unconfirmed = browser.post(
        f"{_page(placed.allocated)}/cancel", data={"reason": "customer", "csrf_token": token}
    )
    assert unconfirmed.status_code == 422
    assert "Tick the confirmation box" in _text(unconfirmed)
    assert placed.get(placed.allocated.id).status == "allocated"
    confirmed = browser.post(
        f"{_page(placed.allocated)}/cancel",
        data={"reason": "customer", "confirm": "1", "csrf_token": token},
    )
    assert _landing(confirmed) == (_page(placed.allocated), {"message": ["order_cancelled"]})
    assert placed.get(placed.allocated.id).status == "cancelled"
    page = browser.get(_page(placed.allocated)).get_data(as_text=True)
    assert "Cancel order" not in page
    assert "Change status" not in page


# --- the products page: stock and sync state per variant ----------------------------------------


def test_the_products_page_says_per_location_whether_stock_is_in_sync_or_failed(
    services: Services, shop: Shop, owner: Browser
) -> None:
    stock_services.receive_stock(
        services.ctx, SYSTEM, warehouse_id=shop.main.id, quantity=4, product_id=shop.tee.id
    )
    page = f"{PRODUCTS}?integration={shop.integration.id}"

    def told(state: InventoryPushState) -> None:
        with services.ctx.uow() as uow:
            uow.inventory.save_states([state])
            uow.inventory.clear_dirty(uow.inventory.dirty(shop.integration.id))
            uow.commit()

    now = services.ctx.clock.now()
    mapping, store = shop.tee_mapping.id, shop.integration.id
    told(InventoryPushState(mapping, "7001", store, error="the store refused it", error_at=now))
    text = _text(owner[0].get(page))
    assert "Shop front: failed" in text
    assert "the store refused it" in text
    told(InventoryPushState(mapping, "7001", store, quantity=4, pushed_at=now))
    assert "Shop front: in sync · store: 4 · pushed" in _text(owner[0].get(page))
    stock_services.receive_stock(
        services.ctx, SYSTEM, warehouse_id=shop.main.id, quantity=1, product_id=shop.tee.id
    )
    assert "Shop front: change waiting to be pushed · store: 4" in _text(owner[0].get(page))
