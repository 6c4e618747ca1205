"""Outbound orders with their items, and shipments."""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Iterable, Sequence

from psycopg import sql

from adapters.postgres._rows import (
    ORDER_COLUMNS,
    ORDER_ITEMS,
    SHIPMENTS,
    Row,
    item_params,
    load_order,
    order_params,
)
from adapters.postgres._session import Repository, contains_pattern, where
from core.errors import NotFound
from core.model import OpenUnits, OrderRef, OrderStatus, OutboundOrder, Shipment
from core.ports import OrderSearch

_INSERT_ORDER = sql.SQL("INSERT INTO orders ({columns}) VALUES ({values})").format(
    columns=sql.SQL(", ").join(sql.Identifier(c) for c in ORDER_COLUMNS),
    values=sql.SQL(", ").join(sql.Placeholder(c) for c in ORDER_COLUMNS),
)
_UPDATE_ORDER = sql.SQL("UPDATE orders SET {assignments} WHERE id = %(id)s").format(
    assignments=sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c))
        for c in ORDER_COLUMNS
        if c != "id"
    )
)


# What ``OrderSearch.q`` looks in on the order row itself; the same expression carries the
# trigram index ``orders_search_trgm_idx`` (0006_portal_indexes.sql), so it must not change
# without a migration. Line SKUs are searched through ``order_items_sku_trgm_idx``.
ORDER_SEARCH_TEXT = sql.SQL(
    "lower(o.number || ' ' || coalesce(o.external_number, '') || ' ' || coalesce(o.email, '')"
    " || ' ' || coalesce(o.ship_to ->> 'name', ''))"
)


def _search_query(query: OrderSearch) -> tuple[sql.Composed, dict[str, object]]:
    conditions: builtins.list[sql.Composable] = []
    if query.client_id is not None:
        conditions.append(sql.SQL("o.client_id = %(client_id)s"))
    if query.status is not None:
        conditions.append(sql.SQL("o.status = %(status)s"))
    if query.after is not None:
        conditions.append(sql.SQL("(o.created_at, o.id) < (%(after_at)s, %(after_id)s)"))
    if query.before is not None:
        conditions.append(sql.SQL("(o.created_at, o.id) > (%(before_at)s, %(before_id)s)"))
    if query.q:
        conditions.append(
            sql.SQL(
                "o.id IN (SELECT o.id FROM orders o WHERE {text} LIKE %(q)s"
                " UNION SELECT i.order_id FROM order_items i WHERE lower(i.sku) LIKE %(q)s)"
            ).format(text=ORDER_SEARCH_TEXT)
        )
    direction = sql.SQL("DESC" if query.before is None else "ASC")
    statement = (
        sql.SQL("SELECT o.* FROM orders o")
        + where(conditions)
        + sql.SQL(" ORDER BY o.created_at {d}, o.id {d} LIMIT %(limit)s").format(d=direction)
    )
    params: dict[str, object] = {
        "client_id": query.client_id,
        "status": query.status,
        "after_at": query.after.created_at if query.after else None,
        "after_id": query.after.id if query.after else None,
        "before_at": query.before.created_at if query.before else None,
        "before_id": query.before.id if query.before else None,
        "q": contains_pattern(query.q.lower()) if query.q else None,
        "limit": query.limit,
    }
    return statement, params


def _conflicts(order: OutboundOrder) -> dict[str, str]:
    messages = {
        "orders_pkey": f"order {order.id} already exists",
        "orders_client_number_key": f"this client already has an order numbered {order.number!r}",
        "order_items_pkey": f"order {order.number!r} has two lines with one id",
    }
    if order.external is not None:
        messages["orders_external_key"] = (
            f"store order {order.external.external_order_id} is already imported"
        )
    return messages


class PostgresOrderRepository(Repository):
    def _with_items(self, rows: Sequence[Row]) -> builtins.list[OutboundOrder]:
        if not rows:
            return []
        items: dict[str, builtins.list[Row]] = defaultdict(builtins.list)
        for item in self._s.rows(
            "SELECT * FROM order_items WHERE order_id = ANY(%s) ORDER BY order_id, position",
            [[row["id"] for row in rows]],
        ):
            items[item["order_id"]].append(item)
        return [load_order(row, items[row["id"]]) for row in rows]

    def add(self, order: OutboundOrder) -> None:
        with self._s.atomic(_conflicts(order)) as cur:
            cur.execute(_INSERT_ORDER, order_params(order))
            if order.items:
                cur.executemany(ORDER_ITEMS.insert(), item_params(order))

    def get(self, order_id: str) -> OutboundOrder | None:
        rows = self._s.rows("SELECT * FROM orders WHERE id = %s FOR UPDATE", [order_id])
        found = self._with_items(rows)
        return found[0] if found else None

    def get_by_external(self, integration_id: str, external_order_id: str) -> OutboundOrder | None:
        rows = self._s.rows(
            "SELECT * FROM orders WHERE integration_id = %s AND external_order_id = %s FOR UPDATE",
            [integration_id, external_order_id],
        )
        found = self._with_items(rows)
        return found[0] if found else None

    def peek_external(self, integration_id: str, external_order_id: str) -> OutboundOrder | None:
        rows = self._s.rows(
            "SELECT * FROM orders WHERE integration_id = %s AND external_order_id = %s",
            [integration_id, external_order_id],
        )
        found = self._with_items(rows)
        return found[0] if found else None

    def open_units(self, integration_id: str) -> builtins.list[OpenUnits]:
        rows = self._s.rows(
            "SELECT i.product_id, o.warehouse_id, i.external_variant_id AS variant_id,"
            "       i.external_location_id AS location_id,"
            "       sum(i.quantity - i.shipped_quantity) FILTER"
            "           (WHERE o.status IN ('allocated', 'picking', 'packing')) AS reserved,"
            "       sum(i.quantity - i.shipped_quantity) FILTER"
            "           (WHERE o.status IN ('pending', 'on_hold')) AS unreserved"
            " FROM orders o JOIN order_items i ON i.order_id = o.id"
            " WHERE o.integration_id = %s"
            "   AND o.status IN ('pending', 'allocated', 'picking', 'packing', 'on_hold')"
            "   AND i.product_id IS NOT NULL AND i.quantity > i.shipped_quantity"
            " GROUP BY 1, 2, 3, 4"
            " ORDER BY 1, 2, coalesce(i.external_variant_id, ''),"
            "          coalesce(i.external_location_id, '')",
            [integration_id],
        )
        return [
            OpenUnits(
                product_id=row["product_id"],
                warehouse_id=row["warehouse_id"],
                variant_id=row["variant_id"],
                location_id=row["location_id"],
                reserved=int(row["reserved"] or 0),
                unreserved=int(row["unreserved"] or 0),
            )
            for row in rows
        ]

    def number_taken(self, client_id: str, number: str) -> bool:
        row = self._s.row(
            "SELECT 1 AS taken FROM orders WHERE client_id = %s AND number = %s",
            [client_id, number],
        )
        return row is not None

    def refs_by_external(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], OrderRef]:
        pairs = list(set(keys))
        if not pairs:
            return {}
        rows = self._s.rows(
            "SELECT o.id, o.number, o.status, o.integration_id, o.external_order_id"
            " FROM orders o"
            " JOIN unnest(%s::text[], %s::text[]) AS k (integration_id, external_order_id)"
            " ON o.integration_id = k.integration_id"
            " AND o.external_order_id = k.external_order_id",
            [[p[0] for p in pairs], [p[1] for p in pairs]],
        )
        return {
            (row["integration_id"], row["external_order_id"]): OrderRef(
                row["id"],
                row["number"],
                row["status"],
                row["integration_id"],
                row["external_order_id"],
            )
            for row in rows
        }

    def update(self, order: OutboundOrder) -> None:
        with self._s.atomic(_conflicts(order)) as cur:
            cur.execute(_UPDATE_ORDER, order_params(order))
            if cur.rowcount == 0:
                raise NotFound(f"order {order.number!r} does not exist")
            cur.execute(
                "DELETE FROM order_items WHERE order_id = %s AND NOT (id = ANY(%s::text[]))",
                [order.id, [item.id for item in order.items]],
            )
            if order.items:
                cur.executemany(ORDER_ITEMS.upsert(), item_params(order))

    def list(
        self,
        *,
        client_id: str | None = None,
        status: OrderStatus | None = None,
        integration_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[OutboundOrder]:
        conditions: builtins.list[sql.Composable] = []
        if client_id is not None:
            conditions.append(sql.SQL("client_id = %(client_id)s"))
        if status is not None:
            conditions.append(sql.SQL("status = %(status)s"))
        if integration_id is not None:
            conditions.append(sql.SQL("integration_id = %(integration_id)s"))
        query = (
            sql.SQL("SELECT * FROM orders")
            + where(conditions)
            + sql.SQL(" ORDER BY created_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s")
        )
        params = {
            "client_id": client_id,
            "status": status,
            "integration_id": integration_id,
            "limit": limit,
            "offset": offset,
        }
        return self._with_items(self._s.rows(query, params))

    def search(self, query: OrderSearch) -> builtins.list[OutboundOrder]:
        statement, params = _search_query(query)
        rows = self._s.rows(statement, params)
        found = self._with_items(rows)
        return found if query.before is None else found[::-1]

    def awaiting_stock(self, warehouse_id: str, product_id: str) -> builtins.list[str]:
        rows = self._s.rows(
            "SELECT o.id FROM orders o"
            " WHERE o.status = 'pending' AND o.warehouse_id = %s"
            " AND EXISTS (SELECT 1 FROM order_items i"
            "             WHERE i.order_id = o.id AND i.product_id = %s)"
            " ORDER BY o.rush DESC, o.created_at, o.id",
            [warehouse_id, product_id],
        )
        return [row["id"] for row in rows]

    def for_customer(
        self, integration_id: str, *, email: str | None, external_order_ids: Iterable[str]
    ) -> builtins.list[OutboundOrder]:
        rows = self._s.rows(
            "SELECT * FROM orders WHERE integration_id = %(integration_id)s"
            " AND (external_order_id = ANY(%(ids)s::text[])"
            "      OR lower(email) = lower(%(email)s::text))"
            " ORDER BY created_at, id",
            {
                "integration_id": integration_id,
                "ids": list(external_order_ids),
                "email": email or None,
            },
        )
        return self._with_items(rows)


class PostgresShipmentRepository(Repository):
    def add(self, shipment: Shipment) -> None:
        self._s.write(
            SHIPMENTS.insert(),
            SHIPMENTS.params(shipment),
            conflicts={"shipments_pkey": f"shipment {shipment.id} already exists"},
        )

    def get(self, shipment_id: str) -> Shipment | None:
        row = self._s.row("SELECT * FROM shipments WHERE id = %s", [shipment_id])
        return None if row is None else SHIPMENTS.load(row)

    def for_order(self, order_id: str) -> builtins.list[Shipment]:
        rows = self._s.rows(
            "SELECT * FROM shipments WHERE order_id = %s ORDER BY created_at, id", [order_id]
        )
        return [SHIPMENTS.load(row) for row in rows]

    def for_orders(self, order_ids: Iterable[str]) -> builtins.list[Shipment]:
        rows = self._s.rows(
            "SELECT * FROM shipments WHERE order_id = ANY(%s::text[]) ORDER BY created_at, id",
            [list(order_ids)],
        )
        return [SHIPMENTS.load(row) for row in rows]

    def update(self, shipment: Shipment) -> None:
        self._update(SHIPMENTS, shipment)
