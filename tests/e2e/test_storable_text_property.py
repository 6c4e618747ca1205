"""Whatever a customer types into an order (U+0000, lone surrogates, any Unicode at all), the
order arrives: sandbox -> webhook -> inbox -> worker -> PostgreSQL, with its text stored as
``storable_text`` makes it, and nothing left failed or dead."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import tests.pg
from adapters.shopify.sandbox import SandboxServer
from core.model import Integration
from core.text import storable_text
from tests.e2e.conftest import Stack, _Dispatch, make_stack

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

SHOP = "text.myshopify.com"
AWKWARD = ["\x00", "\ud800", "\udbff", "\udc00", "\udfff", "\ud83d", "\ude00", "\ufffd", "\uffff"]

any_text = st.text(
    alphabet=st.one_of(st.characters(exclude_categories=()), st.sampled_from(AWKWARD)),
    max_size=12,
)
ADDRESS_FIELDS = ("first_name", "last_name", "company", "address1", "address2", "city", "zip")
texts = st.fixed_dictionaries(
    {
        "note": any_text,
        "email": any_text,
        "phone": any_text,
        "tags": st.lists(any_text, max_size=3),
        "shipping_method": any_text.filter(bool),
        "title": any_text,
        "sku": any_text,
        "address": st.fixed_dictionaries(dict.fromkeys(ADDRESS_FIELDS, any_text)),
    }
)


@pytest.fixture(scope="module")
def world(
    pg_database: tests.pg.ScratchDatabase,
    sandbox: SandboxServer,
    app_server: tuple[str, _Dispatch],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Stack, Integration]]:
    with make_stack(
        pg_database, sandbox, app_server, Path(tmp_path_factory.mktemp("text"))
    ) as stack:
        stack.shop("text")
        yield stack, stack.connect("text")


def _strings(value: object) -> Iterator[str]:
    """Every string inside an attrs object, a collection or a JSON value."""
    if isinstance(value, str):
        yield value
    elif attrs.has(type(value)):
        for name in attrs.fields_dict(type(value)):
            yield from _strings(getattr(value, name))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(given_texts=texts)
@example(
    given_texts={
        "note": "leave it\x00 at the door",
        "email": "ada\x00@example.com",
        "phone": "\ud800",
        "tags": ["vip\x00", "\udfff"],
        "shipping_method": "Express\x00",
        "title": "Tent \ud83d two-person",
        "sku": "TENT\x00-1",
        "address": dict.fromkeys(ADDRESS_FIELDS, "a\x00b\udc00c"),
    }
)
def test_any_text_in_a_store_order_is_imported_and_stored_as_storable_text(
    world: tuple[Stack, Integration], given_texts: dict[str, Any]
) -> None:
    stack, integration = world
    placed = stack.control.place_order(
        SHOP,
        [{"title": given_texts["title"], "sku_text": given_texts["sku"], "price": "5.00"}],
        note=given_texts["note"],
        email=given_texts["email"],
        phone=given_texts["phone"],
        tags=given_texts["tags"],
        shipping_method=given_texts["shipping_method"],
        shipping_address={**given_texts["address"], "country_code": "GB"},
    )
    stack.settle()

    ours = stack.order_for(integration, placed["id"])
    assert ours is not None, "the order was never imported"
    assert ours.notes == storable_text(given_texts["note"])
    assert ours.email == (storable_text(given_texts["email"]) or None)
    assert ours.ship_to is not None
    for name in ("company", "address1", "address2", "city", "zip"):
        assert getattr(ours.ship_to, name) == (storable_text(given_texts["address"][name]) or None)
    (item,) = ours.items
    title, sku = storable_text(given_texts["title"]), storable_text(given_texts["sku"])
    assert (item.sku, item.name) == (sku, title or sku)
    assert ours.status == "on_hold"  # a custom line maps to no product
    assert all(_storable(text) for text in _strings(ours))
    with stack.services.ctx.uow() as uow:
        events = uow.inbox.list(integration_id=integration.id, limit=10_000)
        alerts = uow.alerts.list(integration_id=integration.id, limit=10_000)
    assert {e.status for e in events} <= {"processed", "skipped"}, [e.error for e in events]
    assert all(_storable(text) for event in events for text in _strings(event.payload))
    assert all(_storable(alert.message) for alert in alerts)
