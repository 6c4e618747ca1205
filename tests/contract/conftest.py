"""Fixtures of the contract suites: every adapter of a port, each test on a clean store.

``uow_factory`` runs a test once per ``UnitOfWork`` adapter (ids and markers ``memory`` and
``postgres``; ``-m memory`` never starts PostgreSQL). ``pg_uow_factory`` is PostgreSQL only,
for what only a real database can show (concurrent workers, constraints, the ledger trigger).
``make`` builds model objects with unique, readable values; ``save`` commits them.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import tests.pg
from adapters.memory import MemoryDatabase, MemoryUnitOfWork
from adapters.postgres import PostgresUnitOfWork
from core.model import (
    Address,
    Alert,
    ApiToken,
    CatalogVariant,
    Client,
    ExternalRef,
    InboxEvent,
    Integration,
    IntegrationSettings,
    LocationMapping,
    OutboundItem,
    OutboundOrder,
    OutboxCommand,
    Product,
    ProductMapping,
    Shipment,
    ShipmentLine,
    StockLevel,
    StockMovement,
    SyncRun,
    User,
    UserSession,
    Warehouse,
)
from core.ports import UnitOfWork, UnitOfWorkFactory

# A moment with microseconds, so a round trip that loses precision shows.
T0 = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


def _postgres_factory(request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    database: tests.pg.ScratchDatabase = request.getfixturevalue("pg_database")
    database.reset()
    return lambda: PostgresUnitOfWork(database.db)


def _memory_factory() -> UnitOfWorkFactory:
    db = MemoryDatabase()
    return lambda: MemoryUnitOfWork(db)


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.memory),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def uow_factory(request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    """A factory of units of work over an empty store, once per adapter."""
    if request.param == "memory":
        return _memory_factory()
    return _postgres_factory(request)


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres)])
def pg_uow_factory(request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    """PostgreSQL only, over an empty store."""
    return _postgres_factory(request)


class Make:
    """Model objects with every field filled, unique where the store needs it."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def n(self) -> int:
        return next(self._counter)

    @staticmethod
    def id() -> str:
        return str(uuid.uuid4())

    @staticmethod
    def at(minutes: float = 0) -> datetime:
        return T0 + timedelta(minutes=minutes)

    def warehouse(self, **fields: Any) -> Warehouse:
        n = self.n()
        values: dict[str, Any] = {
            "id": self.id(),
            "code": f"WH{n}",
            "name": f"Warehouse {n}",
            "created_at": T0,
        }
        return Warehouse(**(values | fields))

    def client(self, **fields: Any) -> Client:
        values: dict[str, Any] = {"id": self.id(), "name": f"Client {self.n()}", "created_at": T0}
        return Client(**(values | fields))

    def user(self, **fields: Any) -> User:
        values: dict[str, Any] = {
            "id": self.id(),
            "email": f"user{self.n()}@example.com",
            "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
            "created_at": T0,
            "is_staff": True,
        }
        return User(**(values | fields))

    def api_token(self, user: User, **fields: Any) -> ApiToken:
        values: dict[str, Any] = {
            "id": self.id(),
            "user_id": user.id,
            "token_hash": f"{self.n():064x}",
            "created_at": T0,
            "label": "deploy script",
        }
        return ApiToken(**(values | fields))

    def session(self, user: User, **fields: Any) -> UserSession:
        values: dict[str, Any] = {
            "id_hash": f"{self.n():064x}",
            "user_id": user.id,
            "created_at": T0,
            "last_seen_at": T0,
            "expires_at": T0 + timedelta(hours=12),
        }
        return UserSession(**(values | fields))

    def product(self, client: Client, **fields: Any) -> Product:
        n = self.n()
        values: dict[str, Any] = {
            "id": self.id(),
            "client_id": client.id,
            "sku": f"SKU-{n}",
            "name": f"Product {n}",
            "created_at": T0,
            "barcode": f"40000000{n:05d}",
        }
        return Product(**(values | fields))

    def movement(self, product: Product, warehouse: Warehouse, **fields: Any) -> StockMovement:
        values: dict[str, Any] = {
            "id": self.id(),
            "product_id": product.id,
            "warehouse_id": warehouse.id,
            "kind": "receive",
            "on_hand_delta": 10,
            "reserved_delta": 0,
            "created_at": T0,
            "reason": "delivery",
        }
        return StockMovement(**(values | fields))

    def integration(self, client: Client, **fields: Any) -> Integration:
        values: dict[str, Any] = {
            "id": self.id(),
            "client_id": client.id,
            "platform": "shopify",
            "shop_domain": f"shop-{self.n()}.myshopify.com",
            "created_at": T0,
            "updated_at": T0,
        }
        return Integration(**(values | fields))

    def item(self, product: Product | None = None, **fields: Any) -> OutboundItem:
        n = self.n()
        values: dict[str, Any] = {
            "id": self.id(),
            "product_id": None if product is None else product.id,
            "sku": f"SKU-{n}" if product is None else product.sku,
            "name": f"Line {n}",
            "quantity": 2,
        }
        return OutboundItem(**(values | fields))

    def order(self, client: Client, warehouse: Warehouse, **fields: Any) -> OutboundOrder:
        values: dict[str, Any] = {
            "id": self.id(),
            "client_id": client.id,
            "warehouse_id": warehouse.id,
            "number": f"#{1000 + self.n()}",
            "created_at": T0,
            "updated_at": T0,
        }
        return OutboundOrder(**(values | fields))

    def external(self, integration: Integration, **fields: Any) -> ExternalRef:
        n = self.n()
        values: dict[str, Any] = {
            "platform": integration.platform,
            "integration_id": integration.id,
            "external_order_id": f"{820982911946154508 + n}",
            "external_number": f"#{1000 + n}",
        }
        return ExternalRef(**(values | fields))

    def shipment(self, order: OutboundOrder, **fields: Any) -> Shipment:
        values: dict[str, Any] = {
            "id": self.id(),
            "order_id": order.id,
            "client_id": order.client_id,
            "lines": [ShipmentLine(item.id, item.quantity) for item in order.items],
            "carrier": "DHL",
            "tracking_number": f"JD0146000{self.n():05d}",
            "created_at": T0,
        }
        return Shipment(**(values | fields))

    def location(self, integration: Integration, **fields: Any) -> LocationMapping:
        n = self.n()
        values: dict[str, Any] = {
            "id": self.id(),
            "integration_id": integration.id,
            "external_location_id": f"{655441491 + n}",
            "name": f"Location {n}",
        }
        return LocationMapping(**(values | fields))

    def mapping(self, integration: Integration, product: Product, **fields: Any) -> ProductMapping:
        values: dict[str, Any] = {
            "id": self.id(),
            "integration_id": integration.id,
            "product_id": product.id,
            "external_variant_id": f"{808950810 + self.n()}",
            "created_at": T0,
        }
        return ProductMapping(**(values | fields))

    def variant(self, integration: Integration, **fields: Any) -> CatalogVariant:
        n = self.n()
        values: dict[str, Any] = {
            "integration_id": integration.id,
            "external_variant_id": f"{39072856 + n}",
            "loaded_at": T0,
            "sku": f"VAR-{n}",
            "title": f"Variant {n}",
            "product_title": f"Product {n}",
        }
        return CatalogVariant(**(values | fields))

    def event(self, **fields: Any) -> InboxEvent:
        n = self.n()
        values: dict[str, Any] = {
            "id": self.id(),
            "platform": "shopify",
            "topic": "orders/create",
            "delivery_id": f"b54557e4-bdd9-4b37-8a5f-{n:012d}",
            "received_at": T0,
            "next_attempt_at": T0,
            "payload": {"id": 820982911946154508 + n},
        }
        return InboxEvent(**(values | fields))

    def command(self, **fields: Any) -> OutboxCommand:
        n = self.n()
        values: dict[str, Any] = {
            "id": self.id(),
            "kind": "create_fulfillment",
            "idempotency_key": f"fulfil-{n}",
            "created_at": T0,
            "next_attempt_at": T0,
            "payload": {"shipment_id": f"s{n}"},
        }
        return OutboxCommand(**(values | fields))

    def alert(self, **fields: Any) -> Alert:
        values: dict[str, Any] = {
            "id": self.id(),
            "severity": "warning",
            "code": "unmapped_lines",
            "message": f"order #{self.n()} has unmapped lines",
            "created_at": T0,
        }
        return Alert(**(values | fields))

    def run(self, **fields: Any) -> SyncRun:
        values: dict[str, Any] = {"id": self.id(), "kind": "inventory", "started_at": T0}
        return SyncRun(**(values | fields))

    # values with every optional field set, for round trips
    @staticmethod
    def address() -> Address:
        return Address(
            name="Ada Lovelace",
            company="Analytical Engines Ltd",
            address1="12 St James's Square",
            address2="Flat 3",
            city="London",
            province="England",
            province_code="ENG",
            zip="SW1Y 4JH",
            country="United Kingdom",
            country_code="GB",
            phone="+44 20 7946 0000",
        )

    @staticmethod
    def settings() -> IntegrationSettings:
        return IntegrationSettings(
            auto_import_orders=False,
            auto_sync_inventory=False,
            sync_inventory_interval_minutes=15,
            inventory_buffer=3,
            fulfillment_notify_customer=False,
        )


@pytest.fixture
def make() -> Make:
    return Make()


def add(uow: UnitOfWork, obj: object) -> None:
    """Add one object through the repository that stores its type."""
    adders: dict[type, Callable[[Any], object]] = {
        Client: uow.clients.add,
        User: uow.users.add,
        ApiToken: uow.api_tokens.add,
        UserSession: uow.user_sessions.add,
        Warehouse: uow.warehouses.add,
        Product: uow.products.add,
        StockLevel: uow.stock.save_level,
        StockMovement: uow.stock.add_movement,
        OutboundOrder: uow.orders.add,
        Shipment: uow.shipments.add,
        Integration: uow.integrations.add,
        LocationMapping: uow.locations.add,
        ProductMapping: uow.mappings.add,
        CatalogVariant: lambda v: uow.catalog.upsert([v]),
        InboxEvent: uow.inbox.add,
        OutboxCommand: uow.outbox.add,
        Alert: uow.alerts.add,
        SyncRun: uow.sync_runs.add,
    }
    adders[type(obj)](obj)


@pytest.fixture
def save(request: pytest.FixtureRequest) -> Callable[..., None]:
    """``save(a, b, ...)``: add the objects in one unit of work (of the test's own factory,
    ``uow_factory`` or ``pg_uow_factory``) and commit."""
    name = "uow_factory" if "uow_factory" in request.fixturenames else "pg_uow_factory"
    factory: UnitOfWorkFactory = request.getfixturevalue(name)

    def save(*objects: object) -> None:
        with factory() as uow:
            for obj in objects:
                add(uow, obj)
            uow.commit()

    return save
