"""Warehouses, products and stock: receive, adjust, and the reservations orders take.

Every change goes through ``_ledger.move``, which applies a rule from ``core.model.stock`` to
the locked level and appends the matching ledger line in the same unit of work.
"""

from __future__ import annotations

import re

from core.errors import InvalidInput, NotFound
from core.model import Product, StockLevel, User, Warehouse
from core.model import stock as rules
from core.ports import UnitOfWork
from core.services._context import Context, require_client_visible, require_staff
from core.services._ledger import Rule, move
from core.services.allocation import allocate_waiting

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_SKU_MAX = 100


def create_warehouse(ctx: Context, actor: User, *, code: str, name: str) -> Warehouse:
    require_staff(actor)
    code = code.strip() if isinstance(code, str) else ""
    if not _CODE.match(code):
        raise InvalidInput("warehouse code: 1-32 letters, digits, '.', '_' or '-'")
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 200:
        raise InvalidInput("warehouse name must be 1-200 characters")
    warehouse = Warehouse(id=ctx.ids.new_id(), code=code, name=name, created_at=ctx.clock.now())
    with ctx.uow() as uow:
        uow.warehouses.add(warehouse)
        uow.commit()
    return warehouse


def list_warehouses(ctx: Context) -> list[Warehouse]:
    with ctx.uow() as uow:
        return uow.warehouses.list()


def clean_sku(sku: object) -> str:
    if not isinstance(sku, str) or not sku.strip():
        raise InvalidInput("sku must be a non-empty string")
    sku = sku.strip()
    if len(sku) > _SKU_MAX or any(ch.isspace() and ch != " " for ch in sku):
        raise InvalidInput(f"sku must be at most {_SKU_MAX} characters on one line")
    return sku


def create_product(
    ctx: Context, actor: User, *, client_id: str, sku: str, name: str, barcode: str | None = None
) -> Product:
    require_staff(actor)
    sku = clean_sku(sku)
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 500:
        raise InvalidInput("product name must be 1-500 characters")
    if barcode is not None:
        barcode = barcode.strip() or None
        if barcode is not None and len(barcode) > 64:
            raise InvalidInput("barcode must be at most 64 characters")
    with ctx.uow() as uow:
        if uow.clients.get(client_id) is None:
            raise NotFound("client not found")
        product = Product(
            id=ctx.ids.new_id(),
            client_id=client_id,
            sku=sku,
            name=name,
            barcode=barcode,
            created_at=ctx.clock.now(),
        )
        uow.products.add(product)
        uow.commit()
    return product


def get_product(ctx: Context, actor: User, product_id: str) -> Product:
    with ctx.uow() as uow:
        product = uow.products.get(product_id)
    if product is None:
        raise NotFound("product not found")
    require_client_visible(actor, product.client_id, "product")
    return product


def list_products(
    ctx: Context,
    actor: User,
    *,
    client_id: str | None,
    q: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Product]:
    if not actor.is_staff:
        client_id = actor.client_id
    with ctx.uow() as uow:
        return uow.products.list(client_id, q=q, limit=limit, offset=offset)


def _resolve_product(
    uow: UnitOfWork, *, product_id: str | None, sku: str | None, client_id: str | None
) -> Product:
    if product_id:
        product = uow.products.get(product_id)
    elif sku and client_id:
        product = uow.products.get_by_sku(client_id, sku)
    else:
        raise InvalidInput("give product_id, or sku with client_id")
    if product is None:
        raise NotFound("product not found")
    return product


def _change_stock(
    ctx: Context,
    actor: User,
    *,
    rule: Rule,
    quantity: int,
    warehouse_id: str,
    reason: str,
    product_id: str | None,
    sku: str | None,
    client_id: str | None,
) -> StockLevel:
    require_staff(actor)
    if isinstance(reason, str) and len(reason) > 500:
        raise InvalidInput("reason must be at most 500 characters")
    with ctx.uow() as uow:
        product = _resolve_product(uow, product_id=product_id, sku=sku, client_id=client_id)
        if uow.warehouses.get(warehouse_id) is None:
            raise NotFound("warehouse not found")
        level = move(
            uow,
            ctx,
            product_id=product.id,
            warehouse_id=warehouse_id,
            rule=rule,
            quantity=quantity,
            reason=reason or "",
        )
        if level.available > 0:
            allocate_waiting(uow, ctx, warehouse_id=warehouse_id, product_id=product.id)
            level = uow.stock.get_level(product.id, warehouse_id) or level
        uow.commit()
    return level


def receive_stock(
    ctx: Context,
    actor: User,
    *,
    warehouse_id: str,
    quantity: int,
    reason: str = "",
    product_id: str | None = None,
    sku: str | None = None,
    client_id: str | None = None,
) -> StockLevel:
    """Goods in. Orders waiting for this product at this warehouse are allocated."""
    return _change_stock(
        ctx,
        actor,
        rule=rules.receive,
        quantity=quantity,
        warehouse_id=warehouse_id,
        reason=reason,
        product_id=product_id,
        sku=sku,
        client_id=client_id,
    )


def adjust_stock(
    ctx: Context,
    actor: User,
    *,
    warehouse_id: str,
    quantity: int,
    reason: str,
    product_id: str | None = None,
    sku: str | None = None,
    client_id: str | None = None,
) -> StockLevel:
    """A signed count correction; a reason is required."""
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("an adjustment needs a reason")
    return _change_stock(
        ctx,
        actor,
        rule=rules.adjust,
        quantity=quantity,
        warehouse_id=warehouse_id,
        reason=reason.strip(),
        product_id=product_id,
        sku=sku,
        client_id=client_id,
    )


def stock_levels(
    ctx: Context,
    actor: User,
    *,
    product_id: str | None = None,
    warehouse_id: str | None = None,
    client_id: str | None = None,
) -> list[StockLevel]:
    if not actor.is_staff:
        client_id = actor.client_id
    with ctx.uow() as uow:
        if product_id is not None:
            product = uow.products.get(product_id)
            if product is None or not actor.can_see_client(product.client_id):
                raise NotFound("product not found")
        return uow.stock.levels(
            product_id=product_id, warehouse_id=warehouse_id, client_id=client_id
        )
