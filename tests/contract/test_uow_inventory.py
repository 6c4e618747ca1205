"""The unit-of-work contract for stock sync: dirty marks, push states and open-order units,
on every adapter."""

from __future__ import annotations

import pytest

from core.errors import NotFound
from core.model import InventoryPushState, OpenUnits
from tests.contract.conftest import T0, Make


@pytest.fixture
def store(make: Make, save):  # type: ignore[no-untyped-def]
    client, warehouse = make.client(), make.warehouse()
    integration = make.integration(client, status="active")
    product = make.product(client)
    mapping = make.mapping(integration, product)
    save(client, warehouse, integration, product, mapping)
    return {
        "client": client,
        "warehouse": warehouse,
        "integration": integration,
        "product": product,
        "mapping": mapping,
    }


def test_marking_stock_dirty_twice_keeps_one_mark_with_a_higher_version(uow_factory, store):
    integration, product, warehouse = store["integration"], store["product"], store["warehouse"]
    with uow_factory() as uow:
        uow.inventory.mark_dirty(integration.id, product.id, warehouse.id, T0)
        uow.commit()
    with uow_factory() as uow:
        [first] = uow.inventory.dirty(integration.id)
        uow.inventory.mark_dirty(integration.id, product.id, warehouse.id, T0)
        uow.commit()
    with uow_factory() as uow:
        [second] = uow.inventory.dirty(integration.id)
    assert (first.product_id, first.warehouse_id) == (product.id, warehouse.id)
    assert second.version > first.version


def test_clearing_dirty_marks_keeps_a_mark_made_since_it_was_read(uow_factory, make, store, save):
    integration, warehouse = store["integration"], store["warehouse"]
    other = make.product(store["client"])
    save(other)
    with uow_factory() as uow:
        uow.inventory.mark_dirty(integration.id, store["product"].id, warehouse.id, T0)
        uow.inventory.mark_dirty(integration.id, other.id, warehouse.id, T0)
        uow.commit()
    with uow_factory() as uow:
        seen = uow.inventory.dirty(integration.id)
    with uow_factory() as uow:  # a movement of ``other`` while the push ran
        uow.inventory.mark_dirty(integration.id, other.id, warehouse.id, T0)
        uow.commit()
    with uow_factory() as uow:
        assert uow.inventory.clear_dirty(seen) == 1
        uow.commit()
    with uow_factory() as uow:
        assert [d.product_id for d in uow.inventory.dirty(integration.id)] == [other.id]
        assert uow.inventory.dirty(make.id()) == []
        assert uow.inventory.clear_dirty([]) == 0


def test_a_rolled_back_mark_is_not_kept(uow_factory, store):
    integration = store["integration"]
    with uow_factory() as uow:
        uow.inventory.mark_dirty(integration.id, store["product"].id, store["warehouse"].id, T0)
    with uow_factory() as uow:
        assert uow.inventory.dirty(integration.id) == []


def test_push_states_round_trip_and_are_replaced_by_mapping_and_location(uow_factory, store):
    integration, mapping = store["integration"], store["mapping"]
    state = InventoryPushState(
        mapping_id=mapping.id,
        location_id="655441491",
        integration_id=integration.id,
        quantity=12,
        pushed_at=T0,
        error="Shopify is unavailable",
        error_at=T0,
        problem="the item is not stocked at this store location",
    )
    other = InventoryPushState(mapping.id, "487838322", integration.id)
    with uow_factory() as uow:
        uow.inventory.save_states([state, other])
        uow.commit()
    with uow_factory() as uow:
        assert uow.inventory.states(integration.id) == sorted(
            [state, other], key=lambda s: (s.mapping_id, s.location_id)
        )
    state.quantity, state.problem = 7, None
    with uow_factory() as uow:
        uow.inventory.save_states([state])
        uow.commit()
    with uow_factory() as uow:
        found = {s.location_id: s for s in uow.inventory.states(integration.id)}
    assert found["655441491"] == state
    assert found["487838322"] == other


def test_push_states_go_with_their_mapping(uow_factory, store):
    integration, mapping = store["integration"], store["mapping"]
    with uow_factory() as uow:
        uow.inventory.save_states([InventoryPushState(mapping.id, "1", integration.id, 3)])
        uow.commit()
    with uow_factory() as uow:
        uow.mappings.delete(mapping.id)
        uow.commit()
    with uow_factory() as uow:
        assert uow.inventory.states(integration.id) == []


def test_a_push_state_of_an_unknown_mapping_is_refused_by_commit(uow_factory, make, store):
    unknown = InventoryPushState(make.id(), "1", store["integration"].id, 3)
    with uow_factory() as uow, pytest.raises(NotFound):  # noqa: PT012 - at save or commit
        uow.inventory.save_states([unknown])
        uow.commit()
    with uow_factory() as uow:
        assert uow.inventory.states(store["integration"].id) == []


def test_open_units_sum_unshipped_mapped_lines_of_open_orders_by_variant_and_location(
    uow_factory, make, store, save
):
    client, warehouse, integration, product = (
        store["client"],
        store["warehouse"],
        store["integration"],
        store["product"],
    )

    def order(status: str, *items):  # type: ignore[no-untyped-def]
        return make.order(
            client,
            warehouse,
            status=status,
            external=make.external(integration),
            items=list(items),
        )

    at = {"external_variant_id": "v1", "external_location_id": "L1"}
    save(
        order("allocated", make.item(product, quantity=3, shipped_quantity=1, **at)),
        order("packing", make.item(product, quantity=2, **at)),
        order("pending", make.item(product, quantity=4, **at)),
        order("on_hold", make.item(product, quantity=1, external_variant_id="v2")),
        order("on_hold", make.item(None, quantity=9, **at)),  # unmapped: not counted
        order("shipped", make.item(product, quantity=5, shipped_quantity=5, **at)),
        order("cancelled", make.item(product, quantity=6, **at)),
        make.order(client, warehouse, status="allocated", items=[make.item(product)]),  # manual
    )
    with uow_factory() as uow:
        units = uow.orders.open_units(integration.id)
        assert uow.orders.open_units(make.id()) == []
    assert units == [
        OpenUnits(product.id, warehouse.id, "v1", "L1", reserved=4, unreserved=4),
        OpenUnits(product.id, warehouse.id, "v2", None, reserved=0, unreserved=1),
    ]


def test_an_order_is_peeked_by_its_store_id(uow_factory, make, store, save):
    external = make.external(store["integration"])
    order = make.order(store["client"], store["warehouse"], external=external)
    save(order)
    with uow_factory() as uow:
        assert (
            uow.orders.peek_external(store["integration"].id, external.external_order_id) == order
        )
        assert uow.orders.peek_external(store["integration"].id, "0") is None
