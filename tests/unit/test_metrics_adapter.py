"""The Prometheus adapter of the ``Metrics`` port: what each event becomes, the backlog read
at scrape time, and several processes adding up through ``PROMETHEUS_MULTIPROC_DIR``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.crypto import generate_key_spec
from adapters.memory import MemoryDatabase, MemoryUnitOfWork
from adapters.metrics import FAMILIES, MultiprocessNotEnabled, PrometheusMetrics
from adapters.system import ManualClock
from core.model import Backlog
from core.observability import NoMetrics
from core.ports import Metrics
from entrypoints.bootstrap import bootstrap
from entrypoints.settings import ConfigError, Settings

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _samples(metrics: PrometheusMetrics | str) -> Samples:
    text = metrics if isinstance(metrics, str) else metrics.render().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_both_implementations_offer_every_method_of_the_port() -> None:
    ports: list[Metrics] = [NoMetrics(), PrometheusMetrics()]
    for metrics in ports:
        metrics.webhook_received("shopify", "orders/create", "stored")
        metrics.work_finished("outbox", "inventory_push", "done", 0.5)
        metrics.worker_polled(datetime(2026, 1, 1, tzinfo=UTC))
        metrics.store_request("shopify", "Order", "ok", requested_cost=12, actual_cost=3)
        metrics.order_applied("shopify", "imported", 4.0)
        metrics.inventory_pushed("shopify", applied=2)


def test_webhooks_and_worker_outcomes_are_counted_by_their_labels() -> None:
    metrics = PrometheusMetrics()
    for outcome in ("stored", "stored", "duplicate", "bad_hmac"):
        metrics.webhook_received("shopify", "orders/create", outcome)
    metrics.work_finished("inbox", "orders/create", "done", 0.02)
    metrics.work_finished("inbox", "orders/create", "retry", 3.0)
    metrics.worker_polled(datetime(2026, 5, 1, tzinfo=UTC))

    samples = _samples(metrics)

    received = "storelink_webhooks_received_total"
    topic = {"platform": "shopify", "topic": "orders/create"}
    assert _value(samples, received, **topic, outcome="stored") == 2
    assert _value(samples, received, **topic, outcome="duplicate") == 1
    assert _value(samples, received, **topic, outcome="bad_hmac") == 1
    item = {"queue": "inbox", "kind": "orders/create"}
    assert _value(samples, "storelink_worker_items_total", **item, outcome="done") == 1
    assert _value(samples, "storelink_worker_items_total", **item, outcome="retry") == 1
    duration = "storelink_worker_item_duration_seconds"
    assert _value(samples, f"{duration}_count", **item) == 2
    assert _value(samples, f"{duration}_sum", **item) == pytest.approx(3.02)
    assert _value(samples, f"{duration}_bucket", **item, le="0.025") == 1
    assert _value(samples, "storelink_worker_last_poll_timestamp_seconds") == (
        datetime(2026, 5, 1, tzinfo=UTC).timestamp()
    )


def test_store_requests_count_outcomes_and_the_cost_of_queries_that_ran() -> None:
    metrics = PrometheusMetrics()
    metrics.store_request("shopify", "Order", "ok", requested_cost=12, actual_cost=4)
    metrics.store_request("shopify", "Order", "ok", requested_cost=12, actual_cost=5)
    metrics.store_request("shopify", "Order", "throttled")
    metrics.store_request("shopify", "SetInventory", "unavailable")

    samples = _samples(metrics)

    order = {"platform": "shopify", "operation": "Order"}
    assert _value(samples, "storelink_store_requests_total", **order, outcome="ok") == 2
    assert _value(samples, "storelink_store_requests_total", **order, outcome="throttled") == 1
    assert _value(samples, "storelink_store_requested_cost_points_total", **order) == 24
    assert _value(samples, "storelink_store_actual_cost_points_total", **order) == 9
    assert (
        _value(
            samples,
            "storelink_store_requests_total",
            platform="shopify",
            operation="SetInventory",
            outcome="unavailable",
        )
        == 1
    )


def test_order_latency_and_inventory_pushes() -> None:
    metrics = PrometheusMetrics()
    metrics.order_applied("shopify", "imported", 3.5)
    metrics.order_applied("shopify", "updated", 700)
    metrics.inventory_pushed("shopify", applied=240, stale=8, refused=2)
    metrics.inventory_pushed("shopify", failed=250)

    samples = _samples(metrics)

    latency = "storelink_order_import_latency_seconds"
    assert _value(samples, f"{latency}_count", platform="shopify", outcome="imported") == 1
    assert (
        _value(samples, f"{latency}_bucket", platform="shopify", outcome="imported", le="5.0") == 1
    )
    assert (
        _value(samples, f"{latency}_bucket", platform="shopify", outcome="updated", le="600.0") == 0
    )
    pushes = "storelink_inventory_pushes_total"
    assert _value(samples, pushes, platform="shopify", outcome="ok") == 1
    assert _value(samples, pushes, platform="shopify", outcome="failed") == 1
    variants = "storelink_inventory_variants_total"
    for result, count in (("applied", 240), ("stale", 8), ("refused", 2), ("failed", 250)):
        assert _value(samples, variants, platform="shopify", result=result) == count


def test_the_backlog_is_read_at_every_scrape_with_the_oldest_age() -> None:
    clock = ManualClock(start=datetime(2026, 5, 1, 12, tzinfo=UTC))
    backlogs = {
        "inbox": Backlog(waiting=3, retrying=1, processing=2, dead=4, oldest_at=clock.now()),
        "outbox": Backlog(),
    }
    metrics = PrometheusMetrics()
    metrics.watch_backlog(lambda: backlogs, clock)
    clock.advance(timedelta(minutes=6))

    samples = _samples(metrics)

    for state, count in (("waiting", 3), ("retrying", 1), ("processing", 2), ("dead", 4)):
        assert _value(samples, "storelink_queue_depth", queue="inbox", state=state) == count
        assert _value(samples, "storelink_queue_depth", queue="outbox", state=state) == 0
    assert _value(samples, "storelink_queue_oldest_age_seconds", queue="inbox") == 360
    assert ("storelink_queue_oldest_age_seconds", frozenset({("queue", "outbox")})) in samples

    backlogs["inbox"] = Backlog()  # the workers caught up
    assert _value(_samples(metrics), "storelink_queue_oldest_age_seconds", queue="inbox") == 0


def test_a_scrape_answers_even_when_the_database_does_not() -> None:
    def unreachable() -> dict[str, Backlog]:
        raise ConnectionError("database is down")

    metrics = PrometheusMetrics()
    metrics.watch_backlog(unreachable, ManualClock())
    metrics.webhook_received("shopify", "orders/create", "stored")

    text = metrics.render().decode()

    assert "storelink_webhooks_received_total" in text
    assert "storelink_queue_depth{" not in text


def test_every_family_is_named_as_documented(tmp_path: Path) -> None:
    metrics = PrometheusMetrics()
    metrics.watch_backlog(lambda: {"inbox": Backlog(), "outbox": Backlog()}, ManualClock())

    names = {family.name for family in text_string_to_metric_families(metrics.render().decode())}

    assert {f"storelink_{short.removesuffix('_total')}" for short in FAMILIES} <= names
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for short in FAMILIES:
        assert f"storelink_{short}" in readme, short


# --- several processes ---------------------------------------------------------------------

_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from pathlib import Path

    from adapters.metrics import PrometheusMetrics

    metrics = PrometheusMetrics(multiprocess_dir=Path(sys.argv[1]))
    for _ in range(int(sys.argv[2])):
        metrics.webhook_received("shopify", "orders/create", "stored")
    metrics.work_finished("inbox", "orders/create", "done", float(sys.argv[2]))
    metrics.worker_polled(datetime.fromtimestamp(float(sys.argv[3]), UTC))
    metrics.close()
    """
)
_READER = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from adapters.metrics import PrometheusMetrics

    sys.stdout.write(PrometheusMetrics(multiprocess_dir=Path(sys.argv[1])).render().decode())
    """
)


def _python(code: str, *args: str, directory: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_processes_sharing_a_multiprocess_dir_are_added_up(tmp_path: Path) -> None:
    writers = [
        _python(_WRITER, str(tmp_path), "3", "1700000000", directory=tmp_path),
        _python(_WRITER, str(tmp_path), "4", "1800000000", directory=tmp_path),
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=60)
        assert writer.returncode == 0, err

    reader = _python(_READER, str(tmp_path), directory=tmp_path)
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    samples = _samples(out)

    labels = {"platform": "shopify", "topic": "orders/create", "outcome": "stored"}
    assert _value(samples, "storelink_webhooks_received_total", **labels) == 7
    item = {"queue": "inbox", "kind": "orders/create"}
    assert _value(samples, "storelink_worker_item_duration_seconds_count", **item) == 2
    assert _value(samples, "storelink_worker_item_duration_seconds_sum", **item) == 7
    # the heartbeat is the latest of every worker's, finished or not
    assert _value(samples, "storelink_worker_last_poll_timestamp_seconds") == 1800000000


def test_a_multiprocess_dir_the_library_did_not_see_at_import_stops_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with pytest.raises(MultiprocessNotEnabled, match="PROMETHEUS_MULTIPROC_DIR must be set"):
        PrometheusMetrics(multiprocess_dir=tmp_path)

    settings = Settings(
        data_dir=tmp_path,
        secret_key="s" * 40,
        token_encryption_keys=generate_key_spec("k1"),
        prometheus_multiproc_dir=tmp_path,
    )
    with pytest.raises(ConfigError, match="PROMETHEUS_MULTIPROC_DIR"):
        bootstrap(settings, uow=lambda: MemoryUnitOfWork(MemoryDatabase()), platforms={})


# --- settings ------------------------------------------------------------------------------


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "STORELINK_DATA_DIR": str(tmp_path),
        "SECRET_KEY": "s" * 40,
        "TOKEN_ENCRYPTION_KEYS": generate_key_spec("k1"),
        **extra,
    }


def test_monitoring_settings_are_read_and_checked(tmp_path: Path) -> None:
    settings = Settings.from_env(
        _env(
            tmp_path,
            METRICS_TOKEN="t" * 32,
            LOG_FORMAT="json",
            PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
        )
    )
    assert (settings.metrics_token, settings.log_format) == ("t" * 32, "json")
    assert settings.prometheus_multiproc_dir == tmp_path.resolve()
    assert "t" * 32 not in repr(settings)

    defaults = Settings.from_env(_env(tmp_path))
    assert (defaults.metrics_token, defaults.log_format) == (None, "text")
    assert defaults.prometheus_multiproc_dir is None

    for name, value, message in [
        ("METRICS_TOKEN", "short", "METRICS_TOKEN must be at least 16 characters"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be text or json"),
        ("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "nope"), "must be an existing directory"),
    ]:
        with pytest.raises(ConfigError, match=message):
            Settings.from_env(_env(tmp_path, **{name: value}))
