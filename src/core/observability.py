"""What the core offers for watching it run: a metrics sink that does nothing, and the log
context.

``NoMetrics`` is the default ``Metrics`` port (``core.ports``): the core records what
happened through ``ctx.metrics`` and the composition root decides whether anything listens.

``log_context`` binds fields (the request id in the web app, the event or command id in the
worker) to every log line written inside it, in this thread or task only; the entrypoints'
log formatter reads them with ``log_fields``. The core names the fields, the entrypoints
decide how lines look.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Literal

__all__ = ["NoMetrics", "log_context", "log_fields"]

_fields: ContextVar[Mapping[str, str]] = ContextVar("storelink_log_fields", default={})  # noqa: B039 - never mutated


class NoMetrics:
    """The ``Metrics`` port that records nothing."""

    def webhook_received(self, platform: str, topic: str, outcome: str) -> None:
        pass

    def work_finished(
        self, queue: Literal["inbox", "outbox", "jobs"], kind: str, outcome: str, seconds: float
    ) -> None:
        pass

    def worker_polled(self, when: datetime) -> None:
        pass

    def store_request(
        self,
        platform: str,
        operation: str,
        outcome: str,
        *,
        requested_cost: float | None = None,
        actual_cost: float | None = None,
    ) -> None:
        pass

    def order_applied(self, platform: str, outcome: str, latency_seconds: float) -> None:
        pass

    def inventory_pushed(
        self, platform: str, *, applied: int = 0, stale: int = 0, refused: int = 0, failed: int = 0
    ) -> None:
        pass


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Add ``fields`` (None values are left out) to every log line written inside."""
    added = {key: value for key, value in fields.items() if value is not None}
    token = _fields.set({**_fields.get(), **added})
    try:
        yield
    finally:
        _fields.reset(token)


def log_fields() -> Mapping[str, str]:
    """The fields bound by the enclosing ``log_context`` blocks."""
    return _fields.get()
