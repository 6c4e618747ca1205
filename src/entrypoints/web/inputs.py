"""Request parsing: JSON bodies into attrs request classes with a strict cattrs converter.

Bodies are read with ``strict_json.loads`` (bounded nesting, no NUL or lone surrogates, finite
numbers; 400 ``invalid_json`` otherwise). Strict structuring means a string field takes only a
string and an integer field only an integer (no ``"5"`` -> 5, no ``true`` -> 1), and unknown
keys are refused, so a typo is an error rather than a silently ignored field. Errors become 422
with one message per bad field.
"""

from __future__ import annotations

from typing import Any, TypeVar

import cattrs
from cattrs.preconf.json import make_converter
from flask import request

from entrypoints.web import strict_json
from entrypoints.web.errors import ApiError

T = TypeVar("T")

MAX_PER_PAGE = 200


def _strict(kind: type) -> Any:
    def structure(value: Any, _: type) -> Any:
        if type(value) is not kind and not (kind is float and type(value) is int):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return structure


converter = make_converter(forbid_extra_keys=True)
for _kind in (str, int, bool, float):
    converter.register_structure_hook(_kind, _strict(_kind))


def json_body() -> dict[str, Any]:
    if not request.is_json:
        raise ApiError(
            415, "unsupported_media_type", "send a JSON body (Content-Type: application/json)"
        )
    body = strict_json.loads(request.get_data(cache=True))
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return body


def parse(cls: type[T], body: dict[str, Any] | None = None) -> T:
    data = json_body() if body is None else body
    try:
        return converter.structure(data, cls)
    except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
        details = (
            cattrs.transform_error(exc, path="body")
            if isinstance(exc, cattrs.BaseValidationError)
            else [str(exc)]
        )
        raise ApiError(422, "invalid_input", "; ".join(details), details=details) from None


def page_args() -> tuple[int, int]:
    """``(limit, offset)`` from ``?page=1&per_page=50``."""
    try:
        page = int(request.args.get("page", "1"))
        per_page = int(request.args.get("per_page", "50"))
    except ValueError:
        raise ApiError(400, "invalid_query", "page and per_page must be whole numbers") from None
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise ApiError(400, "invalid_query", f"page >= 1 and per_page 1-{MAX_PER_PAGE}")
    return per_page, (page - 1) * per_page


def arg(name: str, *, max_length: int = 200) -> str | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if len(value) > max_length:
        raise ApiError(400, "invalid_query", f"{name} is too long")
    return value
