"""Shopify ids at the edge: the core speaks numeric ids as text, GraphQL speaks gids.

``gid://shopify/Order/450789469`` <-> ``"450789469"``. Some gids carry a query string
(``gid://shopify/FulfillmentOrderLineItem/1?...``); it is dropped with the prefix.
"""

from __future__ import annotations

import re

from core.errors import InvalidInput, PayloadError

_NUMERIC = re.compile(r"[0-9]{1,20}")
_GID = re.compile(r"gid://shopify/(?P<kind>[A-Za-z]+)/(?P<id>[0-9]{1,20})(?:\?.*)?", re.DOTALL)


def to_gid(kind: str, value: str) -> str:
    """The gid of a numeric id (or the same gid, if it already is one of ``kind``)."""
    if _NUMERIC.fullmatch(value):
        return f"gid://shopify/{kind}/{value}"
    match = _GID.fullmatch(value)
    if match and match["kind"] == kind:
        return f"gid://shopify/{kind}/{match['id']}"
    raise InvalidInput(f"{value!r} is not a Shopify {kind} id")


def inventory_level_gid(inventory_item_id: str, location_id: str) -> str:
    """An InventoryLevel's gid: ``gid://shopify/InventoryLevel/<location>?inventory_item_id=<item>``
    (Shopify's own form, as in the REST ``admin_graphql_api_id``)."""
    location = from_gid(to_gid("Location", location_id))
    item = from_gid(to_gid("InventoryItem", inventory_item_id))
    return f"gid://shopify/InventoryLevel/{location}?inventory_item_id={item}"


def from_gid(value: object) -> str:
    """The numeric id inside a gid, as text (a bare numeric id passes through)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        if _NUMERIC.fullmatch(value):
            return value
        match = _GID.fullmatch(value)
        if match:
            return match["id"]
    raise PayloadError(f"Shopify returned an id that is not a gid: {value!r}")


def from_gid_or_none(value: object) -> str | None:
    return None if value is None else from_gid(value)
