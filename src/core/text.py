"""Text the database can hold, whatever a store or a customer typed.

PostgreSQL's ``text`` and ``jsonb`` cannot hold U+0000, and UTF-8 cannot carry a lone UTF-16
surrogate (JSON's ``"\\ud800"`` decodes to one). A store order whose note holds either would
fail every insert, so every webhook delivery and every reconciliation of it would fail for
ever. The rule, applied wherever store text enters (webhook payloads before the inbox stores
them, the store adapter's converter for everything it reads): U+0000 is dropped, a lone
surrogate becomes U+FFFD (the replacement character), a surrogate pair becomes the character
it encodes. Everything else is kept as it is.
"""

from __future__ import annotations

import codecs
import re
from typing import Any

__all__ = ["REPLACEMENT", "json_is_storable", "storable_json", "storable_text"]

REPLACEMENT = "\ufffd"

# \u0000, or any surrogate escape (\ud800-\udfff, either case): a pair is fine, but telling
# a pair from a lone one is the parser's work, so either sends the payload the long way.
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def storable_text(text: str) -> str:
    """``text`` without U+0000, with each lone surrogate replaced by U+FFFD.

    Pure and idempotent; text that is already storable comes back unchanged (the same object).
    """
    if "\x00" in text:
        text = text.replace("\x00", "")
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # UTF-16 code units in, UTF-16 out: pairs join up, a lone surrogate is replaced
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def storable_json(value: Any) -> Any:
    """A parsed JSON value with ``storable_text`` applied to every string in it, object keys
    included (should two keys become equal, the later one wins, as in a JSON object that
    repeats a key). Lists and tuples come back as lists; other values as they are."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(str(k)): storable_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(v) for v in value]
    return value


def json_is_storable(document: bytes) -> bool:
    """Is ``document`` a JSON text whose parsed value ``storable_json`` leaves unchanged?

    A cheap test on the bytes, without parsing: UTF-8 (no byte order mark), no NUL byte, no
    ``\\u0000`` and no surrogate escape (``\\ud800`` to ``\\udfff``). Only such escapes or
    bytes can put U+0000 or a lone surrogate into a string, so when this says yes the parsed
    value is already storable as it is (and the document may be stored verbatim). ``False``
    may be wrong the other way (an escaped backslash before ``u0000``, a surrogate pair):
    such a document is then merely made storable the long way.
    """
    if b"\x00" in document or document.startswith(codecs.BOM_UTF8):
        return False
    backslash = document.find(b"\\")  # one byte: found far faster than the escape
    if backslash >= 0 and _UNSTORABLE_ESCAPE.search(document, backslash):
        return False
    if document.isascii():  # UTF-8 already, and far cheaper to tell than by decoding
        return True
    try:
        document.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
