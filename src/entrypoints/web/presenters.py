"""Models as JSON. Explicit per type: secrets (password hashes, credentials) never leave."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from attrs import asdict

from core.model import (
    CatalogVariant,
    Client,
    InboxEvent,
    Integration,
    LocationMapping,
    OutboundOrder,
    Product,
    ProductMapping,
    Shipment,
    StockLevel,
    User,
    Warehouse,
)


def ts(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _plain(obj: Any) -> dict[str, Any]:
    def convert(_: Any, __: Any, value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value

    return asdict(obj, value_serializer=convert)


def client(c: Client) -> dict[str, Any]:
    return _plain(c)


def user(u: User) -> dict[str, Any]:
    return {
        "id": u.id,
        "email": u.email,
        "is_staff": u.is_staff,
        "client_id": u.client_id,
        "role": u.role,
        "active": u.active,
        "created_at": ts(u.created_at),
    }


def warehouse(w: Warehouse) -> dict[str, Any]:
    return _plain(w)


def product(p: Product, levels: list[StockLevel] | None = None) -> dict[str, Any]:
    out = _plain(p)
    if levels is not None:
        out["stock"] = [stock_level(level) for level in levels]
    return out


def stock_level(level: StockLevel) -> dict[str, Any]:
    return {
        "product_id": level.product_id,
        "warehouse_id": level.warehouse_id,
        "on_hand": level.on_hand,
        "reserved": level.reserved,
        "available": level.available,
    }


def order(o: OutboundOrder, shipments: list[Shipment] | None = None) -> dict[str, Any]:
    out = _plain(o)
    for item in out["items"]:
        item["remaining"] = item["quantity"] - item["shipped_quantity"]
    if shipments is not None:
        out["shipments"] = [shipment(s) for s in shipments]
    return out


def order_summary(o: OutboundOrder) -> dict[str, Any]:
    return {
        "id": o.id,
        "client_id": o.client_id,
        "warehouse_id": o.warehouse_id,
        "number": o.number,
        "status": o.status,
        "source": o.source,
        "rush": o.rush,
        "hold_reason": o.hold_reason,
        "created_at": ts(o.created_at),
        "updated_at": ts(o.updated_at),
        "lines": len(o.items),
        "units": sum(i.quantity for i in o.items),
        "external_order_id": o.external.external_order_id if o.external else None,
    }


def shipment(s: Shipment) -> dict[str, Any]:
    return _plain(s)


def integration(i: Integration) -> dict[str, Any]:
    return {
        "id": i.id,
        "client_id": i.client_id,
        "platform": i.platform,
        "shop_domain": i.shop_domain,
        "shop_name": i.shop_name,
        "status": i.status,
        "scopes": i.scopes,
        "settings": asdict(i.settings),
        "token_expires_at": ts(i.token_expires_at),
        "orders_synced_at": ts(i.orders_synced_at),
        "inventory_synced_at": ts(i.inventory_synced_at),
        "last_error": i.last_error,
        "last_error_at": ts(i.last_error_at),
        "connected_at": ts(i.connected_at),
        "disconnected_at": ts(i.disconnected_at),
        "created_at": ts(i.created_at),
    }


def catalog_variant(v: CatalogVariant) -> dict[str, Any]:
    return _plain(v)


def location(m: LocationMapping) -> dict[str, Any]:
    return _plain(m)


def mapping(m: ProductMapping) -> dict[str, Any]:
    return _plain(m)


def inbox_event(e: InboxEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "integration_id": e.integration_id,
        "topic": e.topic,
        "delivery_id": e.delivery_id,
        "event_id": e.event_id,
        "source": e.source,
        "status": e.status,
        "attempts": e.attempts,
        "max_attempts": e.max_attempts,
        "received_at": ts(e.received_at),
        "next_attempt_at": ts(e.next_attempt_at),
        "processed_at": ts(e.processed_at),
        "error": e.error,
    }
