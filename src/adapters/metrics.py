"""The ``Metrics`` port on prometheus-client, and the text ``GET /metrics`` serves.

Each ``PrometheusMetrics`` has a registry of its own (never the library's global one), so two
apps in one process, as in the tests, never see each other's numbers. The queue backlog is
not counted as it happens: it is read from the database when Prometheus scrapes
(``watch_backlog``), so it is right whichever process did the work.

Several processes (``serve`` and ``worker``, or gunicorn's workers) each count on their own.
With ``multiprocess_dir`` (``PROMETHEUS_MULTIPROC_DIR``, which must also be in the process
environment before prometheus-client is imported: the library decides at import) every
process writes its numbers to files there, and the scrape adds up the files of every process,
live or gone, with ``MultiProcessCollector``; ``close()`` marks this process dead so its
live-only gauges go. The directory must be shared by the processes of one machine and emptied
before they start (a deploy wipes it).

Metric names and labels are listed in ``FAMILIES``; the README has them with their meaning.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Final, Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric

from core.model import Backlog
from core.ports import Clock

__all__ = ["CONTENT_TYPE", "FAMILIES", "MultiprocessNotEnabled", "PrometheusMetrics"]

log = logging.getLogger(__name__)

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
PREFIX: Final = "storelink"

# name (without the prefix) -> labels; counters' exposed names end in _total
FAMILIES: Final[Mapping[str, tuple[str, ...]]] = {
    "webhooks_received_total": ("platform", "topic", "outcome"),
    "worker_items_total": ("queue", "kind", "outcome"),
    "worker_item_duration_seconds": ("queue", "kind"),
    "worker_last_poll_timestamp_seconds": (),
    "store_requests_total": ("platform", "operation", "outcome"),
    "store_requested_cost_points_total": ("platform", "operation"),
    "store_actual_cost_points_total": ("platform", "operation"),
    "order_import_latency_seconds": ("platform", "outcome"),
    "inventory_pushes_total": ("platform", "outcome"),
    "inventory_variants_total": ("platform", "result"),
    "queue_depth": ("queue", "state"),
    "queue_oldest_age_seconds": ("queue",),
}

DURATION_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
LATENCY_BUCKETS: Final = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600)

BacklogReader = Callable[[], Mapping[str, Backlog]]


class MultiprocessNotEnabled(RuntimeError):
    """A multi-process directory was configured but prometheus-client did not see it."""


def _name(short: str) -> str:
    return f"{PREFIX}_{short}"


def _counter(short: str, documentation: str, registry: CollectorRegistry | None) -> Counter:
    name = _name(short.removesuffix("_total"))
    return Counter(name, documentation, FAMILIES[short], registry=registry)


class PrometheusMetrics:
    """Counts, times and gauges in one registry of its own; see the module's doc."""

    def __init__(self, *, multiprocess_dir: Path | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry()
        if multiprocess_dir is not None:
            _require_multiprocess_mode(multiprocess_dir)
            # the numbers live in files; the scrape reads every process's files
            multiprocess.MultiProcessCollector(  # type: ignore[no-untyped-call]  # untyped upstream
                self.registry, path=str(multiprocess_dir)
            )
            own: CollectorRegistry | None = None
        else:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            own = self.registry
        self.webhooks = _counter(
            "webhooks_received_total", "Webhook requests answered, by topic and outcome.", own
        )
        self._webhook_children: dict[tuple[str, str, str], Counter] = {}
        self.work = _counter(
            "worker_items_total",
            "Queue items the workers finished, by queue, topic or command kind, and outcome.",
            own,
        )
        self.work_seconds = Histogram(
            _name("worker_item_duration_seconds"),
            "Time to work one queue item (store calls included), by queue and kind.",
            FAMILIES["worker_item_duration_seconds"],
            registry=own,
            buckets=DURATION_BUCKETS,
        )
        self.last_poll = Gauge(
            _name("worker_last_poll_timestamp_seconds"),
            "When a worker last looked for due work (Unix time; the latest of every worker).",
            registry=own,
            multiprocess_mode="max",
        )
        self.store_requests = _counter(
            "store_requests_total",
            "Store API requests, by platform, operation and outcome "
            "(ok, throttled, unavailable, auth_error, rejected).",
            own,
        )
        self.requested_cost = _counter(
            "store_requested_cost_points_total",
            "Query cost points the store reported as requested, for queries it ran.",
            own,
        )
        self.actual_cost = _counter(
            "store_actual_cost_points_total",
            "Query cost points the store actually charged.",
            own,
        )
        self.order_latency = Histogram(
            _name("order_import_latency_seconds"),
            "From a store order's creation or change to the warehouse order applying it.",
            FAMILIES["order_import_latency_seconds"],
            registry=own,
            buckets=LATENCY_BUCKETS,
        )
        self.inventory_pushes = _counter(
            "inventory_pushes_total",
            "Inventory batches sent to stores, by outcome (ok, failed).",
            own,
        )
        self.inventory_variants = _counter(
            "inventory_variants_total",
            "Variant quantities (one per variant and location) sent to stores, by result "
            "(applied, stale, refused, failed).",
            own,
        )

    # --- the port ------------------------------------------------------------------------

    def webhook_received(self, platform: str, topic: str, outcome: str) -> None:
        # every delivery counts here: its labelled child is looked up once, not per delivery
        # (``labels`` validates and converts the values and takes a lock each time)
        labels = (platform, topic, outcome)
        child = self._webhook_children.get(labels)
        if child is None:
            child = self._webhook_children[labels] = self.webhooks.labels(*labels)
        child.inc()

    def work_finished(
        self, queue: Literal["inbox", "outbox", "jobs"], kind: str, outcome: str, seconds: float
    ) -> None:
        self.work.labels(queue, kind, outcome).inc()
        self.work_seconds.labels(queue, kind).observe(max(0.0, seconds))

    def worker_polled(self, when: datetime) -> None:
        self.last_poll.set(when.timestamp())

    def store_request(
        self,
        platform: str,
        operation: str,
        outcome: str,
        *,
        requested_cost: float | None = None,
        actual_cost: float | None = None,
    ) -> None:
        self.store_requests.labels(platform, operation, outcome).inc()
        if requested_cost:
            self.requested_cost.labels(platform, operation).inc(max(0.0, requested_cost))
        if actual_cost:
            self.actual_cost.labels(platform, operation).inc(max(0.0, actual_cost))

    def order_applied(self, platform: str, outcome: str, latency_seconds: float) -> None:
        self.order_latency.labels(platform, outcome).observe(max(0.0, latency_seconds))

    def inventory_pushed(
        self, platform: str, *, applied: int = 0, stale: int = 0, refused: int = 0, failed: int = 0
    ) -> None:
        self.inventory_pushes.labels(platform, "failed" if failed else "ok").inc()
        for result, count in (
            ("applied", applied),
            ("stale", stale),
            ("refused", refused),
            ("failed", failed),
        ):
            if count > 0:
                self.inventory_variants.labels(platform, result).inc(count)

    # --- scraping ------------------------------------------------------------------------

    def watch_backlog(self, read: BacklogReader, clock: Clock) -> None:
        """Report the queues' depth and oldest age, read by ``read`` at every scrape."""
        self.registry.register(_BacklogCollector(read, clock))

    def render(self) -> bytes:
        """Every metric in Prometheus' text format (``CONTENT_TYPE``)."""
        return generate_latest(self.registry)

    def close(self) -> None:
        """In multi-process mode: this process is gone (its live-only gauges go with it)."""
        if self.multiprocess_dir is not None:
            multiprocess.mark_process_dead(  # type: ignore[no-untyped-call]  # untyped upstream
                os.getpid(), str(self.multiprocess_dir)
            )


def _require_multiprocess_mode(directory: Path) -> None:
    """prometheus-client picks file-backed values at import, from the environment only."""
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if (
        values.ValueClass is values.MutexValue
        or configured is None
        or Path(configured).resolve() != directory.resolve()
    ):
        raise MultiprocessNotEnabled(
            "PROMETHEUS_MULTIPROC_DIR must be set in the process environment (not only in "
            ".env) before the process starts"
        )
    if not directory.is_dir() or not os.access(directory, os.W_OK):
        raise MultiprocessNotEnabled(
            f"PROMETHEUS_MULTIPROC_DIR {directory} is not a writable directory"
        )


class _BacklogCollector:
    """The queues' backlog, read from the database at scrape time."""

    def __init__(self, read: BacklogReader, clock: Clock) -> None:
        self.read = read
        self.clock = clock

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            _name("queue_depth"),
            "Queue items by state (waiting, retrying, processing, dead), read at scrape time.",
            labels=FAMILIES["queue_depth"],
        )
        age = GaugeMetricFamily(
            _name("queue_oldest_age_seconds"),
            "Age of the oldest unfinished (waiting, retrying or processing) item; 0 if none.",
            labels=FAMILIES["queue_oldest_age_seconds"],
        )
        return depth, age

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        try:
            backlogs = self.read()
        except Exception as exc:  # a scrape must still answer: the other metrics stand
            log.warning("could not read the queue backlog for /metrics: %s", exc)
            return []
        now = self.clock.now()
        depth, age = self._families()
        for queue, backlog in sorted(backlogs.items()):
            for state in ("waiting", "retrying", "processing", "dead"):
                depth.add_metric([queue, state], getattr(backlog, state))
            oldest = backlog.oldest_at
            age.add_metric([queue], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        return [depth, age]
