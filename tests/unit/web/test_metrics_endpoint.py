"""``GET /metrics``: Prometheus' text for the metrics token and staff, nobody else; what a
webhook and a worker run leave in it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import TestResponse

from adapters.crypto import generate_key_spec
from adapters.memory import MemoryDatabase, MemoryUnitOfWork
from adapters.metrics import PrometheusMetrics
from adapters.passwords import TEST_PARAMETERS, Argon2PasswordHasher
from adapters.ratelimit import LimitsRateLimiter
from adapters.shopify import ShopifyConfig, ShopifyPlatform
from adapters.system import ManualClock, UuidIdGenerator
from core.model import Integration
from core.services.integrations import seal
from core.services.worker import Worker
from core.store import Credentials
from entrypoints.bootstrap import Services, bootstrap
from entrypoints.settings import Settings
from entrypoints.web import create_app
from tests.unit.web.conftest import People

SECRET = "app-secret-for-tests"
SHOP = "acme.myshopify.com"
METRICS_TOKEN = "scrape-" + "m" * 32
ORDER = json.dumps(
    {
        "id": 450789469,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "line_items": [{"id": 1, "quantity": 1}],
    }
).encode()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        secret_key="s" * 40,
        token_encryption_keys=generate_key_spec("k1"),
        shopify_client_id="client-id",
        shopify_client_secret=SECRET,
        shopify_shop_url_template="http://127.0.0.1:9/store/{shop}",  # nothing listens there
        metrics_token=METRICS_TOKEN,
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    db = MemoryDatabase()
    clock = ManualClock(start=datetime.now(UTC))
    limiter = LimitsRateLimiter("memory://", prefix="metrics")
    metrics = PrometheusMetrics()
    # the default platform, but failing at once: the store is unreachable and not retried
    shopify = ShopifyPlatform(
        config=ShopifyConfig(
            client_id="client-id",
            client_secret=SECRET,
            max_retries=0,
            shop_url_template=settings.shopify_shop_url_template,
        ),
        rate_limiter=limiter,
        clock=clock,
        metrics=metrics,
    )
    built = bootstrap(
        settings,
        uow=lambda: MemoryUnitOfWork(db),
        clock=clock,
        ids=UuidIdGenerator(),
        passwords=Argon2PasswordHasher(parameters=TEST_PARAMETERS),
        rate_limiter=limiter,
        platforms={"shopify": shopify},
        metrics=metrics,
    )
    built.on_close(shopify.close)
    yield built
    built.close()


def _integration(services: Services, client_id: str) -> Integration:
    now = services.ctx.clock.now()
    integration = Integration(
        id=services.ctx.ids.new_id(),
        client_id=client_id,
        platform="shopify",
        shop_domain=SHOP,
        created_at=now,
        updated_at=now,
        status="active",
    )
    integration.credentials = seal(services.cipher, integration.id, Credentials("shpat_x"))
    with services.ctx.uow() as uow:
        uow.integrations.add(integration)
        uow.commit()
    return integration


def _deliver(
    web: FlaskClient, path: str, *, signature: str | None = None, **headers: str
) -> TestResponse:
    sign = base64.b64encode(hmac.new(SECRET.encode(), ORDER, hashlib.sha256).digest()).decode()
    return web.post(
        path,
        data=ORDER,
        headers={
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-Webhook-Id": "delivery-1",
            "X-Shopify-Hmac-Sha256": signature or sign,
            "Content-Type": "application/json",
            **headers,
        },
    )


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _scrape(web: FlaskClient) -> str:
    response = web.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    return response.get_data(as_text=True)


def _login(web: FlaskClient, email: str) -> None:
    page = web.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    response = web.post(
        "/login",
        data={"email": email, "password": "password-123", "csrf_token": match.group(1)},
    )
    assert response.status_code == 302


# --- who may read them ----------------------------------------------------------------------


def test_anonymous_callers_get_401_as_json_even_from_a_browser(web: FlaskClient) -> None:
    for accept in ("text/html", "text/plain", "*/*"):
        response = web.get("/metrics", headers={"Accept": accept})

        assert response.status_code == 401
        assert response.get_json()["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_wrong_metrics_token_is_401(web: FlaskClient) -> None:
    for header in (
        f"Bearer {METRICS_TOKEN}x",
        f"Bearer {METRICS_TOKEN[:-1]}",
        "Bearer ",
        f"Basic {METRICS_TOKEN}",
    ):
        response = web.get("/metrics", headers={"Authorization": header})

        assert response.status_code == 401, header
        assert response.get_json()["error"] == "unauthorized"


def test_the_metrics_token_reads_prometheus_text(web: FlaskClient) -> None:
    text = _scrape(web)

    assert "# TYPE storelink_queue_depth gauge" in text
    assert 'storelink_queue_depth{queue="inbox",state="waiting"} 0.0' in text


def test_without_a_metrics_token_configured_no_bearer_opens_it(
    settings: Settings, tmp_path: Path
) -> None:
    from attrs import evolve

    services = bootstrap(
        evolve(settings, metrics_token=None),
        uow=lambda: MemoryUnitOfWork(MemoryDatabase()),
        passwords=Argon2PasswordHasher(parameters=TEST_PARAMETERS),
        rate_limiter=LimitsRateLimiter("memory://", prefix="nometrics"),
        platforms={},
    )
    try:
        web = create_app(services, {"TESTING": True}).test_client()
        for token in (METRICS_TOKEN, "", "None"):
            assert (
                web.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 401
            )
    finally:
        services.close()


def test_a_signed_in_staff_user_reads_them_and_a_client_user_is_refused(
    web: FlaskClient, people: People
) -> None:
    _login(web, "staff@3pl.test")
    assert web.get("/metrics").status_code == 200

    client_web = web.application.test_client()
    _login(client_web, "owner@acme.test")
    refused = client_web.get("/metrics")
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "forbidden"


def test_a_staff_api_token_reads_them_and_a_client_token_is_refused(
    web: FlaskClient, people: People
) -> None:
    assert web.get("/metrics", headers=people.auth("staff@3pl")).status_code == 200

    refused = web.get("/metrics", headers=people.auth("owner@acme"))
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "forbidden"


def test_guessing_the_token_is_throttled(web: FlaskClient) -> None:
    answers = [
        web.get("/metrics", headers={"Authorization": f"Bearer guess-{n}"}).status_code
        for n in range(25)
    ]

    assert answers[0] == 401
    assert answers[-1] == 429
    # only failures are counted: the right token still reads them (issue 8: 3)
    assert (
        web.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 200
    )


# --- what is in them ------------------------------------------------------------------------


def test_a_webhook_and_a_worker_run_show_up_in_the_metrics(
    web: FlaskClient, services: Services, people: People
) -> None:
    integration = _integration(services, people.acme.id)
    path = f"/api/webhooks/shopify/{integration.id}"
    assert _deliver(web, path).status_code == 200
    assert _deliver(web, path).status_code == 200  # the store repeats itself
    assert _deliver(web, path, signature="forged").status_code == 401
    assert (
        _deliver(web, path, **{"X-Shopify-Topic": "made/up"}, signature="forged").status_code == 401
    )

    before = _samples(_scrape(web))
    assert _value(before, "storelink_queue_depth", queue="inbox", state="waiting") == 1
    Worker(services.ctx, services.handlers, worker_id="w-1").run_once()  # the store is down
    after = _samples(_scrape(web))

    received = "storelink_webhooks_received_total"
    shopify = {"platform": "shopify"}
    assert _value(after, received, **shopify, topic="orders/create", outcome="stored") == 1
    assert _value(after, received, **shopify, topic="orders/create", outcome="duplicate") == 1
    assert _value(after, received, **shopify, topic="orders/create", outcome="bad_hmac") == 1
    assert _value(after, received, **shopify, topic="other", outcome="bad_hmac") == 1
    worked = {"queue": "inbox", "kind": "orders/create"}
    assert _value(after, "storelink_worker_items_total", **worked, outcome="retry") == 1
    assert _value(after, "storelink_worker_item_duration_seconds_count", **worked) == 1
    assert _value(after, "storelink_worker_last_poll_timestamp_seconds") > 0
    assert (
        _value(
            after,
            "storelink_store_requests_total",
            **shopify,
            operation="Order",
            outcome="unavailable",
        )
        == 1
    )
    assert _value(after, "storelink_queue_depth", queue="inbox", state="waiting") == 0
    assert _value(after, "storelink_queue_depth", queue="inbox", state="retrying") == 1
    assert ("storelink_queue_oldest_age_seconds", frozenset({("queue", "inbox")})) in after
    assert ("storelink_queue_oldest_age_seconds", frozenset({("queue", "outbox")})) in after


def test_a_webhook_over_five_mebibytes_is_counted_as_too_large(
    web: FlaskClient, services: Services, people: People
) -> None:
    integration = _integration(services, people.acme.id)
    big = b"{" + b" " * (5 * 1024 * 1024 + 10) + b"}"

    response = web.post(
        f"/api/webhooks/shopify/{integration.id}",
        data=big,
        headers={"X-Shopify-Topic": "orders/create", "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    samples = _samples(_scrape(web))
    assert (
        _value(
            samples,
            "storelink_webhooks_received_total",
            platform="shopify",
            topic="orders/create",
            outcome="too_large",
        )
        == 1
    )


def test_an_unknown_platform_in_the_path_is_counted_without_its_name(web: FlaskClient) -> None:
    assert web.post("/api/webhooks/evil-platform-name", data=b"{}").status_code == 404

    text = _scrape(web)
    assert "evil-platform-name" not in text
    assert 'platform="unknown"' in text


def test_two_apps_in_one_process_count_apart(services: Services, settings: Settings) -> None:
    other = bootstrap(
        settings,
        uow=lambda: MemoryUnitOfWork(MemoryDatabase()),
        passwords=Argon2PasswordHasher(parameters=TEST_PARAMETERS),
        rate_limiter=LimitsRateLimiter("memory://", prefix="other"),
        platforms={},
    )
    try:
        services.metrics.webhook_received("shopify", "orders/create", "stored")
        mine = _samples(services.metrics.render().decode())
        theirs = _samples(other.metrics.render().decode())
    finally:
        other.close()

    labels = {"platform": "shopify", "topic": "orders/create", "outcome": "stored"}
    assert _value(mine, "storelink_webhooks_received_total", **labels) == 1
    assert _value(theirs, "storelink_webhooks_received_total", **labels) == 0
