"""Global ids (``gid://shopify/Order/123``), timestamps and the sandbox's error type."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

__all__ = [
    "SandboxError",
    "gid",
    "gql_time",
    "inventory_level_gid",
    "parse_gid",
    "parse_inventory_level_gid",
    "parse_time",
    "rest_time",
    "truncate",
]

_GID = re.compile(r"^gid://shopify/(?P<kind>[A-Za-z]+)/(?P<id>[0-9]+)(?:\?(?P<query>.*))?$")


class SandboxError(Exception):
    """A refusal the simulated store answers with (a ``userError``, or a control API error).

    ``code`` is Shopify's error code where it has one; ``field`` the input path;
    ``status`` the HTTP status the control API answers with.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: list[str] | None = None,
        status: int = 422,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.status = status


def gid(kind: str, resource_id: int) -> str:
    return f"gid://shopify/{kind}/{resource_id}"


def parse_gid(value: object, kind: str | None = None) -> int | None:
    """The numeric id of a gid, or ``None`` when it is not a gid of ``kind``."""
    if not isinstance(value, str):
        return None
    match = _GID.match(value)
    if match is None or (kind is not None and match.group("kind") != kind):
        return None
    return int(match.group("id"))


def is_gid(value: object) -> bool:
    return isinstance(value, str) and _GID.match(value) is not None


def inventory_level_gid(location_id: int, inventory_item_id: int) -> str:
    return f"gid://shopify/InventoryLevel/{location_id}?inventory_item_id={inventory_item_id}"


def parse_inventory_level_gid(value: object) -> tuple[int, int] | None:
    """``(location id, inventory item id)`` of an InventoryLevel gid."""
    if not isinstance(value, str):
        return None
    match = _GID.match(value)
    if match is None or match.group("kind") != "InventoryLevel":
        return None
    query = match.group("query") or ""
    item = re.fullmatch(r"inventory_item_id=([0-9]+)", query)
    if item is None:
        return None
    return int(match.group("id")), int(item.group(1))


def truncate(when: datetime) -> datetime:
    """Shopify keeps timestamps to the second."""
    return when.replace(microsecond=0)


def gql_time(when: datetime | None) -> str | None:
    """GraphQL ``DateTime``: ISO 8601 in UTC with a ``Z``."""
    if when is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rest_time(when: datetime | None, utc_offset_minutes: int = 0) -> str | None:
    """REST and webhook timestamps: the shop's local time with its offset, to the second."""
    if when is None:
        return None
    local = when.astimezone(timezone(timedelta(minutes=utc_offset_minutes)))
    return local.replace(microsecond=0).isoformat()


def parse_time(value: str) -> datetime | None:
    """An ISO 8601 date or date-time as a search query gives it; naive means UTC."""
    text = value.strip().strip("'\"")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed
