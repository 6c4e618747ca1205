"""A signed store body that shows it meets every rule but the syntax is parsed by the inbox.

Nearly every order goes so (``strict_json.parse_elsewhere``): the web layer does not decode it,
the inbox stores it as it came, and its storage parses it (PostgreSQL's ``jsonb``, or the
memory adapter's ``json.loads``). What the storage finds is no JSON is then answered as the
strict parser answers it, 400 with its reason, and nothing is stored; what the storage cannot
hold but the strict parser reads is stored as the parser read it. Each test runs with the app on
memory and on PostgreSQL (with its one-statement inbox writer).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from attrs import evolve
from flask.testing import FlaskClient

import tests.pg
from adapters.memory import MemoryDatabase, MemoryUnitOfWork
from adapters.passwords import TEST_PARAMETERS, Argon2PasswordHasher
from adapters.system import ManualClock, UuidIdGenerator
from core.model import Integration
from core.services import SYSTEM, tenancy
from entrypoints.bootstrap import Services, bootstrap
from entrypoints.settings import Settings
from entrypoints.web import create_app
from entrypoints.web.errors import ApiError
from entrypoints.web.strict_json import loads, parse_elsewhere

SECRET = "sandbox-client-secret"
SHOP = "acme.myshopify.com"


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.memory),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def services(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Services]:
    if request.param == "memory":
        db = MemoryDatabase()
        built = bootstrap(
            settings,
            uow=lambda: MemoryUnitOfWork(db),
            clock=ManualClock(),
            ids=UuidIdGenerator(),
            passwords=Argon2PasswordHasher(parameters=TEST_PARAMETERS),
        )
    else:
        database: tests.pg.ScratchDatabase = request.getfixturevalue("pg_database")
        database.reset()
        built = bootstrap(  # the database of the settings: PostgreSQL's own inbox writer
            evolve(settings, database_url=database.url),
            passwords=Argon2PasswordHasher(parameters=TEST_PARAMETERS),
            migrate=False,
        )
    yield built
    built.close()


@pytest.fixture
def store(services: Services) -> Integration:
    now = services.ctx.clock.now()
    integration = Integration(
        id=services.ctx.ids.new_id(),
        client_id=tenancy.create_client(services.ctx, SYSTEM, name="Acme").id,
        platform="shopify",
        shop_domain=SHOP,
        created_at=now,
        updated_at=now,
        status="active",
    )
    with services.ctx.uow() as uow:
        uow.integrations.add(integration)
        uow.commit()
    return integration


def deliver(web: FlaskClient, store: Integration, body: bytes) -> tuple[int, dict[str, str]]:
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest())
    response = web.post(
        f"/api/webhooks/shopify/{store.id}",
        data=body,
        headers={
            "X-Shopify-Hmac-Sha256": signature.decode(),
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-Webhook-Id": uuid.uuid4().hex,
        },
        content_type="application/json",
    )
    return response.status_code, response.get_json()


def stored(services: Services) -> list[dict[str, object]]:
    with services.ctx.uow() as uow:
        return [event.payload for event in uow.inbox.list()]


ORDER = (Path(__file__).parents[2] / "fixtures/shopify/rest-2026-07/order.json").read_text()


def test_an_order_goes_unparsed_and_is_stored_as_json_reads_it(
    services: Services, store: Integration
) -> None:
    body = json.dumps(json.loads(ORDER)[0]["response_body"]["orders"][0]).encode()
    assert parse_elsewhere(body)

    answer = deliver(create_app(services).test_client(), store, body)

    assert answer == (200, {"status": "stored"})
    assert stored(services) == [json.loads(body)]


@pytest.mark.parametrize(
    "body",
    [b'{"quantity": NaN}', b"{'name': 1}", b'{"name": "x"} {}', b'{"name": }', b'{"a": 1,}'],
    ids=["NaN", "single quotes", "trailing garbage", "no value", "trailing comma"],
)
def test_a_body_that_opens_like_an_object_but_is_no_json_is_400_with_the_parsers_reason(
    services: Services, store: Integration, body: bytes
) -> None:
    assert parse_elsewhere(body)  # nothing in its bytes gave it away
    with pytest.raises(ApiError) as parser:
        loads(body, store_text=True)

    status, answer = deliver(create_app(services).test_client(), store, body)

    assert (status, answer["error"], answer["message"]) == (
        400,
        "invalid_json",
        parser.value.message,
    )
    assert stored(services) == []


def test_what_only_the_storage_cannot_hold_is_stored_as_the_strict_parser_reads_it(
    services: Services, store: Integration
) -> None:
    # PostgreSQL's numeric cannot hold 1e-99999; Python reads it as 0.0
    body = b'{"id": 1, "tiny": 1e-99999}'
    assert parse_elsewhere(body)

    answer = deliver(create_app(services).test_client(), store, body)

    assert answer == (200, {"status": "stored"})
    assert stored(services) == [{"id": 1, "tiny": 0.0}]
