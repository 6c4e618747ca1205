"""Shopify's search syntax for the ``query`` argument of connections, as far as the sandbox needs.

``updated_at:>'2026-01-01T00:00:00Z' status:open -tag:wholesale sku:ABC*`` is a conjunction of
terms ``field:value`` with an optional comparator (``>``, ``>=``, ``<``, ``<=``), quoted
values, a ``-`` or ``NOT`` in front to negate, and a trailing ``*`` for a prefix match. Bare
words match the resource's default text field. ``AND`` is implicit; ``OR`` is not supported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from attrs import frozen

from adapters.shopify.sandbox.ids import parse_time

__all__ = ["Getter", "Term", "matches", "parse_query"]

_TOKEN = re.compile(r"""(-?[A-Za-z_.]+:(?:[<>]=?)?(?:'[^']*'|"[^"]*"|\S+))|('[^']*'|"[^"]*"|\S+)""")
_TERM = re.compile(r"""^(?P<neg>-)?(?P<field>[A-Za-z_.]+):(?P<op>[<>]=?)?(?P<value>.*)$""")

# A getter returns the value a term compares against; a list means "any of".
Getter = Callable[[Any], object]


@frozen
class Term:
    field: str | None  # None: free text
    op: str  # "=", ">", ">=", "<", "<="
    value: str
    negated: bool = False


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in {"'", '"'}:
        return value[1:-1]
    return value


def parse_query(text: str | None) -> list[Term]:
    if not text:
        return []
    terms: list[Term] = []
    negate_next = False
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token in {"AND", "and"}:
            continue
        if token in {"NOT", "not"}:
            negate_next = True
            continue
        parsed = _TERM.match(token) if match.group(1) else None
        if parsed is not None:
            terms.append(
                Term(
                    field=parsed.group("field").lower(),
                    op=parsed.group("op") or "=",
                    value=_unquote(parsed.group("value")),
                    negated=bool(parsed.group("neg")) != negate_next,
                )
            )
        else:
            negated = token.startswith("-") != negate_next
            terms.append(
                Term(field=None, op="=", value=_unquote(token.lstrip("-")), negated=negated)
            )
        negate_next = False
    return terms


def _compare(actual: object, term: Term) -> bool:
    if actual is None:
        return False
    if isinstance(actual, bool):
        return term.op == "=" and str(actual).lower() == term.value.lower()
    if isinstance(actual, datetime):
        wanted = parse_time(term.value)
        if wanted is None:
            return False
        return _ordered(actual, wanted, term.op)
    if isinstance(actual, int):
        try:
            number = int(term.value)
        except ValueError:
            return False
        return _ordered(actual, number, term.op)
    text = str(actual).lower()
    wanted_text = term.value.lower()
    if term.op != "=":
        return _ordered(text, wanted_text, term.op)
    if wanted_text.endswith("*"):
        return text.startswith(wanted_text[:-1])
    return text == wanted_text


def _ordered(actual: Any, wanted: Any, op: str) -> bool:
    if op == ">":
        return bool(actual > wanted)
    if op == ">=":
        return bool(actual >= wanted)
    if op == "<":
        return bool(actual < wanted)
    if op == "<=":
        return bool(actual <= wanted)
    return bool(actual == wanted)


def matches(
    item: object,
    terms: Sequence[Term],
    getters: Mapping[str, Getter],
    *,
    text: Getter | None = None,
    unknown: list[str] | None = None,
) -> bool:
    """Whether ``item`` satisfies every term. Unknown fields are ignored (and reported)."""
    for term in terms:
        if term.field is None:
            if text is None:
                continue
            haystack = str(text(item) or "").lower()
            hit = term.value.lower().rstrip("*") in haystack
        else:
            getter = getters.get(term.field)
            if getter is None:
                if unknown is not None and term.field not in unknown:
                    unknown.append(term.field)
                continue
            actual = getter(item)
            if isinstance(actual, list | tuple | set):
                hit = any(_compare(value, term) for value in actual)
            else:
                hit = _compare(actual, term)
        if hit == term.negated:
            return False
    return True
