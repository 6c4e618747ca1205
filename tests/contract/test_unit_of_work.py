"""The ``UnitOfWork`` contract: every adapter stores, finds, orders and refuses alike.

Each test runs once per adapter (``[memory]``, ``[postgres]``) on an empty store. Queue claims
are in ``test_uow_queues.py``; what only PostgreSQL can show (concurrency, constraints) in
``test_uow_postgres.py``.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta, timezone

import pytest
from attrs import evolve

from adapters.postgres import PostgresInboxWriter, PostgresUnitOfWork
from adapters.system import ManualClock, UuidIdGenerator
from core.errors import Conflict, NotFound, PayloadError
from core.model import Client, StockLevel
from core.ports import InboxWriter
from core.services import Context, webhooks
from core.services._context import UnitOfWorkInbox
from core.services.integrations import StoreContext

# --- the unit of work itself -------------------------------------------------------------------


def test_committed_work_is_seen_by_the_next_unit_of_work(uow_factory, make):
    client = make.client()
    with uow_factory() as uow:
        uow.clients.add(client)
        uow.commit()

    with uow_factory() as uow:
        assert uow.clients.get(client.id) == client


def test_a_snapshot_taken_first_reads_as_usual_and_again_after_a_commit(uow_factory, make):
    client = make.client()
    with uow_factory() as uow:
        uow.clients.add(client)
        uow.commit()
        uow.snapshot()  # a new transaction begins after a commit
        assert uow.clients.get(client.id) == client
    with uow_factory() as uow:
        uow.snapshot()
        assert uow.clients.get(client.id) == client


def test_leaving_without_commit_discards_the_work(uow_factory, make):
    client = make.client()
    with uow_factory() as uow:
        uow.clients.add(client)

    with uow_factory() as uow:
        assert uow.clients.get(client.id) is None
        assert uow.clients.list() == []


def _add_then_fail(uow_factory, client: Client) -> None:
    with uow_factory() as uow:
        uow.clients.add(client)
        raise RuntimeError("the handler failed")


def test_an_exception_in_the_block_discards_the_work_and_propagates(uow_factory, make):
    client = make.client()
    with pytest.raises(RuntimeError, match="the handler failed"):
        _add_then_fail(uow_factory, client)

    with uow_factory() as uow:
        assert uow.clients.get(client.id) is None


def test_rollback_discards_only_the_work_since_the_last_commit(uow_factory, make):
    kept, dropped, later = make.client(name="A"), make.client(name="B"), make.client(name="C")
    with uow_factory() as uow:
        uow.clients.add(kept)
        uow.commit()
        uow.clients.add(dropped)
        uow.rollback()
        assert uow.clients.get(dropped.id) is None
        uow.clients.add(later)
        uow.commit()

    with uow_factory() as uow:
        assert [c.name for c in uow.clients.list()] == ["A", "C"]


def test_work_after_a_commit_needs_its_own_commit(uow_factory, make):
    first, second = make.client(), make.client()
    with uow_factory() as uow:
        uow.clients.add(first)
        uow.commit()
        uow.clients.add(second)

    with uow_factory() as uow:
        assert uow.clients.get(first.id) == first
        assert uow.clients.get(second.id) is None


def test_a_refused_write_undoes_only_itself_and_the_unit_of_work_goes_on(uow_factory, make):
    first, second = make.client(name="Acme"), make.client(name="Globex")
    with uow_factory() as uow:
        uow.clients.add(first)
        with pytest.raises(Conflict):
            uow.clients.add(make.client(name="Acme"))
        uow.clients.add(second)
        uow.commit()

    with uow_factory() as uow:
        assert uow.clients.list() == [first, second]


def test_changing_an_object_read_changes_nothing_until_it_is_saved(uow_factory, make, save):
    client = make.client(name="Acme")
    save(client)

    with uow_factory() as uow:
        read = uow.clients.get(client.id)
        read.name = "Changed"
        assert uow.clients.get(client.id).name == "Acme"
        uow.commit()

    with uow_factory() as uow:
        assert uow.clients.get(client.id).name == "Acme"


def test_times_come_back_timezone_aware_as_the_same_instant(uow_factory, make):
    paris = timezone(timedelta(hours=1))
    warehouse = make.warehouse(created_at=make.at().astimezone(paris))
    with uow_factory() as uow:
        uow.warehouses.add(warehouse)
        uow.commit()

    with uow_factory() as uow:
        got = uow.warehouses.get(warehouse.id)
    assert got.created_at == make.at()
    assert got.created_at.utcoffset() is not None


def test_times_keep_their_microseconds_and_come_back_in_utc(uow_factory, make):
    warehouse = make.warehouse(created_at=make.at())
    with uow_factory() as uow:
        uow.warehouses.add(warehouse)
        uow.commit()

    with uow_factory() as uow:
        got = uow.warehouses.get(warehouse.id)
    assert got.created_at == make.at()
    assert got.created_at.microsecond == 123456
    assert got.created_at.utcoffset() == timedelta(0)


# --- clients -----------------------------------------------------------------------------------


def test_a_client_round_trips_with_every_field(uow_factory, make, save):
    warehouse = make.warehouse()
    client = make.client(default_warehouse_id=warehouse.id)
    save(warehouse, client)

    with uow_factory() as uow:
        assert uow.clients.get(client.id) == client
        assert uow.clients.get_by_name(client.name) == client


def test_an_unknown_client_is_none(uow_factory, make, save):
    save(make.client(name="Acme"))

    with uow_factory() as uow:
        assert uow.clients.get(make.id()) is None
        assert uow.clients.get_by_name("Globex") is None


def test_clients_are_listed_by_name(uow_factory, make, save):
    save(make.client(name="Initech"), make.client(name="Acme"), make.client(name="Globex"))

    with uow_factory() as uow:
        assert [c.name for c in uow.clients.list()] == ["Acme", "Globex", "Initech"]


def test_a_second_client_with_a_taken_name_is_a_conflict(uow_factory, make, save):
    first = make.client(name="Acme")
    save(first)

    with uow_factory() as uow, pytest.raises(Conflict, match="Acme"):
        uow.clients.add(make.client(name="Acme"))

    with uow_factory() as uow:
        assert uow.clients.list() == [first]


def test_an_updated_client_is_saved(uow_factory, make, save):
    warehouse, client = make.warehouse(), make.client(name="Acme")
    save(warehouse, client)

    with uow_factory() as uow:
        uow.clients.update(evolve(client, name="Acme Ltd", default_warehouse_id=warehouse.id))
        uow.commit()

    with uow_factory() as uow:
        got = uow.clients.get(client.id)
    assert (got.name, got.default_warehouse_id) == ("Acme Ltd", warehouse.id)


def test_renaming_a_client_to_a_taken_name_is_a_conflict(uow_factory, make, save):
    acme, globex = make.client(name="Acme"), make.client(name="Globex")
    save(acme, globex)

    with uow_factory() as uow:
        with pytest.raises(Conflict):
            uow.clients.update(evolve(globex, name="Acme"))
        uow.commit()

    with uow_factory() as uow:
        assert uow.clients.get(globex.id).name == "Globex"


# --- users and API tokens ----------------------------------------------------------------------


def test_a_staff_user_round_trips_with_every_field(uow_factory, make, save):
    user = make.user(email="Ops@Example.com", is_staff=True, active=False)
    save(user)

    with uow_factory() as uow:
        assert uow.users.get(user.id) == user


def test_a_client_user_round_trips_with_client_and_role(uow_factory, make, save):
    client = make.client()
    user = make.user(is_staff=False, client_id=client.id, role="admin")
    save(client, user)

    with uow_factory() as uow:
        assert uow.users.get(user.id) == user


def test_a_user_is_found_by_email_in_any_case(uow_factory, make, save):
    user = make.user(email="Ada.Lovelace@Example.com")
    save(user)

    with uow_factory() as uow:
        assert uow.users.get_by_email("ada.lovelace@example.COM") == user
        assert uow.users.get_by_email("ada@example.com") is None
        assert uow.users.get(make.id()) is None


def test_an_email_taken_in_another_case_is_a_conflict(uow_factory, make, save):
    first = make.user(email="ada@example.com")
    save(first)

    with uow_factory() as uow:
        with pytest.raises(Conflict, match=re.escape("ADA@example.com")):
            uow.users.add(make.user(email="ADA@example.com"))
        uow.commit()

    with uow_factory() as uow:
        assert uow.users.list() == [first]


def test_users_are_listed_by_email_and_filtered_by_client(uow_factory, make, save):
    acme, globex = make.client(), make.client()
    save(
        acme,
        globex,
        make.user(email="carol@example.com", client_id=acme.id, role="member", is_staff=False),
        make.user(email="Bob@example.com", client_id=globex.id, role="owner", is_staff=False),
        make.user(email="alice@example.com", client_id=acme.id, role="owner", is_staff=False),
        make.user(email="staff@example.com"),
    )

    with uow_factory() as uow:
        everyone = [u.email for u in uow.users.list()]
        of_acme = [u.email for u in uow.users.list(acme.id)]
    assert everyone == [
        "alice@example.com",
        "Bob@example.com",
        "carol@example.com",
        "staff@example.com",
    ]
    assert of_acme == ["alice@example.com", "carol@example.com"]


def test_an_updated_user_is_saved(uow_factory, make, save):
    user = make.user(email="ada@example.com")
    save(user)

    with uow_factory() as uow:
        uow.users.update(evolve(user, email="ada@example.org", active=False))
        uow.commit()

    with uow_factory() as uow:
        assert uow.users.get(user.id) == evolve(user, email="ada@example.org", active=False)


def test_changing_a_user_email_to_a_taken_one_is_a_conflict(uow_factory, make, save):
    ada, bob = make.user(email="ada@example.com"), make.user(email="bob@example.com")
    save(ada, bob)

    with uow_factory() as uow, pytest.raises(Conflict):
        uow.users.update(evolve(bob, email="Ada@Example.com"))


def test_an_api_token_round_trips_and_is_found_by_its_hash(uow_factory, make, save):
    user = make.user()
    token = make.api_token(user, last_used_at=make.at(5))
    save(user, token)

    with uow_factory() as uow:
        assert uow.api_tokens.get_by_hash(token.token_hash) == token
        assert uow.api_tokens.get_by_hash("0" * 64) is None


def test_a_token_hash_stored_twice_is_a_conflict(uow_factory, make, save):
    user = make.user()
    token = make.api_token(user)
    save(user, token)

    with uow_factory() as uow, pytest.raises(Conflict):
        uow.api_tokens.add(make.api_token(user, token_hash=token.token_hash))


def test_touching_a_token_records_when_it_was_last_used(uow_factory, make, save):
    user = make.user()
    token = make.api_token(user)
    save(user, token)

    with uow_factory() as uow:
        uow.api_tokens.touch(token.id, make.at(90))
        uow.commit()

    with uow_factory() as uow:
        assert uow.api_tokens.get_by_hash(token.token_hash).last_used_at == make.at(90)


def test_deleting_a_users_tokens_removes_only_theirs_and_counts_them(uow_factory, make, save):
    ada, bob = make.user(), make.user()
    ada_tokens = [make.api_token(ada), make.api_token(ada)]
    bob_token = make.api_token(bob)
    save(ada, bob, *ada_tokens, bob_token)

    with uow_factory() as uow:
        assert uow.api_tokens.delete_for_user(ada.id) == 2
        assert uow.api_tokens.delete_for_user(ada.id) == 0
        uow.commit()

    with uow_factory() as uow:
        assert [uow.api_tokens.get_by_hash(t.token_hash) for t in ada_tokens] == [None, None]
        assert uow.api_tokens.get_by_hash(bob_token.token_hash) == bob_token


# --- warehouses and products -------------------------------------------------------------------


def test_a_warehouse_round_trips_and_is_found_by_code(uow_factory, make, save):
    warehouse = make.warehouse(code="LON-1", active=False)
    save(warehouse)

    with uow_factory() as uow:
        assert uow.warehouses.get(warehouse.id) == warehouse
        assert uow.warehouses.get_by_code("LON-1") == warehouse
        assert uow.warehouses.get_by_code("LON-2") is None
        assert uow.warehouses.get(make.id()) is None


def test_warehouses_are_listed_by_code(uow_factory, make, save):
    save(make.warehouse(code="NYC"), make.warehouse(code="BER"), make.warehouse(code="LON"))

    with uow_factory() as uow:
        assert [w.code for w in uow.warehouses.list()] == ["BER", "LON", "NYC"]


def test_a_taken_warehouse_code_is_a_conflict(uow_factory, make, save):
    save(make.warehouse(code="LON"))

    with uow_factory() as uow, pytest.raises(Conflict, match="LON"):
        uow.warehouses.add(make.warehouse(code="LON"))


def test_a_product_round_trips_with_and_without_a_barcode(uow_factory, make, save):
    client = make.client()
    with_barcode = make.product(client, barcode="4006381333931")
    without = make.product(client, barcode=None)
    save(client, with_barcode, without)

    with uow_factory() as uow:
        assert uow.products.get(with_barcode.id) == with_barcode
        assert uow.products.get(without.id) == without
        assert uow.products.get(make.id()) is None


def test_a_product_is_found_by_sku_in_any_case_within_its_client(uow_factory, make, save):
    acme, globex = make.client(), make.client()
    product = make.product(acme, sku="Tee-Blue-M")
    save(acme, globex, product)

    with uow_factory() as uow:
        assert uow.products.get_by_sku(acme.id, "TEE-BLUE-M") == product
        assert uow.products.get_by_sku(acme.id, "tee-blue-m") == product
        assert uow.products.get_by_sku(globex.id, "Tee-Blue-M") is None
        assert uow.products.get_by_sku(acme.id, "Tee-Blue-L") is None


def test_a_sku_taken_in_another_case_by_the_same_client_is_a_conflict(uow_factory, make, save):
    client = make.client()
    first = make.product(client, sku="TEE-BLUE-M")
    save(client, first)

    with uow_factory() as uow:
        with pytest.raises(Conflict, match="tee-blue-m"):
            uow.products.add(make.product(client, sku="tee-blue-m"))
        uow.commit()

    with uow_factory() as uow:
        assert uow.products.list(client.id) == [first]


def test_two_clients_may_use_the_same_sku(uow_factory, make, save):
    acme, globex = make.client(), make.client()
    save(acme, globex, make.product(acme, sku="TEE"), make.product(globex, sku="TEE"))

    with uow_factory() as uow:
        assert uow.products.get_by_sku(acme.id, "TEE").client_id == acme.id
        assert uow.products.get_by_sku(globex.id, "TEE").client_id == globex.id


def test_products_are_found_by_barcode_within_their_client(uow_factory, make, save):
    acme, globex = make.client(), make.client()
    a1 = make.product(acme, sku="B", barcode="111")
    a2 = make.product(acme, sku="a", barcode="111")
    save(
        acme, globex, a1, a2, make.product(acme, barcode="222"), make.product(globex, barcode="111")
    )

    with uow_factory() as uow:
        assert uow.products.find_by_barcode(acme.id, "111") == [a2, a1]
        assert uow.products.find_by_barcode(acme.id, "333") == []


def test_products_are_listed_by_sku_ignoring_case_and_filtered_by_client(uow_factory, make, save):
    acme, globex = make.client(), make.client()
    save(
        acme,
        globex,
        make.product(acme, sku="c-3"),
        make.product(acme, sku="A-1"),
        make.product(acme, sku="b-2"),
        make.product(globex, sku="A-0"),
    )

    with uow_factory() as uow:
        assert [p.sku for p in uow.products.list(acme.id)] == ["A-1", "b-2", "c-3"]
        assert [p.sku for p in uow.products.list()] == ["A-0", "A-1", "b-2", "c-3"]


def test_a_product_search_matches_sku_name_or_barcode_in_any_case(uow_factory, make, save):
    client = make.client()
    by_sku = make.product(client, sku="TEE-RED", name="Shirt", barcode=None)
    by_name = make.product(client, sku="X-1", name="Red mug", barcode=None)
    by_barcode = make.product(client, sku="X-2", name="Mug", barcode="RED123")
    save(client, by_sku, by_name, by_barcode, make.product(client, sku="X-3", name="Blue"))

    with uow_factory() as uow:
        found = uow.products.list(client.id, q="red")
    assert {p.id for p in found} == {by_sku.id, by_name.id, by_barcode.id}


def test_a_product_search_takes_wildcard_characters_literally(uow_factory, make, save):
    client = make.client()
    percent = make.product(client, sku="SALE-50%", barcode=None)
    underscore = make.product(client, sku="A_B", barcode=None)
    save(
        client,
        percent,
        underscore,
        make.product(client, sku="SALE-500"),
        make.product(client, sku="AXB"),
    )

    with uow_factory() as uow:
        assert uow.products.list(client.id, q="50%") == [percent]
        assert uow.products.list(client.id, q="a_b") == [underscore]


def test_products_are_listed_page_by_page(uow_factory, make, save):
    client = make.client()
    products = [make.product(client, sku=f"SKU-{i:02d}") for i in range(7)]
    save(client, *reversed(products))

    with uow_factory() as uow:
        pages = [uow.products.list(client.id, limit=3, offset=offset) for offset in (0, 3, 6, 9)]
    assert pages == [products[0:3], products[3:6], products[6:7], []]


def test_an_updated_product_is_saved(uow_factory, make, save):
    client = make.client()
    product = make.product(client, sku="OLD")
    save(client, product)

    with uow_factory() as uow:
        uow.products.update(evolve(product, sku="NEW", name="Renamed", barcode=None))
        uow.commit()

    with uow_factory() as uow:
        assert uow.products.get(product.id) == evolve(
            product, sku="NEW", name="Renamed", barcode=None
        )
        assert uow.products.get_by_sku(client.id, "old") is None


def test_changing_a_sku_to_a_taken_one_is_a_conflict(uow_factory, make, save):
    client = make.client()
    first, second = make.product(client, sku="ONE"), make.product(client, sku="TWO")
    save(client, first, second)

    with uow_factory() as uow:
        with pytest.raises(Conflict):
            uow.products.update(evolve(second, sku="one"))
        uow.commit()

    with uow_factory() as uow:
        assert uow.products.get(second.id).sku == "TWO"


# --- stock -------------------------------------------------------------------------------------


@pytest.fixture
def stocked(make, save):
    """Two clients' products in two warehouses."""
    acme, globex = make.client(), make.client()
    london, berlin = make.warehouse(code="LON"), make.warehouse(code="BER")
    tee, mug = make.product(acme), make.product(acme)
    cap = make.product(globex)
    save(acme, globex, london, berlin, tee, mug, cap)
    return {
        "acme": acme,
        "globex": globex,
        "london": london,
        "berlin": berlin,
        "tee": tee,
        "mug": mug,
        "cap": cap,
    }


def test_a_level_never_saved_is_none(uow_factory, stocked):
    with uow_factory() as uow:
        assert uow.stock.get_level(stocked["tee"].id, stocked["london"].id) is None


def test_a_saved_level_round_trips_and_saving_again_replaces_it(uow_factory, stocked):
    tee, london = stocked["tee"], stocked["london"]
    with uow_factory() as uow:
        uow.stock.save_level(StockLevel(tee.id, london.id, on_hand=10, reserved=4))
        uow.commit()
    with uow_factory() as uow:
        level = uow.stock.get_level(tee.id, london.id)
        assert level == StockLevel(tee.id, london.id, on_hand=10, reserved=4)
        level.on_hand, level.reserved = 7, 0
        uow.stock.save_level(level)
        uow.commit()

    with uow_factory() as uow:
        assert uow.stock.get_level(tee.id, london.id) == StockLevel(tee.id, london.id, 7, 0)
        assert len(uow.stock.levels()) == 1


def test_levels_are_filtered_by_product_warehouse_and_client(uow_factory, stocked, save):
    tee, mug, cap = stocked["tee"], stocked["mug"], stocked["cap"]
    london, berlin = stocked["london"], stocked["berlin"]
    levels = [
        StockLevel(tee.id, london.id, 5, 0),
        StockLevel(tee.id, berlin.id, 6, 1),
        StockLevel(mug.id, london.id, 7, 2),
        StockLevel(cap.id, berlin.id, 8, 3),
    ]
    save(*levels)

    def key(level):
        return (level.product_id, level.warehouse_id)

    with uow_factory() as uow:
        assert uow.stock.levels() == sorted(levels, key=key)
        assert uow.stock.levels(product_id=tee.id) == sorted(levels[:2], key=key)
        assert uow.stock.levels(warehouse_id=london.id) == sorted([levels[0], levels[2]], key=key)
        assert uow.stock.levels(client_id=stocked["acme"].id) == sorted(levels[:3], key=key)
        assert uow.stock.levels(product_id=tee.id, warehouse_id=berlin.id) == [levels[1]]


def test_a_movement_round_trips_with_every_field(uow_factory, stocked, make, save):
    order = make.order(stocked["acme"], stocked["london"])
    movement = make.movement(
        stocked["tee"],
        stocked["london"],
        kind="reserve",
        on_hand_delta=0,
        reserved_delta=2,
        reason="order #1001",
        order_id=order.id,
    )
    save(order, movement)

    with uow_factory() as uow:
        assert uow.stock.movements(order_id=order.id) == [movement]


def test_movements_come_back_in_recording_order_filtered_and_limited(uow_factory, stocked, make):
    tee, mug, london, berlin = stocked["tee"], stocked["mug"], stocked["london"], stocked["berlin"]
    recorded = [
        make.movement(tee, london, created_at=make.at(3)),
        make.movement(mug, london, created_at=make.at(1)),
        make.movement(tee, berlin, created_at=make.at(2)),
        make.movement(tee, london, kind="adjust", on_hand_delta=-1, created_at=make.at(0)),
    ]
    with uow_factory() as uow:
        for movement in recorded:
            uow.stock.add_movement(movement)
        uow.commit()

    with uow_factory() as uow:
        assert uow.stock.movements() == recorded
        assert uow.stock.movements(product_id=tee.id) == [recorded[0], recorded[2], recorded[3]]
        assert uow.stock.movements(warehouse_id=london.id) == [
            recorded[0],
            recorded[1],
            recorded[3],
        ]
        assert uow.stock.movements(product_id=tee.id, warehouse_id=london.id) == [
            recorded[0],
            recorded[3],
        ]
        assert uow.stock.movements(limit=2) == recorded[:2]


def test_a_movement_recorded_twice_is_a_conflict(uow_factory, stocked, make, save):
    movement = make.movement(stocked["tee"], stocked["london"])
    save(movement)

    with uow_factory() as uow:
        with pytest.raises(Conflict):
            uow.stock.add_movement(movement)
        uow.commit()

    with uow_factory() as uow:
        assert uow.stock.movements() == [movement]


# --- orders and shipments ----------------------------------------------------------------------


@pytest.fixture
def shop(make, save):
    """A client with a warehouse, two products and a connected store."""
    client, warehouse = make.client(), make.warehouse()
    tee, mug = make.product(client, sku="TEE"), make.product(client, sku="MUG")
    integration = make.integration(client, status="active")
    save(client, warehouse, tee, mug, integration)
    return {
        "client": client,
        "warehouse": warehouse,
        "tee": tee,
        "mug": mug,
        "integration": integration,
    }


def _full_order(make, shop):
    return make.order(
        shop["client"],
        shop["warehouse"],
        status="on_hold",
        source="shopify",
        external=make.external(shop["integration"]),
        ship_to=make.address(),
        email="ada@example.com",
        rush=True,
        notes="leave at the door",
        hold_reason="1 line is not mapped to a product",
        external_updated_at=make.at(-5),
        currency="EUR",
        external_created_at=make.at(-60),
        updated_at=make.at(1),
        items=[
            make.item(
                shop["tee"],
                quantity=3,
                shipped_quantity=1,
                unit_price="19.90",
                external_line_id="866550311766439020",
                external_variant_id="808950810",
                external_fulfillment_order_id="1046000778",
                external_fulfillment_order_line_id="1058737482",
                barcode="4006381333931",
            ),
            make.item(None, sku="UNMAPPED-1", name="Gift wrap", quantity=1),
        ],
    )


def test_an_order_round_trips_with_every_field_and_its_items_in_order(
    uow_factory, make, shop, save
):
    order = _full_order(make, shop)
    save(order)

    with uow_factory() as uow:
        assert uow.orders.get(order.id) == order
        ref = order.external
        assert uow.orders.get_by_external(ref.integration_id, ref.external_order_id) == order


def test_an_order_without_reference_address_or_items_round_trips(uow_factory, make, shop, save):
    order = make.order(shop["client"], shop["warehouse"])
    save(order)

    with uow_factory() as uow:
        got = uow.orders.get(order.id)
    assert got == order
    assert (got.external, got.ship_to, got.items) == (None, None, [])


def test_an_address_with_only_some_fields_round_trips(uow_factory, make, shop, save):
    order = make.order(
        shop["client"],
        shop["warehouse"],
        ship_to=evolve(make.address(), company=None, address2=None, phone=None),
    )
    save(order)

    with uow_factory() as uow:
        assert uow.orders.get(order.id).ship_to == order.ship_to


def test_an_unknown_order_is_none(uow_factory, make, shop):
    with uow_factory() as uow:
        assert uow.orders.get(make.id()) is None
        assert uow.orders.get_by_external(shop["integration"].id, "1") is None


def test_a_store_order_imported_twice_is_a_conflict_and_nothing_of_it_is_kept(
    uow_factory, make, shop, save
):
    first = _full_order(make, shop)
    save(first)
    again = make.order(
        shop["client"],
        shop["warehouse"],
        external=first.external,
        items=[make.item(shop["tee"])],
    )

    with uow_factory() as uow:
        with pytest.raises(Conflict, match=first.external.external_order_id):
            uow.orders.add(again)
        uow.commit()

    with uow_factory() as uow:
        assert uow.orders.get(again.id) is None
        assert uow.orders.list() == [first]


def test_an_order_number_is_unique_per_client(uow_factory, make, shop, save):
    other = make.client()
    save(other, make.order(shop["client"], shop["warehouse"], number="#1001"))

    with uow_factory() as uow:
        with pytest.raises(Conflict, match="#1001"):
            uow.orders.add(make.order(shop["client"], shop["warehouse"], number="#1001"))
        uow.orders.add(make.order(other, shop["warehouse"], number="#1001"))
        uow.commit()

    with uow_factory() as uow:
        assert [o.number for o in uow.orders.list()] == ["#1001", "#1001"]


def test_updating_an_order_adds_changes_and_removes_items(uow_factory, make, shop, save):
    kept, changed, removed = make.item(shop["tee"]), make.item(shop["mug"]), make.item(None)
    order = make.order(shop["client"], shop["warehouse"], items=[kept, changed, removed])
    save(order)

    added = make.item(shop["mug"], quantity=5)
    with uow_factory() as uow:
        current = uow.orders.get(order.id)
        current.items = [
            added,
            current.item(kept.id),
            evolve(current.item(changed.id), quantity=9, shipped_quantity=4),
        ]
        current.transition("allocated", make.at(10))
        current.notes = "picked first"
        uow.orders.update(current)
        uow.commit()

    with uow_factory() as uow:
        got = uow.orders.get(order.id)
    assert got.items == [added, kept, evolve(changed, quantity=9, shipped_quantity=4)]
    assert (got.status, got.updated_at, got.notes) == ("allocated", make.at(10), "picked first")


def test_updating_an_order_to_no_items_removes_them_all(uow_factory, make, shop, save):
    order = make.order(shop["client"], shop["warehouse"], items=[make.item(shop["tee"])])
    save(order)

    with uow_factory() as uow:
        uow.orders.update(evolve(order, items=[], status="cancelled"))
        uow.commit()

    with uow_factory() as uow:
        assert uow.orders.get(order.id) == evolve(order, items=[], status="cancelled")


def test_an_order_can_gain_an_external_reference_and_address(uow_factory, make, shop, save):
    order = make.order(shop["client"], shop["warehouse"])
    save(order)
    ref = make.external(shop["integration"])

    with uow_factory() as uow:
        uow.orders.update(evolve(order, external=ref, ship_to=make.address()))
        uow.commit()

    with uow_factory() as uow:
        got = uow.orders.get_by_external(ref.integration_id, ref.external_order_id)
    assert got == evolve(order, external=ref, ship_to=make.address())


def test_orders_are_listed_newest_first_and_filtered(uow_factory, make, shop, save):
    other_client = make.client()
    client, warehouse, integration = shop["client"], shop["warehouse"], shop["integration"]
    oldest = make.order(client, warehouse, created_at=make.at(1))
    imported = make.order(
        client, warehouse, created_at=make.at(2), external=make.external(integration)
    )
    shipped = make.order(client, warehouse, created_at=make.at(3), status="shipped")
    elsewhere = make.order(other_client, warehouse, created_at=make.at(4))
    save(other_client, oldest, imported, shipped, elsewhere)

    with uow_factory() as uow:
        assert uow.orders.list() == [elsewhere, shipped, imported, oldest]
        assert uow.orders.list(client_id=client.id) == [shipped, imported, oldest]
        assert uow.orders.list(status="shipped") == [shipped]
        assert uow.orders.list(status="pending", client_id=client.id) == [imported, oldest]
        assert uow.orders.list(integration_id=integration.id) == [imported]


def test_orders_are_listed_page_by_page(uow_factory, make, shop, save):
    orders = [
        make.order(shop["client"], shop["warehouse"], created_at=make.at(i), items=[make.item()])
        for i in range(5)
    ]
    save(*orders)
    newest_first = orders[::-1]

    with uow_factory() as uow:
        pages = [uow.orders.list(limit=2, offset=offset) for offset in (0, 2, 4)]
    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:5]]


def test_orders_awaiting_stock_are_pending_ones_at_the_warehouse_rush_first_then_oldest(
    uow_factory, make, shop, save
):
    client, warehouse, tee, mug = shop["client"], shop["warehouse"], shop["tee"], shop["mug"]
    other_warehouse = make.warehouse()

    def order(minutes, **fields):
        fields.setdefault("items", [make.item(tee)])
        return make.order(
            client, fields.pop("at", warehouse), created_at=make.at(minutes), **fields
        )

    old = order(1)
    new = order(5)
    rush = order(9, rush=True)
    rush_older = order(7, rush=True)
    save(
        other_warehouse,
        new,
        rush,
        old,
        rush_older,
        order(0, status="allocated"),
        order(0, status="on_hold"),
        order(0, at=other_warehouse),
        order(0, items=[make.item(mug)]),
    )

    with uow_factory() as uow:
        assert uow.orders.awaiting_stock(warehouse.id, tee.id) == [
            rush_older.id,
            rush.id,
            old.id,
            new.id,
        ]
        assert uow.orders.awaiting_stock(other_warehouse.id, mug.id) == []


def test_a_customers_orders_are_found_by_email_in_any_case_or_by_order_id(
    uow_factory, make, shop, save
):
    client, warehouse, integration = shop["client"], shop["warehouse"], shop["integration"]
    other_store = make.integration(client)

    def order(minutes, email, store=integration):
        return make.order(
            client,
            warehouse,
            created_at=make.at(minutes),
            email=email,
            external=make.external(store),
        )

    by_email = order(2, "Ada@Example.com")
    by_id = order(1, None)
    someone_else = order(3, "bob@example.com")
    other_store_same_email = order(4, "ada@example.com", other_store)
    manual = make.order(client, warehouse, email="ada@example.com")
    save(other_store, by_email, by_id, someone_else, other_store_same_email, manual)

    with uow_factory() as uow:
        found = uow.orders.for_customer(
            integration.id,
            email="ada@example.com",
            external_order_ids=[by_id.external.external_order_id],
        )
        by_ids_only = uow.orders.for_customer(
            integration.id, email=None, external_order_ids=[by_email.external.external_order_id]
        )
    assert found == [by_id, by_email]
    assert by_ids_only == [by_email]


def test_a_shipment_round_trips_with_every_field(uow_factory, make, shop, save):
    order = make.order(shop["client"], shop["warehouse"], items=[make.item(shop["tee"])])
    shipment = make.shipment(
        order,
        tracking_url="https://track.example/JD014600",
        sync_state="failed",
        external_fulfillment_id="255858046",
        synced_at=make.at(3),
        sync_error="the store refused: fulfillment order is closed",
    )
    save(order, shipment)

    with uow_factory() as uow:
        assert uow.shipments.get(shipment.id) == shipment
        assert uow.shipments.get(make.id()) is None


def test_an_orders_shipments_are_listed_oldest_first(uow_factory, make, shop, save):
    order = make.order(shop["client"], shop["warehouse"], items=[make.item(shop["tee"])])
    other = make.order(shop["client"], shop["warehouse"], items=[make.item(shop["mug"])])
    second = make.shipment(order, created_at=make.at(2))
    first = make.shipment(order, created_at=make.at(1))
    save(order, other, second, first, make.shipment(other))

    with uow_factory() as uow:
        assert uow.shipments.for_order(order.id) == [first, second]


def test_an_updated_shipment_is_saved(uow_factory, make, shop, save):
    order = make.order(shop["client"], shop["warehouse"], items=[make.item(shop["tee"])])
    shipment = make.shipment(order, sync_state="pending")
    save(order, shipment)
    synced = evolve(
        shipment, sync_state="synced", external_fulfillment_id="255858046", synced_at=make.at(1)
    )

    with uow_factory() as uow:
        uow.shipments.update(synced)
        uow.commit()

    with uow_factory() as uow:
        assert uow.shipments.get(shipment.id) == synced


# --- integrations and mappings -----------------------------------------------------------------


def test_an_integration_round_trips_with_every_field(uow_factory, make, save):
    client = make.client()
    integration = make.integration(
        client,
        shop_name="Ada's Shop",
        status="error",
        credentials="k1:bm9uY2U=:Y2lwaGVydGV4dA==",
        token_expires_at=make.at(60),
        refresh_token_expires_at=make.at(60 * 24 * 30),
        scopes=["read_orders", "write_inventory"],
        settings=make.settings(),
        orders_synced_at=make.at(1),
        inventory_synced_at=make.at(2),
        webhooks_checked_at=make.at(3),
        last_error="the store refused our credentials",
        last_error_at=make.at(4),
        connected_at=make.at(-1),
        disconnected_at=make.at(5),
        updated_at=make.at(6),
        order_prefix="SH-ADAS-SHOP-",
    )
    save(client, integration)

    with uow_factory() as uow:
        assert uow.integrations.get(integration.id) == integration


def test_a_new_integration_with_defaults_round_trips(uow_factory, make, save):
    client = make.client()
    integration = make.integration(client)
    save(client, integration)

    with uow_factory() as uow:
        got = uow.integrations.get(integration.id)
    assert got == integration
    assert (got.scopes, got.settings, got.credentials) == ([], integration.settings, None)


def test_an_integration_is_found_by_client_platform_and_shop(uow_factory, make, save):
    acme, globex = make.client(), make.client()
    integration = make.integration(acme, shop_domain="ada.myshopify.com")
    save(acme, globex, integration)

    with uow_factory() as uow:
        assert uow.integrations.find(acme.id, "shopify", "ada.myshopify.com") == integration
        assert uow.integrations.find(globex.id, "shopify", "ada.myshopify.com") is None
        assert uow.integrations.find(acme.id, "tiktok", "ada.myshopify.com") is None
        assert uow.integrations.get(make.id()) is None


def test_a_client_connecting_the_same_shop_twice_is_a_conflict(uow_factory, make, save):
    acme, globex = make.client(), make.client()
    save(acme, globex, make.integration(acme, shop_domain="ada.myshopify.com"))

    with uow_factory() as uow:
        with pytest.raises(Conflict, match=re.escape("ada.myshopify.com")):
            uow.integrations.add(make.integration(acme, shop_domain="ada.myshopify.com"))
        uow.integrations.add(make.integration(globex, shop_domain="ada.myshopify.com"))
        uow.commit()

    with uow_factory() as uow:
        assert len(uow.integrations.list()) == 2


def test_connected_integrations_of_a_shop_leave_out_disconnected_ones(uow_factory, make, save):
    acme, globex, initech = make.client(), make.client(), make.client()
    shop = "ada.myshopify.com"
    later = make.integration(acme, shop_domain=shop, status="active", created_at=make.at(2))
    earlier = make.integration(globex, shop_domain=shop, status="error", created_at=make.at(1))
    save(
        acme,
        globex,
        initech,
        later,
        earlier,
        make.integration(initech, shop_domain=shop, status="disconnected"),
        make.integration(acme, shop_domain="other.myshopify.com", status="active"),
    )

    with uow_factory() as uow:
        assert uow.integrations.connected_for_shop("shopify", shop) == [earlier, later]
        assert uow.integrations.connected_for_shop("tiktok", shop) == []


def test_an_order_number_is_known_as_taken_per_client(uow_factory, make, save):
    acme, globex = make.client(), make.client()
    warehouse = make.warehouse()
    order = make.order(acme, warehouse, number="SH-1001")
    save(acme, globex, warehouse, order)

    with uow_factory() as uow:
        assert uow.orders.number_taken(acme.id, "SH-1001")
        assert not uow.orders.number_taken(globex.id, "SH-1001")
        assert not uow.orders.number_taken(acme.id, "SH-1002")


def test_every_integration_of_a_shop_is_found_whatever_its_status(uow_factory, make, save):
    acme, globex = make.client(), make.client()
    shop = "ada.myshopify.com"
    gone = make.integration(acme, shop_domain=shop, status="disconnected", created_at=make.at(1))
    live = make.integration(globex, shop_domain=shop, status="active", created_at=make.at(2))
    save(acme, globex, live, gone, make.integration(acme, shop_domain="other.myshopify.com"))

    with uow_factory() as uow:
        assert uow.integrations.for_shop("shopify", shop) == [gone, live]
        assert uow.integrations.for_shop("shopify", "none.myshopify.com") == []


def test_peeking_at_an_integration_reads_it_like_get(uow_factory, make, save):
    client = make.client()
    integration = make.integration(client)
    save(client, integration)

    with uow_factory() as uow:
        assert uow.integrations.peek(integration.id) == integration
        assert uow.integrations.peek(str(uuid.uuid4())) is None


def test_updating_something_never_added_is_not_found(uow_factory, make, save):
    client = make.client()
    with uow_factory() as uow:

        def update_and_commit():  # postgres may refuse at the update or at commit
            uow.clients.update(client)
            uow.commit()

        with pytest.raises(NotFound):
            update_and_commit()


def test_integrations_are_listed_oldest_first_and_by_client(uow_factory, make, save):
    acme, globex = make.client(), make.client()
    second = make.integration(acme, created_at=make.at(2))
    first = make.integration(acme, created_at=make.at(1))
    other = make.integration(globex, created_at=make.at(0))
    save(acme, globex, second, first, other)

    with uow_factory() as uow:
        assert uow.integrations.list() == [other, first, second]
        assert uow.integrations.list(acme.id) == [first, second]


def test_an_updated_integration_is_saved(uow_factory, make, save):
    client = make.client()
    integration = make.integration(client)
    save(client, integration)
    connected = evolve(
        integration,
        status="active",
        credentials="k1:abc",
        scopes=["read_orders"],
        settings=make.settings(),
        connected_at=make.at(1),
        updated_at=make.at(1),
    )

    with uow_factory() as uow:
        uow.integrations.update(connected)
        uow.commit()

    with uow_factory() as uow:
        assert uow.integrations.get(integration.id) == connected


def test_moving_an_integration_onto_a_taken_shop_is_a_conflict(uow_factory, make, save):
    client = make.client()
    ada = make.integration(client, shop_domain="ada.myshopify.com")
    bob = make.integration(client, shop_domain="bob.myshopify.com")
    save(client, ada, bob)

    with uow_factory() as uow, pytest.raises(Conflict):
        uow.integrations.update(evolve(bob, shop_domain="ada.myshopify.com"))


@pytest.fixture
def store(make, save):
    """A connected store with a product to map."""
    client, warehouse = make.client(), make.warehouse()
    integration = make.integration(client, status="active")
    product = make.product(client)
    save(client, warehouse, integration, product)
    return {
        "client": client,
        "warehouse": warehouse,
        "integration": integration,
        "product": product,
    }


def test_a_location_mapping_round_trips_and_is_found_by_store_location(
    uow_factory, make, store, save
):
    mapping = make.location(
        store["integration"],
        warehouse_id=store["warehouse"].id,
        is_default=True,
        sync_inventory=False,
        active=False,
    )
    unmapped = make.location(store["integration"])
    save(mapping, unmapped)

    with uow_factory() as uow:
        assert uow.locations.get(mapping.id) == mapping
        assert uow.locations.get(unmapped.id) == unmapped
        assert (
            uow.locations.get_by_external(store["integration"].id, mapping.external_location_id)
            == mapping
        )
        assert uow.locations.get_by_external(store["integration"].id, "0") is None
        assert uow.locations.get(make.id()) is None


def test_a_store_location_mapped_twice_is_a_conflict(uow_factory, make, store, save):
    first = make.location(store["integration"])
    save(first)

    with uow_factory() as uow, pytest.raises(Conflict, match=first.external_location_id):
        uow.locations.add(
            make.location(store["integration"], external_location_id=first.external_location_id)
        )


def test_an_integrations_locations_list_the_default_first_then_by_name(
    uow_factory, make, store, save
):
    integration = store["integration"]
    other = make.integration(store["client"])
    zurich = make.location(integration, name="Zurich", is_default=True)
    amsterdam = make.location(integration, name="Amsterdam")
    berlin = make.location(integration, name="Berlin")
    save(other, berlin, zurich, amsterdam, make.location(other, name="Aachen"))

    with uow_factory() as uow:
        assert uow.locations.for_integration(integration.id) == [zurich, amsterdam, berlin]


def test_an_updated_location_mapping_is_saved(uow_factory, make, store, save):
    mapping = make.location(store["integration"])
    save(mapping)
    mapped = evolve(mapping, warehouse_id=store["warehouse"].id, is_default=True, name="Main")

    with uow_factory() as uow:
        uow.locations.update(mapped)
        uow.commit()

    with uow_factory() as uow:
        assert uow.locations.get(mapping.id) == mapped


def test_a_product_mapping_round_trips_with_every_field(uow_factory, make, store, save):
    mapping = make.mapping(
        store["integration"],
        store["product"],
        external_product_id="632910392",
        external_inventory_item_id="808950810",
        sku="IPOD2008PINK",
        barcode="1234_pink",
        sync_inventory=False,
    )
    save(mapping)

    with uow_factory() as uow:
        assert uow.mappings.get(mapping.id) == mapping
        assert (
            uow.mappings.get_by_variant(store["integration"].id, mapping.external_variant_id)
            == mapping
        )
        assert uow.mappings.get_by_variant(store["integration"].id, "0") is None
        assert uow.mappings.get(make.id()) is None


def test_a_store_variant_mapped_twice_is_a_conflict(uow_factory, make, store, save):
    first = make.mapping(store["integration"], store["product"])
    save(first)
    again = make.mapping(
        store["integration"], store["product"], external_variant_id=first.external_variant_id
    )

    with uow_factory() as uow:
        with pytest.raises(Conflict, match=first.external_variant_id):
            uow.mappings.add(again)
        uow.commit()

    with uow_factory() as uow:
        assert uow.mappings.for_integration(store["integration"].id) == [first]


def test_mappings_are_listed_per_product_and_per_integration(uow_factory, make, store, save):
    integration, product = store["integration"], store["product"]
    other_store = make.integration(store["client"])
    other_product = make.product(store["client"])
    b = make.mapping(integration, product, external_variant_id="200")
    a = make.mapping(integration, other_product, external_variant_id="100")
    elsewhere = make.mapping(other_store, product, external_variant_id="050")
    save(other_store, other_product, b, a, elsewhere)

    with uow_factory() as uow:
        assert uow.mappings.for_integration(integration.id) == [a, b]
        assert uow.mappings.for_product(product.id) == sorted(
            [b, elsewhere], key=lambda m: (m.integration_id, m.external_variant_id)
        )


def test_an_updated_product_mapping_is_saved_and_a_deleted_one_is_gone(
    uow_factory, make, store, save
):
    kept = make.mapping(store["integration"], store["product"])
    deleted = make.mapping(store["integration"], store["product"])
    save(kept, deleted)
    pushed = evolve(kept, sku="RENAMED", sync_inventory=False)

    with uow_factory() as uow:
        uow.mappings.update(pushed)
        uow.mappings.delete(deleted.id)
        uow.mappings.delete(make.id())
        uow.commit()

    with uow_factory() as uow:
        assert uow.mappings.get(kept.id) == pushed
        assert uow.mappings.get(deleted.id) is None


def test_catalog_upsert_adds_new_variants_and_replaces_known_ones(uow_factory, make, store):
    integration = store["integration"]
    first = make.variant(
        integration, barcode="123", external_product_id="1", external_inventory_item_id="9"
    )
    second = make.variant(integration, requires_shipping=False)
    with uow_factory() as uow:
        assert uow.catalog.upsert([first, second]) == 2
        uow.commit()
    reloaded = evolve(first, title="Renamed", loaded_at=make.at(30), sku=None)
    with uow_factory() as uow:
        assert uow.catalog.upsert(iter([reloaded])) == 1
        assert uow.catalog.upsert([]) == 0
        uow.commit()

    with uow_factory() as uow:
        assert uow.catalog.get(integration.id, first.external_variant_id) == reloaded
        assert uow.catalog.get(integration.id, second.external_variant_id) == second
        assert uow.catalog.get(integration.id, "0") is None
        assert uow.catalog.count(integration.id) == 2


def test_the_catalog_is_listed_by_product_then_variant_title_and_paged(uow_factory, make, store):
    integration = store["integration"]
    variants = [
        make.variant(integration, product_title="apron", title="Large"),
        make.variant(integration, product_title="Apron", title="small"),
        make.variant(integration, product_title="Mug", title="Default"),
        make.variant(integration, product_title="tee", title="M"),
    ]
    other_store = make.integration(store["client"])
    with uow_factory() as uow:
        uow.integrations.add(other_store)
        uow.catalog.upsert([*reversed(variants), make.variant(other_store)])
        uow.commit()

    with uow_factory() as uow:
        assert uow.catalog.list(integration.id) == variants
        pages = [uow.catalog.list(integration.id, limit=3, offset=o) for o in (0, 3)]
    assert pages == [variants[:3], variants[3:]]


def test_the_catalog_is_filtered_by_mapping_and_search(uow_factory, make, store):
    integration, product = store["integration"], store["product"]
    mapped = make.variant(integration, sku="TEE-RED", product_title="A tee")
    unmapped_red = make.variant(integration, sku=None, title="Red", product_title="B mug")
    unmapped_blue = make.variant(integration, barcode="BLUE-1", product_title="C cap")
    with uow_factory() as uow:
        uow.catalog.upsert([mapped, unmapped_red, unmapped_blue])
        uow.mappings.add(
            make.mapping(integration, product, external_variant_id=mapped.external_variant_id)
        )
        uow.commit()

    with uow_factory() as uow:
        assert uow.catalog.list(integration.id, mapped=True) == [mapped]
        assert uow.catalog.list(integration.id, mapped=False) == [unmapped_red, unmapped_blue]
        assert uow.catalog.list(integration.id, q="red") == [mapped, unmapped_red]
        assert uow.catalog.list(integration.id, q="red", mapped=False) == [unmapped_red]
        assert uow.catalog.list(integration.id, q="blue-1") == [unmapped_blue]
        assert uow.catalog.count(integration.id, mapped=False) == 2
        assert uow.catalog.count(integration.id, q="RED") == 2
        assert uow.catalog.count(integration.id, q="nothing") == 0


def test_forgetting_variants_no_longer_in_the_store_keeps_the_rest(uow_factory, make, store):
    integration = store["integration"]
    other_store = make.integration(store["client"])
    kept, gone, also_gone = (make.variant(integration) for _ in range(3))
    elsewhere = make.variant(other_store)
    with uow_factory() as uow:
        uow.integrations.add(other_store)
        uow.catalog.upsert([kept, gone, also_gone, elsewhere])
        uow.commit()

    with uow_factory() as uow:
        assert uow.catalog.delete_missing(integration.id, iter([kept.external_variant_id])) == 2
        uow.commit()

    with uow_factory() as uow:
        assert uow.catalog.list(integration.id) == [kept]
        assert uow.catalog.list(other_store.id) == [elsewhere]
        assert uow.catalog.delete_missing(other_store.id, []) == 1


# --- inbox and outbox (claims: test_uow_queues.py) ---------------------------------------------


def test_an_inbox_event_round_trips_with_every_field(uow_factory, make, store):
    event = make.event(
        payload={
            "id": 820982911946154508,
            "line_items": [{"id": 1, "price": "19.90"}],
            "test": False,
        },
        integration_id=store["integration"].id,
        shop_domain=store["integration"].shop_domain,
        event_id="e6b2c4c1-6d8c-4b2d-9a5f-1b0c7e3f4a21",
        source="reconcile",
        status="failed",
        attempts=3,
        max_attempts=5,
        locked_until=make.at(1),
        locked_by="worker-1",
        processed_at=make.at(2),
        error="the store is unavailable",
        triggered_at=make.at(-1),
    )
    with uow_factory() as uow:
        assert uow.inbox.add(event) is True
        uow.commit()

    with uow_factory() as uow:
        assert uow.inbox.get(event.id) == event
        assert uow.inbox.get(make.id()) is None


def test_a_delivery_stored_twice_is_refused_and_kept_once_as_first_received(uow_factory, make):
    first = make.event(payload={"version": 1})
    repeat = make.event(delivery_id=first.delivery_id, payload={"version": 2})
    with uow_factory() as uow:
        assert uow.inbox.add(first) is True
        assert uow.inbox.add(repeat) is False
        uow.commit()
    with uow_factory() as uow:
        assert uow.inbox.add(evolve(repeat, id=make.id())) is False
        uow.commit()

    with uow_factory() as uow:
        assert uow.inbox.list() == [first]


@pytest.fixture
def inbox_writer(request, uow_factory) -> InboxWriter:
    """The ``InboxWriter`` of the same adapter and store as ``uow_factory``."""
    if isinstance(uow_factory(), PostgresUnitOfWork):
        return PostgresInboxWriter(request.getfixturevalue("pg_database").db)
    return UnitOfWorkInbox(uow_factory)


def test_an_inbox_writer_stores_each_delivery_once_committed_when_it_returns(
    uow_factory, inbox_writer, make
):
    event = make.event(payload={"id": 1, "line_items": [{"id": 2, "quantity": 1}]})
    assert inbox_writer.add(event) is True
    assert inbox_writer.add(evolve(event, id=make.id())) is False  # the same delivery id

    with uow_factory() as uow:
        assert uow.inbox.list() == [event]


# JSON documents a webhook may carry, and what ``json.loads`` makes of them: stored from the
# document itself where PostgreSQL stores the same value, from the payload otherwise.
DOCUMENTS = [
    b'{"id": 1, "note": "plain ascii", "price": "19.90", "total": 19.9, "n": [1, 2.5, -0]}',
    rb'{"name": "Cr\u00e8me br\u00fbl\u00e9e", "snowman": "\u2603", "pair": "\ud83c\udfaa"}',
    '{"name": "Crème brûlée", "emoji": "🎪", "city": "Zürich"}'.encode(),
    b'{"a": 1, "a": 2, "big": 123456789012345678901234567890, "e": 1e2, "deep": {"x": [{}]}}',
    b'{"slash": "a\\/b \\\\u0000 is text, not a NUL", "tab": "a\\tb"}',
    '{"utf16": "Zürich"}'.encode("utf-16"),  # json.loads reads UTF-16 too
    b"\xef\xbb\xbf" + '{"bom": "Zürich"}'.encode(),  # and a UTF-8 byte order mark
]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_an_event_stored_with_the_json_it_was_decoded_from_keeps_that_payload(
    uow_factory, inbox_writer, make, document
):
    payload = json.loads(document)
    in_unit = make.event(payload=payload)
    alone = make.event(payload=payload)
    with uow_factory() as uow:
        assert uow.inbox.add(in_unit, payload_json=document) is True
        uow.commit()
    assert inbox_writer.add(alone, payload_json=document) is True

    with uow_factory() as uow:
        assert uow.inbox.get(in_unit.id) == in_unit
        assert uow.inbox.get(alone.id) == alone


def test_an_event_handed_only_its_document_is_stored_with_the_documents_value(
    uow_factory, inbox_writer, make
):
    document = b' {"id": 7, "note": "Cr\\u00e8me", "lines": [{"q": 2, "price": "1.50"}]}'
    in_unit, alone = make.event(), make.event()  # no payload: the document was not decoded
    with uow_factory() as uow:
        assert uow.inbox.add(in_unit, payload_json=document) is True
        uow.commit()
    assert inbox_writer.add(alone, payload_json=document) is True

    with uow_factory() as uow:
        assert uow.inbox.get(in_unit.id).payload == json.loads(document)
        assert uow.inbox.get(alone.id).payload == json.loads(document)


@pytest.mark.parametrize(
    "document",
    [b'{"n": NaN}', b"{'n': 1}", b'{"n": 1} {}', b'{"n": }', b"[1, 2]", b'"text"', b""],
    ids=["NaN", "quotes", "trailing", "truncated", "array", "string", "empty"],
)
def test_a_document_that_is_no_json_object_is_refused_and_nothing_is_stored(
    uow_factory, inbox_writer, make, document
):
    with pytest.raises(PayloadError):
        inbox_writer.add(make.event(), payload_json=document)
    with uow_factory() as uow, pytest.raises(PayloadError):
        uow.inbox.add(make.event(), payload_json=document)

    assert inbox_writer.add(make.event(), payload_json=b'{"n": 1}') is True  # still usable
    with uow_factory() as uow:
        assert [event.payload for event in uow.inbox.list()] == [{"n": 1}]


def test_the_same_delivery_id_from_another_platform_is_another_event(uow_factory, make):
    shopify = make.event(delivery_id="42")
    tiktok = make.event(delivery_id="42", platform="tiktok")
    with uow_factory() as uow:
        assert uow.inbox.add(shopify) is True
        assert uow.inbox.add(tiktok) is True
        uow.commit()

    with uow_factory() as uow:
        assert len(uow.inbox.list()) == 2


def test_an_updated_inbox_event_is_saved(uow_factory, make):
    event = make.event()
    with uow_factory() as uow:
        uow.inbox.add(event)
        uow.commit()
    done = evolve(event, status="processed", processed_at=make.at(1), attempts=1, payload={})

    with uow_factory() as uow:
        uow.inbox.update(done)
        uow.commit()

    with uow_factory() as uow:
        assert uow.inbox.get(event.id) == done


def test_inbox_events_are_listed_newest_first_filtered_and_paged(uow_factory, make, store):
    integration = store["integration"].id
    events = [
        make.event(received_at=make.at(i), integration_id=integration, status=status)
        for i, status in enumerate(["processed", "failed", "dead", "failed"])
    ]
    unknown_shop = make.event(received_at=make.at(10))
    with uow_factory() as uow:
        for event in [*events, unknown_shop]:
            uow.inbox.add(event)
        uow.commit()

    with uow_factory() as uow:
        assert uow.inbox.list() == [unknown_shop, *reversed(events)]
        assert uow.inbox.list(integration_id=integration) == events[::-1]
        assert uow.inbox.list(status="failed") == [events[3], events[1]]
        assert uow.inbox.list(integration_id=integration, limit=2, offset=1) == [
            events[2],
            events[1],
        ]


def test_inbox_counts_are_by_status_since_a_time_for_one_integration(uow_factory, make, store):
    integration = store["integration"].id
    with uow_factory() as uow:
        for minutes, status in [(-10, "failed"), (1, "processed"), (2, "processed"), (3, "dead")]:
            uow.inbox.add(
                make.event(received_at=make.at(minutes), integration_id=integration, status=status)
            )
        uow.inbox.add(make.event(received_at=make.at(5), status="failed"))
        uow.commit()

    with uow_factory() as uow:
        counts = uow.inbox.counts(integration, make.at(0))
    assert {status: n for status, n in counts.items() if n} == {"processed": 2, "dead": 1}


def test_an_outbox_command_round_trips_with_every_field(uow_factory, make, store):
    command = make.command(
        payload={"fulfillment_order_id": "1046000778", "lines": [{"id": "1", "quantity": 2}]},
        integration_id=store["integration"].id,
        status="done",
        attempts=2,
        max_attempts=4,
        locked_until=make.at(1),
        locked_by="worker-2",
        done_at=make.at(2),
        error="a previous attempt timed out",
        result={"fulfillment_id": "255858046", "count": 2},
    )
    with uow_factory() as uow:
        assert uow.outbox.add(command) is True
        uow.commit()

    with uow_factory() as uow:
        assert uow.outbox.get(command.id) == command
        assert uow.outbox.get(make.id()) is None


def test_a_command_with_a_known_idempotency_key_is_refused(uow_factory, make):
    first = make.command(idempotency_key="fulfil-shipment-1")
    with uow_factory() as uow:
        assert uow.outbox.add(first) is True
        assert uow.outbox.add(make.command(idempotency_key="fulfil-shipment-1")) is False
        uow.commit()

    with uow_factory() as uow:
        assert uow.outbox.list() == [first]


def test_an_updated_outbox_command_is_saved(uow_factory, make):
    command = make.command()
    with uow_factory() as uow:
        uow.outbox.add(command)
        uow.commit()
    done = evolve(command, status="done", done_at=make.at(1), result={"ok": True})

    with uow_factory() as uow:
        uow.outbox.update(done)
        uow.commit()

    with uow_factory() as uow:
        assert uow.outbox.get(command.id) == done


def test_outbox_commands_are_listed_newest_first_and_filtered(uow_factory, make, store):
    integration = store["integration"].id
    fulfil = make.command(created_at=make.at(1), integration_id=integration)
    inventory = make.command(
        created_at=make.at(2), integration_id=integration, kind="set_inventory", status="failed"
    )
    unattached = make.command(created_at=make.at(3), status="failed")
    with uow_factory() as uow:
        for command in (fulfil, inventory, unattached):
            uow.outbox.add(command)
        uow.commit()

    with uow_factory() as uow:
        assert uow.outbox.list() == [unattached, inventory, fulfil]
        assert uow.outbox.list(integration_id=integration) == [inventory, fulfil]
        assert uow.outbox.list(status="failed") == [unattached, inventory]
        assert uow.outbox.list(kind="set_inventory") == [inventory]
        assert uow.outbox.list(limit=1, offset=1) == [inventory]


# --- alerts and sync runs ----------------------------------------------------------------------


def test_alerts_round_trip_and_are_listed_newest_first_and_filtered(uow_factory, make, store):
    client, integration = store["client"], store["integration"]
    about_order = make.alert(
        severity="error",
        client_id=client.id,
        integration_id=integration.id,
        subject_id=make.id(),
        created_at=make.at(1),
        resolved_at=make.at(5),
    )
    about_client = make.alert(client_id=client.id, created_at=make.at(2))
    global_alert = make.alert(severity="info", code="store_auth_failed", created_at=make.at(3))
    with uow_factory() as uow:
        for alert in (about_order, about_client, global_alert):
            uow.alerts.add(alert)
        uow.commit()

    with uow_factory() as uow:
        assert uow.alerts.list() == [global_alert, about_client, about_order]
        assert uow.alerts.list(client_id=client.id) == [about_client, about_order]
        assert uow.alerts.list(integration_id=integration.id) == [about_order]
        assert uow.alerts.list(unresolved_only=True) == [global_alert, about_client]
        assert uow.alerts.list(limit=1) == [global_alert]
        assert uow.alerts.list(subject_id=about_order.subject_id) == [about_order]
        assert uow.alerts.list(code="store_auth_failed") == [global_alert]
        subject = about_order.subject_id
        assert uow.alerts.list(subject_id=subject, code="unmapped_lines") == [about_order]
        assert uow.alerts.list(subject_id=subject, code="store_auth_failed") == []
        assert uow.alerts.count_unresolved(integration.id) == 0  # its one alert is resolved


def test_the_unresolved_alerts_of_an_integration_are_counted_all(uow_factory, make, store):
    integration = store["integration"]
    with uow_factory() as uow:
        for n in range(3):
            uow.alerts.add(make.alert(integration_id=integration.id, created_at=make.at(n)))
        uow.alerts.add(make.alert(integration_id=integration.id, resolved_at=make.at(9)))
        uow.alerts.add(make.alert())
        uow.commit()

    with uow_factory() as uow:
        assert uow.alerts.count_unresolved(integration.id) == 3


def test_resolving_an_alert_keeps_the_first_resolution_time(uow_factory, make):
    alert = make.alert()
    with uow_factory() as uow:
        uow.alerts.add(alert)
        uow.commit()

    with uow_factory() as uow:
        uow.alerts.resolve(alert.id, make.at(10))
        uow.commit()
    with uow_factory() as uow:
        uow.alerts.resolve(alert.id, make.at(20))
        uow.alerts.resolve(make.id(), make.at(20))
        uow.commit()

    with uow_factory() as uow:
        assert uow.alerts.list() == [evolve(alert, resolved_at=make.at(10))]


def test_a_sync_run_round_trips_and_is_updated(uow_factory, make, store):
    run = make.run(integration_id=store["integration"].id)
    with uow_factory() as uow:
        uow.sync_runs.add(run)
        uow.commit()
    finished = evolve(
        run, finished_at=make.at(2), counts={"updated": 3, "failed": 1}, error="1 item failed"
    )

    with uow_factory() as uow:
        assert uow.sync_runs.latest(store["integration"].id, "inventory") == run
        uow.sync_runs.update(finished)
        uow.commit()

    with uow_factory() as uow:
        assert uow.sync_runs.latest(store["integration"].id, "inventory") == finished


def test_the_latest_sync_run_is_per_integration_and_kind(uow_factory, make, store):
    integration = store["integration"].id
    other = make.integration(store["client"])
    old = make.run(integration_id=integration, started_at=make.at(1))
    new = make.run(integration_id=integration, started_at=make.at(2))
    orders = make.run(integration_id=integration, kind="orders", started_at=make.at(3))
    with uow_factory() as uow:
        uow.integrations.add(other)
        for run in (new, old, orders, make.run(integration_id=other.id, started_at=make.at(9))):
            uow.sync_runs.add(run)
        uow.commit()

    with uow_factory() as uow:
        assert uow.sync_runs.latest(integration, "inventory") == new
        assert uow.sync_runs.latest(integration, "orders") == orders
        assert uow.sync_runs.latest(integration, "webhooks") is None


def test_sync_runs_are_listed_newest_first_filtered_and_limited(uow_factory, make, store):
    integration = store["integration"].id
    runs = [make.run(integration_id=integration, started_at=make.at(i)) for i in range(3)]
    unattached = make.run(started_at=make.at(1.5), kind="tokens")
    with uow_factory() as uow:
        for run in [*runs, unattached]:
            uow.sync_runs.add(run)
        uow.commit()

    with uow_factory() as uow:
        assert uow.sync_runs.list() == [runs[2], unattached, runs[1], runs[0]]
        assert uow.sync_runs.list(integration_id=integration) == runs[::-1]
        assert uow.sync_runs.list(limit=2) == [runs[2], unattached]


def test_dict_values_keep_their_types_through_a_round_trip(uow_factory, make):
    payload = {
        "int": 1,
        "float": 2.5,
        "big": 820982911946154508,
        "bool": True,
        "none": None,
        "text": 'Grüße, 東京 "quoted" \\ back',
        "list": [1, "two", {"three": 3}],
    }
    event = make.event(payload=payload)
    with uow_factory() as uow:
        uow.inbox.add(event)
        uow.commit()

    with uow_factory() as uow:
        got = uow.inbox.get(event.id).payload
    assert got == payload
    assert [type(got[k]) for k in ("int", "float", "big", "bool")] == [int, float, int, bool]


class _RecordingInbox:
    """The adapter's writer, noting the raw document each event was handed with."""

    def __init__(self, writer: InboxWriter) -> None:
        self.writer = writer
        self.documents: list[bytes | None] = []

    def add(self, event, *, payload_json=None) -> bool:
        self.documents.append(payload_json)
        return self.writer.add(event, payload_json=payload_json)


def test_an_unparsed_delivery_is_stored_as_its_body_reads(uow_factory, inbox_writer, make):
    inbox = _RecordingInbox(inbox_writer)
    ctx = Context(uow=uow_factory, clock=ManualClock(), ids=UuidIdGenerator(), inbox=inbox)
    sc = StoreContext(ctx=ctx, cipher=None, platforms={}, app_url="")  # type: ignore[arg-type]
    body = b'{"id": 1, "note": "plain \\u00e8", "lines": [{"quantity": 2}]}'
    delivery = webhooks.Delivery("shopify", "orders/create", "a.myshopify.com", "d-1", None)

    with pytest.raises(PayloadError):  # no body to read it from
        webhooks.receive(sc, delivery, integration_id=None)
    with pytest.raises(PayloadError):  # a body that would not be stored as it is
        webhooks.receive(sc, evolve(delivery, body=b'{"note": "\\u0000"}'), integration_id=None)
    with pytest.raises(PayloadError):  # no JSON: the inbox refuses it
        webhooks.receive(sc, evolve(delivery, body=b'{"n": NaN}'), integration_id=None)
    assert webhooks.receive(sc, evolve(delivery, body=body), integration_id=None) == "stored"
    assert webhooks.receive(sc, evolve(delivery, body=body), integration_id=None) == "duplicate"

    with uow_factory() as uow:
        [event] = uow.inbox.list()
    assert event.payload == {"id": 1, "note": "plain è", "lines": [{"quantity": 2}]}


# Raw bodies of signed deliveries: whether ``receive`` may hand the body on to be stored as it
# is (storable_json would change nothing), and the payload stored either way.
RECEIVED = [
    (
        b'{"id": 1, "note": "plain \\u00e8", "total": 19.9}',
        True,
        {"id": 1, "note": "plain è", "total": 19.9},
    ),
    ('{"city": "Zürich"}'.encode(), True, {"city": "Zürich"}),
    (b'{"note": "a\\u0000b"}', False, {"note": "ab"}),
    (b'{"note": "a\\ud800b", "\\udc00": 1}', False, {"note": "a\ufffdb", "\ufffd": 1}),
    (b'{"pair": "\\ud83c\\udfaa"}', False, {"pair": "\U0001f3aa"}),
]


@pytest.mark.parametrize("case", RECEIVED)
def test_a_delivery_is_stored_storable_and_its_body_kept_only_when_nothing_changed(
    uow_factory, inbox_writer, make, case
):
    body, verbatim, stored = case
    inbox = _RecordingInbox(inbox_writer)
    ctx = Context(uow=uow_factory, clock=ManualClock(), ids=UuidIdGenerator(), inbox=inbox)
    sc = StoreContext(ctx=ctx, cipher=None, platforms={}, app_url="")  # type: ignore[arg-type]
    delivery = webhooks.Delivery(
        platform="shopify",
        topic="orders/create",
        shop="nobody.myshopify.com",
        delivery_id=make.id(),
        payload=json.loads(body),
        body=body,
    )

    assert webhooks.receive(sc, delivery, integration_id=None) == "stored"

    assert inbox.documents == [body if verbatim else None]
    with uow_factory() as uow:
        [event] = uow.inbox.list()
    assert event.payload == stored
