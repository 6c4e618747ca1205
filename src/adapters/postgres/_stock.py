"""Warehouses, products, stock levels and the append-only movement ledger."""

from __future__ import annotations

import builtins
from collections.abc import Iterable

from psycopg import sql

from adapters.postgres._rows import PRODUCTS, STOCK_LEVELS, STOCK_MOVEMENTS, WAREHOUSES
from adapters.postgres._session import Repository, contains_pattern, where
from core.model import Product, StockLevel, StockMovement, Warehouse

# Advisory lock class (the first of two int4 keys) for one (product, warehouse) stock level.
_STOCK_LOCK_CLASS = 0x53544B  # "STK"


class PostgresWarehouseRepository(Repository):
    def add(self, warehouse: Warehouse) -> None:
        self._s.write(
            WAREHOUSES.insert(),
            WAREHOUSES.params(warehouse),
            conflicts={
                "warehouses_code_key": f"a warehouse with code {warehouse.code!r} already exists"
            },
        )

    def get(self, warehouse_id: str) -> Warehouse | None:
        row = self._s.row("SELECT * FROM warehouses WHERE id = %s", [warehouse_id])
        return None if row is None else WAREHOUSES.load(row)

    def get_by_code(self, code: str) -> Warehouse | None:
        row = self._s.row("SELECT * FROM warehouses WHERE code = %s", [code])
        return None if row is None else WAREHOUSES.load(row)

    def list(self) -> builtins.list[Warehouse]:
        rows = self._s.rows('SELECT * FROM warehouses ORDER BY code COLLATE "C", id')
        return [WAREHOUSES.load(row) for row in rows]


class PostgresProductRepository(Repository):
    def _conflicts(self, product: Product) -> dict[str, str]:
        return {
            "products_client_sku_key": (
                f"this client already has a product with SKU {product.sku!r}"
            )
        }

    def add(self, product: Product) -> None:
        self._s.write(
            PRODUCTS.insert(), PRODUCTS.params(product), conflicts=self._conflicts(product)
        )

    def get(self, product_id: str) -> Product | None:
        row = self._s.row("SELECT * FROM products WHERE id = %s", [product_id])
        return None if row is None else PRODUCTS.load(row)

    def get_many(self, product_ids: Iterable[str]) -> builtins.list[Product]:
        rows = self._s.rows(
            "SELECT * FROM products WHERE id = ANY(%s::text[]) ORDER BY lower(sku), id",
            [list(product_ids)],
        )
        return [PRODUCTS.load(row) for row in rows]

    def get_by_sku(self, client_id: str, sku: str) -> Product | None:
        row = self._s.row(
            "SELECT * FROM products WHERE client_id = %s AND lower(sku) = lower(%s)",
            [client_id, sku],
        )
        return None if row is None else PRODUCTS.load(row)

    def find_by_barcode(self, client_id: str, barcode: str) -> builtins.list[Product]:
        rows = self._s.rows(
            "SELECT * FROM products WHERE client_id = %s AND barcode = %s"
            ' ORDER BY lower(sku) COLLATE "C", id',
            [client_id, barcode],
        )
        return [PRODUCTS.load(row) for row in rows]

    def update(self, product: Product) -> None:
        self._update(PRODUCTS, product, conflicts=self._conflicts(product))

    def list(
        self,
        client_id: str | None = None,
        *,
        q: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Product]:
        conditions: builtins.list[sql.Composable] = []
        if client_id is not None:
            conditions.append(sql.SQL("client_id = %(client_id)s"))
        if q:
            conditions.append(
                sql.SQL("(sku ILIKE %(q)s OR name ILIKE %(q)s OR barcode ILIKE %(q)s)")
            )
        query = (
            sql.SQL("SELECT * FROM products")
            + where(conditions)
            + sql.SQL(' ORDER BY lower(sku) COLLATE "C", id LIMIT %(limit)s OFFSET %(offset)s')
        )
        params = {
            "client_id": client_id,
            "q": contains_pattern(q) if q else None,
            "limit": limit,
            "offset": offset,
        }
        return [PRODUCTS.load(row) for row in self._s.rows(query, params)]


class PostgresStockRepository(Repository):
    def get_level(self, product_id: str, warehouse_id: str) -> StockLevel | None:
        # The advisory lock serializes units of work on one (product, warehouse) even before
        # its first level row exists, so two first receipts cannot overwrite each other.
        self._s.rows(
            "SELECT pg_advisory_xact_lock(%s::int4, hashtext(%s))",
            [_STOCK_LOCK_CLASS, f"{product_id}\x1f{warehouse_id}"],
        )
        row = self._s.row(
            "SELECT * FROM stock_levels WHERE product_id = %s AND warehouse_id = %s FOR UPDATE",
            [product_id, warehouse_id],
        )
        return None if row is None else STOCK_LEVELS.load(row)

    def save_level(self, level: StockLevel) -> None:
        self._s.write(STOCK_LEVELS.upsert(), STOCK_LEVELS.params(level))

    def levels(
        self,
        *,
        product_id: str | None = None,
        warehouse_id: str | None = None,
        client_id: str | None = None,
        product_ids: Iterable[str] | None = None,
    ) -> builtins.list[StockLevel]:
        conditions: builtins.list[sql.Composable] = []
        if product_id is not None:
            conditions.append(sql.SQL("l.product_id = %(product_id)s"))
        if product_ids is not None:
            conditions.append(sql.SQL("l.product_id = ANY(%(product_ids)s::text[])"))
        if warehouse_id is not None:
            conditions.append(sql.SQL("l.warehouse_id = %(warehouse_id)s"))
        if client_id is not None:
            conditions.append(
                sql.SQL(
                    "EXISTS (SELECT 1 FROM products p"
                    " WHERE p.id = l.product_id AND p.client_id = %(client_id)s)"
                )
            )
        query = (
            sql.SQL("SELECT l.* FROM stock_levels l")
            + where(conditions)
            + sql.SQL(" ORDER BY l.product_id, l.warehouse_id")
        )
        params = {
            "product_id": product_id,
            "warehouse_id": warehouse_id,
            "client_id": client_id,
            "product_ids": None if product_ids is None else list(product_ids),
        }
        return [STOCK_LEVELS.load(row) for row in self._s.rows(query, params)]

    def add_movement(self, movement: StockMovement) -> None:
        self._s.write(
            STOCK_MOVEMENTS.insert(),
            STOCK_MOVEMENTS.params(movement),
            conflicts={"stock_movements_pkey": "that stock movement is already recorded"},
        )

    def movements(
        self,
        *,
        product_id: str | None = None,
        warehouse_id: str | None = None,
        order_id: str | None = None,
        limit: int = 1000,
    ) -> builtins.list[StockMovement]:
        conditions: builtins.list[sql.Composable] = []
        if product_id is not None:
            conditions.append(sql.SQL("product_id = %(product_id)s"))
        if warehouse_id is not None:
            conditions.append(sql.SQL("warehouse_id = %(warehouse_id)s"))
        if order_id is not None:
            conditions.append(sql.SQL("order_id = %(order_id)s"))
        query = (
            sql.SQL("SELECT * FROM stock_movements")
            + where(conditions)
            + sql.SQL(" ORDER BY seq LIMIT %(limit)s")
        )
        params = {
            "product_id": product_id,
            "warehouse_id": warehouse_id,
            "order_id": order_id,
            "limit": limit,
        }
        return [STOCK_MOVEMENTS.load(row) for row in self._s.rows(query, params)]
