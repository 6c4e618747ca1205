"""The one JSON parser of the web layer: strict, bounded, and a 400 for anything it refuses.

Every request body goes through ``loads``: ``inputs.json_body`` for the API, the webhook
endpoints once the signature over the raw bytes is checked, and Flask's ``request.get_json``
(``StrictJSONProvider``), which views do not call directly anyway (ruff bans it).

- The bytes must be UTF-8 (text is taken as its UTF-8, so a lone surrogate in it is not).
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

``parse_elsewhere`` tells, from a signed store body's bytes alone, when every rule but the
syntax is already met, so the body can be handed on unparsed to be stored as it is: whoever
reads it next (PostgreSQL's ``jsonb``, storing it) then either refuses it as no JSON or reads
a value this parser would have accepted.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from typing import Any, NoReturn

from flask.json.provider import DefaultJSONProvider

from core.text import json_is_storable
from entrypoints.web.errors import ApiError

__all__ = ["MAX_DEPTH", "StrictJSONProvider", "loads", "parse_elsewhere"]

MAX_DEPTH = 64
_INT_RANGE = range(-(2**63), 2**63)
_MAX_INT_CHARS = 20  # "-9223372036854775808"

# The nesting check works on the bytes' shape: quotes and brackets only, by ``bytes.translate``
# (in C, like every other pass over the whole body here).
_ESCAPES = re.compile(rb'\\[\\"]')  # left to right, as a parser pairs them
_NOT_SHAPE = bytes(sorted(set(range(256)) - set(b'"[]{}')))
_STRINGS = re.compile(rb'"[^"]*+(?:"|\Z)')  # in a shape; an unterminated one runs to the end
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 and -1 as signed bytes
_PEEL_PASSES = 16  # passes of peeling tried before the brackets are summed
# Digits as 0 and E as e. A run of 19 digits is the only way to write a whole number that may
# not fit in 64 bits, or a number that may not be finite without an exponent; a digit, e and
# three digits (maybe after a +) the only way to write an exponent that may make it infinite.
_NUMBERS = bytes.maketrans(b"123456789E", b"000000000e")
_LONG_DIGITS = b"0" * 19
_LONG_EXPONENTS = (b"0e000", b"0e+000")
_JSON_SPACE = b" \t\n\r"
# \u0000 or a surrogate escape: the only ways a NUL or a lone surrogate gets into valid JSON
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
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


def _too_deep(document: bytes) -> bool:
    """Do brackets outside strings nest deeper than ``MAX_DEPTH``? (An unterminated string
    runs to the end.)

    Exact for any JSON text, and never lower than the nesting a parser reaches before it stops
    at an error, so no body gets past it to exhaust the stack. Each pass is one call into C:
    escaped backslashes and quotes are dropped (so each quote left opens or closes a string),
    ``translate`` keeps only quotes and brackets, and ``""`` is dropped left to right. That
    drops every string with no bracket in it, and, where one string follows another, the
    closing and opening quotes between them, which only joins their insides. Should a string
    hold a bracket, its opening quote is left (the quotes before it pair up among themselves),
    and the strings left are dropped one by one.

    The brackets left are summed in C, unless peeling settles it first: dropping every ``[]``
    (one pass of ``replace``, which never looks at what it made) takes at most one level off
    the deepest nesting, and so does dropping every ``{}``; so once ``k`` such passes leave at
    most ``MAX_DEPTH - k`` brackets, the body is nested no deeper than ``MAX_DEPTH``."""
    backslash = document.find(b"\\")
    if backslash >= 0 and _ESCAPES.search(document, backslash):
        document = _ESCAPES.sub(b"", document)
    shape = document.translate(None, _NOT_SHAPE).replace(b'""', b"")
    if b'"' in shape:
        shape = _STRINGS.sub(b"", shape)
    peeled, passes = shape, 0
    while len(peeled) > MAX_DEPTH - passes:
        inner = peeled.replace(b"[]", b"").replace(b"{}", b"")
        if len(inner) == len(peeled) or passes >= _PEEL_PASSES:  # mismatched, or deep: sum
            return (
                max(itertools.accumulate(memoryview(shape.translate(_STEPS)).cast("b"))) > MAX_DEPTH
            )
        peeled, passes = inner, passes + 2
    return False


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
    drops NUL and replaces lone surrogates before anything is stored).

    The checks that need no parse run over the bytes in C, and the parse is the C scanner's,
    with a Python hook only for floats (whatever the digits, a float may overflow) and, where a
    run of 19 digits is found, for whole numbers."""
    try:  # text is taken as its UTF-8, so a lone surrogate in it is refused as such
        text, document = (
            (body.decode("utf-8"), body) if isinstance(body, bytes) else (body, body.encode())
        )
    except UnicodeError:
        _refuse("the body is not valid UTF-8")
    if _too_deep(document):
        _refuse(f"the body is nested more than {MAX_DEPTH} levels deep")
    parse_int = _int if _LONG_DIGITS in document.translate(_NUMBERS) else None
    try:
        value = json.loads(
            text, parse_float=_float, parse_int=parse_int, parse_constant=_not_a_number
        )
    except json.JSONDecodeError as exc:
        _refuse(f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
    except RecursionError:  # not reachable past the nesting check; never a 500 all the same
        _refuse(f"the body is nested more than {MAX_DEPTH} levels deep")
    # NUL and surrogates can only arrive as escapes in valid UTF-8 JSON
    if not store_text and "\\u" in text and _SUSPECT_ESCAPE.search(text):
        _check_strings(value)
    return value


def parse_elsewhere(body: bytes) -> bool:
    """Would ``loads(body, store_text=True)`` read a JSON object that stores as it is
    (``core.text.json_is_storable``), should ``body`` be JSON at all? Told from the bytes by a
    few passes in C, without parsing: storable UTF-8, ``{`` first, nested no deeper than
    ``MAX_DEPTH``, no 19 digits in a row (every whole number fits in 64 bits) and no exponent
    of three digits but negative ones (every number is finite); ``NaN`` and ``Infinity`` are
    no JSON. ``False`` may be wrong the other way (digits in a string): such a body is parsed
    here, as always."""
    if body.lstrip(_JSON_SPACE)[:1] != b"{" or not json_is_storable(body):
        return False
    numbers = body.translate(_NUMBERS)
    if _LONG_DIGITS in numbers or any(numbers.rfind(e) >= 0 for e in _LONG_EXPONENTS):
        return False
    return not _too_deep(body)


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with ``loads`` (what ``request.get_json`` calls) made strict."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)
