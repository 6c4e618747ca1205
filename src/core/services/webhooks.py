"""Webhooks in: store the delivery durably and answer; the worker does the rest.

``receive`` runs inside the HTTP request after the signature was checked: it stores one
``InboxEvent`` per delivery id (a repeat is recognised and stored once) and changes nothing
else, calls no store API. ``IntegrationShops`` spares it reading the integration of every
delivery. ``handlers`` builds the worker's handlers per topic: order topics
read the store outside any transaction (``order_import.read_order``) and apply the result in
the worker's; ``app/uninstalled`` erases the tokens without an API
call; the compliance topics are recorded (data requests) or erase personal data (redactions).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from attrs import evolve, frozen

from core.errors import NotFound, PayloadError, StorelinkError
from core.model import Address, InboxEvent, Integration, OutboundOrder
from core.ports import UnitOfWork
from core.serialization import load_order
from core.services import _skips as skips
from core.services._context import raise_alert
from core.services._paging import every
from core.services.integrations import StoreContext, erase
from core.services.order_import import ImportResult, apply_state, read_order
from core.services.worker import InboxApply, InboxHandler, Skip, done, in_transaction
from core.store import (
    AppUninstalled,
    CustomersDataRequest,
    CustomersRedact,
    OrderCancelled,
    OrderChanged,
    OrderEdited,
    OrderFulfilled,
    OrderPlaced,
    OrderUpdated,
    ShopRedact,
    StoreEvent,
)
from core.text import json_is_storable, storable_json, storable_text

ORDER_TOPICS = (
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "orders/fulfilled",
    "orders/edited",
)
APP_TOPICS = ("app/uninstalled", "customers/data_request", "customers/redact", "shop/redact")


@frozen
class Delivery:
    """One webhook request, as the web layer read it: the signature over the raw body was
    verified, then the body parsed (strictly: bounded, no NUL, finite numbers), or checked for
    all of that but its syntax and left for the inbox to parse (``payload`` None)."""

    platform: str
    topic: str
    shop: str
    delivery_id: str
    # None: not parsed, ``body`` is then a JSON object storable as it is (the caller checked
    # every rule but the syntax); the inbox parses it as it stores it, refusing (PayloadError)
    # what is no JSON
    payload: Mapping[str, Any] | None
    event_id: str | None = None
    triggered_at: datetime | None = None
    # the raw body ``payload`` was parsed from, if the caller has it: stored as it is when
    # that stores the same value (see ``receive``)
    body: bytes | None = None


class ShopMismatch(NotFound):
    code = "shop_mismatch"


SHOPS_TTL: Final = timedelta(seconds=10)
SHOPS_SIZE: Final = 10_000


@frozen
class IntegrationShop:
    platform: str
    shop_domain: str
    read_at: datetime


class IntegrationShops:
    """The platform and shop of each integration id ``receive`` has read, for ``ttl``.

    A per-integration delivery needs only these two of its integration. Neither changes for
    an id (connecting a shop again reuses its row; nothing renames or deletes one), so a copy
    held by the process spares every delivery a read of the integration; the TTL still bounds
    how long a change would go unseen. Only integrations found are held (a new one is served
    at once), at most ``size`` of them. The status is not held because ingest does not look
    at it: a disconnected store's deliveries are stored as before, and the worker, which
    reads the integration when it handles them, skips them. Safe to share between threads.
    """

    def __init__(self, ttl: timedelta = SHOPS_TTL, size: int = SHOPS_SIZE) -> None:
        self.ttl = ttl
        self.size = size
        self._held: dict[str, IntegrationShop] = {}
        self._lock = threading.Lock()

    def get(self, integration_id: str, now: datetime) -> IntegrationShop | None:
        with self._lock:
            held = self._held.get(integration_id)
            if held is not None and not held.read_at <= now < held.read_at + self.ttl:
                del self._held[integration_id]
                return None
            return held

    def put(self, integration: Integration, now: datetime) -> IntegrationShop:
        held = IntegrationShop(integration.platform, integration.shop_domain, now)
        with self._lock:
            self._held.pop(integration.id, None)
            while len(self._held) >= self.size:
                del self._held[next(iter(self._held))]  # the oldest read
            self._held[integration.id] = held
        return held


def receive(
    sc: StoreContext,
    delivery: Delivery,
    *,
    integration_id: str | None,
    shops: IntegrationShops | None = None,
) -> Literal["stored", "duplicate"]:
    """Store the delivery. ``integration_id`` is given for per-integration endpoints (the
    shop must match it); app-level deliveries are matched by shop. ``shops``: the process's
    copy of integrations' shops (without it the integration is read every time).

    The payload is stored as ``storable_json`` makes it (no U+0000, no lone surrogate), so a
    customer's text can never make a delivery unstorable; the store is read again when the
    event is worked anyway. When the delivery carries its raw body and ``json_is_storable``
    tells from the bytes that ``storable_json`` would change nothing, the payload is taken as
    it is and the body handed to the inbox to store verbatim (no walk of the payload, no
    second encoding of it); otherwise the storable payload is stored and the body dropped.
    An unparsed delivery (``payload`` None) must be such a body: the inbox parses it as it
    stores it, and raises ``PayloadError``, storing nothing, if it is no JSON object.

    The event is written by ``ctx.inbox`` in a transaction of its own: a known integration
    costs no read, so storing the delivery is the request's only statement."""
    payload_json = delivery.body
    storable = payload_json is not None and json_is_storable(payload_json)
    if delivery.payload is None:
        if not storable:
            raise PayloadError("an unparsed delivery needs a body that stores as it is")
        payload: dict[str, Any] = {}  # the body's, once the inbox has read it
    elif storable:
        payload = dict(delivery.payload)
    else:
        payload = storable_json(dict(delivery.payload))
        payload_json = None
    ctx = sc.ctx
    now = ctx.clock.now()
    stored_for: str | None
    if integration_id is not None:
        shop = shops.get(integration_id, now) if shops is not None else None
        if shop is None:
            with ctx.uow() as uow:
                integration = uow.integrations.peek(integration_id)
            if integration is None:
                raise NotFound("integration not found")
            shop = (
                shops.put(integration, now)
                if shops is not None
                else IntegrationShop(integration.platform, integration.shop_domain, now)
            )
        if shop.platform != delivery.platform:
            raise NotFound("integration not found")
        if shop.shop_domain != delivery.shop:
            raise ShopMismatch("the shop does not match this integration")
        stored_for = integration_id
    else:
        with ctx.uow() as uow:
            known = uow.integrations.connected_for_shop(delivery.platform, delivery.shop)
        stored_for = known[0].id if known else None
    stored = ctx.inbox.add(
        InboxEvent(
            id=ctx.ids.new_id(),
            platform=delivery.platform,
            topic=storable_text(delivery.topic),
            delivery_id=storable_text(delivery.delivery_id),
            received_at=now,
            next_attempt_at=now,
            payload=payload,
            integration_id=stored_for,
            shop_domain=storable_text(delivery.shop),
            event_id=storable_text(delivery.event_id) if delivery.event_id else None,
            triggered_at=delivery.triggered_at,
        ),
        # the document ``payload`` was parsed from, only while it is exactly that
        payload_json=payload_json,
    )
    return "stored" if stored else "duplicate"


# --- handlers ------------------------------------------------------------------------------


def _event_of(sc: StoreContext, event: InboxEvent) -> StoreEvent:
    if event.source == "reconcile":
        return OrderUpdated(load_order(event.payload))
    return sc.platform(event.platform).parse_webhook(
        event.topic, event.payload, event.shop_domain or ""
    )


def order_id_of(sc: StoreContext, event: InboxEvent) -> str | None:
    """The store order an event is about (``None``: not an order topic, or a payload that
    does not say), as the store's id: what links an event to its warehouse order."""
    if event.topic not in ORDER_TOPICS:
        return None
    try:
        parsed = _event_of(sc, event)
    except StorelinkError:  # unreadable or redacted: it names no order we can find
        return None
    if isinstance(parsed, (OrderPlaced, OrderUpdated, OrderCancelled, OrderFulfilled)):
        return parsed.order.id
    if isinstance(parsed, (OrderChanged, OrderEdited)):
        return parsed.order_id
    return None


def _integration(uow: UnitOfWork, event: InboxEvent) -> Integration | None:
    if event.integration_id is not None:
        return uow.integrations.peek(event.integration_id)
    known = uow.integrations.connected_for_shop(event.platform, event.shop_domain or "")
    return known[0] if known else None


def handle_order_event(sc: StoreContext, event: InboxEvent) -> InboxApply:
    """Read the order from the store (no transaction open), then converge on it."""
    parsed = _event_of(sc, event)
    with sc.ctx.uow() as uow:
        integration = _integration(uow, event)
    if integration is None:
        return done(Skip(skips.NO_INTEGRATION))
    if integration.status == "disconnected":
        return done(Skip(skips.STORE_DISCONNECTED))
    if isinstance(parsed, (OrderPlaced, OrderUpdated, OrderCancelled, OrderFulfilled)):
        order = parsed.order
        if event.source == "reconcile":
            state = read_order(sc, integration, order.id, current=order)
        else:
            state = read_order(
                sc,
                integration,
                order.id,
                seen_at=order.updated_at,
                seen_cancelled=order.cancelled_at is not None,
                seen=order,
            )
    elif isinstance(parsed, OrderChanged):  # not a whole order: the store has the rest
        state = read_order(sc, integration, parsed.order_id, seen_at=parsed.updated_at)
    elif isinstance(parsed, OrderEdited):
        state = read_order(sc, integration, parsed.order_id)
    else:
        raise PayloadError(f"topic {event.topic} carries no order")

    def apply(uow: UnitOfWork, _event: InboxEvent) -> Skip | None:
        result: ImportResult = apply_state(uow, sc, integration, state)
        return None if result.changed else Skip(result.reason or result.outcome)

    return apply


def handle_uninstalled(sc: StoreContext, uow: UnitOfWork, event: InboxEvent) -> Skip | None:
    """The merchant removed the app: tokens are already dead, so no API call; erase them."""
    if not isinstance(_event_of(sc, event), AppUninstalled):
        raise PayloadError("not an app/uninstalled payload")
    shop = event.shop_domain or ""
    targets = uow.integrations.connected_for_shop(event.platform, shop)
    if event.integration_id is not None:
        targets = [i for i in targets if i.id == event.integration_id] or targets
    if not targets:
        return Skip(skips.NO_CONNECTED_INTEGRATION)
    now = sc.ctx.clock.now()
    for found in targets:
        integration = uow.integrations.get(found.id) or found
        erase(integration, now)
        integration.last_error = "the app was uninstalled from the store"
        integration.last_error_at = now
        uow.integrations.update(integration)
        raise_alert(
            uow,
            sc.ctx,
            severity="warning",
            code="app_uninstalled",
            message=f"{shop} uninstalled the app; the integration is disconnected",
            client_id=integration.client_id,
            integration_id=integration.id,
        )
    return None


def handle_data_request(sc: StoreContext, uow: UnitOfWork, event: InboxEvent) -> Skip | None:
    parsed = _event_of(sc, event)
    if not isinstance(parsed, CustomersDataRequest):
        raise PayloadError("not a customers/data_request payload")
    integrations = uow.integrations.for_shop(event.platform, parsed.shop)
    if not integrations:
        return Skip(skips.NO_INTEGRATION)
    for integration in integrations:
        held = uow.orders.for_customer(
            integration.id, email=parsed.email, external_order_ids=parsed.order_ids
        )
        numbers = ", ".join(o.number for o in held) or "none"
        raise_alert(
            uow,
            sc.ctx,
            severity="warning",
            code="customer_data_request",
            message=(
                f"{parsed.shop} forwarded a customer data request (customer "
                f"{parsed.customer_id or '?'}; orders held here: {numbers}); answer the "
                "merchant within 30 days"
            ),
            client_id=integration.client_id,
            integration_id=integration.id,
            event_id=event.id,
        )
    return None


def redact_order(order: OutboundOrder) -> None:
    """Names, addresses, phone and e-mail go; what the warehouse did stays."""
    if order.ship_to is not None:
        order.ship_to = Address(
            country=order.ship_to.country, country_code=order.ship_to.country_code
        )
    order.email = None
    order.notes = "(redacted)" if order.notes else ""


def _redact_events(
    uow: UnitOfWork, integration_id: str, match: Callable[[dict[str, Any]], bool]
) -> int:
    """Erase the matching payloads among every event kept for the integration."""
    count = 0
    events = every(
        lambda limit, offset: uow.inbox.list(
            integration_id=integration_id, limit=limit, offset=offset
        )
    )
    for stored in events:
        if stored.payload and stored.payload.get("redacted") is not True and match(stored.payload):
            locked = uow.inbox.get(stored.id)
            if locked is not None:
                uow.inbox.update(evolve(locked, payload=_redacted(locked.payload)))
                count += 1
    return count


def _orders_of(uow: UnitOfWork, integration_id: str) -> Iterator[OutboundOrder]:
    return every(
        lambda limit, offset: uow.orders.list(
            integration_id=integration_id, limit=limit, offset=offset
        )
    )


def _redacted(payload: Mapping[str, Any]) -> dict[str, Any]:
    keep = {k: payload[k] for k in ("id", "admin_graphql_api_id", "updated_at") if k in payload}
    return {**keep, "redacted": True}


def _order_id_of(payload: Mapping[str, Any]) -> str:
    edit = payload.get("order_edit")
    return str(payload.get("id") or (edit.get("order_id") if isinstance(edit, dict) else "") or "")


def _customer_match(ids: set[str], email: str | None) -> Callable[[dict[str, Any]], bool]:
    wanted = (email or "").lower()

    def match(payload: dict[str, Any]) -> bool:
        if _order_id_of(payload) in ids:
            return True
        customer = payload.get("customer")
        emails = {str(payload.get("email") or "").lower()}
        if isinstance(customer, dict):
            emails.add(str(customer.get("email") or "").lower())
        return bool(wanted) and wanted in emails

    return match


def handle_redaction(sc: StoreContext, uow: UnitOfWork, event: InboxEvent) -> Skip | None:
    parsed = _event_of(sc, event)
    if not isinstance(parsed, (CustomersRedact, ShopRedact)):
        raise PayloadError("not a redaction payload")
    integrations = uow.integrations.for_shop(event.platform, parsed.shop)
    if not integrations:
        return Skip(skips.NO_INTEGRATION)
    for integration in integrations:
        orders: Iterable[OutboundOrder]
        if isinstance(parsed, ShopRedact):  # every order of the shop, page after page
            orders = _orders_of(uow, integration.id)
            _redact_events(uow, integration.id, lambda _: True)
        else:
            orders = uow.orders.for_customer(
                integration.id, email=parsed.email, external_order_ids=parsed.order_ids
            )
            ids = {o.external.external_order_id for o in orders if o.external} | set(
                parsed.order_ids
            )
            _redact_events(uow, integration.id, _customer_match(ids, parsed.email))
        for listed in orders:
            order = uow.orders.get(listed.id)
            if order is not None:
                redact_order(order)
                uow.orders.update(order)
    # the request itself names the customer: once done, it is erased too
    event.payload = _redacted(event.payload)
    return None


def handlers(sc: StoreContext) -> dict[str, InboxHandler]:
    def bind(fn: Callable[[StoreContext, UnitOfWork, InboxEvent], Skip | None]) -> InboxHandler:
        return in_transaction(lambda uow, event: fn(sc, uow, event))

    def order_event(event: InboxEvent) -> InboxApply:
        return handle_order_event(sc, event)

    table: dict[str, InboxHandler] = dict.fromkeys(ORDER_TOPICS, order_event)
    table["app/uninstalled"] = bind(handle_uninstalled)
    table["customers/data_request"] = bind(handle_data_request)
    table["customers/redact"] = bind(handle_redaction)
    table["shop/redact"] = bind(handle_redaction)
    return table
