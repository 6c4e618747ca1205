"""Stock: warehouses, products, levels per product and warehouse, and the movement ledger.

The rules live here as pure functions on a ``StockLevel``; each returns the ``StockMovement``
deltas to record, so the ledger always sums to the levels (invariant: 0 <= reserved <= on_hand).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from attrs import define, frozen

from core.errors import InsufficientStock, InvalidInput

MovementKind = Literal["receive", "adjust", "reserve", "release", "ship"]


@define
class Warehouse:
    id: str
    code: str
    name: str
    created_at: datetime
    active: bool = True


@define
class Product:
    """A client's stock-keeping unit. ``sku`` is unique per client (case-insensitively)."""

    id: str
    client_id: str
    sku: str
    name: str
    created_at: datetime
    barcode: str | None = None


@define
class StockLevel:
    product_id: str
    warehouse_id: str
    on_hand: int = 0
    reserved: int = 0

    @property
    def available(self) -> int:
        """What can still be promised to new orders."""
        return self.on_hand - self.reserved


@frozen
class StockMovement:
    """One line of the append-only ledger. Deltas are signed; their sums are the level."""

    id: str
    product_id: str
    warehouse_id: str
    kind: MovementKind
    on_hand_delta: int
    reserved_delta: int
    created_at: datetime
    reason: str = ""
    order_id: str | None = None


@frozen
class Delta:
    kind: MovementKind
    on_hand: int
    reserved: int


def _positive(quantity: int, what: str) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise InvalidInput(f"{what} quantity must be a positive whole number, got {quantity!r}")


def receive(level: StockLevel, quantity: int) -> Delta:
    _positive(quantity, "received")
    return _apply(level, Delta("receive", quantity, 0))


def adjust(level: StockLevel, change: int) -> Delta:
    """A count correction. It may not take stock below what orders have reserved."""
    if isinstance(change, bool) or not isinstance(change, int) or change == 0:
        raise InvalidInput(f"an adjustment must be a non-zero whole number, got {change!r}")
    if level.on_hand + change < level.reserved:
        raise InsufficientStock(
            f"cannot adjust by {change}: {level.on_hand} on hand, {level.reserved} reserved by "
            "orders; release or cancel those orders first"
        )
    return _apply(level, Delta("adjust", change, 0))


def reserve(level: StockLevel, quantity: int) -> Delta:
    _positive(quantity, "reserved")
    if level.available < quantity:
        raise InsufficientStock(f"cannot reserve {quantity}: only {level.available} available")
    return _apply(level, Delta("reserve", 0, quantity))


def release(level: StockLevel, quantity: int) -> Delta:
    _positive(quantity, "released")
    if level.reserved < quantity:
        raise InsufficientStock(f"cannot release {quantity}: only {level.reserved} reserved")
    return _apply(level, Delta("release", 0, -quantity))


def ship(level: StockLevel, quantity: int) -> Delta:
    """Reserved units leave the building."""
    _positive(quantity, "shipped")
    if level.reserved < quantity:
        raise InsufficientStock(f"cannot ship {quantity}: only {level.reserved} reserved")
    return _apply(level, Delta("ship", -quantity, -quantity))


def _apply(level: StockLevel, delta: Delta) -> Delta:
    level.on_hand += delta.on_hand
    level.reserved += delta.reserved
    return delta
