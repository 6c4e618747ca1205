"""The one cattrs converter of the Shopify payload boundary.

Webhook payloads (REST-shaped, ``snake_case``) and GraphQL answers (``camelCase``) are
structured into attrs classes that mirror them (only the fields read; unknown keys ignored),
then mapped to the core's types. A shape marked ``graphql_shape`` reads its fields under their
camelCase names. Ids arrive as numbers, numeric text or gids and leave as numeric text.

Every string read through it is made storable (``core.text.storable_text``: no U+0000, no
lone surrogate), so nothing read from a store can fail to be saved: order notes, addresses,
line titles, product titles, the shop's name, Shopify's own messages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, NewType, TypeVar, cast

import attrs
from cattrs import transform_error
from cattrs.errors import BaseValidationError
from cattrs.gen import make_dict_structure_fn, override
from cattrs.preconf.json import JsonConverter, make_converter

from adapters.shopify._ids import from_gid
from core.errors import PayloadError
from core.text import storable_text

__all__ = ["Id", "Tags", "converter", "graphql_shape", "structure"]

T = TypeVar("T")

Id = NewType("Id", str)
"""A Shopify id: a JSON number, numeric text or a gid; structured as numeric text."""

Tags = NewType("Tags", tuple[str, ...])
"""REST ``"a, b"`` or GraphQL ``["a", "b"]``; structured as a tuple of tags."""

_GRAPHQL_SHAPES: set[type] = set()
_MAX_MESSAGES: Final = 10


def graphql_shape(cls: type[T]) -> type[T]:
    """Mark an attrs class as a GraphQL answer shape: its fields are read in camelCase."""
    _GRAPHQL_SHAPES.add(cls)
    return cls


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _text(value: object, _: object) -> str:
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected text, got {type(value).__name__}")


def _integer(value: object, _: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ValueError(f"expected an integer, got {type(value).__name__}")


def _boolean(value: object, _: object) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"expected true or false, got {type(value).__name__}")


def _timestamp(value: object, _: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 time, got {type(value).__name__}")
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _id(value: object, _: object) -> Id:
    try:
        return Id(from_gid(value))
    except PayloadError:
        raise ValueError("expected a Shopify id (a number or a gid)") from None


def _tags(value: object, _: object) -> Tags:
    if isinstance(value, str):
        return Tags(tuple(t.strip() for t in storable_text(value).split(",") if t.strip()))
    if isinstance(value, list | tuple) and all(isinstance(t, str) for t in value):
        return Tags(tuple(t.strip() for t in map(storable_text, value) if t.strip()))
    raise ValueError("expected tags as text or a list of text")


def _make() -> JsonConverter:
    conv = make_converter(forbid_extra_keys=False, detailed_validation=True)
    conv.register_structure_hook(str, _text)
    conv.register_structure_hook(int, _integer)
    conv.register_structure_hook(bool, _boolean)
    conv.register_structure_hook(datetime, _timestamp)
    conv.register_structure_hook(Id, _id)
    conv.register_structure_hook(Tags, _tags)

    def object_hook(cls: type[Any]) -> Callable[[object, Any], Any]:
        """Attrs shapes read only JSON objects (camelCase keys for GraphQL shapes)."""
        renames = (
            {a.name: override(rename=_camel(a.name)) for a in attrs.fields(cls)}
            if cls in _GRAPHQL_SHAPES
            else {}
        )
        generated = make_dict_structure_fn(
            cls, conv, _cattrs_forbid_extra_keys=False, **cast("dict[str, Any]", renames)
        )

        def structure_object(value: object, type_: Any) -> Any:
            if not isinstance(value, Mapping):
                raise ValueError(f"expected a JSON object, got {type(value).__name__}")
            return generated(value, type_)

        return structure_object

    conv.register_structure_hook_factory(attrs.has, object_hook)
    return conv


converter: Final = _make()


def structure(payload: object, cls: type[T], what: str) -> T:
    """``payload`` as ``cls``, or ``PayloadError`` with readable messages naming the paths."""
    if not isinstance(payload, Mapping):
        raise PayloadError(f"{what} is not a JSON object")
    try:
        return converter.structure(payload, cls)
    except BaseValidationError as exc:
        messages = transform_error(exc, path="$")
        shown = "; ".join(messages[:_MAX_MESSAGES])
        more = (
            f" (and {len(messages) - _MAX_MESSAGES} more)" if len(messages) > _MAX_MESSAGES else ""
        )
        raise PayloadError(f"{what} is invalid: {shown}{more}", details=messages) from None
    except (ValueError, TypeError) as exc:  # outside detailed validation (e.g. a top-level hook)
        raise PayloadError(f"{what} is invalid: {exc}") from None
