"""The staff warehouse API: clients, warehouses, products, stock, orders and shipping.

Client users may read their own client's products, stock and orders; everything that changes
the warehouse is for staff. Another tenant's object answers 404.
"""

from __future__ import annotations

from typing import Any, cast

from attrs import frozen
from flask import Blueprint

from core.errors import InvalidInput
from core.model import ORDER_STATUSES, Address, OrderStatus
from core.services import fulfillment, orders, tenancy
from core.services import stock as stock_services
from core.services._context import require_staff
from core.services.fulfillment import ShipLine
from core.services.orders import NewItem
from entrypoints.web import presenters
from entrypoints.web.context import actor, ctx
from entrypoints.web.errors import ApiError
from entrypoints.web.inputs import arg, page_args, parse

bp = Blueprint("warehouse_api", __name__, url_prefix="/api")

Json = tuple[dict[str, Any], int] | dict[str, Any]


@frozen
class NewClient:
    name: str
    default_warehouse_id: str | None = None


@frozen
class NewWarehouse:
    code: str
    name: str


@frozen
class NewProduct:
    client_id: str
    sku: str
    name: str
    barcode: str | None = None


@frozen
class StockChange:
    warehouse_id: str
    quantity: int
    reason: str = ""
    product_id: str | None = None
    sku: str | None = None
    client_id: str | None = None


@frozen
class ItemIn:
    quantity: int
    product_id: str | None = None
    sku: str | None = None
    unit_price: str | None = None


@frozen
class NewOrder:
    client_id: str
    warehouse_id: str
    items: list[ItemIn]
    number: str | None = None
    ship_to: Address | None = None
    email: str | None = None
    rush: bool = False
    notes: str = ""


@frozen
class LineIn:
    item_id: str
    quantity: int


@frozen
class ShipIn:
    carrier: str
    tracking_number: str
    tracking_url: str | None = None
    lines: list[LineIn] | None = None


@frozen
class StatusIn:
    status: str


@frozen
class CancelIn:
    reason: str = ""


# --- clients and warehouses ------------------------------------------------------------------


@bp.post("/clients")
def create_client() -> Json:
    body = parse(NewClient)
    client = tenancy.create_client(ctx(), actor(), name=body.name)
    if body.default_warehouse_id:
        client = tenancy.set_default_warehouse(
            ctx(), actor(), client_id=client.id, warehouse_id=body.default_warehouse_id
        )
    return presenters.client(client), 201


@bp.get("/clients")
def list_clients() -> Json:
    user = actor()
    with ctx().uow() as uow:
        if user.is_staff:
            found = uow.clients.list()
        else:
            own = uow.clients.get(user.client_id or "")
            found = [own] if own else []
    return {"clients": [presenters.client(c) for c in found]}


@bp.post("/warehouses")
def create_warehouse() -> Json:
    body = parse(NewWarehouse)
    return presenters.warehouse(
        stock_services.create_warehouse(ctx(), actor(), code=body.code, name=body.name)
    ), 201


@bp.get("/warehouses")
def list_warehouses() -> Json:
    actor()
    return {"warehouses": [presenters.warehouse(w) for w in stock_services.list_warehouses(ctx())]}


# --- products and stock ------------------------------------------------------------------------


@bp.post("/products")
def create_product() -> Json:
    body = parse(NewProduct)
    product = stock_services.create_product(
        ctx(),
        actor(),
        client_id=body.client_id,
        sku=body.sku,
        name=body.name,
        barcode=body.barcode,
    )
    return presenters.product(product, []), 201


@bp.get("/products")
def list_products() -> Json:
    limit, offset = page_args()
    found = stock_services.list_products(
        ctx(), actor(), client_id=arg("client_id"), q=arg("q"), limit=limit, offset=offset
    )
    return {"products": [presenters.product(p) for p in found]}


@bp.get("/products/<product_id>")
def get_product(product_id: str) -> Json:
    user = actor()
    product = stock_services.get_product(ctx(), user, product_id)
    levels = stock_services.stock_levels(ctx(), user, product_id=product.id)
    return presenters.product(product, levels)


def _stock_change(body: StockChange, *, adjust: bool) -> Json:
    change = stock_services.adjust_stock if adjust else stock_services.receive_stock
    level = change(
        ctx(),
        actor(),
        warehouse_id=body.warehouse_id,
        quantity=body.quantity,
        reason=body.reason,
        product_id=body.product_id,
        sku=body.sku,
        client_id=body.client_id,
    )
    return presenters.stock_level(level)


@bp.post("/inventory/receive")
def receive() -> Json:
    return _stock_change(parse(StockChange), adjust=False)


@bp.post("/inventory/adjust")
def adjust() -> Json:
    return _stock_change(parse(StockChange), adjust=True)


@bp.get("/inventory")
def inventory() -> Json:
    levels = stock_services.stock_levels(
        ctx(),
        actor(),
        product_id=arg("product_id"),
        warehouse_id=arg("warehouse_id"),
        client_id=arg("client_id"),
    )
    return {"levels": [presenters.stock_level(level) for level in levels]}


# --- orders ------------------------------------------------------------------------------------


def _status_arg() -> OrderStatus | None:
    status = arg("status")
    if status is not None and status not in ORDER_STATUSES:
        raise ApiError(400, "invalid_query", f"status must be one of {', '.join(ORDER_STATUSES)}")
    return status


@bp.get("/orders")
def list_orders() -> Json:
    limit, offset = page_args()
    found = orders.list_orders(
        ctx(),
        actor(),
        client_id=arg("client_id"),
        status=_status_arg(),
        limit=limit,
        offset=offset,
    )
    return {"orders": [presenters.order_summary(o) for o in found]}


@bp.post("/orders")
def create_order() -> Json:
    body = parse(NewOrder)
    order = orders.create_order(
        ctx(),
        actor(),
        client_id=body.client_id,
        warehouse_id=body.warehouse_id,
        items=[NewItem(i.quantity, i.product_id, i.sku, i.unit_price) for i in body.items],
        number=body.number,
        ship_to=body.ship_to,
        email=body.email,
        rush=body.rush,
        notes=body.notes,
    )
    return presenters.order(order, []), 201


@bp.get("/orders/<order_id>")
def get_order(order_id: str) -> Json:
    order, shipments = orders.get_order(ctx(), actor(), order_id)
    return presenters.order(order, shipments)


@bp.post("/orders/<order_id>/ship")
def ship(order_id: str) -> Json:
    body = parse(ShipIn)
    shipment = fulfillment.ship(
        ctx(),
        actor(),
        order_id,
        carrier=body.carrier,
        tracking_number=body.tracking_number,
        tracking_url=body.tracking_url,
        lines=[ShipLine(line.item_id, line.quantity) for line in body.lines]
        if body.lines is not None
        else None,
    )
    order, shipments = orders.get_order(ctx(), actor(), order_id)
    return {
        "shipment": presenters.shipment(shipment),
        "order": presenters.order(order, shipments),
    }, 201


@bp.post("/orders/<order_id>/release-hold")
def release_hold(order_id: str) -> Json:
    return presenters.order(orders.release_hold(ctx(), actor(), order_id))


@bp.post("/orders/<order_id>/status")
def set_status(order_id: str) -> Json:
    body = parse(StatusIn)
    if body.status not in ("picking", "packing", "on_hold", "pending"):
        raise InvalidInput("status must be picking, packing, on_hold or pending")
    return presenters.order(
        orders.advance(ctx(), actor(), order_id, status=cast(OrderStatus, body.status))
    )


@bp.post("/orders/<order_id>/cancel")
def cancel(order_id: str) -> Json:
    user = actor()
    require_staff(user)
    body = parse(CancelIn)
    return presenters.order(orders.cancel_order(ctx(), user, order_id, reason=body.reason))
