"""``MemoryUnitOfWork``: the ``UnitOfWork`` port over a ``MemoryDatabase``."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from adapters.memory import _repositories as r
from adapters.memory._store import MemoryDatabase, Transaction
from core.ports import UnitOfWorkFactory


class MemoryUnitOfWork:
    """One serializable transaction: holds the database lock until exit."""

    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db
        self._tx: Transaction | None = None

    def __enter__(self) -> Self:
        self._db.lock.acquire()
        tx = self._tx = Transaction(self._db)
        self.clients = r.MemoryClientRepository(tx)
        self.users = r.MemoryUserRepository(tx)
        self.api_tokens = r.MemoryApiTokenRepository(tx)
        self.user_sessions = r.MemoryUserSessionRepository(tx)
        self.warehouses = r.MemoryWarehouseRepository(tx)
        self.products = r.MemoryProductRepository(tx)
        self.stock = r.MemoryStockRepository(tx)
        self.orders = r.MemoryOrderRepository(tx)
        self.shipments = r.MemoryShipmentRepository(tx)
        self.integrations = r.MemoryIntegrationRepository(tx)
        self.locations = r.MemoryLocationMappingRepository(tx)
        self.mappings = r.MemoryProductMappingRepository(tx)
        self.catalog = r.MemoryCatalogRepository(tx)
        self.inventory = r.MemoryInventorySyncRepository(tx)
        self.inbox = r.MemoryInboxRepository(tx)
        self.outbox = r.MemoryOutboxRepository(tx)
        self.alerts = r.MemoryAlertRepository(tx)
        self.sync_runs = r.MemorySyncRunRepository(tx)
        self.jobs = r.MemoryJobRepository(tx)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            self._tx = None
            self._db.lock.release()

    def commit(self) -> None:
        if self._tx is None:
            raise RuntimeError("commit outside a unit of work")
        self._tx.commit()

    def snapshot(self) -> None:
        """Nothing to do: the database lock is held, so every read sees one state."""
        if self._tx is None:
            raise RuntimeError("snapshot outside a unit of work")

    def rollback(self) -> None:
        if self._tx is not None:
            self._tx.rollback()


def unit_of_work_factory(db: MemoryDatabase) -> UnitOfWorkFactory:
    """Units of work over ``db`` (typed against the port, so mypy checks the adapter fits)."""
    return lambda: MemoryUnitOfWork(db)
