"""What storelink tells a store it has on hand never lets the store sell more than the
warehouse can ship for that store, and after activity stops it hides nothing.

The store is modelled as Shopify keeps its books: at each location it sells what it has on
hand minus what it committed to its unfulfilled orders (imported here or not yet). Random
warehouse levels, reservations of other sources, buffers, store locations served by one
warehouse (synced or not, one default), variants mapped to one product, and this store's
orders in every state at every slot, imported or not.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from core.model import LocationMapping, OpenUnits, ProductMapping, StockLevel
from core.services.inventory import Slot, slots, stocking_slot, targets

T0 = datetime(2026, 12, 1, tzinfo=UTC)
W = "W1"
P = "P1"


def _mapping(n: int, *, sync: bool = True) -> ProductMapping:
    return ProductMapping(
        id=f"m{n}",
        integration_id="I",
        product_id=P,
        external_variant_id=f"v{n}",
        created_at=T0,
        external_inventory_item_id=f"item{n}",
        sync_inventory=sync,
    )


def _location(n: int, *, sync: bool = True, default: bool = False) -> LocationMapping:
    return LocationMapping(
        id=f"lm{n}",
        integration_id="I",
        external_location_id=f"L{n}",
        name=f"Location {n}",
        warehouse_id=W,
        is_default=default,
        sync_inventory=sync,
    )


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, object]:
    n_locations = draw(st.integers(1, 3))
    n_variants = draw(st.integers(1, 2))
    default = draw(st.one_of(st.none(), st.integers(0, n_locations - 1)))
    locations = [
        _location(i, sync=draw(st.booleans()) or i == 0, default=i == default)
        for i in range(n_locations)
    ]
    mappings = [_mapping(i, sync=draw(st.booleans()) or i == 0) for i in range(n_variants)]
    every = slots(mappings, locations)
    stocking = stocking_slot(every)
    # this store's open orders per slot: reserved (allocated), unreserved (pending/held), and
    # placed in the store but not imported yet. New orders can only be placed where the store
    # has something to sell: the stocking slot (every other synced slot shows nothing to
    # sell; orders at a slot whose sync is off are the merchant's, counted once imported)
    per_slot = {
        s.key: (
            draw(st.integers(0, 4)),
            draw(st.integers(0, 3)),
            draw(st.integers(0, 3)) if s is stocking else 0,
        )
        for s in every
    }
    legacy_reserved = draw(st.integers(0, 2))  # imported before locations were recorded
    other_reserved = draw(st.integers(0, 6))  # manual orders, other stores
    reserved_here = sum(r for r, _, _ in per_slot.values()) + legacy_reserved
    free = draw(st.integers(0, 30))
    level = StockLevel(
        P, W, on_hand=reserved_here + other_reserved + free, reserved=reserved_here + other_reserved
    )
    buffer = draw(st.integers(0, 5))
    return {
        "slots": every,
        "per_slot": per_slot,
        "legacy_reserved": legacy_reserved,
        "level": level,
        "buffer": buffer,
        "other_reserved": other_reserved,
    }


def _units(scenario: dict[str, object], *, imported_only: bool = True) -> list[OpenUnits]:
    per_slot: dict[tuple[str, str], tuple[int, int, int]] = scenario["per_slot"]  # type: ignore[assignment]
    every: list[Slot] = scenario["slots"]  # type: ignore[assignment]
    units = [
        OpenUnits(P, W, s.mapping.external_variant_id, s.location.external_location_id, r, u)
        for s in every
        for (r, u, _) in [per_slot[s.key]]
        if r or u
    ]
    legacy = scenario["legacy_reserved"]
    if legacy:
        units.append(OpenUnits(P, W, None, None, legacy, 0))  # type: ignore[arg-type]
    return units


def _store_sells(
    scenario: dict[str, object], on_hand: dict[tuple[str, str], int]
) -> tuple[int, int]:
    """What the store would still sell at synced slots, and what the warehouse can ship for
    this store (on hand - other sources' reservations - buffer - every open order of this
    store, imported or not)."""
    per_slot: dict[tuple[str, str], tuple[int, int, int]] = scenario["per_slot"]  # type: ignore[assignment]
    every: list[Slot] = scenario["slots"]  # type: ignore[assignment]
    stocking = stocking_slot(every)
    legacy: int = scenario["legacy_reserved"]  # type: ignore[assignment]
    sells = 0
    for slot in every:
        if not slot.synced:
            continue
        r, u, unimported = per_slot[slot.key]
        committed = r + u + unimported + (legacy if slot is stocking else 0)
        sells += max(0, on_hand[slot.key] - committed)
    level: StockLevel = scenario["level"]  # type: ignore[assignment]
    open_units = sum(r + u + x for r, u, x in per_slot.values()) + legacy
    can_ship = (
        level.on_hand
        - scenario["other_reserved"]  # type: ignore[operator]
        - scenario["buffer"]
        - open_units
    )
    return sells, can_ship


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_a_store_never_sells_more_than_the_warehouse_can_ship_for_it(scenario) -> None:  # type: ignore[no-untyped-def]
    wanted = targets(
        scenario["slots"], {(P, W): scenario["level"]}, _units(scenario), scenario["buffer"]
    )
    assert set(wanted) == {s.key for s in scenario["slots"] if s.synced}
    assert all(v >= 0 for v in wanted.values())
    sells, can_ship = _store_sells(scenario, wanted)
    assert sells <= max(0, can_ship)


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_once_every_store_order_is_imported_the_store_sells_exactly_what_can_ship(  # type: ignore[no-untyped-def]
    scenario,
) -> None:
    per_slot = scenario["per_slot"]
    scenario["per_slot"] = {k: (r, u, 0) for k, (r, u, _) in per_slot.items()}
    # orders placed at a slot the store does not sell from (sync off) are the merchant's
    # business: keep them out of the equality
    scenario["per_slot"] = {
        s.key: scenario["per_slot"][s.key] if s.synced else (0, 0, 0) for s in scenario["slots"]
    }
    level = scenario["level"]
    reserved_here = (
        sum(r for r, _, _ in scenario["per_slot"].values()) + scenario["legacy_reserved"]
    )
    scenario["level"] = StockLevel(
        P,
        W,
        on_hand=level.on_hand - level.reserved + reserved_here + scenario["other_reserved"],
        reserved=reserved_here + scenario["other_reserved"],
    )
    wanted = targets(
        scenario["slots"], {(P, W): scenario["level"]}, _units(scenario), scenario["buffer"]
    )
    sells, can_ship = _store_sells(scenario, wanted)
    assert sells == max(0, can_ship)


def test_the_default_location_sells_and_the_others_show_only_their_own_open_orders() -> None:
    main, popup = _location(1, default=True), _location(2)
    tee = _mapping(1)
    every = slots([tee], [popup, main])
    level = StockLevel(P, W, on_hand=20, reserved=5)  # 3 for orders at the pop-up, 2 elsewhere
    units = [OpenUnits(P, W, "v1", "L2", reserved=3, unreserved=1)]
    wanted = targets(every, {(P, W): level}, units, buffer=2)
    # free 15, minus the buffer 2, minus the pop-up's unreserved 1
    assert wanted == {("m1", "L1"): 12, ("m1", "L2"): 4}


def test_no_stock_and_a_large_buffer_shows_zero_never_a_negative_number() -> None:
    every = slots([_mapping(1)], [_location(1)])
    wanted = targets(every, {(P, W): StockLevel(P, W, on_hand=3, reserved=0)}, [], buffer=10)
    assert wanted == {("m1", "L1"): 0}


def test_a_variant_or_location_with_sync_off_is_never_given_a_target() -> None:
    every = slots([_mapping(1, sync=False), _mapping(2)], [_location(1, sync=False), _location(2)])
    wanted = targets(every, {(P, W): StockLevel(P, W, on_hand=9)}, [], buffer=0)
    assert wanted == {("m2", "L2"): 9}


def test_a_location_no_warehouse_serves_is_not_a_slot() -> None:
    unserved = LocationMapping(id="x", integration_id="I", external_location_id="L9", name="Shop")
    assert slots([_mapping(1)], [unserved]) == []
