"""Stock to the stores, at the HTTP edge: the cron endpoint that queues the inventory sync of
every store that is due, and "push inventory now" through the API. Only the cron secret opens
the cron endpoint; only a store's managers may push its inventory, and another tenant's store
is not there at all."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from attrs import evolve
from flask import Flask
from flask.testing import FlaskClient

from adapters.crypto import generate_key_spec
from adapters.system import ManualClock
from core.model import Integration, IntegrationSettings, LocationMapping, ProductMapping, SyncRun
from core.services import SYSTEM, inventory
from core.services import stock as stock_services
from core.services.integrations import seal
from core.services.worker import Worker
from core.store import Credentials
from entrypoints.bootstrap import Services
from entrypoints.settings import Settings
from entrypoints.web.api_cron import CRON_FAILURES
from tests.unit.web.conftest import People

SECRET = "cron-secret-for-tests-0123456789abcdef"
CRON = "/api/cron/sync-shopify-inventory"
TOKEN = Credentials("shpat_x")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        secret_key="s" * 40,
        token_encryption_keys=generate_key_spec("k1"),
        shopify_client_id="client-id",
        shopify_client_secret="client-secret",
        shopify_shop_url_template="http://127.0.0.1:9/store/{shop}",  # nothing listens there
        cron_secret=SECRET,
    )


def _store(
    services: Services,
    client_id: str,
    shop: str,
    *,
    credentials: Credentials | None = TOKEN,
    auto_sync: bool = True,
    synced_minutes_ago: int | None = None,
) -> Integration:
    """A store row as connecting leaves it (no locations or mappings: a sync calls nothing)."""
    now = services.ctx.clock.now()
    integration = Integration(
        id=services.ctx.ids.new_id(),
        client_id=client_id,
        platform="shopify",
        shop_domain=shop,
        created_at=now,
        updated_at=now,
        status="active" if credentials else "disconnected",
        settings=IntegrationSettings(auto_sync_inventory=auto_sync),
        inventory_synced_at=(
            None if synced_minutes_ago is None else now - timedelta(minutes=synced_minutes_ago)
        ),
    )
    if credentials is not None:
        integration.credentials = seal(services.cipher, integration.id, credentials)
    with services.ctx.uow() as uow:
        uow.integrations.add(integration)
        uow.commit()
    return integration


def _synced_variant(services: Services, integration: Integration) -> None:
    """A mapped variant at a store location a warehouse serves: a sync must call the store."""
    ctx = services.ctx
    warehouse = stock_services.create_warehouse(ctx, SYSTEM, code="MAIN", name="Main hall")
    product = stock_services.create_product(
        ctx, SYSTEM, client_id=integration.client_id, sku="TEE-RED", name="Red tee"
    )
    with ctx.uow() as uow:
        uow.locations.add(
            LocationMapping(
                id=ctx.ids.new_id(),
                integration_id=integration.id,
                external_location_id="7001",
                name="Shop front",
                warehouse_id=warehouse.id,
                is_default=True,
            )
        )
        uow.mappings.add(
            ProductMapping(
                id=ctx.ids.new_id(),
                integration_id=integration.id,
                product_id=product.id,
                external_variant_id="101",
                created_at=ctx.clock.now(),
                external_inventory_item_id="9101",
                sku="TEE-RED",
            )
        )
        uow.commit()


def _queued(services: Services) -> list[str]:
    """Integration ids of the queued full inventory syncs, in the order they were queued."""
    with services.ctx.uow() as uow:
        commands = uow.outbox.list(kind=inventory.SYNC_COMMAND, limit=1000)
    return [c.integration_id or "" for c in sorted(commands, key=lambda c: c.created_at)]


def _runs(services: Services, integration_id: str) -> list[SyncRun]:
    with services.ctx.uow() as uow:
        runs = uow.sync_runs.list(integration_id=integration_id)
    return [r for r in runs if r.kind == "inventory"]


def _stored(services: Services, integration_id: str) -> Integration:
    with services.ctx.uow() as uow:
        found = uow.integrations.peek(integration_id)
    assert found is not None
    return found


def _cron(web: FlaskClient, token: str | None = SECRET) -> tuple[int, dict[str, object]]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    response = web.post(CRON, headers=headers)
    return response.status_code, response.get_json()


def _by_shop(body: dict[str, object]) -> list[tuple[str, bool]]:
    results = body["results"]
    assert isinstance(results, list)
    return sorted((r["shop"], r["queued"]) for r in results)


# --- the cron endpoint -----------------------------------------------------------------------


def test_the_cron_endpoint_does_not_exist_while_cron_secret_is_unset(
    services: Services, web: FlaskClient, people: People
) -> None:
    _store(services, people.acme.id, "acme.myshopify.com")
    services.settings = evolve(services.settings, cron_secret=None)
    for token in (None, SECRET, ""):
        status, body = _cron(web, token)
        assert status == 404
        assert body["error"] == "not_found"
    assert _queued(services) == []


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer wrong",
        f"Bearer {SECRET}x",
        f"Bearer {SECRET[:-1]}",
        f"Bearer {SECRET.upper()}",
        f"Basic {SECRET}",
        SECRET,
        "Bearer ünïcödé",
    ],
)
def test_a_missing_or_wrong_cron_token_is_401_and_queues_nothing(
    services: Services, web: FlaskClient, people: People, authorization: str | None
) -> None:
    _store(services, people.acme.id, "acme.myshopify.com")
    headers = {} if authorization is None else {"Authorization": authorization}
    response = web.post(CRON, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"
    assert SECRET not in response.get_data(as_text=True)
    assert _queued(services) == []


def test_an_api_token_or_a_signed_in_session_does_not_open_the_cron_endpoint(
    services: Services, app: Flask, people: People
) -> None:
    _store(services, people.acme.id, "acme.myshopify.com")
    web = app.test_client()
    assert web.post(CRON, headers=people.auth("staff@3pl")).status_code == 401
    browser = app.test_client()
    form = browser.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert match
    signed_in = browser.post(
        "/login",
        data={"email": "staff@3pl.test", "password": "password-123", "csrf_token": match.group(1)},
    )
    assert signed_in.status_code == 302
    csrf = browser.get("/api/me").get_json()["csrf_token"]
    assert browser.post(CRON, headers={"X-CSRF-Token": csrf}).status_code == 401
    assert _queued(services) == []


def test_wrong_cron_tokens_from_one_address_are_throttled_like_api_tokens(
    services: Services, web: FlaskClient, people: People
) -> None:
    _store(services, people.acme.id, "acme.myshopify.com")
    codes = [_cron(web, f"guess-{n}")[0] for n in range(CRON_FAILURES.amount + 1)]
    assert codes[:-1] == [401] * CRON_FAILURES.amount
    assert codes[-1] == 429
    throttled = web.post(CRON, headers={"Authorization": f"Bearer {SECRET}"})
    assert throttled.status_code == 429  # the address is locked out, right token or not
    assert int(throttled.headers["Retry-After"]) >= 1
    assert _queued(services) == []


def test_the_cron_endpoint_answers_only_post(services: Services, web: FlaskClient) -> None:
    response = web.get(CRON, headers={"Authorization": f"Bearer {SECRET}"})
    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"


def test_the_right_token_queues_the_inventory_sync_of_every_due_store_once(
    services: Services, web: FlaskClient, people: People
) -> None:
    acme = people.acme.id
    never = _store(services, acme, "never.myshopify.com")
    stale = _store(services, acme, "stale.myshopify.com", synced_minutes_ago=61)
    other = _store(services, people.globex.id, "globex.myshopify.com", synced_minutes_ago=600)
    _store(services, acme, "recent.myshopify.com", synced_minutes_ago=10)  # interval is 60
    _store(services, acme, "manual.myshopify.com", auto_sync=False)
    _store(services, acme, "gone.myshopify.com", credentials=None)

    status, body = _cron(web)
    assert status == 200
    assert set(body) == {"results"}
    assert _by_shop(body) == [
        ("globex.myshopify.com", True),
        ("never.myshopify.com", True),
        ("stale.myshopify.com", True),
    ]
    results = body["results"]
    assert isinstance(results, list)
    assert {r["integration_id"] for r in results} == {never.id, stale.id, other.id}
    assert sorted(_queued(services)) == sorted([never.id, stale.id, other.id])

    again_status, again = _cron(web)  # the cron fires twice
    assert again_status == 200
    assert _by_shop(again) == [
        ("globex.myshopify.com", False),
        ("never.myshopify.com", False),
        ("stale.myshopify.com", False),
    ]
    assert sorted(_queued(services)) == sorted([never.id, stale.id, other.id])


def test_once_the_workers_ran_the_queued_sync_the_store_is_not_due_until_its_interval_passed(
    services: Services, web: FlaskClient, people: People
) -> None:
    store = _store(services, people.acme.id, "acme.myshopify.com")
    assert _by_shop(_cron(web)[1]) == [("acme.myshopify.com", True)]
    report = Worker(services.ctx, services.handlers, worker_id="test").drain()
    assert report.processed == 1
    clock = services.ctx.clock
    assert isinstance(clock, ManualClock)
    synced_at = _stored(services, store.id).inventory_synced_at
    assert synced_at == clock.now()
    (run,) = _runs(services, store.id)
    assert (run.error, run.finished_at) == (None, clock.now())

    clock.advance(timedelta(minutes=59))
    assert _cron(web)[1] == {"results": []}
    clock.advance(timedelta(minutes=1))
    assert _by_shop(_cron(web)[1]) == [("acme.myshopify.com", True)]


def test_the_cron_secret_is_never_logged(
    services: Services, web: FlaskClient, people: People, caplog: pytest.LogCaptureFixture
) -> None:
    _store(services, people.acme.id, "acme.myshopify.com")
    caplog.set_level(logging.DEBUG)
    _cron(web)
    _cron(web, SECRET + "x")
    _cron(web, None)
    assert SECRET not in caplog.text


# --- push inventory now (API) ------------------------------------------------------------------


def _sync_path(integration_id: str, platform: str = "shopify") -> str:
    return f"/api/integrations/{platform}/{integration_id}/sync-inventory"


def _work(services: Services) -> None:
    """The workers run what was queued (the push is a job)."""
    Worker(services.ctx, services.handlers, worker_id="test-worker").drain()


def _job(web: FlaskClient, headers: dict[str, str], location: str) -> dict[str, object]:
    answer = web.get(location, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    job: dict[str, object] = answer.get_json()["job"]
    return job


def test_pushing_inventory_is_for_the_stores_managers_and_another_clients_store_is_404(
    services: Services, web: FlaskClient, people: People
) -> None:
    store = _store(services, people.acme.id, "acme.myshopify.com")
    path = _sync_path(store.id)
    assert web.post(path).status_code == 401
    outsider = web.post(path, headers=people.auth("owner@globex"))
    assert outsider.status_code == 404
    assert "acme" not in outsider.get_data(as_text=True)
    member = web.post(path, headers=people.auth("member@acme"))
    assert (member.status_code, member.get_json()["error"]) == (403, "forbidden")
    assert web.post(_sync_path("no-such-store"), headers=people.auth("owner@acme")).status_code == (
        404
    )
    assert (
        web.post(_sync_path(store.id, "amazon"), headers=people.auth("owner@acme")).status_code
        == 404
    )
    assert _runs(services, store.id) == []
    first = web.post(path, headers=people.auth("staff@3pl"))
    again = web.post(path, headers=people.auth("owner@acme"))
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.get_json()["job"]["id"] == first.get_json()["job"]["id"]  # still pending
    _work(services)
    assert len(_runs(services, store.id)) == 1
    assert web.post(path, headers=people.auth("owner@acme")).status_code == 202
    _work(services)
    assert len(_runs(services, store.id)) == 2


def test_a_session_caller_needs_the_csrf_token_to_push_inventory(
    services: Services, app: Flask, people: People
) -> None:
    store = _store(services, people.acme.id, "acme.myshopify.com")
    browser = app.test_client()
    form = browser.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert match
    browser.post(
        "/login",
        data={"email": "owner@acme.test", "password": "password-123", "csrf_token": match.group(1)},
    )
    csrf = browser.get("/api/me").get_json()["csrf_token"]
    for headers in ({}, {"X-CSRF-Token": "x" + csrf}):
        refused = browser.post(_sync_path(store.id), headers=headers)
        assert (refused.status_code, refused.get_json()["error"]) == (403, "csrf_failed")
    assert _runs(services, store.id) == []
    queued = browser.post(_sync_path(store.id), headers={"X-CSRF-Token": csrf})
    assert queued.status_code == 202
    assert queued.get_json()["job"]["status"] == "queued"
    _work(services)
    job = _job(browser, {}, queued.headers["Location"])
    assert (job["status"], job["progress"]) == (
        "done",
        {"levels_read": 0, "updated": 0, "unchanged": 0, "failed": 0},
    )


def test_a_push_is_recorded_and_shown_by_the_integration_and_the_health_api(
    services: Services, web: FlaskClient, people: People
) -> None:
    store = _store(services, people.acme.id, "acme.myshopify.com")
    owner = people.auth("owner@acme")
    before = web.get(f"/api/integrations/{store.id}", headers=owner).get_json()
    assert before["inventory_synced_at"] is None
    pushed = web.post(_sync_path(store.id), headers=owner)
    assert pushed.status_code == 202
    _work(services)
    assert _job(web, owner, pushed.headers["Location"])["status"] == "done"
    when = services.ctx.clock.now().isoformat()
    after = web.get(f"/api/integrations/{store.id}", headers=owner).get_json()
    assert after["inventory_synced_at"] == when
    (health,) = web.get("/api/health/integrations", headers=owner).get_json()["integrations"]
    assert (health["id"], health["last_inventory_sync"]) == (store.id, when)


def test_pushing_a_disconnected_store_is_409_and_records_nothing(
    services: Services, web: FlaskClient, people: People
) -> None:
    store = _store(services, people.acme.id, "acme.myshopify.com", credentials=None)
    response = web.post(_sync_path(store.id), headers=people.auth("owner@acme"))
    assert response.status_code == 409
    body = response.get_json()
    assert body["error"] == "integration_not_connected"
    assert "acme.myshopify.com is not connected" in body["message"]
    assert _runs(services, store.id) == []


def test_a_store_that_refuses_our_access_fails_the_job_with_a_store_error_and_the_run_keeps_it(
    services: Services, web: FlaskClient, people: People
) -> None:
    expired = Credentials("shpat_x", expires_at=datetime(2025, 12, 31, 23, 0, tzinfo=UTC))
    store = _store(services, people.acme.id, "acme.myshopify.com", credentials=expired)
    _synced_variant(services, store)
    owner = people.auth("owner@acme")
    response = web.post(_sync_path(store.id), headers=owner)
    assert response.status_code == 202
    _work(services)
    job = _job(web, owner, response.headers["Location"])
    assert job["status"] == "failed"
    assert str(job["error"]).startswith("platform_auth_error: ")
    assert "access token expired" in str(job["error"])
    assert "Traceback" not in str(job["error"])
    (run,) = _runs(services, store.id)
    assert run.error is not None
    assert "access token expired" in run.error
    after = _stored(services, store.id)
    assert (after.status, after.inventory_synced_at) == ("error", None)
