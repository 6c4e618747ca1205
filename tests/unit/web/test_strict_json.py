"""The strict parser's fast checks accept and refuse exactly what the rules say.

``strict_json.loads`` checks nesting on the body's bytes with a few passes in C, and hooks
Python into the parse only for floats and, where 19 digits follow one another, for whole
numbers. ``reference`` below is the rule spelled out the slow way (every character walked,
every number hooked, every string searched); on any JSON-ish input, valid or not, deep or
not, the two accept the same bodies with the same value, and refuse the same bodies.

``parse_elsewhere`` lets a store body go unparsed to the inbox, whose storage parses it: it
may say so only of bodies the rules accept as an object storable as it is, or that are no JSON
at all (which the storage refuses).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.text import json_is_storable
from entrypoints.web.errors import ApiError
from entrypoints.web.strict_json import MAX_DEPTH, loads, parse_elsewhere

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


# --- bodies left for the inbox to parse --------------------------------------------------------


# any JSON number: long, short, with exponents of any size
numbers = st.from_regex(
    r"-?(0|[1-9][0-9]{0,24})(\.[0-9]{1,4})?([eE][+-]?[0-9]{1,4})?", fullmatch=True
)


@st.composite
def objectish(draw: st.DrawFn) -> str:
    """JSON-ish text that opens like an object: an object (of numbers, at times), spliced at
    times, or bits of one."""
    text = draw(jsonish())
    if draw(st.booleans()):
        keys = draw(st.lists(texts, max_size=3))
        text = "{" + ", ".join(f"{json.dumps(key)}: {draw(numbers)}" for key in keys) + "}"
    elif draw(st.booleans()):
        text = json.dumps(draw(st.dictionaries(texts, values, max_size=4)), ensure_ascii=False)
        for piece in draw(st.lists(st.sampled_from(PIECES), max_size=3)):
            at = draw(st.integers(1, len(text) - 1))
            text = text[:at] + piece + text[at:]
    return draw(st.sampled_from(["", " ", "\n"])) + "{" + text[1:] if text else "{"


def _no_json(body: bytes) -> bool:
    def refuse(constant: str) -> None:
        raise ValueError(constant)

    try:
        json.loads(body, parse_constant=refuse)
    except (ValueError, RecursionError):
        return True
    return False


@settings(max_examples=1500)
@given(text=objectish())
def test_a_body_left_unparsed_is_an_object_the_rules_accept_or_no_json_at_all(text: str) -> None:
    body = text.encode("utf-8", "surrogatepass")
    if not parse_elsewhere(body):
        return
    outcome = reference(body, store_text=True)
    assert json_is_storable(body)
    if outcome[0] == "ok":
        assert isinstance(outcome[1], dict)
    else:
        assert _no_json(body), "refused by the rules, yet JSON a storage would keep"


ORDER = json.loads(
    (Path(__file__).parents[2] / "fixtures/shopify/rest-2026-07/order.json").read_text()
)[0]["response_body"]["orders"][0]


@pytest.mark.parametrize(
    ("body", "unparsed"),
    [
        (json.dumps(ORDER), True),
        (json.dumps(ORDER, indent=2), True),
        (' \n{"n": 1e-400, "m": 12.5e99, "id": 999999999999999999}', True),
        ('{"n": NaN}', True),  # no JSON: the storage refuses it
        ('{"phone": "1234567890123456789"}', False),
        ('{"n": 9223372036854775807}', False),
        ('{"n": 1e400}', False),
        ('{"n": 1E+308}', False),
        ('{"token": "ab1e123cd"}', False),
        ('{"note": "\\u0000"}', False),
        ('{"note": "\\ud83d\\ude00"}', False),
        ('{"a": ' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}", False),
        ('{"a": ' + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "}", True),
        ("[1, 2]", False),
        ("\ufeff{}", False),
    ],
)
def test_what_a_store_body_must_show_to_go_unparsed(body: str, unparsed: bool) -> None:
    assert parse_elsewhere(body.encode()) is unparsed
