"""Schema migrations: numbered SQL files applied in order, once, by one process at a time.

``migrate`` holds a session advisory lock while it works, so two processes starting together
(``serve`` and ``worker``) apply each migration once: the second waits, then finds nothing to
do. Each migration runs in its own transaction together with its row in
``schema_migrations``; a failing one leaves no trace and stops the run. A migration that was
applied and has changed since is refused: the database no longer matches the files.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from importlib import resources

import attrs
import psycopg
from psycopg.rows import TupleRow

from adapters.postgres._errors import DATABASE_UNAVAILABLE, translate, translated
from core.errors import StorelinkError

# pg_advisory_lock key for migrations (the bytes of "storelnk" as a signed 64-bit integer).
MIGRATION_LOCK_KEY = int.from_bytes(b"storelnk", "big", signed=True)

_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<slug>[a-z0-9_]+)\.sql$")

_CREATE_TABLE = b"""
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(StorelinkError):
    """The schema could not be brought up to date; the message says which migration and why."""

    code = "migration_failed"


@attrs.frozen
class Migration:
    version: int
    name: str  # the file name without ".sql", e.g. "0001_initial"
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    """The migration files shipped in ``adapters.postgres.migrations``, in version order."""
    found: dict[int, Migration] = {}
    for entry in resources.files("adapters.postgres.migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise MigrationError(
                f"migration file {entry.name} is not named NNNN_lowercase_name.sql"
            )
        version = int(match["version"])
        if version in found:
            raise MigrationError(f"two migration files have version {match['version']}")
        found[version] = Migration(version, entry.name.removesuffix(".sql"), entry.read_text())
    return [found[version] for version in sorted(found)]


def migrate(conninfo: str, migrations: Sequence[Migration] | None = None) -> list[str]:
    """Apply the pending migrations in order; the names of those applied (``[]``: up to date).

    Raises ``MigrationError`` for a failing or changed migration, and ``StorelinkError`` with
    code ``database_unavailable`` when the database cannot be reached.
    """
    plan = sorted(load_migrations() if migrations is None else migrations, key=lambda m: m.version)
    with translated(), psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
        try:
            return _apply(conn, plan)
        finally:
            if not conn.closed:
                conn.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])


def _apply(conn: psycopg.Connection[TupleRow], plan: Sequence[Migration]) -> list[str]:
    conn.execute(_CREATE_TABLE)
    applied: dict[int, tuple[str, str]] = {
        version: (name, checksum)
        for version, name, checksum in conn.execute(
            "SELECT version, name, checksum FROM schema_migrations"
        )
    }
    for migration in plan:
        if migration.version not in applied:
            continue
        name, checksum = applied[migration.version]
        if checksum != migration.checksum:
            raise MigrationError(
                f"migration {name} was applied and its file has changed since; refusing to "
                "migrate: restore the file and add a new migration for the change"
            )
    done: list[str] = []
    for migration in plan:
        if migration.version in applied:
            continue
        try:
            with conn.transaction():
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    [migration.version, migration.name, migration.checksum],
                )
        except psycopg.Error as exc:
            error = translate(exc)
            if error is not None and error.code == DATABASE_UNAVAILABLE:
                raise error from exc
            reason = exc.diag.message_primary or type(exc).__name__
            raise MigrationError(
                f"migration {migration.name} failed and was not applied: {reason}"
            ) from exc
        done.append(migration.name)
    return done
