"""Server-level chores: creating a database."""

from __future__ import annotations

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from adapters.postgres._errors import translated


def create_database(server_conninfo: str, name: str) -> bool:
    """Create database ``name`` on the server unless it exists; ``True`` if it was created.

    ``server_conninfo`` may point at any database of the server (``postgres`` usually) as a
    role allowed to create databases. Safe to call from two processes at once.
    """
    with translated(), psycopg.connect(server_conninfo, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists is not None:
            return False
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except (pg_errors.DuplicateDatabase, pg_errors.UniqueViolation):
            return False  # another process created it between our look and our create
        return True
