"""The one JSON parser of the web layer: strict, bounded, and a 400 for anything it refuses.

Every request body goes through ``loads``: ``inputs.json_body`` for the API, the webhook
endpoints once the signature over the raw bytes is checked, and Flask's ``request.get_json``
(``StrictJSONProvider``), which views do not call directly anyway (ruff bans it).

- The bytes must be UTF-8.
- Nesting deeper than ``MAX_DEPTH`` is refused before the parser sees the body, so no body can
  exhaust the stack, whatever the interpreter's recursion limit.
- Strings, keys included, may not hold NUL or a lone surrogate (``"\\ud800"``): PostgreSQL
  cannot store them in ``jsonb``, and they break logs and encoders downstream. Signed store
  webhooks are the exception (``store_text=True``): a customer's text is the store's to send,
  so the core makes it storable (``core.text.storable_json``) instead of refusing the order.
- Numbers must be finite (no ``NaN``, ``Infinity``, ``1e400``) and whole numbers fit in 64
  bits (so a 5,000-digit number is neither parsed nor stored).

A refusal is ``ApiError(400, "invalid_json", message)``: the message says what is wrong and
never echoes the body.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NoReturn

from flask.json.provider import DefaultJSONProvider

from entrypoints.web.errors import ApiError

__all__ = ["MAX_DEPTH", "StrictJSONProvider", "loads"]

MAX_DEPTH = 64
_INT_RANGE = range(-(2**63), 2**63)
_MAX_INT_CHARS = 20  # "-9223372036854775808"

# A JSON string (an unterminated one runs to the end of the text), and a run of anything but
# brackets. Possessive and always matching from a quote, so one pass over any text is linear.
_STRINGS = re.compile(r'"(?:[^"\\]++|\\.?)*+(?:"|\Z)', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]++")
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def _refuse(message: str) -> NoReturn:
    raise ApiError(400, "invalid_json", message)


def _not_a_number(name: str) -> NoReturn:
    _refuse(f"{name} is not accepted: numbers must be finite")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        _refuse("a number is too large: numbers must be finite (1e400 is not)")
    return value


def _int(text: str) -> int:
    if len(text) > _MAX_INT_CHARS or int(text) not in _INT_RANGE:
        _refuse("a whole number is too large: at most 64 bits are accepted")
    return int(text)


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than ``MAX_DEPTH``, brackets inside strings not counted."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    # strings, then all but brackets, dropped by the regex engine: only brackets are walked
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    if brackets.count("[") + brackets.count("{") <= MAX_DEPTH:
        return
    depth = 0
    for bracket in brackets:
        if bracket in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                _refuse(f"the body is nested more than {MAX_DEPTH} levels deep")
        else:
            depth -= 1


def _check_strings(value: Any) -> None:
    """Refuse NUL and lone surrogates in any string or key (iteratively: no recursion)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and (found := _BAD_CHARACTER.search(item)):
            if found.group() == "\x00":
                _refuse("a string holds a NUL character (\\u0000), which is not accepted")
            _refuse("a string holds a lone surrogate (such as \\ud800), which is not text")


def loads(body: bytes | str, *, store_text: bool = False) -> Any:
    """Parse a request body strictly; ``ApiError`` 400 ``invalid_json`` when it is refused.

    ``store_text`` lets NUL and lone surrogates through (a signed store payload; the core
    drops NUL and replaces lone surrogates before anything is stored)."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            _refuse("the body is not valid UTF-8")
    else:
        text = body
    _check_depth(text)
    try:
        value = json.loads(text, parse_float=_float, parse_int=_int, parse_constant=_not_a_number)
    except json.JSONDecodeError as exc:
        _refuse(f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
    except RecursionError:  # not reachable past _check_depth; never a 500 all the same
        _refuse(f"the body is nested more than {MAX_DEPTH} levels deep")
    if (
        not store_text and "\\u" in text
    ):  # NUL and surrogates can only arrive as escapes in valid UTF-8 JSON
        _check_strings(value)
    return value


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with ``loads`` (what ``request.get_json`` calls) made strict."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)
