"""Models as JSON, and the few views pages need. Explicit per type: secrets (password
hashes, credentials) never leave."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from attrs import asdict, frozen

from core.model import (
    CatalogVariant,
    Client,
    InboxEvent,
    Integration,
    InventoryPushState,
    Job,
    LocationMapping,
    OutboundOrder,
    Product,
    ProductMapping,
    Shipment,
    StockLevel,
    User,
    Warehouse,
)
from core.services.inventory import Slot


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


def job(j: Job) -> dict[str, Any]:
    """A job as its progress is read: ``progress`` holds the counts so far (their names
    depend on the kind), ``problems`` the items that failed while the job carried on."""
    return {
        "id": j.id,
        "kind": j.kind,
        "integration_id": j.integration_id,
        "requested_by": j.requested_by,
        "status": j.status,
        "progress": dict(j.progress),
        "problems": list(j.problems),
        "error": j.error,
        "attempts": j.attempts,
        "created_at": ts(j.created_at),
        "started_at": ts(j.started_at),
        "updated_at": ts(j.updated_at),
        "finished_at": ts(j.finished_at),
    }


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


# --- pages ---------------------------------------------------------------------------------


@frozen
class LocationStock:
    """One mapped variant at one store location that a warehouse serves."""

    location: str
    active: bool
    warehouse: str  # the warehouse's code
    available: int  # the warehouse's on hand minus reserved
    synced: bool  # does storelink set this variant's stock at this location?
    store_quantity: int | None  # on hand the store was last told or seen to have
    pushed_at: datetime | None
    problem: str | None  # a lasting refusal: not pushed again until a sync finds it fixed
    error: str | None  # the last failed push
    error_at: datetime | None
    waiting: bool = False  # the warehouse stock changed since it was last pushed

    @property
    def state(self) -> str:
        """The sync state in a few words: not synced, failed, waiting, in sync."""
        if not self.synced:
            return "not synced"
        if self.problem or self.error:
            return "failed"
        if self.pushed_at is None and self.store_quantity is None:
            return "not pushed yet"
        return "change waiting to be pushed" if self.waiting else "in sync"


@frozen
class VariantStock:
    warehouses: list[tuple[str, int]]  # (code, available) per warehouse serving the store
    locations: list[LocationStock]


def variant_stock(
    mappings: list[ProductMapping],
    locations: list[LocationMapping],
    levels: list[StockLevel],
    states: list[InventoryPushState],
    warehouse_codes: dict[str, str],
    *,
    waiting: frozenset[tuple[str, str]] = frozenset(),
) -> dict[str, VariantStock]:
    """Per mapping id: the warehouse stock of its product where the store's locations are
    served, and what the stock sync last did at each of those locations. Works from rows read
    once per page (no query per variant). ``waiting``: (product, warehouse) pairs whose stock
    changed since the last push."""
    served = sorted(
        (loc for loc in locations if loc.warehouse_id),
        key=lambda loc: (not loc.is_default, loc.name, loc.external_location_id),
    )
    available = {(lv.product_id, lv.warehouse_id): lv.available for lv in levels}
    pushed = {(st.mapping_id, st.location_id): st for st in states}
    out: dict[str, VariantStock] = {}
    for m in mappings:
        rows = []
        for loc in served:
            warehouse_id = loc.warehouse_id or ""
            state = pushed.get((m.id, loc.external_location_id))
            rows.append(
                LocationStock(
                    location=loc.name or loc.external_location_id,
                    active=loc.active,
                    warehouse=warehouse_codes.get(warehouse_id, warehouse_id),
                    available=available.get((m.product_id, warehouse_id), 0),
                    synced=Slot(m, loc).synced,
                    store_quantity=state.quantity if state else None,
                    pushed_at=state.pushed_at if state else None,
                    problem=state.problem if state else None,
                    error=state.error if state else None,
                    error_at=state.error_at if state else None,
                    waiting=(m.product_id, warehouse_id) in waiting,
                )
            )
        warehouses = {(r.warehouse, r.available) for r in rows}
        out[m.id] = VariantStock(warehouses=sorted(warehouses), locations=rows)
    return out


# --- jobs as a page shows them ------------------------------------------------------------------

JOB_TITLES = {
    "order_sync": "Order sync",
    "inventory_push": "Inventory push",
    "catalogue_refresh": "Catalogue refresh",
}
# each kind's counts, in the order a person reads them, with what to call them
JOB_COUNTS = {
    "order_sync": (
        ("read", "orders read"),
        ("imported", "imported"),
        ("updated", "updated"),
        ("skipped", "unchanged"),
        ("failed", "failed"),
    ),
    "inventory_push": (
        ("levels_read", "store levels read"),
        ("updated", "updated"),
        ("unchanged", "already right"),
        ("failed", "not set"),
    ),
    "catalogue_refresh": (
        ("variants_read", "variants read"),
        ("auto_mapped", "auto-mapped"),
        ("not_mapped", "left to map"),
    ),
}
JOB_PROBLEMS_SHOWN = 3


@frozen
class JobLine:
    """One job as a line on a page: what it is, where it got, and when."""

    title: str
    status: str  # queued | running | done | failed
    counts: str  # "12 orders read, 3 imported, ..." (the counts it reported so far)
    error: str | None
    problems: list[str]  # the first few items that failed while it carried on
    more_problems: int
    at: datetime  # when it finished, else started, else was asked for

    @property
    def pending(self) -> bool:
        return self.status in ("queued", "running")


def job_line(j: Job) -> JobLine:
    counts = ", ".join(
        f"{j.progress[key]} {label}" for key, label in JOB_COUNTS[j.kind] if key in j.progress
    )
    return JobLine(
        title=JOB_TITLES[j.kind],
        status=j.status,
        counts=counts,
        error=j.error,
        problems=j.problems[:JOB_PROBLEMS_SHOWN],
        more_problems=max(0, len(j.problems) - JOB_PROBLEMS_SHOWN),
        at=j.finished_at or j.started_at or j.created_at,
    )
