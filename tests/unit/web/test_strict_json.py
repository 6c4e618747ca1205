"""The strict parser's fast checks accept and refuse exactly what the rules say.

``strict_json.loads`` checks nesting on the body's bytes with a few passes in C, and hooks
Python into the parse only for floats and, where 19 digits follow one another, for whole
numbers. ``reference`` below is the rule spelled out the slow way (every character walked,
every number hooked, every string searched); on any JSON-ish input, valid or not, deep or
not, the two accept the same bodies with the same value, and refuse the same bodies.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from entrypoints.web.errors import ApiError
from entrypoints.web.strict_json import MAX_DEPTH, loads

Outcome = tuple[str, Any]  # ("ok", value) or ("refused", None)


def _reference_depth(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for character in text:
        if in_string:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                in_string = False
        elif character == '"':
            in_string = True
        elif character in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in "]}":
            depth -= 1
    return deepest


def _reference_int(text: str) -> int:
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise ValueError(text)
    return value


def _reference_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _refuse_constant(name: str) -> None:
    raise ValueError(name)


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in [key, *_strings(item)]]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return [value] if isinstance(value, str) else []


def reference(body: bytes | str, *, store_text: bool = False) -> Outcome:
    """The rules, the slow way."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        text.encode("utf-8")  # text is taken as its UTF-8: a lone surrogate is no UTF-8
    except UnicodeError:
        return ("refused", None)
    if _reference_depth(text) > MAX_DEPTH:
        return ("refused", None)
    try:
        value = json.loads(
            text,
            parse_int=_reference_int,
            parse_float=_reference_float,
            parse_constant=_refuse_constant,
        )
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        return ("refused", None)
    if not store_text and any(re.search("[\x00\ud800-\udfff]", s) for s in _strings(value)):
        return ("refused", None)
    return ("ok", value)


def fast(body: bytes | str, *, store_text: bool = False) -> Outcome:
    try:
        return ("ok", loads(body, store_text=store_text))
    except ApiError as refused:
        return ("refused", None) if refused.code == "invalid_json" else ("other", refused)


def _typed(value: Any) -> Any:
    """The value with every number tagged by its type (1 == 1.0 == True in Python)."""
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return (type(value).__name__, value)


# --- what to feed both --------------------------------------------------------------------------

PIECES = [
    "[", "]", "{", "}", '"', '""', '"["', '"]"', '"{', '}"', ",", ":", " ", "\n", "\\",
    "\\\\", '\\"', "\\n", "\\/", "\\u0000", "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\u00e9",
    "\\u005c", "é", "☃", "\x00", "a", "0", "1", "-", ".", "e", "E", "+", "1" * 18, "9" * 19,
    "9223372036854775807", "9223372036854775808", "-9223372036854775808",
    "-9223372036854775809", "1e400", "-1e400", "1e-400", "1.5e308", "1E+308", "2e308", "NaN",
    "Infinity", "-Infinity", "true", "null",
]  # fmt: skip
# text heavy in what the checks look at: brackets, quotes, backslashes, NUL, surrogates
texts = st.text(st.sampled_from('[]{}"\\ \x00\ud800\udc00\U0001f600u0') | st.characters())
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**63) - 2, -(2**63) + 2)
    | st.integers(2**63 - 2, 2**63 + 2)
    | st.floats()
    | texts
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=12,
)
# a level of nesting: an array or an object, at times after a string with a bracket in it
OPENS = ["[", '{"k":', '["\\"[", ', '["[\\\\", ', '{"\\"{": ', '["]", ', '{"}\\\\": ']


@st.composite
def jsonish(draw: st.DrawFn) -> str:
    """Valid JSON of any value (nested near the limit, at times), bits of it, or bits of it
    spliced into it."""
    kind = draw(st.sampled_from(["valid", "deep", "pieces", "spliced"]))
    if kind == "pieces":
        return "".join(draw(st.lists(st.sampled_from(PIECES), max_size=40)))
    text = json.dumps(draw(values), ensure_ascii=draw(st.booleans()))
    if kind == "deep":
        depth = draw(st.integers(MAX_DEPTH - 3, MAX_DEPTH + 2))
        opens = draw(st.lists(st.sampled_from(OPENS), min_size=depth, max_size=depth))
        text = "".join(opens) + text + "".join("]" if o[0] == "[" else "}" for o in reversed(opens))
    if kind == "spliced":
        for piece in draw(st.lists(st.sampled_from(PIECES), min_size=1, max_size=4)):
            at = draw(st.integers(0, len(text)))
            text = text[:at] + piece + text[at:]
    return text


# --- the properties ----------------------------------------------------------------------------


@settings(max_examples=1500)
@given(text=jsonish(), store_text=st.booleans())
def test_the_fast_checks_accept_and_refuse_what_the_rules_do(text: str, store_text: bool) -> None:
    body = text.encode("utf-8", "surrogatepass")  # a lone surrogate: bytes that are not UTF-8
    expected = reference(body, store_text=store_text)
    got = fast(body, store_text=store_text)
    assert got[0] == expected[0]
    assert _typed(got[1]) == _typed(expected[1])
    # Flask's JSON provider hands over text
    from_text = fast(text, store_text=store_text)
    assert from_text[0] == reference(text, store_text=store_text)[0]


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        ('["[", "]"]', True),
        ('["]", "["]', True),
        ('["", "[", "", "]", ""]', True),
        ("[" + '"[", ' * 200 + '""]', True),
        ('["\\\\", "[", "\\\\\\"["]', True),
        ('["\\"[\\"", ' * MAX_DEPTH + "1" + "]" * MAX_DEPTH, True),
        ('["\\"[\\"", ' * (MAX_DEPTH + 1) + "1" + "]" * (MAX_DEPTH + 1), False),
        ("[" * MAX_DEPTH + '"]]]"' + "]" * MAX_DEPTH, True),
        ("[" * MAX_DEPTH + '"\\\\", []' + "]" * MAX_DEPTH, False),
        ('["", ' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "]", False),
        ('["' + "\\" + '"' + "[" * 100, False),
        ('{"id": 9223372036854775807, "n": -9223372036854775808}', True),
        ('{"id": 9223372036854775808}', False),
        ('{"id": -9223372036854775809}', False),
        ('{"id": 00000000000000000001}', False),
        ('{"phone": "12345678901234567890123", "n": 1}', True),
        ('{"n": 1234567890123456789012e-10}', True),
        ('{"n": 1e308, "m": 1e-400}', True),
        ('{"n": 1e309}', False),
        ('{"n": -Infinity}', False),
    ],
)
def test_strings_escapes_and_numbers_the_fast_checks_must_get_right(
    body: str, accepted: bool
) -> None:
    outcome = fast(body.encode())
    assert outcome == reference(body.encode())
    assert (outcome[0] == "ok") == accepted
