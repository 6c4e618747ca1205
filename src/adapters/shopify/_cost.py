"""An estimate of a document's requested cost, before sending it.

Shopify charges up front what a query could cost (``requestedQueryCost``) and refunds the
difference after (``actualQueryCost``): scalars and enums 0, an object 1, a connection 2 plus
``first`` (or ``last``) times the cost of one node, a list asked for by ``ids`` or ``names``
(``nodes(ids:)``, ``quantities(names:)``) as many objects as it names, a mutation 10. The
client uses this estimate to wait for enough budget before it sends a query, rather than
being throttled.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    parse,
)

__all__ = ["MUTATION_COST", "estimate_cost"]

MUTATION_COST = 10
_FREE = frozenset({"pageInfo", "__typename"})


def _page_size(node: FieldNode, variables: Mapping[str, object]) -> int | None:
    for argument in node.arguments or ():
        if argument.name.value not in ("first", "last"):
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            return given if isinstance(given, int) else None
    return None


def _list_size(node: FieldNode, variables: Mapping[str, object]) -> int:
    """How many objects a list field asks for by its ``ids`` or ``names`` (1 otherwise)."""
    for argument in node.arguments or ():
        if argument.name.value not in ("ids", "names"):
            continue
        value = argument.value
        if isinstance(value, ListValueNode):
            return max(1, len(value.values))
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            if isinstance(given, list | tuple):
                return max(1, len(given))
    return 1


def _cost(
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, object],
) -> int:
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FragmentSpreadNode):
            fragment = fragments[selection.name.value]
            total += _cost(fragment.selection_set, fragments, variables)
        elif isinstance(selection, InlineFragmentNode):
            total += _cost(selection.selection_set, fragments, variables)
        elif isinstance(selection, FieldNode):
            if selection.selection_set is None or selection.name.value in _FREE:
                continue  # a scalar or enum
            size = _page_size(selection, variables)
            if size is None:  # an object, or a list of as many as it names
                each = 1 + _cost(selection.selection_set, fragments, variables)
                total += _list_size(selection, variables) * each
            else:  # a connection: each of its nodes or edges costs as an object
                total += 2 + size * _node_cost(selection.selection_set, fragments, variables)
    return total


def _node_cost(
    selection_set: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, object],
) -> int:
    """The cost of one item of a connection: ``nodes { ... }`` or ``edges { node { ... } }``."""
    worst = 1
    for selection in selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.selection_set is None:
            continue
        if selection.name.value == "nodes":
            worst = max(worst, 1 + _cost(selection.selection_set, fragments, variables))
        elif selection.name.value == "edges":
            worst = max(worst, _cost(selection.selection_set, fragments, variables))
    return worst


@lru_cache(maxsize=64)
def _parsed(text: str) -> tuple[OperationDefinitionNode, dict[str, FragmentDefinitionNode]]:
    document = parse(text, no_location=True)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1:
        raise ValueError("a document must hold exactly one operation")
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return operations[0], fragments


def estimate_cost(text: str, variables: Mapping[str, object] | None = None) -> int:
    """The requested cost Shopify would charge for ``text`` with ``variables``."""
    operation, fragments = _parsed(text)
    if operation.operation is OperationType.MUTATION:
        return MUTATION_COST
    return max(1, _cost(operation.selection_set, fragments, variables or {}))
