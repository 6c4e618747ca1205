"""Shopify's query cost, computed from the document before it runs and from the result after.

The model (shopify.dev, "API rate limits"): scalars and enums cost 0, an object 1, a connection
2 plus ``first`` (or ``last``) times the cost of one node, a list of objects its size times the
cost of one, and a mutation field 10. The requested cost is checked against the bucket; the
actual cost, counted on what came back, is what the bucket is charged.

The same walk enforces the structural rules Shopify applies before execution: a connection
needs ``first`` or ``last`` and at most 250 of them, and an input list holds at most 250 items.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, cast

from attrs import define, field
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
)
from graphql.utilities import value_from_ast

__all__ = ["MUTATION_COST", "Analysis", "QueryAnalyzer", "is_connection"]

MUTATION_COST = 10


def is_connection(named: GraphQLNamedType) -> bool:
    return (
        isinstance(named, GraphQLObjectType)
        and named.name.endswith("Connection")
        and "pageInfo" in named.fields
        and ("edges" in named.fields or "nodes" in named.fields)
    )


def _fields_of(named: GraphQLNamedType) -> Mapping[str, GraphQLField]:
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        return cast(Mapping[str, GraphQLField], named.fields)
    return {}


def response_key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value


@define
class Analysis:
    """What the walk found: the requested cost, the rule violations, the root fields."""

    requested_cost: int = 0
    errors: list[GraphQLError] = field(factory=list)
    root_fields: list[FieldNode] = field(factory=list)


class QueryAnalyzer:
    """Walks one operation with its fragments and coerced variables."""

    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        *,
        max_page_size: int = 250,
        max_input_size: int = 250,
        bulk: bool = False,
    ) -> None:
        self.schema = schema
        self.operation = operation
        self.fragments = fragments
        self.variables = dict(variables)
        self.max_page_size = max_page_size
        self.max_input_size = max_input_size
        self.bulk = bulk  # bulk operations page without first/last

    @property
    def is_mutation(self) -> bool:
        return self.operation.operation == OperationType.MUTATION

    def root_type(self) -> GraphQLObjectType:
        root = (
            self.schema.mutation_type
            if self.is_mutation
            else self.schema.subscription_type
            if self.operation.operation == OperationType.SUBSCRIPTION
            else self.schema.query_type
        )
        if root is None:
            raise GraphQLError("The schema has no root type for this operation.")
        return root

    # --- selections ----------------------------------------------------------------------------

    def _included(self, node: FieldNode | InlineFragmentNode | FragmentSpreadNode) -> bool:
        for directive in node.directives or ():
            name = directive.name.value
            if name not in {"skip", "include"}:
                continue
            value = True
            for argument in directive.arguments or ():
                if argument.name.value == "if":
                    value = bool(value_from_ast(argument.value, GraphQLBoolean, self.variables))
            if (name == "skip" and value) or (name == "include" and not value):
                return False
        return True

    def collect(
        self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType
    ) -> Iterator[tuple[FieldNode, GraphQLNamedType]]:
        """The fields of a selection set, fragments flattened, with the type each is asked on."""
        if selection_set is None:
            return
        for selection in selection_set.selections:
            if not self._included(selection):  # type: ignore[arg-type]
                continue
            if isinstance(selection, FieldNode):
                yield selection, parent
            elif isinstance(selection, InlineFragmentNode):
                target = parent
                if selection.type_condition is not None:
                    named = self.schema.get_type(selection.type_condition.name.value)
                    target = named if named is not None else parent
                yield from self.collect(selection.selection_set, target)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None:
                    continue
                named = self.schema.get_type(fragment.type_condition.name.value)
                yield from self.collect(fragment.selection_set, named or parent)

    def arguments(self, definition: GraphQLField, node: FieldNode) -> dict[str, Any]:
        given = {argument.name.value: argument.value for argument in node.arguments or ()}
        values: dict[str, Any] = {}
        for name, argument in definition.args.items():
            value: Any = Undefined
            if name in given:
                value = value_from_ast(given[name], argument.type, self.variables)
            if value is Undefined:
                value = argument.default_value
            if value is not Undefined:
                values[name] = value
        return values

    # --- rules ---------------------------------------------------------------------------------

    def _check_inputs(self, value: Any, node: FieldNode, analysis: Analysis) -> None:
        if isinstance(value, list):
            if len(value) > self.max_input_size:
                analysis.errors.append(
                    GraphQLError(
                        f"The input array size of {len(value)} is greater than the maximum "
                        f"allowed of {self.max_input_size}.",
                        node,
                        extensions={"code": "MAX_INPUT_SIZE_EXCEEDED"},
                    )
                )
                return
            for item in value:
                self._check_inputs(item, node, analysis)
        elif isinstance(value, dict):
            for item in value.values():
                self._check_inputs(item, node, analysis)

    def _page_size(self, arguments: Mapping[str, Any], node: FieldNode, analysis: Analysis) -> int:
        if self.bulk:
            return 1
        first, last = arguments.get("first"), arguments.get("last")
        size = first if first is not None else last
        name = node.name.value
        if size is None:
            analysis.errors.append(
                GraphQLError(
                    f"you must provide one of first or last ({name})",
                    node,
                    extensions={"code": "BAD_REQUEST"},
                )
            )
            return 0
        argument = "first" if first is not None else "last"
        if size < 0 or size > self.max_page_size:
            analysis.errors.append(
                GraphQLError(
                    f"The '{argument}' argument of '{name}' must be between 0 and "
                    f"{self.max_page_size} (got {size}).",
                    node,
                    extensions={"code": "BAD_REQUEST"},
                )
            )
            return 0
        return int(size)

    # --- requested cost ------------------------------------------------------------------------

    def analyze(self) -> Analysis:
        analysis = Analysis()
        root = self.root_type()
        for node, parent in self.collect(self.operation.selection_set, root):
            if node.name.value.startswith("__"):
                continue
            analysis.root_fields.append(node)
            definition = _fields_of(parent).get(node.name.value)
            if definition is None:
                continue
            if self.is_mutation:
                self._check_inputs(self.arguments(definition, node), node, analysis)
                analysis.requested_cost += MUTATION_COST
            else:
                analysis.requested_cost += self._field_cost(node, definition, analysis)
        return analysis

    def _selection_cost(
        self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType, analysis: Analysis
    ) -> int:
        total = 0
        for node, owner in self.collect(selection_set, parent):
            if node.name.value.startswith("__"):
                continue
            definition = _fields_of(owner).get(node.name.value)
            if definition is not None:
                total += self._field_cost(node, definition, analysis)
        return total

    def _field_cost(self, node: FieldNode, definition: GraphQLField, analysis: Analysis) -> int:
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return 0
        arguments = self.arguments(definition, node)
        self._check_inputs(arguments, node, analysis)
        if is_connection(named):
            size = self._page_size(arguments, node, analysis)
            return 2 + size * self._node_cost(node.selection_set, named, analysis)
        each = 1 + self._selection_cost(node.selection_set, named, analysis)
        if is_list_type(get_nullable_type(definition.type)):
            return self._list_size(arguments) * each
        return each

    def _list_size(self, arguments: Mapping[str, Any]) -> int:
        for name in ("first", "last"):
            if isinstance(arguments.get(name), int):
                return max(1, int(arguments[name]))
        for name in ("names", "ids"):
            if isinstance(arguments.get(name), list):
                return max(1, len(arguments[name]))
        return 1

    def _node_cost(
        self,
        selection_set: SelectionSetNode | None,
        connection: GraphQLNamedType,
        analysis: Analysis,
    ) -> int:
        total = 0
        for node, owner in self.collect(selection_set, connection):
            definition = _fields_of(owner).get(node.name.value)
            if definition is None:
                continue
            named = get_named_type(definition.type)
            if node.name.value == "nodes":
                total += 1 + self._selection_cost(node.selection_set, named, analysis)
            elif node.name.value == "edges":
                for inner, edge in self.collect(node.selection_set, named):
                    inner_definition = _fields_of(edge).get(inner.name.value)
                    if inner.name.value == "node" and inner_definition is not None:
                        node_type = get_named_type(inner_definition.type)
                        total += 1 + self._selection_cost(inner.selection_set, node_type, analysis)
        return total

    # --- actual cost ---------------------------------------------------------------------------

    def actual_cost(self, data: Mapping[str, Any] | None) -> int:
        if data is None:
            return 0
        root = self.root_type()
        total = 0
        for node, parent in self.collect(self.operation.selection_set, root):
            if node.name.value.startswith("__"):
                continue
            if self.is_mutation:
                total += MUTATION_COST
                continue
            definition = _fields_of(parent).get(node.name.value)
            key = response_key(node)
            if definition is not None and key in data:
                total += self._field_actual(node, definition, data[key])
        return total

    def _field_actual(self, node: FieldNode, definition: GraphQLField, value: Any) -> int:
        named = get_named_type(definition.type)
        if is_leaf_type(named) or value is None:
            return 0
        if is_connection(named):
            return self._connection_actual(node.selection_set, named, value)
        if isinstance(value, list):
            return sum(
                1 + self._selection_actual(node.selection_set, named, item)
                for item in value
                if item is not None
            )
        return 1 + self._selection_actual(node.selection_set, named, value)

    def _selection_actual(
        self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType, value: Any
    ) -> int:
        if not isinstance(value, Mapping):
            return 0
        total = 0
        for node, owner in self.collect(selection_set, parent):
            definition = _fields_of(owner).get(node.name.value)
            key = response_key(node)
            if definition is not None and key in value:
                total += self._field_actual(node, definition, value[key])
        return total

    def _connection_actual(
        self, selection_set: SelectionSetNode | None, connection: GraphQLNamedType, value: Any
    ) -> int:
        if not isinstance(value, Mapping):
            return 0
        total = 2
        for node, owner in self.collect(selection_set, connection):
            definition = _fields_of(owner).get(node.name.value)
            items = value.get(response_key(node))
            if definition is None or not isinstance(items, list):
                continue
            named = get_named_type(definition.type)
            if node.name.value == "nodes":
                total += sum(
                    1 + self._selection_actual(node.selection_set, named, item)
                    for item in items
                    if item is not None
                )
            elif node.name.value == "edges":
                for inner, edge in self.collect(node.selection_set, named):
                    inner_definition = _fields_of(edge).get(inner.name.value)
                    if inner.name.value != "node" or inner_definition is None:
                        continue
                    node_type = get_named_type(inner_definition.type)
                    key = response_key(inner)
                    for item in items:
                        if isinstance(item, Mapping) and item.get(key) is not None:
                            total += 1 + self._selection_actual(
                                inner.selection_set, node_type, item[key]
                            )
        return total
