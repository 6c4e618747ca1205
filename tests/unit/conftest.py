"""Core use cases on the in-memory adapters, a manual clock and real ids."""

from __future__ import annotations

import pytest

from adapters.memory import MemoryDatabase, MemoryUnitOfWork
from adapters.passwords import TEST_PARAMETERS, Argon2PasswordHasher
from adapters.system import ManualClock, UuidIdGenerator
from core.model import Client, Warehouse
from core.services import SYSTEM, Context, tenancy
from core.services import stock as stock_services


@pytest.fixture
def db() -> MemoryDatabase:
    return MemoryDatabase()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def ctx(db: MemoryDatabase, clock: ManualClock) -> Context:
    return Context(uow=lambda: MemoryUnitOfWork(db), clock=clock, ids=UuidIdGenerator())


@pytest.fixture
def hasher() -> Argon2PasswordHasher:
    return Argon2PasswordHasher(parameters=TEST_PARAMETERS)


@pytest.fixture
def client(ctx: Context) -> Client:
    return tenancy.create_client(ctx, SYSTEM, name="Acme Outdoor")


@pytest.fixture
def warehouse(ctx: Context) -> Warehouse:
    return stock_services.create_warehouse(ctx, SYSTEM, code="LDN1", name="London 1")
