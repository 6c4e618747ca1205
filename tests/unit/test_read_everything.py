"""What must act on every row acts on every row: a shop's erasure redacts all its orders and
events, auto-mapping sees every unmapped variant, however few rows a list call serves."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Self, cast

import pytest

from adapters.memory import MemoryDatabase, MemoryUnitOfWork
from adapters.ratelimit import LimitsRateLimiter
from adapters.shopify import ShopifyConfig, ShopifyPlatform
from adapters.system import ManualClock, UuidIdGenerator
from core.model import (
    Address,
    CatalogVariant,
    Client,
    ExternalRef,
    InboxEvent,
    Integration,
    OutboundOrder,
    Warehouse,
)
from core.ports import Cipher
from core.services import SYSTEM, Context, mapping, webhooks
from core.services import stock as stock_services
from core.services.integrations import StoreContext
from core.services.worker import Handlers, Worker

SHOP = "acme.myshopify.com"
SERVED = 3  # rows one list call serves at most, whatever the limit asked


class _Capped:
    """A repository whose ``list`` serves at most ``SERVED`` rows a call."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def list(self, *args: Any, **kwargs: Any) -> Any:
        if "limit" in kwargs:
            kwargs["limit"] = min(kwargs["limit"], SERVED)
        return self._inner.list(*args, **kwargs)


class CappedUnitOfWork(MemoryUnitOfWork):
    def __enter__(self) -> Self:
        super().__enter__()
        self.orders = _Capped(self.orders)  # type: ignore[assignment]
        self.inbox = _Capped(self.inbox)  # type: ignore[assignment]
        self.catalog = _Capped(self.catalog)  # type: ignore[assignment]
        return self


@pytest.fixture
def capped(db: MemoryDatabase, clock: ManualClock) -> Context:
    return Context(uow=lambda: CappedUnitOfWork(db), clock=clock, ids=UuidIdGenerator())


@pytest.fixture
def integration(capped: Context, client: Client) -> Integration:
    now = capped.clock.now()
    found = Integration(
        id=capped.ids.new_id(),
        client_id=client.id,
        platform="shopify",
        shop_domain=SHOP,
        created_at=now,
        updated_at=now,
        status="disconnected",  # shop/redact arrives 48 hours after the uninstall
    )
    with capped.uow() as uow:
        uow.integrations.add(found)
        uow.commit()
    return found


def _store_context(ctx: Context) -> StoreContext:
    """Enough of a store context for handlers that call no store (webhook parsing only)."""
    platform = ShopifyPlatform(
        ShopifyConfig(client_id="id", client_secret="secret"),
        LimitsRateLimiter("memory://"),
        ctx.clock,
    )
    no_cipher = cast("Cipher", None)
    return StoreContext(ctx=ctx, cipher=no_cipher, platforms={"shopify": platform}, app_url="")


def test_a_shop_redaction_erases_every_order_and_event_of_the_shop(
    capped: Context, db: MemoryDatabase, warehouse: Warehouse, integration: Integration
) -> None:
    count = 3 * SERVED + 1  # more orders than one list call serves
    with capped.uow() as uow:
        for n in range(count):
            at = capped.clock.now() + timedelta(seconds=n)
            uow.orders.add(
                OutboundOrder(
                    id=capped.ids.new_id(),
                    client_id=integration.client_id,
                    warehouse_id=warehouse.id,
                    number=f"SH-{1000 + n}",
                    created_at=at,
                    updated_at=at,
                    source="shopify",
                    external=ExternalRef("shopify", integration.id, str(n), str(1000 + n)),
                    ship_to=Address(name=f"Customer {n}", address1="1 High St", country="UK"),
                    email=f"customer{n}@example.com",
                    notes="ring twice",
                )
            )
            uow.inbox.add(
                InboxEvent(
                    id=capped.ids.new_id(),
                    platform="shopify",
                    topic="orders/create",
                    delivery_id=f"d{n}",
                    received_at=at,
                    next_attempt_at=at,
                    payload={"id": n, "email": f"customer{n}@example.com"},
                    integration_id=integration.id,
                    shop_domain=SHOP,
                    status="processed",
                )
            )
        uow.commit()
    sc = _store_context(capped)
    webhooks.receive(
        sc,
        webhooks.Delivery("shopify", "shop/redact", SHOP, "redact-1", {"shop_domain": "x"}),
        integration_id=None,
    )
    worker = Worker(capped, Handlers(inbox=webhooks.handlers(sc)), worker_id="w")
    assert worker.drain().processed == 1

    with MemoryUnitOfWork(db) as uow:  # read back whole, without the cap
        orders = uow.orders.list(integration_id=integration.id, limit=10_000)
        events = [e for e in uow.inbox.list(limit=10_000) if e.topic == "orders/create"]
    assert len(orders) == count
    assert [o.email for o in orders] == [None] * count
    assert {o.ship_to.name if o.ship_to else None for o in orders} == {None}
    assert {o.notes for o in orders} == {"(redacted)"}
    assert len(events) == count
    assert all(e.payload == {"id": e.payload["id"], "redacted": True} for e in events)


def test_auto_mapping_sees_every_unmapped_variant(
    capped: Context, db: MemoryDatabase, client: Client, integration: Integration
) -> None:
    count = 3 * SERVED + 1
    with capped.uow() as uow:
        uow.catalog.upsert(
            CatalogVariant(
                integration_id=integration.id,
                external_variant_id=str(100 + n),
                loaded_at=capped.clock.now(),
                external_product_id=str(200 + n),
                external_inventory_item_id=str(300 + n),
                sku=f"SKU-{n}",
            )
            for n in range(count)
        )
        uow.commit()
    for n in range(count):
        stock_services.create_product(
            capped, SYSTEM, client_id=client.id, sku=f"sku-{n}", name=f"Product {n}"
        )
    assert mapping.auto_map(capped, integration.id).mapped == count
    with MemoryUnitOfWork(db) as uow:
        assert len(uow.mappings.for_integration(integration.id)) == count
