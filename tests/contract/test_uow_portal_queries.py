"""The reads the portal's pages make, alike on every adapter: orders searched and paged by
keyset, and the batched reads that keep a page to a handful of queries (shipments of many
orders, mappings of many variants, levels, push states and changes of a page's products,
products by id, and the events about one store order)."""

from __future__ import annotations

import pytest

from core.model import InventoryPushState, StockLevel
from core.ports import OrderCursor, OrderSearch
from tests.contract.conftest import T0


@pytest.fixture
def store(make, save):
    """A client with a store, a warehouse and two products; and another client."""
    client, other, warehouse = make.client(), make.client(), make.warehouse()
    tee = make.product(client, sku="TEE-RED")
    mug = make.product(client, sku="MUG-1")
    integration = make.integration(client, status="active")
    save(client, other, warehouse, tee, mug, integration)
    return {
        "client": client,
        "other": other,
        "warehouse": warehouse,
        "tee": tee,
        "mug": mug,
        "integration": integration,
    }


def _ids(orders):
    return [o.number for o in orders]


# --- searching and paging orders ---------------------------------------------------------------


@pytest.fixture
def orders(make, save, store):
    """Six orders a minute apart (newest last), of two clients, with customers and lines."""
    client, other, warehouse = store["client"], store["other"], store["warehouse"]
    address = make.address()
    made = [
        make.order(
            client,
            warehouse,
            number="A-1",
            created_at=make.at(1),
            email="ada@example.com",
            items=[make.item(store["tee"], sku="TEE-RED")],
        ),
        make.order(
            client,
            warehouse,
            number="A-2",
            created_at=make.at(2),
            status="on_hold",
            external=make.external(store["integration"], external_number="#1042"),
            items=[make.item(None, sku="Gift_Wrap%", quantity=1)],
        ),
        make.order(
            client,
            warehouse,
            number="A-3",
            created_at=make.at(3),
            ship_to=address,
            items=[make.item(store["mug"], sku="MUG-1")],
        ),
        make.order(other, warehouse, number="B-1", created_at=make.at(4), email="bo@example.org"),
        make.order(client, warehouse, number="A-4", created_at=make.at(5), status="shipped"),
        make.order(client, warehouse, number="A-5", created_at=make.at(5), status="on_hold"),
    ]
    save(*made)
    return made


def test_an_order_search_lists_newest_first_with_items_and_filters(uow_factory, orders, store):
    with uow_factory() as uow:
        everything = uow.orders.search(OrderSearch())
        newest_first = sorted(orders, key=lambda o: (o.created_at, o.id), reverse=True)
        assert _ids(everything) == _ids(newest_first)
        assert everything[-1] == orders[0]  # with its items
        client = store["client"].id
        assert "B-1" not in _ids(uow.orders.search(OrderSearch(client_id=client)))
        held = uow.orders.search(OrderSearch(client_id=client, status="on_hold"))
        assert sorted(_ids(held)) == ["A-2", "A-5"]
        assert _ids(uow.orders.search(OrderSearch(status="shipped"))) == ["A-4"]


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("a-3", ["A-3"]),  # the order number, in any case
        ("1042", ["A-2"]),  # the store's order number
        ("tee-r", ["A-1"]),  # a line's SKU
        ("ADA@EXAMPLE", ["A-1"]),  # the e-mail
        ("example.org", ["B-1"]),
        ("wrap%", ["A-2"]),  # wildcards are taken literally
        ("_wrap", ["A-2"]),
        ("%", ["A-2"]),  # only the SKU with a "%" in it
        ("nothing like it", []),
    ],
)
def test_an_order_search_finds_number_store_number_sku_or_email_anywhere(
    uow_factory, orders, q, found
):
    with uow_factory() as uow:
        assert sorted(_ids(uow.orders.search(OrderSearch(q=q.lower())))) == found


def test_an_order_search_finds_the_ship_to_name(uow_factory, orders, make):
    name = make.address().name
    assert name
    with uow_factory() as uow:
        assert _ids(uow.orders.search(OrderSearch(q=name[2:].lower()))) == ["A-3"]


def test_orders_are_paged_by_keyset_both_ways(uow_factory, make, save, store):
    made = [
        make.order(store["client"], store["warehouse"], number=f"P-{i}", created_at=make.at(i // 2))
        for i in range(7)
    ]  # pairs share a creation time: the id breaks the tie
    save(*made)
    newest_first = sorted(made, key=lambda o: (o.created_at, o.id), reverse=True)

    def cursor(o):
        return OrderCursor(o.created_at, o.id)

    with uow_factory() as uow:
        first = uow.orders.search(OrderSearch(limit=3))
        second = uow.orders.search(OrderSearch(limit=3, after=cursor(first[-1])))
        third = uow.orders.search(OrderSearch(limit=3, after=cursor(second[-1])))
        back = uow.orders.search(OrderSearch(limit=3, before=cursor(third[0])))
        top = uow.orders.search(OrderSearch(limit=3, before=cursor(first[1])))
    assert [*first, *second, *third] == newest_first
    assert back == second  # the page just newer than the third, newest first
    assert top == first[:1]


# --- batched reads -------------------------------------------------------------------------------


def test_shipments_of_several_orders_come_in_one_read_oldest_first(uow_factory, make, save, store):
    client, warehouse = store["client"], store["warehouse"]
    one, two, three = (make.order(client, warehouse, items=[make.item()]) for _ in range(3))
    late = make.shipment(one, created_at=make.at(2))
    early = make.shipment(two, created_at=make.at(1))
    elsewhere = make.shipment(three)
    save(one, two, three, late, early, elsewhere)
    with uow_factory() as uow:
        assert uow.shipments.for_orders([one.id, two.id]) == [early, late]
        assert uow.shipments.for_orders([]) == []


def test_mappings_of_several_variants_come_in_one_read(uow_factory, make, save, store):
    integration, other = store["integration"], make.integration(store["client"])
    tee = make.mapping(integration, store["tee"], external_variant_id="101")
    mug = make.mapping(integration, store["mug"], external_variant_id="102")
    foreign = make.mapping(other, store["tee"], external_variant_id="101")
    save(other, tee, mug, foreign)
    with uow_factory() as uow:
        assert uow.mappings.for_variants(integration.id, ["102", "101", "999"]) == [tee, mug]
        assert uow.mappings.for_variants(integration.id, []) == []


def test_products_levels_states_and_changes_are_read_for_the_products_given(
    uow_factory, make, save, store
):
    integration, warehouse = store["integration"], store["warehouse"]
    tee, mug = store["tee"], store["mug"]
    tee_map = make.mapping(integration, tee)
    mug_map = make.mapping(integration, mug)
    save(tee_map, mug_map)
    with uow_factory() as uow:
        uow.stock.save_level(StockLevel(tee.id, warehouse.id, on_hand=5, reserved=1))
        uow.stock.save_level(StockLevel(mug.id, warehouse.id, on_hand=2))
        uow.inventory.save_states(
            [
                InventoryPushState(tee_map.id, "7001", integration.id, quantity=4, pushed_at=T0),
                InventoryPushState(mug_map.id, "7001", integration.id, quantity=2),
            ]
        )
        uow.inventory.mark_dirty(integration.id, mug.id, warehouse.id, T0)
        uow.commit()
    with uow_factory() as uow:
        assert uow.products.get_many([mug.id, "missing"]) == [mug]
        assert [lv.product_id for lv in uow.stock.levels(product_ids=[tee.id])] == [tee.id]
        assert uow.stock.levels(product_ids=[]) == []
        states = uow.inventory.states(integration.id, mapping_ids=[tee_map.id])
        assert [(s.mapping_id, s.quantity) for s in states] == [(tee_map.id, 4)]
        assert len(uow.inventory.states(integration.id)) == 2
        assert uow.inventory.dirty(integration.id, product_ids=[tee.id]) == []
        marks = uow.inventory.dirty(integration.id, product_ids=[mug.id])
        assert [d.product_id for d in marks] == [mug.id]


def test_the_events_about_a_store_order_are_found_newest_first(uow_factory, make, save, store):
    integration, other = store["integration"], make.integration(store["client"])
    created = make.event(
        integration_id=integration.id, payload={"id": 450789469}, received_at=make.at(1)
    )
    reconciled = make.event(
        integration_id=integration.id,
        payload={"id": "450789469", "name": "#1001"},
        received_at=make.at(3),
        source="reconcile",
    )
    edited = make.event(
        integration_id=integration.id,
        topic="orders/edited",
        payload={"order_edit": {"id": 1, "order_id": 450789469}},
        received_at=make.at(2),
    )
    another_order = make.event(integration_id=integration.id, payload={"id": 450789470})
    another_store = make.event(integration_id=other.id, payload={"id": 450789469})
    save(other, created, reconciled, edited, another_order, another_store)
    with uow_factory() as uow:
        found = uow.inbox.for_store_order(integration.id, "450789469")
        assert [e.id for e in found] == [reconciled.id, edited.id, created.id]
        assert len(uow.inbox.for_store_order(integration.id, "450789469", limit=1)) == 1
        assert uow.inbox.for_store_order(integration.id, "1") == []
