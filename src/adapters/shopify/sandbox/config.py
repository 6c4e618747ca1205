"""The sandbox's settings and its clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from attrs import field, frozen

__all__ = [
    "DEFAULT_API_VERSION",
    "SandboxClock",
    "SandboxConfig",
]

DEFAULT_API_VERSION = "2026-10"

# Shopify retries a failed delivery 8 times over about 4 hours.
_SHOPIFY_RETRY_SCHEDULE = (10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0)


def _float_tuple(value: object) -> tuple[float, ...]:
    if not isinstance(value, list | tuple):
        raise TypeError("webhook_retry_schedule must be a sequence of seconds")
    return tuple(float(v) for v in value)


@frozen
class SandboxConfig:
    """How the simulated Shopify behaves. Every default is Shopify's own where it has one.

    ``bucket_size`` and ``restore_rate`` are the GraphQL cost bucket of one app on one shop
    (Standard plan: 2,000 points, 100 points a second). ``webhook_retry_schedule`` lists the
    waits before each retry of a failed delivery (Shopify: 8 retries over 4 hours; tests use
    a short one). ``bulk_operation_seconds`` is how long a bulk query takes from
    ``bulkOperationRunQuery`` to ``COMPLETED`` (``CREATED`` for its first quarter, then
    ``RUNNING``), in real time like webhook retries. ``random_seed`` makes the injected faults
    reproducible.
    """

    client_id: str = "sandbox-client-id"
    client_secret: str = field(default="sandbox-client-secret", repr=False)
    app_name: str = "storelink"
    access_token_lifetime: float = 3600.0
    refresh_token_lifetime: float = 90 * 24 * 3600.0
    authorization_code_lifetime: float = 600.0
    auto_approve: bool = False
    redirect_uri_prefixes: tuple[str, ...] = ()  # empty: any redirect URI is accepted
    bucket_size: int = 2000
    restore_rate: float = 100.0
    max_query_cost: int = 1000
    max_page_size: int = 250
    max_input_size: int = 250
    idempotency_key_lifetime: float = 24 * 3600.0
    compliance_webhook_url: str | None = None
    webhook_timeout: float = 5.0
    webhook_retry_schedule: tuple[float, ...] = field(
        default=_SHOPIFY_RETRY_SCHEDULE, converter=_float_tuple
    )
    delete_failing_subscriptions: bool = True
    webhook_reorder_max_hold: float = 1.0
    api_version: str = DEFAULT_API_VERSION
    orders_visible_days: int = 60  # older orders need the read_all_orders scope
    bulk_operation_seconds: float = 0.2
    random_seed: int | None = None


class SandboxClock:
    """The sandbox's time: the wall clock plus an offset, or a frozen instant.

    ``advance`` moves it forward in both modes, so tests (and the control API) can expire
    tokens or refill the cost bucket without waiting.
    """

    def __init__(self, frozen_at: datetime | None = None) -> None:
        if frozen_at is not None and frozen_at.tzinfo is None:
            raise ValueError("frozen_at must be timezone-aware")
        self._frozen_at = frozen_at
        self._offset = timedelta()
        self._lock = threading.Lock()

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def now(self) -> datetime:
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at + self._offset
            return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()
