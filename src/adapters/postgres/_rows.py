"""Rows <-> models: the one place that knows how each model is stored.

A ``Table`` maps a model whose attrs fields are its columns one to one (nested values such as
``Address``, ``IntegrationSettings`` and dicts are ``jsonb``). Orders keep their external
reference in four columns and their items in a table of their own; ``_orders`` composes
those from the same pieces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import attrs
from cattrs.preconf.json import make_converter
from psycopg import sql
from psycopg.types.json import Jsonb

from core.model import (
    Alert,
    ApiToken,
    CatalogVariant,
    Client,
    DirtyStock,
    InboxEvent,
    Integration,
    InventoryPushState,
    Job,
    LocationMapping,
    OutboundItem,
    OutboundOrder,
    OutboxCommand,
    Product,
    ProductMapping,
    Shipment,
    StockLevel,
    StockMovement,
    SyncRun,
    User,
    UserSession,
    Warehouse,
)

M = TypeVar("M")

Row = dict[str, Any]


def _to_utc(value: Any, _: type) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None:  # a timestamp without zone is stored UTC
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# The database boundary: psycopg speaks datetime and Python containers itself, so datetimes
# pass through (read back as UTC) and nested attrs values become plain dicts for jsonb.
converter = make_converter()
converter.register_unstructure_hook(datetime, lambda value: value)
converter.register_structure_hook(datetime, _to_utc)


def _plain_json(value: Any) -> bool:
    """A dict (from JSON or of counts) or nothing: already what ``jsonb`` stores."""
    return value is None or (
        isinstance(value, dict) and not any(attrs.has(type(v)) for v in value.values())
    )


def _identifiers(names: Sequence[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(name) for name in names)


@attrs.frozen
class Table(Generic[M]):
    """How one model is stored: its table, key columns and the columns held as ``jsonb``."""

    name: str
    model: type[M]
    key: tuple[str, ...] = ("id",)
    json: frozenset[str] = frozenset()
    extra: tuple[str, ...] = ()  # columns written besides the model's fields (order_id, ...)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in attrs.fields(self.model))  # type: ignore[arg-type]

    @property
    def columns(self) -> tuple[str, ...]:
        return self.extra + self.fields

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.name)

    def params(self, obj: M, **extra: Any) -> Row:
        """Query parameters for ``obj``: one per column, jsonb values wrapped.

        Plain columns and dicts of JSON (webhook payloads, counts) are passed as they are:
        only attrs values (addresses, settings, shipment lines) go through the converter, so a
        large payload is not walked value by value on its way to ``jsonb``.
        """
        values: Row = {name: getattr(obj, name) for name in self.fields}
        for column in self.json:
            value = values[column]
            values[column] = Jsonb(value if _plain_json(value) else converter.unstructure(value))
        values.update(extra)
        return values

    def load(self, row: Mapping[str, Any]) -> M:
        return converter.structure(row, self.model)

    def insert(self, *, on_conflict_do_nothing: bool = False) -> sql.Composed:
        query = sql.SQL("INSERT INTO {table} ({columns}) VALUES ({values})").format(
            table=self.ident,
            columns=_identifiers(self.columns),
            values=sql.SQL(", ").join(sql.Placeholder(c) for c in self.columns),
        )
        if on_conflict_do_nothing:
            query += sql.SQL(" ON CONFLICT DO NOTHING")
        return query

    def update(self) -> sql.Composed:
        """``UPDATE`` of every non-key column, by key."""
        return sql.SQL("UPDATE {table} SET {assignments} WHERE {where}").format(
            table=self.ident,
            assignments=sql.SQL(", ").join(
                sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c))
                for c in self.columns
                if c not in self.key
            ),
            where=self.where_key(),
        )

    def upsert(self) -> sql.Composed:
        """``INSERT``, or on a key conflict an update of every other column."""
        return self.insert() + sql.SQL(" ON CONFLICT ({key}) DO UPDATE SET {assignments}").format(
            key=_identifiers(self.key),
            assignments=sql.SQL(", ").join(
                sql.SQL("{column} = EXCLUDED.{column}").format(column=sql.Identifier(c))
                for c in self.columns
                if c not in self.key
            ),
        )

    def where_key(self) -> sql.Composed:
        return sql.SQL(" AND ").join(
            sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c)) for c in self.key
        )


CLIENTS = Table("clients", Client)
USERS = Table("users", User)
API_TOKENS = Table("api_tokens", ApiToken)
USER_SESSIONS = Table("user_sessions", UserSession, key=("id_hash",))
WAREHOUSES = Table("warehouses", Warehouse)
PRODUCTS = Table("products", Product)
STOCK_LEVELS = Table("stock_levels", StockLevel, key=("product_id", "warehouse_id"))
STOCK_MOVEMENTS = Table("stock_movements", StockMovement)
SHIPMENTS = Table("shipments", Shipment, json=frozenset({"lines"}))
INTEGRATIONS = Table("integrations", Integration, json=frozenset({"settings"}))
LOCATION_MAPPINGS = Table("location_mappings", LocationMapping)
PRODUCT_MAPPINGS = Table("product_mappings", ProductMapping)
DIRTY = Table("inventory_dirty", DirtyStock, key=("integration_id", "product_id", "warehouse_id"))
INVENTORY_PUSH_STATES = Table(
    "inventory_push_states", InventoryPushState, key=("mapping_id", "location_id")
)
CATALOG_VARIANTS = Table(
    "catalog_variants", CatalogVariant, key=("integration_id", "external_variant_id")
)
INBOX_EVENTS = Table("inbox_events", InboxEvent, json=frozenset({"payload"}))
OUTBOX_COMMANDS = Table("outbox_commands", OutboxCommand, json=frozenset({"payload", "result"}))
ALERTS = Table("alerts", Alert)
SYNC_RUNS = Table("sync_runs", SyncRun, json=frozenset({"counts"}))
JOBS = Table("jobs", Job, json=frozenset({"progress", "problems"}))


# --- orders: the external reference flattened into columns, items in their own table ---------

ORDER_ITEMS = Table(
    "order_items", OutboundItem, key=("order_id", "id"), extra=("order_id", "position")
)

ORDER_COLUMNS: tuple[str, ...] = (
    "id",
    "client_id",
    "warehouse_id",
    "number",
    "created_at",
    "updated_at",
    "status",
    "source",
    "platform",
    "integration_id",
    "external_order_id",
    "external_number",
    "ship_to",
    "email",
    "rush",
    "notes",
    "hold_reason",
    "external_updated_at",
    "currency",
    "external_created_at",
)

_EXTERNAL_COLUMNS = ("platform", "integration_id", "external_order_id", "external_number")


def order_params(order: OutboundOrder) -> Row:
    values: Row = converter.unstructure(order)
    external = values.pop("external") or {}
    values.pop("items")
    for column in _EXTERNAL_COLUMNS:
        values[column] = external.get(column)
    values["ship_to"] = None if values["ship_to"] is None else Jsonb(values["ship_to"])
    return values


def item_params(order: OutboundOrder) -> list[Row]:
    return [
        ORDER_ITEMS.params(item, order_id=order.id, position=position)
        for position, item in enumerate(order.items)
    ]


def load_order(row: Mapping[str, Any], items: Sequence[Mapping[str, Any]]) -> OutboundOrder:
    values = dict(row)
    external = {column: values.pop(column) for column in _EXTERNAL_COLUMNS}
    values["external"] = None if external["external_order_id"] is None else external
    values["items"] = list(items)
    return converter.structure(values, OutboundOrder)
