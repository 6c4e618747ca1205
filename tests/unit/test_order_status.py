"""The order status machine: legal moves work, every illegal one raises and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.errors import IllegalTransition
from core.model import ORDER_STATUSES, TRANSITIONS, OutboundOrder

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 2, tzinfo=UTC)

PAIRS = [(a, b) for a in ORDER_STATUSES for b in ORDER_STATUSES]


def _order(status: str) -> OutboundOrder:
    return OutboundOrder(
        id="o1",
        client_id="c1",
        warehouse_id="w1",
        number="A-1",
        created_at=T0,
        updated_at=T0,
        status=status,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_transition_is_allowed_exactly_when_the_machine_says(
    source: str, target: str
) -> None:
    order = _order(source)
    legal = target in TRANSITIONS[source]  # type: ignore[index]
    if legal:
        order.transition(target, T1)  # type: ignore[arg-type]
        assert (order.status, order.updated_at) == (target, T1)
    else:
        with pytest.raises(IllegalTransition):
            order.transition(target, T1)  # type: ignore[arg-type]
        assert (order.status, order.updated_at) == (source, T0)


def test_the_happy_path_reaches_shipped_and_stops_there() -> None:
    order = _order("pending")
    for status in ("allocated", "picking", "packing", "shipped"):
        order.transition(status, T1)  # type: ignore[arg-type]
    assert TRANSITIONS["shipped"] == frozenset()
    assert TRANSITIONS["cancelled"] == frozenset()


def test_anything_before_shipped_can_be_cancelled_and_nothing_after() -> None:
    for status in ORDER_STATUSES:
        can = "cancelled" in TRANSITIONS[status]
        assert can == (status not in ("shipped", "cancelled")), status


def test_a_held_order_only_goes_back_to_pending_or_is_cancelled() -> None:
    assert TRANSITIONS["on_hold"] == frozenset({"pending", "cancelled"})
