"""``storable_text``: whatever a store sends, what is kept can be stored (no U+0000, valid
UTF-8), and text that could already be stored is kept exactly."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from core.text import REPLACEMENT, json_is_storable, storable_json, storable_text

AWKWARD = ["\x00", "\ud800", "\udbff", "\udc00", "\udfff", "\ud83d", "\ude00", "\ufffd", "\uffff"]
any_text = st.text(
    alphabet=st.one_of(st.characters(exclude_categories=()), st.sampled_from(AWKWARD))
)
storable_already = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=20,
)


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _reference(text: str) -> str:
    """The rule spelled out one code point at a time: drop U+0000; a high surrogate followed
    by a low one is the pair's character; any other surrogate is U+FFFD."""
    kept = [c for c in text if c != "\x00"]
    out: list[str] = []
    i = 0
    while i < len(kept):
        c = kept[i]
        if "\ud800" <= c <= "\udbff" and i + 1 < len(kept) and "\udc00" <= kept[i + 1] <= "\udfff":
            high, low = ord(c) - 0xD800, ord(kept[i + 1]) - 0xDC00
            out.append(chr(0x10000 + (high << 10) + low))
            i += 2
            continue
        out.append(REPLACEMENT if "\ud800" <= c <= "\udfff" else c)
        i += 1
    return "".join(out)


@given(any_text)
def test_any_text_becomes_storable(text: str) -> None:
    assert _storable(storable_text(text))


@given(any_text)
def test_nul_is_dropped_and_each_lone_surrogate_becomes_one_replacement_character(
    text: str,
) -> None:
    assert storable_text(text) == _reference(text)


@given(any_text)
def test_making_text_storable_twice_changes_nothing_more(text: str) -> None:
    once = storable_text(text)
    assert storable_text(once) == once


@given(storable_already)
def test_text_that_could_already_be_stored_is_kept_exactly(text: str) -> None:
    assert storable_text(text) == text


def test_the_examples_that_broke_imports() -> None:
    assert storable_text("leave at\x00 the door") == "leave at the door"
    assert storable_text("Caf\u00e9 \ud800!") == "Caf\u00e9 \ufffd!"
    assert storable_text("\ud83d\ude00") == "\U0001f600"  # a pair is its character


@given(json_values)
def test_every_string_of_a_json_value_keys_included_becomes_storable(value: Any) -> None:
    def strings(v: Any) -> list[str]:
        if isinstance(v, str):
            return [v]
        if isinstance(v, dict):
            return [s for k, item in v.items() for s in (*strings(k), *strings(item))]
        if isinstance(v, list):
            return [s for item in v for s in strings(item)]
        return []

    cleaned = storable_json(value)
    assert all(_storable(s) for s in strings(cleaned))
    assert storable_json(cleaned) == cleaned


def test_a_json_value_keeps_its_shape_and_its_other_values() -> None:
    payload = {"id": 7, "note": "a\x00b", "tags": ["x\ud800"], "n\x00ame": None, "ok": True}
    assert storable_json(payload) == {
        "id": 7,
        "note": "ab",
        "tags": ["x\ufffd"],
        "name": None,
        "ok": True,
    }


@given(json_values, st.booleans())
def test_a_document_said_storable_parses_to_a_value_storable_json_leaves_unchanged(
    value: Any, ascii_only: bool
) -> None:
    try:
        document = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    except UnicodeEncodeError:  # pragma: no cover - surrogatepass encodes any str
        return
    if json_is_storable(document):
        parsed = json.loads(document)
        assert storable_json(parsed) == parsed


def test_a_document_is_storable_only_without_nul_surrogate_escapes_or_other_encodings() -> None:
    assert json_is_storable(b'{"a": "\\u00e8 \\u0026 \\ud7ff", "b": [1, 2.5]}')
    assert json_is_storable('{"city": "Zürich"}'.encode())
    assert not json_is_storable(b'{"a": "\\u0000"}')
    assert not json_is_storable(b'{"a": "\\uD800"}')
    assert not json_is_storable(b'{"\\udfff": 1}')
    assert not json_is_storable(b'{"a": "\\uDa00\\udc00"}')  # a pair too: the long way
    assert not json_is_storable(b'{"a": "\x00"}')
    assert not json_is_storable(b'{"a": "\xff"}')  # not UTF-8
    assert not json_is_storable('{"a": "Zürich"}'.encode("utf-16"))
    assert not json_is_storable(b"\xef\xbb\xbf{}")
