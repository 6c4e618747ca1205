"""``PostgresUnitOfWork``: the ``UnitOfWork`` port over a pooled connection."""

from __future__ import annotations

from contextlib import ExitStack
from types import TracebackType
from typing import Self

from adapters.postgres._database import PostgresDatabase
from adapters.postgres._integrations import (
    PostgresCatalogRepository,
    PostgresIntegrationRepository,
    PostgresInventorySyncRepository,
    PostgresLocationMappingRepository,
    PostgresProductMappingRepository,
)
from adapters.postgres._jobs import PostgresJobRepository
from adapters.postgres._orders import PostgresOrderRepository, PostgresShipmentRepository
from adapters.postgres._session import Session
from adapters.postgres._stock import (
    PostgresProductRepository,
    PostgresStockRepository,
    PostgresWarehouseRepository,
)
from adapters.postgres._tenancy import (
    PostgresApiTokenRepository,
    PostgresClientRepository,
    PostgresUserRepository,
    PostgresUserSessionRepository,
)
from adapters.postgres._work import (
    PostgresAlertRepository,
    PostgresInboxRepository,
    PostgresOutboxRepository,
    PostgresSyncRunRepository,
)
from core.errors import StorelinkError
from core.ports import (
    AlertRepository,
    ApiTokenRepository,
    CatalogRepository,
    ClientRepository,
    InboxRepository,
    IntegrationRepository,
    InventorySyncRepository,
    JobRepository,
    LocationMappingRepository,
    OrderRepository,
    OutboxRepository,
    ProductMappingRepository,
    ProductRepository,
    ShipmentRepository,
    StockRepository,
    SyncRunRepository,
    UnitOfWork,
    UnitOfWorkFactory,
    UserRepository,
    UserSessionRepository,
    WarehouseRepository,
)


class PostgresUnitOfWork:
    """One transaction on one pooled connection.

    ``__enter__`` borrows a connection; the transaction begins with the first statement;
    ``commit()`` and ``rollback()`` end it (work after them begins a new one); ``__exit__``
    rolls back whatever was not committed and gives the connection back to the pool.
    """

    clients: ClientRepository
    users: UserRepository
    api_tokens: ApiTokenRepository
    user_sessions: UserSessionRepository
    warehouses: WarehouseRepository
    products: ProductRepository
    stock: StockRepository
    orders: OrderRepository
    shipments: ShipmentRepository
    integrations: IntegrationRepository
    locations: LocationMappingRepository
    mappings: ProductMappingRepository
    catalog: CatalogRepository
    inventory: InventorySyncRepository
    inbox: InboxRepository
    outbox: OutboxRepository
    alerts: AlertRepository
    sync_runs: SyncRunRepository
    jobs: JobRepository

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db
        self._stack: ExitStack | None = None
        self._session: Session | None = None

    def __enter__(self) -> Self:
        if self._stack is not None:
            raise RuntimeError("this unit of work is already in use")
        stack = ExitStack()
        conn = stack.enter_context(self._db.connection())
        self._stack = stack
        session = self._session = Session(conn)
        self.clients = PostgresClientRepository(session)
        self.users = PostgresUserRepository(session)
        self.api_tokens = PostgresApiTokenRepository(session)
        self.user_sessions = PostgresUserSessionRepository(session)
        self.warehouses = PostgresWarehouseRepository(session)
        self.products = PostgresProductRepository(session)
        self.stock = PostgresStockRepository(session)
        self.orders = PostgresOrderRepository(session)
        self.shipments = PostgresShipmentRepository(session)
        self.integrations = PostgresIntegrationRepository(session)
        self.locations = PostgresLocationMappingRepository(session)
        self.mappings = PostgresProductMappingRepository(session)
        self.catalog = PostgresCatalogRepository(session)
        self.inventory = PostgresInventorySyncRepository(session)
        self.inbox = PostgresInboxRepository(session)
        self.outbox = PostgresOutboxRepository(session)
        self.alerts = PostgresAlertRepository(session)
        self.sync_runs = PostgresSyncRunRepository(session)
        self.jobs = PostgresJobRepository(session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, stack = self._session, self._stack
        self._session = self._stack = None
        if stack is None or session is None:
            return
        with stack:
            try:
                session.rollback()
            except StorelinkError:
                if exc is None:  # a failure while another error propagates must not hide it
                    raise

    def commit(self) -> None:
        self._active().commit()

    def snapshot(self) -> None:
        self._active().snapshot()

    def rollback(self) -> None:
        if self._session is not None:
            self._session.rollback()

    def _active(self) -> Session:
        if self._session is None:
            raise RuntimeError("commit outside a unit of work")
        return self._session


def unit_of_work_factory(db: PostgresDatabase) -> UnitOfWorkFactory:
    """What the composition root hands the core: a new ``PostgresUnitOfWork`` per call."""

    def factory() -> UnitOfWork:
        return PostgresUnitOfWork(db)

    return factory
