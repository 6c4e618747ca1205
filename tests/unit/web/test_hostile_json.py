"""Hostile JSON bodies are a 400 with a readable message on every route, never a 500.

One strict parser reads every request body: nesting deeper than 64, NUL characters and lone
surrogates in strings, numbers that are not finite or too large, and bytes that are not UTF-8
are refused. Webhooks are parsed only after their signature is checked, and a signed but
hostile delivery is refused with 400 and not stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from core.model import Integration
from core.text import storable_json
from entrypoints.bootstrap import Services
from entrypoints.web.errors import ApiError
from entrypoints.web.strict_json import MAX_DEPTH, loads
from tests.unit.web.conftest import People, sign_in

APP_SECRET = "sandbox-client-secret"  # the webhook signing secret of the test settings

HOSTILE: dict[str, bytes] = {
    "nested 10,000 deep": b"[" * 10_000 + b"]" * 10_000,
    "objects nested 10,000 deep": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "unclosed nesting": b"[" * 100_000,
    "nested one level too deep": b'{"a":' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}",
    "lone high surrogate": b'{"name": "\\ud800"}',
    "lone low surrogate": b'{"name": "x\\udc00y"}',
    "lone surrogate in a key": b'{"\\udbff": 1}',
    "NUL character": b'{"name": "a\\u0000b"}',
    "NUL in a key": b'{"\\u0000": 1}',
    "number overflowing to infinity": b'{"quantity": 1e400}',
    "NaN": b'{"quantity": NaN}',
    "Infinity": b'{"quantity": Infinity}',
    "minus Infinity": b'{"quantity": -Infinity}',
    "an integer of 5,000 digits": b'{"quantity": ' + b"9" * 5000 + b"}",
    "an integer of 20 digits": b'{"quantity": 99999999999999999999}',
    "invalid UTF-8": b'{"name": "\xff\xfe"}',
    "a truncated UTF-8 sequence": b'{"name": "\xe2\x82"}',
    "UTF-16": '{"name": "x"}'.encode("utf-16"),
    "not JSON": b"{'name': 1}",
    "empty": b"",
    "trailing garbage": b'{"name": "x"} {}',
    "an unterminated string full of escaped quotes": b'["' + b'\\"' * 50_000,
}


# --- the parser itself --------------------------------------------------------------------------


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_the_strict_parser_refuses_hostile_bodies_with_a_message(body: bytes) -> None:
    with pytest.raises(ApiError) as refused:
        loads(body)
    assert (refused.value.status, refused.value.code) == (400, "invalid_json")
    assert refused.value.message
    assert len(refused.value.message) < 200  # says what is wrong, does not echo the body


def test_the_strict_parser_reads_ordinary_json() -> None:
    body = (
        '{"name": "Caf\\u00e9 \\ud83d\\ude00 \u2603", "n": -12, "big": 9223372036854775807,'
        ' "price": 12.5, "small": 1e-300, "ok": true, "none": null, "list": [1, [2, {}]]}'
    )
    assert loads(body.encode()) == {
        "name": "Café 😀 ☃",
        "n": -12,
        "big": 9223372036854775807,
        "price": 12.5,
        "small": 1e-300,
        "ok": True,
        "none": None,
        "list": [1, [2, {}]],
    }


def test_nesting_up_to_the_limit_is_fine_and_brackets_in_strings_do_not_count() -> None:
    deep = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert loads(deep.encode()) is not None
    brackets = '{"text": "' + "[{" * 1000 + '\\"[", "more": ["]]]}}"]}'
    assert loads(brackets.encode())["more"] == ["]]]}}"]


def test_flask_get_json_goes_through_the_strict_parser(app: Flask) -> None:
    with app.test_request_context(
        "/", method="POST", data=HOSTILE["nested 10,000 deep"], content_type="application/json"
    ):
        with pytest.raises(ApiError) as refused:
            request.get_json()  # noqa: TID251 - the ban's safety net is what is tested
        assert refused.value.status == 400


# --- every JSON route ---------------------------------------------------------------------------


def _signed(body: bytes) -> str:
    return base64.b64encode(hmac.new(APP_SECRET.encode(), body, hashlib.sha256).digest()).decode()


def _store(services: Services, client_id: str) -> Integration:
    now = services.ctx.clock.now()
    integration = Integration(
        id=services.ctx.ids.new_id(),
        client_id=client_id,
        platform="shopify",
        shop_domain="acme.myshopify.com",
        created_at=now,
        updated_at=now,
        status="active",
    )
    with services.ctx.uow() as uow:
        uow.integrations.add(integration)
        uow.commit()
    return integration


def _json_routes(app: Flask, integration_id: str) -> list[tuple[str, str]]:
    """``(method, path)`` of every route under /api that takes a body. Webhook routes name an
    existing store (so signed deliveries get as far as parsing); the others made-up ids (so
    nothing calls out to a store: views parse their body before they look anything up)."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        webhook = rule.rule.startswith("/api/webhooks/")
        values = {
            name: "shopify" if name == "platform" else integration_id if webhook else "no-such-id"
            for name in rule.arguments
        }
        path = rule.build(values)[1]  # type: ignore[index]
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
            found.append((method, path))
    # signing out everywhere last, so the session caller stays signed in until then
    return sorted(found, key=lambda route: route[1] == "/api/me/sessions")


def _callers(app: Flask, people: People) -> dict[str, tuple[FlaskClient, dict[str, str]]]:
    anonymous = app.test_client()
    browser = app.test_client()
    assert sign_in(browser, "staff@3pl.test").status_code == 302
    csrf = browser.get("/api/me").get_json()["csrf_token"]
    # the session first: a token caller's DELETE /api/me/sessions ends its user's sessions
    return {
        "staff session": (browser, {"X-CSRF-Token": csrf}),
        "anonymous": (anonymous, {}),
        "staff token": (app.test_client(), people.auth("staff@3pl")),
        "owner token": (app.test_client(), people.auth("owner@acme")),
    }


def test_every_json_route_answers_hostile_bodies_without_a_500(
    app: Flask, services: Services, people: People
) -> None:
    store = _store(services, people.acme.id)
    routes = _json_routes(app, store.id)
    assert ("PATCH", "/api/integrations/no-such-id") in routes
    assert ("POST", f"/api/webhooks/shopify/{store.id}") in routes
    assert ("POST", "/api/warehouses") in routes
    problems = []
    for who, (client, auth) in _callers(app, people).items():
        for method, path in routes:
            for name, body in HOSTILE.items():
                headers = {
                    **auth,
                    "X-Shopify-Hmac-Sha256": _signed(body),
                    "X-Shopify-Topic": "orders/create",
                    "X-Shopify-Shop-Domain": store.shop_domain,
                    "X-Shopify-Webhook-Id": f"hostile-{name}",
                }
                response = client.open(
                    path, method=method, data=body, headers=headers, content_type="application/json"
                )
                answer = response.get_json(silent=True)
                if response.status_code >= 500 or (
                    response.status_code >= 400
                    and not (isinstance(answer, dict) and {"error", "message"} <= answer.keys())
                ):
                    problems.append(f"{who} {method} {path} with {name}: {response.status_code}")
    assert problems == []
    with services.ctx.uow() as uow:
        stored = uow.inbox.list()
    # Only the store's own text may be odd: a signed delivery whose strings hold NUL or a lone
    # surrogate is stored, made storable; every other hostile body was refused.
    assert {event.delivery_id for event in stored} <= {f"hostile-{name}" for name in STORE_TEXT}
    for event in stored:
        assert storable_json(event.payload) == event.payload


def _deliver_signed(web: FlaskClient, store: Integration, body: bytes) -> TestResponse:
    """``body`` as the store would send it to ``store``'s webhook address, correctly signed."""
    return web.post(
        f"/api/webhooks/shopify/{store.id}",
        data=body,
        headers={
            "X-Shopify-Hmac-Sha256": _signed(body),
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": store.shop_domain,
            "X-Shopify-Webhook-Id": "d-1",
        },
        content_type="application/json",
    )


@pytest.mark.parametrize(
    "name",
    [
        "nested 10,000 deep",
        "objects nested 10,000 deep",
        "number overflowing to infinity",
        "an integer of 5,000 digits",
        "invalid UTF-8",
    ],
)
def test_a_signed_hostile_webhook_is_400_and_not_stored(
    web: FlaskClient, services: Services, people: People, name: str
) -> None:
    response = _deliver_signed(web, _store(services, people.acme.id), HOSTILE[name])
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_json"
    with services.ctx.uow() as uow:
        assert uow.inbox.list() == []


STORE_TEXT = (
    "lone high surrogate",
    "lone low surrogate",
    "lone surrogate in a key",
    "NUL character",
    "NUL in a key",
)


@pytest.mark.parametrize("name", STORE_TEXT)
def test_a_signed_webhook_whose_text_holds_nul_or_a_lone_surrogate_is_stored_storable(
    web: FlaskClient, services: Services, people: People, name: str
) -> None:
    """A customer's note is the store's to send: refusing it would refuse the order for ever."""
    response = _deliver_signed(web, _store(services, people.acme.id), HOSTILE[name])
    assert response.status_code == 200, response.get_json()
    with services.ctx.uow() as uow:
        [event] = uow.inbox.list()
    assert "\\u0000" not in json.dumps(event.payload)
    assert storable_json(event.payload) == event.payload


def test_an_unsigned_hostile_webhook_is_401_before_it_is_parsed(
    web: FlaskClient, services: Services, people: People
) -> None:
    store = _store(services, people.acme.id)
    response = web.post(
        f"/api/webhooks/shopify/{store.id}",
        data=HOSTILE["nested 10,000 deep"],
        headers={"X-Shopify-Hmac-Sha256": _signed(b"something else")},
        content_type="application/json",
    )
    assert response.status_code == 401


def test_a_hostile_body_to_an_api_route_says_what_is_wrong(
    web: FlaskClient, people: People
) -> None:
    for name, pattern in [
        ("nested 10,000 deep", r"nested more than 64"),
        ("lone high surrogate", r"surrogate"),
        ("NUL character", r"NUL"),
        ("number overflowing to infinity", r"finite|large"),
        ("invalid UTF-8", r"UTF-8"),
    ]:
        answer: Any = web.post(
            "/api/warehouses",
            data=HOSTILE[name],
            headers=people.auth("staff@3pl"),
            content_type="application/json",
        )
        assert answer.status_code == 400, name
        body = answer.get_json()
        assert body["error"] == "invalid_json"
        assert re.search(pattern, body["message"]), (name, body["message"])
