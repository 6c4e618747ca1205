"""Connecting stores and receiving webhooks are the doors attackers knock on: every check
refuses bad input with the right answer and saves nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import pytest
from flask.testing import FlaskClient

from adapters.crypto import generate_key_spec
from adapters.memory import MemoryDatabase, MemoryUnitOfWork
from adapters.passwords import TEST_PARAMETERS, Argon2PasswordHasher
from adapters.ratelimit import LimitsRateLimiter
from adapters.shopify import ShopifyConfig, ShopifyPlatform, sign_callback
from adapters.system import ManualClock, UuidIdGenerator
from core.model import Integration
from core.ports import Rate, RateLimitDecision, RateLimiter
from core.services import SYSTEM, tenancy
from core.services.integrations import seal
from core.store import Credentials
from entrypoints.bootstrap import Services, bootstrap
from entrypoints.settings import Settings
from entrypoints.web import create_app, webhooks

SECRET = "app-secret-for-tests"
SHOP = "acme.myshopify.com"
PORTAL = "/portal/settings/integrations"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    db = MemoryDatabase()
    settings = Settings(
        data_dir=tmp_path,
        secret_key="k" * 40,
        token_encryption_keys=generate_key_spec("k1"),
        shopify_client_id="client-id",
        shopify_client_secret=SECRET,
        shopify_shop_url_template="http://127.0.0.1:9/store/{shop}",  # nothing listens there
    )
    clock = ManualClock(start=datetime.now(UTC))
    limiter = LimitsRateLimiter("memory://", prefix="sec")
    shopify = ShopifyPlatform(  # no retries: the unreachable store should fail at once
        config=ShopifyConfig(
            client_id="client-id",
            client_secret=SECRET,
            max_retries=0,
            shop_url_template=settings.shopify_shop_url_template,
        ),
        rate_limiter=limiter,
        clock=clock,
    )
    built = bootstrap(
        settings,
        uow=lambda: MemoryUnitOfWork(db),
        clock=clock,
        ids=UuidIdGenerator(),
        passwords=Argon2PasswordHasher(parameters=TEST_PARAMETERS),
        rate_limiter=limiter,
        platforms={"shopify": shopify},
    )
    built.on_close(shopify.close)
    yield built
    built.close()


@pytest.fixture
def web(services: Services) -> FlaskClient:
    return create_app(services, {"TESTING": True}).test_client()


@pytest.fixture
def tokens(services: Services) -> dict[str, str]:
    ctx = services.ctx
    acme = tenancy.create_client(ctx, SYSTEM, name="Acme")
    globex = tenancy.create_client(ctx, SYSTEM, name="Globex")
    out = {}
    for who, client, role in [
        ("owner", acme, "owner"),
        ("member", acme, "member"),
        ("globex", globex, "owner"),
    ]:
        email = f"{who}@x.test"
        tenancy.create_user(
            ctx,
            services.passwords,
            SYSTEM,
            email=email,
            password="password-123",
            client_id=client.id,
            role=role,
        )
        out[who] = tenancy.create_api_token(ctx, email=email)[1]
    out["acme_id"] = acme.id
    return out


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _integrations(services: Services) -> list[Integration]:
    with services.ctx.uow() as uow:
        return uow.integrations.list()


# --- starting a connection ----------------------------------------------------------------


@pytest.mark.parametrize(
    "shop",
    [
        "evil.com",
        "a.myshopify.com.evil.com",
        "127.0.0.1",
        "-a.myshopify.com",
        "a.myshopify.com/../x",
        "a%00.myshopify.com",
        "a\x00.myshopify.com",
        "",
        "a" * 300,
        "https://a.myshopify.com",
        "a.myshopify.com:443",
        "a..myshopify.com",
    ],
)
def test_a_shop_that_is_not_a_myshopify_domain_is_refused(
    web: FlaskClient, tokens: dict[str, str], shop: str
) -> None:
    response = web.get(
        "/api/integrations/shopify/auth",
        query_string={"shop": shop},
        headers=_bearer(tokens["owner"]),
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_shop"
    assert "Set-Cookie" not in response.headers


def test_an_owner_is_sent_to_the_consent_page_with_a_nonce_in_state_and_a_hardened_cookie(
    web: FlaskClient, tokens: dict[str, str]
) -> None:
    response = web.get(
        "/api/integrations/shopify/auth",
        query_string={"shop": "Acme"},
        headers=_bearer(tokens["owner"]),
    )
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert target.path == f"/store/{SHOP}/admin/oauth/authorize"
    query = parse_qs(target.query)
    assert query["client_id"] == ["client-id"]
    assert query["redirect_uri"] == ["http://127.0.0.1:8000/api/integrations/shopify/callback"]
    assert len(query["state"][0]) >= 24
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("storelink_oauth=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert query["state"][0] not in cookie  # the nonce travels signed, not readable


def test_a_member_cannot_connect_a_store(web: FlaskClient, tokens: dict[str, str]) -> None:
    response = web.get(
        "/api/integrations/shopify/auth",
        query_string={"shop": "acme"},
        headers=_bearer(tokens["member"]),
    )
    assert response.status_code == 403


def test_starting_a_connection_needs_a_signed_in_user(web: FlaskClient) -> None:
    assert web.get("/api/integrations/shopify/auth?shop=acme").status_code == 401


# --- the callback --------------------------------------------------------------------------


def _start(web: FlaskClient, tokens: dict[str, str]) -> str:
    response = web.get(
        "/api/integrations/shopify/auth",
        query_string={"shop": "acme"},
        headers=_bearer(tokens["owner"]),
    )
    return parse_qs(urlsplit(response.headers["Location"]).query)["state"][0]


def _signed(params: dict[str, str], secret: str = SECRET) -> dict[str, str]:
    return {**params, "hmac": sign_callback(params, secret)}


def _callback(web: FlaskClient, params: dict[str, str]) -> str:
    response = web.get("/api/integrations/shopify/callback", query_string=params)
    assert response.status_code == 302
    return response.headers["Location"]


def _good(state: str, **override: str) -> dict[str, str]:
    params = {
        "code": "abc123",
        "host": "YWNtZQ",
        "shop": SHOP,
        "state": state,
        "timestamp": str(int(time.time())),
    }
    return {**params, **override}


def test_a_callback_without_its_parameters_is_refused(
    web: FlaskClient, tokens: dict[str, str], services: Services
) -> None:
    state = _start(web, tokens)
    assert _callback(web, {"shop": SHOP, "state": state}) == f"{PORTAL}?error=missing_params"
    assert _integrations(services) == []


def test_a_tampered_callback_is_refused_and_nothing_saved(
    web: FlaskClient, tokens: dict[str, str], services: Services
) -> None:
    state = _start(web, tokens)
    signed = _signed(_good(state))
    for tampered in (
        {**signed, "shop": "other.myshopify.com"},
        {**signed, "code": "changed"},
        {**signed, "hmac": "0" * 64},
        _signed(_good(state), secret="another-apps-secret"),
        {k: v for k, v in signed.items() if k != "hmac"},
    ):
        location = _callback(web, tampered)
        assert location in (f"{PORTAL}?error=invalid_hmac", f"{PORTAL}?error=missing_params")
    assert _integrations(services) == []


def test_a_stale_callback_is_refused(
    web: FlaskClient, tokens: dict[str, str], services: Services
) -> None:
    state = _start(web, tokens)
    old = _signed(_good(state, timestamp=str(int(time.time()) - 3600)))
    assert _callback(web, old) == f"{PORTAL}?error=invalid_hmac"
    assert _integrations(services) == []


def test_a_callback_without_the_nonce_cookie_or_with_another_state_is_refused(
    web: FlaskClient, tokens: dict[str, str], services: Services
) -> None:
    state = _start(web, tokens)
    assert _callback(web, _signed(_good("not-the-nonce"))) == f"{PORTAL}?error=invalid_state"
    web.delete_cookie("storelink_oauth", path="/api/integrations/shopify/callback")
    assert _callback(web, _signed(_good(state))) == f"{PORTAL}?error=invalid_state"
    assert _integrations(services) == []


def test_a_replayed_callback_is_refused(
    web: FlaskClient, tokens: dict[str, str], services: Services
) -> None:
    state = _start(web, tokens)
    cookie = web.get_cookie("storelink_oauth", path="/api/integrations/shopify/callback")
    assert cookie is not None
    params = _signed(_good(state))
    # the first use reaches the code exchange (no store listens here, so it fails there)
    assert _callback(web, params) == f"{PORTAL}?error=token_exchange_failed"
    web.set_cookie("storelink_oauth", cookie.value, path="/api/integrations/shopify/callback")
    assert _callback(web, params) == f"{PORTAL}?error=invalid_state"
    assert _integrations(services) == []


# --- webhooks --------------------------------------------------------------------------------


def _integration(services: Services, client_id: str, shop: str = SHOP) -> Integration:
    now = services.ctx.clock.now()
    integration = Integration(
        id=services.ctx.ids.new_id(),
        client_id=client_id,
        platform="shopify",
        shop_domain=shop,
        created_at=now,
        updated_at=now,
        status="active",
    )
    integration.credentials = seal(services.cipher, integration.id, Credentials("shpat_x"))
    with services.ctx.uow() as uow:
        uow.integrations.add(integration)
        uow.commit()
    return integration


BODY = json.dumps({"id": 450789469, "line_items": [{"id": 1, "quantity": 1}]}).encode()


def _sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _deliver(
    web: FlaskClient,
    path: str,
    body: bytes = BODY,
    *,
    signature: str | None = "ok",
    shop: str = SHOP,
    webhook_id: str = "d-1",
    topic: str = "orders/create",
) -> Any:
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Webhook-Id": webhook_id,
        "Content-Type": "application/json",
    }
    if signature is not None:
        headers["X-Shopify-Hmac-Sha256"] = _sign(body) if signature == "ok" else signature
    return web.post(path, data=body, headers=headers)


def _inbox(services: Services) -> list[str]:
    with services.ctx.uow() as uow:
        return [e.delivery_id for e in uow.inbox.list()]


def test_a_webhook_with_a_bad_missing_or_foreign_signature_is_401_before_any_lookup(
    web: FlaskClient, services: Services
) -> None:
    for signature in (None, "", "bm90IGEgc2lnbmF0dXJl", _sign(BODY, "another-apps-secret")):
        # an unknown integration id: the signature is refused before we would notice
        response = _deliver(web, "/api/webhooks/shopify/no-such-integration", signature=signature)
        assert response.status_code == 401
        assert response.get_json()["error"] == "invalid_hmac"
    assert _inbox(services) == []


def test_a_signed_delivery_is_stored_once_however_often_it_repeats(
    web: FlaskClient, services: Services, tokens: dict[str, str]
) -> None:
    integration = _integration(services, tokens["acme_id"])
    path = f"/api/webhooks/shopify/{integration.id}"
    assert _deliver(web, path).get_json() == {"status": "stored"}
    assert _deliver(web, path).get_json() == {"status": "duplicate"}
    assert _inbox(services) == ["d-1"]


def test_a_delivery_for_another_shop_than_the_integrations_is_refused(
    web: FlaskClient, services: Services, tokens: dict[str, str]
) -> None:
    integration = _integration(services, tokens["acme_id"])
    response = _deliver(web, f"/api/webhooks/shopify/{integration.id}", shop="other.myshopify.com")
    assert response.status_code == 401
    assert response.get_json()["error"] == "shop_mismatch"
    assert _inbox(services) == []


def test_signed_but_broken_deliveries_are_400_and_not_stored(
    web: FlaskClient, services: Services, tokens: dict[str, str]
) -> None:
    integration = _integration(services, tokens["acme_id"])
    path = f"/api/webhooks/shopify/{integration.id}"
    assert _deliver(web, path, b"not json").status_code == 400
    assert _deliver(web, path, b"[1, 2]").status_code == 400
    no_id = web.post(
        path,
        data=BODY,
        headers={
            "X-Shopify-Hmac-Sha256": _sign(BODY),
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": SHOP,
        },
    )
    assert (no_id.status_code, no_id.get_json()["error"]) == (400, "missing_header")
    assert _inbox(services) == []


def test_a_delivery_over_five_mebibytes_is_413(
    web: FlaskClient, services: Services, tokens: dict[str, str]
) -> None:
    integration = _integration(services, tokens["acme_id"])
    big = b'{"id": 1, "pad": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    response = _deliver(web, f"/api/webhooks/shopify/{integration.id}", big)
    assert response.status_code == 413
    assert _inbox(services) == []


def test_repeated_bad_signatures_from_one_address_are_throttled(web: FlaskClient) -> None:
    codes = [
        _deliver(web, "/api/webhooks/shopify/x", signature="bad").status_code
        for _ in range(webhooks.BAD_SIGNATURES.amount + 2)
    ]
    assert codes[0] == 401
    assert codes[-1] == 429


def test_a_flood_of_valid_deliveries_is_answered_429_with_retry_after(
    web: FlaskClient,
    services: Services,
    tokens: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from core.ports import Rate

    monkeypatch.setattr(webhooks, "DELIVERIES", Rate(3, 60))
    integration = _integration(services, tokens["acme_id"])
    path = f"/api/webhooks/shopify/{integration.id}"
    answers = [_deliver(web, path, webhook_id=f"d-{n}") for n in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert len(_inbox(services)) == 3


def test_a_valid_delivery_is_stored_even_from_an_address_refused_for_bad_signatures(
    web: FlaskClient, services: Services, tokens: dict[str, str]
) -> None:
    # Whoever shares (or spoofs) the store's address cannot lock its deliveries out: only
    # failed checks are counted, and a valid signature is never refused by that count.
    integration = _integration(services, tokens["acme_id"])
    path = f"/api/webhooks/shopify/{integration.id}"
    bad = [
        _deliver(web, path, signature="bad").status_code
        for _ in range(webhooks.BAD_SIGNATURES.amount + 1)
    ]
    assert bad[-1] == 429

    assert _deliver(web, path).get_json() == {"status": "stored"}
    assert _deliver(web, path, signature="bad").status_code == 429  # still counted
    assert _inbox(services) == ["d-1"]


class _Recording:
    """A rate limiter that notes every key it is asked about."""

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter
        self.keys: list[str] = []

    def acquire(self, key: str, rate: Rate, cost: int = 1) -> RateLimitDecision:
        self.keys.append(key)
        return self.limiter.acquire(key, rate, cost)

    def peek(self, key: str, rate: Rate, cost: int = 1) -> RateLimitDecision:
        self.keys.append(key)
        return self.limiter.peek(key, rate, cost)

    def reset(self, key: str, rate: Rate) -> None:
        self.keys.append(key)
        self.limiter.reset(key, rate)


def test_a_valid_delivery_asks_the_limiter_about_its_store_only(
    web: FlaskClient, services: Services, tokens: dict[str, str]
) -> None:
    # one round trip to a shared limiter a delivery (its store's budget), none for the
    # bad-signature budget, which only failures spend
    recording = services.webhook_limiter = _Recording(services.webhook_limiter)
    integration = _integration(services, tokens["acme_id"])
    path = f"/api/webhooks/shopify/{integration.id}"
    for n in range(webhooks.BAD_SIGNATURES.amount + 5):
        assert _deliver(web, path, webhook_id=f"d-{n}").status_code == 200
    assert set(recording.keys) == {f"webhook:{integration.id}"}
    assert len(recording.keys) == webhooks.BAD_SIGNATURES.amount + 5

    assert _deliver(web, path, signature="bad").status_code == 401
    assert recording.keys[-1] == "webhook-bad-hmac:127.0.0.1"


def _rename_shop(services: Services, integration: Integration, shop: str) -> None:
    with services.ctx.uow() as uow:
        stored = uow.integrations.get(integration.id)
        assert stored is not None
        stored.shop_domain = shop
        uow.integrations.update(stored)
        uow.commit()


def test_an_integrations_shop_is_read_again_once_the_process_copy_is_older_than_its_ttl(
    web: FlaskClient, services: Services, tokens: dict[str, str]
) -> None:
    from core.services.webhooks import SHOPS_TTL

    clock = services.ctx.clock
    assert isinstance(clock, ManualClock)
    integration = _integration(services, tokens["acme_id"])
    path = f"/api/webhooks/shopify/{integration.id}"
    assert _deliver(web, path, webhook_id="d-1").status_code == 200
    foreign = _deliver(web, path, webhook_id="d-2", shop="other.myshopify.com")
    assert (foreign.status_code, foreign.get_json()["error"]) == (401, "shop_mismatch")

    # Nothing renames an integration's shop; were something to, the copy would serve the old
    # shop for at most the TTL.
    _rename_shop(services, integration, "renamed.myshopify.com")
    clock.advance(SHOPS_TTL / 2)
    assert _deliver(web, path, webhook_id="d-3").status_code == 200
    clock.advance(SHOPS_TTL / 2)
    assert _deliver(web, path, webhook_id="d-4").status_code == 401
    renamed = _deliver(web, path, webhook_id="d-5", shop="renamed.myshopify.com")
    assert renamed.status_code == 200
    assert _inbox(services) == ["d-5", "d-3", "d-1"]


def test_an_integration_unknown_at_first_is_served_as_soon_as_it_exists(
    web: FlaskClient, services: Services, tokens: dict[str, str]
) -> None:
    now = services.ctx.clock.now()
    integration = Integration(
        id=services.ctx.ids.new_id(),
        client_id=tokens["acme_id"],
        platform="shopify",
        shop_domain=SHOP,
        created_at=now,
        updated_at=now,
        status="active",
    )
    path = f"/api/webhooks/shopify/{integration.id}"
    assert _deliver(web, path).status_code == 404  # not held: only found integrations are

    with services.ctx.uow() as uow:
        uow.integrations.add(integration)
        uow.commit()
    assert _deliver(web, path).get_json() == {"status": "stored"}


def test_a_disconnected_stores_deliveries_are_stored_and_skipped_by_the_worker(
    web: FlaskClient, services: Services, tokens: dict[str, str]
) -> None:
    # Ingest never looked at the status, and the process's copy holds none: what decides is
    # the worker, which reads the integration when it handles the event.
    from core.services.integrations import erase
    from core.services.worker import Worker

    integration = _integration(services, tokens["acme_id"])
    path = f"/api/webhooks/shopify/{integration.id}"
    assert _deliver(web, path, webhook_id="before").status_code == 200  # the copy is warm
    with services.ctx.uow() as uow:
        stored = uow.integrations.get(integration.id)
        assert stored is not None
        erase(stored, services.ctx.clock.now())
        uow.integrations.update(stored)
        uow.commit()
    with services.ctx.uow() as uow:  # the order of "before" never reached the store: drop it
        (before,) = uow.inbox.list()
        uow.inbox.update(attrs.evolve(before, status="processed"))
        uow.commit()

    assert _deliver(web, path, webhook_id="after").get_json() == {"status": "stored"}
    report = Worker(services.ctx, services.handlers, worker_id="test").drain()

    assert (report.processed, report.skipped) == (0, 1)
    with services.ctx.uow() as uow:
        after = next(e for e in uow.inbox.list() if e.delivery_id == "after")
    assert (after.status, after.error) == ("skipped", "the store is disconnected")


def test_app_level_compliance_deliveries_are_matched_by_shop(
    web: FlaskClient, services: Services, tokens: dict[str, str]
) -> None:
    integration = _integration(services, tokens["acme_id"])
    body = json.dumps({"shop_id": 1, "shop_domain": SHOP}).encode()
    response = _deliver(web, "/api/webhooks/shopify", body, topic="shop/redact", webhook_id="c-1")
    assert response.get_json() == {"status": "stored"}
    with services.ctx.uow() as uow:
        (event,) = uow.inbox.list()
    assert (event.topic, event.integration_id) == ("shop/redact", integration.id)


# --- tenant isolation --------------------------------------------------------------------------


def test_another_clients_integration_and_everything_under_it_is_404(
    web: FlaskClient, services: Services, tokens: dict[str, str]
) -> None:
    integration = _integration(services, tokens["acme_id"])
    base = f"/api/integrations/shopify/{integration.id}"
    outsider = _bearer(tokens["globex"])
    for method, path, body in [
        ("GET", f"/api/integrations/{integration.id}", None),
        ("PATCH", f"/api/integrations/{integration.id}", {"inventory_buffer": 1}),
        ("DELETE", base, None),
        ("GET", f"{base}/products", None),
        ("POST", f"{base}/mappings", {"external_variant_id": "1", "product_id": "x"}),
        ("POST", f"{base}/mappings/auto", None),
        ("DELETE", f"{base}/mappings/some-id", None),
        ("GET", f"{base}/locations", None),
        ("PUT", f"{base}/locations/1", {"warehouse_id": None}),
        ("POST", f"{base}/sync-orders", None),
        ("POST", f"{base}/sync-inventory", None),
        ("GET", f"/api/integrations/{integration.id}/events", None),
        ("POST", f"/api/integrations/{integration.id}/events/e/retry", None),
    ]:
        response = web.open(path, method=method, json=body, headers=outsider)
        assert response.status_code == 404, (method, path, response.get_json())
    assert web.get("/api/integrations", headers=outsider).get_json() == {"integrations": []}
    assert [i.status for i in _integrations(services)] == ["active"]


def test_a_member_sees_the_integration_but_cannot_change_or_disconnect_it(
    web: FlaskClient, services: Services, tokens: dict[str, str]
) -> None:
    integration = _integration(services, tokens["acme_id"])
    member = _bearer(tokens["member"])
    assert web.get(f"/api/integrations/{integration.id}", headers=member).status_code == 200
    assert (
        web.delete(f"/api/integrations/shopify/{integration.id}", headers=member).status_code == 403
    )
    assert (
        web.patch(
            f"/api/integrations/{integration.id}", json={"inventory_buffer": 1}, headers=member
        ).status_code
        == 403
    )
    assert [i.status for i in _integrations(services)] == ["active"]


def test_settings_changes_are_validated_and_never_half_applied(
    web: FlaskClient, services: Services, tokens: dict[str, str]
) -> None:
    integration = _integration(services, tokens["acme_id"])
    owner = _bearer(tokens["owner"])
    path = f"/api/integrations/{integration.id}"
    for body in (
        {"inventory_buffer": "2"},
        {"nope": 1},
        {"inventory_buffer": -1},
        {"inventory_buffer": 3, "auto_import_orders": "no"},
        {"sync_inventory_interval_minutes": 1},
    ):
        response = web.patch(path, json=body, headers=owner)
        assert response.status_code == 422, body
    assert web.get(path, headers=owner).get_json()["settings"]["inventory_buffer"] == 0
    ok = web.patch(path, json={"inventory_buffer": 3, "auto_import_orders": False}, headers=owner)
    assert ok.status_code == 200
    assert ok.get_json()["settings"]["inventory_buffer"] == 3
    assert "credentials" not in ok.get_json()
