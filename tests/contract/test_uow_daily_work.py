"""What the portal's daily work reads and writes: alerts by status with what they concern,
events of several stores a keyset page at a time, the orders store orders became, and store
numbering prefixes unique per client. Every test runs on every adapter."""

from __future__ import annotations

import pytest
from attrs import evolve

from core.errors import Conflict
from core.model import OrderRef


@pytest.fixture
def two_stores(make, save):
    client, other_client, warehouse = make.client(), make.client(), make.warehouse()
    first = make.integration(client, order_prefix="SH-")
    second = make.integration(client, order_prefix="SH-OUTLET-")
    foreign = make.integration(other_client, order_prefix="SH-")
    save(client, other_client, warehouse, first, second, foreign)
    return {
        "client": client,
        "warehouse": warehouse,
        "first": first,
        "second": second,
        "foreign": foreign,
    }


def test_an_alert_round_trips_with_what_it_concerns_and_who_handled_it(uow_factory, make, save):
    alert = make.alert(
        order_id=make.id(),
        event_id=make.id(),
        acknowledged_at=make.at(1),
        acknowledged_by=make.id(),
        resolved_at=make.at(2),
        resolved_by=make.id(),
    )
    save(alert)

    with uow_factory() as uow:
        assert uow.alerts.get(alert.id) == alert
        assert uow.alerts.get(make.id()) is None
        assert alert.status == "resolved"


def test_an_acknowledged_alert_is_saved_and_listed_by_status(uow_factory, make, save):
    open_one = make.alert(created_at=make.at(1))
    seen = make.alert(created_at=make.at(2))
    done = make.alert(created_at=make.at(3), resolved_at=make.at(4))
    save(open_one, seen, done)
    with uow_factory() as uow:
        uow.alerts.update(evolve(seen, acknowledged_at=make.at(5), acknowledged_by="u1"))
        uow.commit()

    with uow_factory() as uow:
        acknowledged = uow.alerts.get(seen.id)
        assert acknowledged is not None
        assert (acknowledged.status, acknowledged.acknowledged_by) == ("acknowledged", "u1")
        assert [a.id for a in uow.alerts.list(status="open")] == [open_one.id]
        assert [a.id for a in uow.alerts.list(status="acknowledged")] == [seen.id]
        assert [a.id for a in uow.alerts.list(status="resolved")] == [done.id]


def test_alerts_are_filtered_by_order_and_paged(uow_factory, make, save):
    order_id = make.id()
    about = [make.alert(order_id=order_id, created_at=make.at(n)) for n in range(3)]
    save(*about, make.alert(created_at=make.at(9)))

    with uow_factory() as uow:
        assert [a.id for a in uow.alerts.list(order_id=order_id)] == [a.id for a in reversed(about)]
        page = uow.alerts.list(order_id=order_id, limit=2, offset=2)
        assert [a.id for a in page] == [about[0].id]


def test_events_of_several_stores_are_listed_a_keyset_page_at_a_time(
    uow_factory, make, save, two_stores
):
    first, second, foreign = two_stores["first"], two_stores["second"], two_stores["foreign"]
    events = [
        make.event(integration_id=store.id, received_at=make.at(n))
        for n, store in enumerate([first, second, foreign, first, second])
    ]
    save(*events)
    mine = [first.id, second.id]

    with uow_factory() as uow:
        page = uow.inbox.list(integration_ids=mine, limit=2)
        assert [e.id for e in page] == [events[4].id, events[3].id]
        last = page[-1]
        rest = uow.inbox.list(integration_ids=mine, limit=2, before=(last.received_at, last.id))
        assert [e.id for e in rest] == [events[1].id, events[0].id]
        assert uow.inbox.list(integration_ids=[], limit=10) == []
        assert [e.id for e in uow.inbox.list(integration_ids=[foreign.id])] == [events[2].id]


def test_events_received_at_one_instant_page_by_id(uow_factory, make, save, two_stores):
    first = two_stores["first"]
    events = sorted(
        (make.event(integration_id=first.id, received_at=make.at(1)) for _ in range(3)),
        key=lambda e: e.id,
    )
    save(*events)

    with uow_factory() as uow:
        seen = []
        before = None
        while page := uow.inbox.list(integration_ids=[first.id], limit=1, before=before):
            seen.append(page[0].id)
            before = (page[0].received_at, page[0].id)
        assert seen == [e.id for e in reversed(events)]


def test_the_orders_store_orders_became_are_found_in_one_read(uow_factory, make, save, two_stores):
    client, warehouse = two_stores["client"], two_stores["warehouse"]
    first, second = two_stores["first"], two_stores["second"]
    ours = make.order(client, warehouse, external=make.external(first, external_order_id="11"))
    theirs = make.order(client, warehouse, external=make.external(second, external_order_id="11"))
    manual = make.order(client, warehouse)
    save(ours, theirs, manual)

    with uow_factory() as uow:
        refs = uow.orders.refs_by_external([(first.id, "11"), (first.id, "12"), (second.id, "11")])
        assert uow.orders.refs_by_external([]) == {}

    assert refs == {
        (first.id, "11"): OrderRef(ours.id, ours.number, "pending", first.id, "11"),
        (second.id, "11"): OrderRef(theirs.id, theirs.number, "pending", second.id, "11"),
    }


def test_two_stores_of_one_client_cannot_share_a_numbering_prefix(
    uow_factory, make, save, two_stores
):
    client, foreign = two_stores["client"], two_stores["foreign"]
    with uow_factory() as uow, pytest.raises(Conflict):
        uow.integrations.add(make.integration(client, order_prefix="SH-OUTLET-"))
    with uow_factory() as uow:  # another client's prefixes are its own business
        uow.integrations.add(make.integration(client, order_prefix="SH-NEW-"))
        same_as_foreign = make.integration(foreign_client := make.client(), order_prefix="SH-")
        uow.clients.add(foreign_client)
        uow.integrations.add(same_as_foreign)
        uow.commit()
    with uow_factory() as uow, pytest.raises(Conflict):
        uow.integrations.update(evolve(two_stores["second"], order_prefix="SH-"))
    assert foreign.order_prefix == "SH-"
