"""Jobs at the HTTP edge: syncing orders, pushing inventory and refreshing the catalogue
answer 202 at once with the job and where to read it; asking again while it is pending gives
the same job; its progress is readable by whoever sees the store; another client's store and
its jobs are not there at all."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from core.errors import PlatformUnavailable
from core.model import Integration, Job
from core.services.integrations import seal
from core.services.worker import Handlers, JobOutcome, Progress, Worker
from core.store import Credentials
from entrypoints.bootstrap import Services
from tests.unit.web.conftest import People

STARTS = {
    "order_sync": "sync-orders",
    "inventory_push": "sync-inventory",
    "catalogue_refresh": "products/refresh",
}


def _store(services: Services, client_id: str, *, connected: bool = True) -> Integration:
    now = services.ctx.clock.now()
    integration = Integration(
        id=services.ctx.ids.new_id(),
        client_id=client_id,
        platform="shopify",
        shop_domain="acme.myshopify.com",
        created_at=now,
        updated_at=now,
        status="active" if connected else "disconnected",
    )
    if connected:
        integration.credentials = seal(services.cipher, integration.id, Credentials("shpat_x"))
    with services.ctx.uow() as uow:
        uow.integrations.add(integration)
        uow.commit()
    return integration


def _start(web: FlaskClient, store: Integration, kind: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    return web.post(f"/api/integrations/shopify/{store.id}/{STARTS[kind]}", headers=headers)


@pytest.mark.parametrize("kind", sorted(STARTS))
def test_starting_work_answers_202_with_the_queued_job_and_its_address(
    services: Services, web: FlaskClient, people: People, kind: str
) -> None:
    store = _store(services, people.acme.id)
    owner = people.auth("owner@acme")
    answer = _start(web, store, kind, owner)
    assert answer.status_code == 202
    job = answer.get_json()["job"]
    assert (job["kind"], job["status"], job["integration_id"]) == (kind, "queued", store.id)
    assert job["progress"] == {}
    assert answer.headers["Location"] == f"/api/integrations/{store.id}/jobs/{job['id']}"
    read = web.get(answer.headers["Location"], headers=owner)
    assert (read.status_code, read.get_json()["job"]) == (200, job)


def test_asking_again_while_the_job_is_pending_returns_the_same_job(
    services: Services, web: FlaskClient, people: People
) -> None:
    store = _store(services, people.acme.id)
    first = _start(web, store, "order_sync", people.auth("owner@acme")).get_json()["job"]
    again = _start(web, store, "order_sync", people.auth("staff@3pl"))
    assert (again.status_code, again.get_json()["job"]["id"]) == (202, first["id"])
    listed = web.get(f"/api/integrations/{store.id}/jobs", headers=people.auth("owner@acme"))
    assert [j["id"] for j in listed.get_json()["jobs"]] == [first["id"]]


def test_a_running_jobs_counts_are_readable_as_they_move_and_the_end_says_why(
    services: Services, web: FlaskClient, people: People
) -> None:
    store = _store(services, people.acme.id)
    member = people.auth("member@acme")
    started = _start(web, store, "order_sync", people.auth("owner@acme"))
    location = started.headers["Location"]
    seen: list[tuple[str, dict[str, int]]] = []

    def sync(job: Job, progress: Progress) -> JobOutcome:
        for read in (1, 2):
            progress({"read": read, "imported": read})
            now = web.get(location, headers=member).get_json()["job"]
            seen.append((now["status"], now["progress"]))
        raise PlatformUnavailable("Shopify answered 503", operation="Orders")

    worker = Worker(services.ctx, Handlers(jobs={"order_sync": sync}), worker_id="test")
    worker.drain()
    assert seen[0] == ("running", {"read": 1, "imported": 1})
    assert seen[1][0] == "running"  # the second count may wait for the next write
    job = web.get(location, headers=member).get_json()["job"]
    assert (job["status"], job["attempts"]) == ("failed", 1)
    assert job["error"] == "platform_unavailable: Shopify answered 503"
    assert job["started_at"] is not None
    assert job["finished_at"] is not None


def test_jobs_are_listed_newest_first_and_by_kind(
    services: Services, web: FlaskClient, people: People
) -> None:
    store = _store(services, people.acme.id)
    owner = people.auth("owner@acme")
    ids = {}
    for kind in ("order_sync", "inventory_push"):
        services.ctx.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
        ids[kind] = _start(web, store, kind, owner).get_json()["job"]["id"]
    base = f"/api/integrations/{store.id}/jobs"
    everything = web.get(base, headers=owner).get_json()["jobs"]
    assert [j["id"] for j in everything] == [ids["inventory_push"], ids["order_sync"]]
    pushes = web.get(base, query_string={"kind": "inventory_push"}, headers=owner).get_json()
    assert [j["id"] for j in pushes["jobs"]] == [ids["inventory_push"]]
    for bad in ({"kind": "reindex"}, {"limit": "0"}, {"limit": "many"}):
        refused = web.get(base, query_string=bad, headers=owner)
        assert (refused.status_code, refused.get_json()["error"]) == (400, "invalid_query")


def test_another_clients_store_and_its_jobs_are_404_and_members_may_only_read(
    services: Services, web: FlaskClient, people: People
) -> None:
    store = _store(services, people.acme.id)
    job = _start(web, store, "order_sync", people.auth("owner@acme")).get_json()["job"]
    outsider = people.auth("owner@globex")
    for path in (
        f"/api/integrations/{store.id}/jobs",
        f"/api/integrations/{store.id}/jobs/{job['id']}",
    ):
        answer = web.get(path, headers=outsider)
        assert answer.status_code == 404
        assert "acme" not in answer.get_data(as_text=True)
    for kind in STARTS:
        assert _start(web, store, kind, outsider).status_code == 404
        refused = _start(web, store, kind, people.auth("member@acme"))
        assert (refused.status_code, refused.get_json()["error"]) == (403, "forbidden")
    globex = _store(services, people.globex.id)
    elsewhere = web.get(f"/api/integrations/{globex.id}/jobs/{job['id']}", headers=outsider)
    assert elsewhere.status_code == 404  # a job is read through its own store only
    assert web.get(f"/api/integrations/{store.id}/jobs/{job['id']}").status_code == 401


def test_a_store_that_is_not_connected_gets_409_and_no_job(
    services: Services, web: FlaskClient, people: People
) -> None:
    store = _store(services, people.acme.id, connected=False)
    owner = people.auth("owner@acme")
    for kind in STARTS:
        answer = _start(web, store, kind, owner)
        assert (answer.status_code, answer.get_json()["error"]) == (
            409,
            "integration_not_connected",
        )
    assert web.get(f"/api/integrations/{store.id}/jobs", headers=owner).get_json() == {"jobs": []}
