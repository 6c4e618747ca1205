"""What the portal shows about orders: the list (search, status, client, keyset pages) with the
reason each waiting order waits, and one order with its shipments, store and events.

Reads only. Every page is a handful of batched reads, whatever the number of orders: the
page of orders with their lines, their shipments, the stores and, for waiting orders, the
stock of their products; never one read per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from attrs import evolve, frozen

from core.errors import NotFound
from core.model import (
    Client,
    InboxEvent,
    Integration,
    OrderStatus,
    OutboundOrder,
    Shipment,
    StockLevel,
    User,
)
from core.ports import OrderCursor, OrderSearch, UnitOfWork
from core.services._context import Context, require_client_visible

MAX_PAGE = 200
ORDER_EVENTS = 50  # events shown on an order page, newest first
# Moves staff make by hand on an order page (``orders.advance``); allocation, shipping,
# releasing a hold and cancelling have their own actions.
HAND_MOVES: tuple[OrderStatus, ...] = ("pending", "picking", "packing", "on_hold")


@frozen
class UnmappedLine:
    """A line the warehouse cannot pick: its store variant is mapped to no product."""

    sku: str
    name: str
    integration_id: str | None
    variant_id: str | None


@frozen
class ShortLine:
    """A line of a ``pending`` order the warehouse lacks stock for."""

    sku: str
    needed: int
    available: int


@frozen
class WaitReason:
    """Why a ``pending`` or ``on_hold`` order is not moving."""

    summary: str  # one line, e.g. "held: store variant 808950810 (TEE-RED) is not mapped"
    unmapped: tuple[UnmappedLine, ...] = ()
    short: tuple[ShortLine, ...] = ()


@frozen
class OrderRow:
    order: OutboundOrder
    store: Integration | None
    shipments: tuple[Shipment, ...]
    reason: WaitReason | None


@frozen
class OrderList:
    rows: tuple[OrderRow, ...]
    newer: OrderCursor | None  # the page before this one starts above this cursor
    older: OrderCursor | None  # the page after this one starts below it
    clients: dict[str, Client]  # staff: every client (names, the filter); others: empty


@frozen
class OrderDetail:
    order: OutboundOrder
    store: Integration | None
    client: Client | None
    shipments: tuple[Shipment, ...]
    events: tuple[InboxEvent, ...]
    reason: WaitReason | None
    moves: tuple[OrderStatus, ...]  # the hand moves the status machine allows now


def list_orders(
    ctx: Context,
    actor: User,
    *,
    client_id: str | None = None,
    status: OrderStatus | None = None,
    q: str | None = None,
    after: OrderCursor | None = None,
    before: OrderCursor | None = None,
    limit: int = 50,
) -> OrderList:
    """A page of the orders the actor may see, newest first. A client user sees only their
    client's (a ``client_id`` of another client finds nothing)."""
    limit = max(1, min(limit, MAX_PAGE))
    if not actor.is_staff:
        if client_id is not None and client_id != actor.client_id:
            return OrderList(rows=(), newer=None, older=None, clients={})
        client_id = actor.client_id
    query = OrderSearch(
        client_id=client_id,
        status=status,
        q=_search_text(q),
        after=None if before is not None else after,
        before=before,
        limit=limit + 1,
    )
    with ctx.uow() as uow:
        found = uow.orders.search(query)
        if before is not None and len(found) <= limit:  # back at the top: the first page
            before, after = None, None
            found = uow.orders.search(evolve(query, before=None))
        # one more than the page tells whether there is another page in the direction read
        more = len(found) > limit
        page = found[:limit] if before is None else found[-limit:]
        rows = _rows(uow, page)
        clients = {c.id: c for c in uow.clients.list()} if actor.is_staff else {}
    if before is None:
        newer = _cursor(page[0]) if page and after is not None else None
        older = _cursor(page[-1]) if page and more else None
    else:
        newer = _cursor(page[0]) if page and more else None
        older = _cursor(page[-1]) if page else None
    return OrderList(rows=tuple(rows), newer=newer, older=older, clients=clients)


def order_detail(ctx: Context, actor: User, order_id: str) -> OrderDetail:
    """One order the actor may see (another client's is ``NotFound``, like a missing one)."""
    with ctx.uow() as uow:
        order = uow.orders.get(order_id)
        if order is None:
            raise NotFound("order not found")
        require_client_visible(actor, order.client_id, "order")
        row = _rows(uow, [order])[0]
        events: list[InboxEvent] = []
        if order.external is not None:
            events = uow.inbox.for_store_order(
                order.external.integration_id,
                order.external.external_order_id,
                limit=ORDER_EVENTS,
            )
        client = uow.clients.get(order.client_id) if actor.is_staff else None
    return OrderDetail(
        order=order,
        store=row.store,
        client=client,
        shipments=row.shipments,
        events=tuple(events),
        reason=row.reason,
        moves=hand_moves(order),
    )


def hand_moves(order: OutboundOrder) -> tuple[OrderStatus, ...]:
    """The statuses staff may set by hand now: what the status machine allows, except
    ``on_hold -> pending``, which is releasing the hold (it checks the lines are mapped)."""
    return tuple(
        status
        for status in HAND_MOVES
        if order.can_become(status) and not (order.status == "on_hold" and status == "pending")
    )


def _search_text(q: str | None) -> str | None:
    """What to look for: trimmed, and "#1001" finds store order 1001 (as typed from Shopify)."""
    text = (q or "").strip().lstrip("#").strip()
    return text or None


def _cursor(order: OutboundOrder) -> OrderCursor:
    return OrderCursor(created_at=order.created_at, id=order.id)


def _rows(uow: UnitOfWork, orders: Sequence[OutboundOrder]) -> list[OrderRow]:
    if not orders:
        return []
    shipments: dict[str, list[Shipment]] = {}
    for shipment in uow.shipments.for_orders([o.id for o in orders]):
        shipments.setdefault(shipment.order_id, []).append(shipment)
    stores = _stores(uow, orders)
    waiting = [o for o in orders if o.status == "pending"]
    levels = _levels(uow, waiting)
    return [
        OrderRow(
            order=o,
            store=stores.get(o.external.integration_id) if o.external else None,
            shipments=tuple(shipments.get(o.id, ())),
            reason=wait_reason(o, levels),
        )
        for o in orders
    ]


def _stores(uow: UnitOfWork, orders: Iterable[OutboundOrder]) -> dict[str, Integration]:
    clients = {o.client_id for o in orders if o.external is not None}
    if not clients:
        return {}
    found = uow.integrations.list(next(iter(clients)) if len(clients) == 1 else None)
    return {i.id: i for i in found}


def _levels(uow: UnitOfWork, orders: Sequence[OutboundOrder]) -> dict[tuple[str, str], int]:
    products = {i.product_id for o in orders for i in o.items if i.product_id is not None}
    if not products:
        return {}
    levels: list[StockLevel] = uow.stock.levels(product_ids=sorted(products))
    return {(lv.product_id, lv.warehouse_id): lv.available for lv in levels}


def wait_reason(order: OutboundOrder, available: dict[tuple[str, str], int]) -> WaitReason | None:
    """Why the order waits: lines not mapped (held), or stock short (pending). ``available``:
    on hand minus reserved per (product, warehouse)."""
    if order.status == "on_hold":
        unmapped = tuple(
            UnmappedLine(
                sku=i.sku,
                name=i.name,
                integration_id=order.external.integration_id if order.external else None,
                variant_id=i.external_variant_id,
            )
            for i in order.unmapped_items
        )
        if unmapped:
            parts = [
                f"store variant {u.variant_id}{f' ({u.sku})' if u.sku else ''}"
                if u.variant_id
                else f"line {u.sku or u.name}"
                for u in unmapped
            ]
            verb = "is" if len(parts) == 1 else "are"
            return WaitReason(f"held: {', '.join(parts)} {verb} not mapped", unmapped=unmapped)
        return WaitReason(f"held: {order.hold_reason or 'held for review'}")
    if order.status == "pending":
        short = tuple(
            ShortLine(i.sku, i.remaining, max(0, have))
            for i in order.items
            if i.product_id is not None
            and i.remaining > (have := available.get((i.product_id, order.warehouse_id), 0))
        )
        if short:
            parts = [f"{s.sku} (needs {s.needed}, {s.available} available)" for s in short]
            return WaitReason(f"waiting for stock: {', '.join(parts)}", short=short)
        return WaitReason("waiting to be allocated")
    return None
