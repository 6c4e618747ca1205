"""In-memory adapters: the real thing for unit tests and the contract suite's reference."""

from adapters.memory._store import MemoryDatabase
from adapters.memory._uow import MemoryUnitOfWork, unit_of_work_factory

__all__ = ["MemoryDatabase", "MemoryUnitOfWork", "unit_of_work_factory"]
