"""PostgreSQL adapters: the ``UnitOfWork`` port on psycopg 3 with a connection pool.

Wiring (the composition root)::

    conninfo = settings.database_url or embedded_conninfo(settings.data_dir)
    migrate(conninfo)                       # also what `storelink migrate` runs
    db = PostgresDatabase(conninfo)
    db.open()                               # raises StorelinkError("database_unavailable")
    uow_factory = unit_of_work_factory(db)  # or: lambda: PostgresUnitOfWork(db)
    inbox = PostgresInboxWriter(db)         # Context(..., inbox=inbox): webhook ingest
    ...
    db.close()
"""

from adapters.postgres._admin import create_database
from adapters.postgres._database import PostgresDatabase
from adapters.postgres._errors import DATABASE_UNAVAILABLE
from adapters.postgres._migrations import Migration, MigrationError, load_migrations, migrate
from adapters.postgres._uow import PostgresUnitOfWork, unit_of_work_factory
from adapters.postgres._work import PostgresInboxWriter
from adapters.postgres.embedded import (
    EMBEDDED_MISSING,
    EmbeddedPostgres,
    embedded_conninfo,
    start_embedded,
)

__all__ = [
    "DATABASE_UNAVAILABLE",
    "EMBEDDED_MISSING",
    "EmbeddedPostgres",
    "Migration",
    "MigrationError",
    "PostgresDatabase",
    "PostgresInboxWriter",
    "PostgresUnitOfWork",
    "create_database",
    "embedded_conninfo",
    "load_migrations",
    "migrate",
    "start_embedded",
    "unit_of_work_factory",
]
