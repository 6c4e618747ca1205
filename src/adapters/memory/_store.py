"""The in-memory database: tables of deep-copied objects, one writer at a time.

A unit of work holds the database lock from ``__enter__`` to ``__exit__``, so memory
transactions are serializable. Each table is copied (shallowly: its dict) the first time a
transaction writes to it; rollback puts the copies back. Objects are deep-copied in and out,
so a caller mutating what it read changes nothing until it saves.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

TABLES = (
    "clients",
    "users",
    "api_tokens",
    "user_sessions",
    "warehouses",
    "products",
    "stock_levels",
    "stock_movements",
    "orders",
    "shipments",
    "integrations",
    "locations",
    "mappings",
    "catalog",
    "inventory_states",
    "inventory_dirty",
    "inbox",
    "outbox",
    "alerts",
    "sync_runs",
    "jobs",
)


class MemoryDatabase:
    """All tables of one in-memory deployment. Share one instance between units of work."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tables: dict[str, dict[Any, Any]] = {name: {} for name in TABLES}

    def clear(self) -> None:
        with self.lock:
            for table in self.tables.values():
                table.clear()


class Transaction:
    """Copy-on-write bookkeeping for one unit of work."""

    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db
        self._saved: dict[str, dict[Any, Any]] = {}

    def table(self, name: str) -> dict[Any, Any]:
        return self.db.tables[name]

    def writable(self, name: str) -> dict[Any, Any]:
        if name not in self._saved:
            self._saved[name] = dict(self.db.tables[name])
        return self.db.tables[name]

    def put(self, name: str, key: Any, obj: Any) -> None:
        self.writable(name)[key] = copy.deepcopy(obj)

    def delete(self, name: str, key: Any) -> None:
        self.writable(name).pop(key, None)

    def get(self, name: str, key: Any) -> Any:
        obj = self.db.tables[name].get(key)
        return copy.deepcopy(obj)

    def scan(self, name: str, where: Callable[[Any], bool] | None = None) -> Iterator[Any]:
        for obj in self.db.tables[name].values():
            if where is None or where(obj):
                yield copy.deepcopy(obj)

    def commit(self) -> None:
        self._saved.clear()

    def rollback(self) -> None:
        for name, saved in self._saved.items():
            self.db.tables[name] = saved
        self._saved.clear()
