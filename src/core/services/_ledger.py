"""The one way stock changes: a rule applied to the locked level, plus its ledger line, and
the stores that sell the product told (marked dirty) in the same transaction."""

from __future__ import annotations

from collections.abc import Callable

from core.model import StockLevel, StockMovement
from core.model import stock as rules
from core.ports import UnitOfWork
from core.services._context import Context
from core.services.inventory import stock_changed

Rule = Callable[[StockLevel, int], rules.Delta]


def move(
    uow: UnitOfWork,
    ctx: Context,
    *,
    product_id: str,
    warehouse_id: str,
    rule: Rule,
    quantity: int,
    reason: str = "",
    order_id: str | None = None,
) -> StockLevel:
    """Apply one stock rule to the locked level and record it in the ledger."""
    level = uow.stock.get_level(product_id, warehouse_id) or StockLevel(product_id, warehouse_id)
    delta = rule(level, quantity)
    uow.stock.save_level(level)
    uow.stock.add_movement(
        StockMovement(
            id=ctx.ids.new_id(),
            product_id=product_id,
            warehouse_id=warehouse_id,
            kind=delta.kind,
            on_hand_delta=delta.on_hand,
            reserved_delta=delta.reserved,
            created_at=ctx.clock.now(),
            reason=reason,
            order_id=order_id,
        )
    )
    stock_changed(uow, ctx, product_id, warehouse_id)
    return level
