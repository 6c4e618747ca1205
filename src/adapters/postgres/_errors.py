"""psycopg's exceptions turned into the core's errors, at the edge.

Messages name what was wrong in words (which record, which rule) and never contain SQL, a
connection string or a stored value that could be secret.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import psycopg
from psycopg import errors as pg_errors

from core.errors import Conflict, InvalidInput, NotFound, StorelinkError

DATABASE_UNAVAILABLE = "database_unavailable"

# What one row of each table is called in a message.
_NOUNS: dict[str, str] = {
    "alerts": "alert",
    "api_tokens": "API token",
    "catalog_variants": "catalog variant",
    "clients": "client",
    "inbox_events": "inbox event",
    "integrations": "integration",
    "location_mappings": "location mapping",
    "order_items": "order item",
    "orders": "order",
    "outbox_commands": "outbox command",
    "product_mappings": "product mapping",
    "products": "product",
    "schema_migrations": "migration",
    "shipments": "shipment",
    "stock_levels": "stock level",
    "stock_movements": "stock movement",
    "sync_runs": "sync run",
    "users": "user",
    "warehouses": "warehouse",
}

# Uniqueness rules, by constraint or index name, when the caller gave no better message.
_UNIQUE: dict[str, str] = {
    "clients_name_key": "a client with that name already exists",
    "users_email_key": "a user with that e-mail address already exists",
    "api_tokens_token_hash_key": "that API token already exists",
    "warehouses_code_key": "a warehouse with that code already exists",
    "products_client_sku_key": "this client already has a product with that SKU",
    "integrations_client_shop_key": "this client already has an integration for that shop",
    "orders_client_number_key": "this client already has an order with that number",
    "orders_external_key": "that store order is already imported",
    "location_mappings_external_key": "that store location is already mapped",
    "product_mappings_variant_key": "that store variant is already mapped",
    "inbox_events_delivery_key": "that delivery is already stored",
    "outbox_commands_idempotency_key": "a command with that idempotency key already exists",
}

# Check constraints whose rule reads better in words than by name.
_CHECKS: dict[str, str] = {
    "stock_levels_on_hand_check": "stock on hand cannot be negative",
    "stock_levels_reserved_check": "reserved stock cannot be negative",
    "stock_levels_reserved_le_on_hand_check": "reserved stock cannot exceed stock on hand",
    "order_items_quantity_check": "an order line's quantity must be positive",
    "order_items_shipped_quantity_check": (
        "an order line's shipped quantity must be between 0 and its quantity"
    ),
    "orders_external_check": (
        "an order's external reference needs its platform, integration and order id"
    ),
    "users_role_check": "that is not a valid user role",
    "integrations_status_check": "that is not a valid integration status",
    "orders_status_check": "that is not a valid order status",
    "shipments_sync_state_check": "that is not a valid shipment sync state",
    "stock_movements_kind_check": "that is not a valid stock movement kind",
    "inbox_events_status_check": "that is not a valid inbox event status",
    "inbox_events_attempts_check": "attempts cannot be negative",
    "inbox_events_max_attempts_check": "max attempts must be positive",
    "outbox_commands_status_check": "that is not a valid outbox command status",
    "outbox_commands_attempts_check": "attempts cannot be negative",
    "outbox_commands_max_attempts_check": "max attempts must be positive",
    "alerts_severity_check": "that is not a valid alert severity",
}


def noun(table: str | None) -> str:
    if not table:
        return "record"
    return _NOUNS.get(table, table.replace("_", " "))


def database_unavailable(exc: BaseException) -> StorelinkError:
    """The error for a database that cannot be reached or cannot finish the request now."""
    detail = str(exc).strip().splitlines()
    reason = f": {detail[0]}" if detail else ""
    return StorelinkError(f"the database is unavailable{reason}", code=DATABASE_UNAVAILABLE)


def translate(
    exc: psycopg.Error, conflicts: Mapping[str, str] | None = None
) -> StorelinkError | None:
    """The core error for ``exc``, or ``None`` for a programming error that must propagate."""
    diag = exc.diag
    constraint = diag.constraint_name or ""
    what = noun(diag.table_name)
    if isinstance(exc, pg_errors.UniqueViolation):
        message = (conflicts or {}).get(constraint) or _UNIQUE.get(constraint)
        if message is None:
            message = f"that {what} already exists"
        return Conflict(message)
    if isinstance(exc, pg_errors.ForeignKeyViolation):
        # default names are <table>_<column>_fkey; the column names what is missing
        column = constraint.removeprefix(f"{diag.table_name}_").removesuffix("_fkey")
        missing = column.removesuffix("_id").replace("_", " ") or "record"
        article = "an" if missing[0] in "aeiou" else "a"
        if diag.table_name and constraint.startswith(f"{diag.table_name}_"):
            return NotFound(f"the {what} refers to {article} {missing} that does not exist")
        return NotFound(f"the {what} is still referred to, or refers to a missing record")
    if isinstance(exc, pg_errors.CheckViolation):
        rule = _CHECKS.get(constraint)
        if rule is None:
            rule = f"the {what} has a value outside what {constraint or 'its rules'} allows"
        return InvalidInput(rule)
    if isinstance(exc, pg_errors.NotNullViolation):
        return InvalidInput(f"the {what} needs a value for {diag.column_name or 'a field'}")
    if isinstance(exc, psycopg.IntegrityError):
        return InvalidInput(diag.message_primary or f"the {what} breaks a database rule")
    if isinstance(exc, psycopg.DataError):
        reason = diag.message_primary or "a value has the wrong form"
        return InvalidInput(f"a value cannot be stored: {reason}")
    if isinstance(exc, psycopg.OperationalError):
        return database_unavailable(exc)
    return None


@contextmanager
def translated(conflicts: Mapping[str, str] | None = None) -> Iterator[None]:
    """Run a block, raising the core's error for any psycopg error it raises."""
    try:
        yield
    except psycopg.Error as exc:
        error = translate(exc, conflicts)
        if error is None:
            raise
        if error.code == DATABASE_UNAVAILABLE:
            raise error from exc
        raise error from None
