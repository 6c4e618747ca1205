"""Bulk query operations: checked at once, run in the background, one at a time per shop.

``bulkOperationRunQuery`` checks the query (it parses and validates against the schema, is a
query without variables, has exactly one top-level connection, at most five connections and
at most two levels of them) and answers with the operation ``CREATED``; a refused query is a
``userError`` (``INVALID``), and so is a second operation while one is ``CREATED`` or
``RUNNING`` (``OPERATION_IN_PROGRESS``, with Shopify's message naming the running one).

The operation then moves on in real time (``time.monotonic()``, like webhook retries, so a
frozen ``SandboxClock`` does not stall it): ``RUNNING`` after a quarter of
``bulk_operation_seconds``, when the query runs over the store as it is at that moment, and
``COMPLETED`` (or ``FAILED``, with Shopify's ``errorCode``) at the end, when its JSONL file
appears and ``bulk_operations/finish`` is sent. A background thread makes the moves on time;
any read of the operation makes the moves that are due first, so a reader never sees a
status older than the clock says.
"""

from __future__ import annotations

import heapq
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from inspect import isawaitable
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
    execute,
    get_named_type,
    get_operation_ast,
)

from adapters.shopify.sandbox.commerce import Commerce, UserErrors
from adapters.shopify.sandbox.config import SandboxConfig
from adapters.shopify.sandbox.cost import is_connection
from adapters.shopify.sandbox.ids import SandboxError, gid, rest_time
from adapters.shopify.sandbox.resolvers import RequestContext, query_root, resolve_field
from adapters.shopify.sandbox.state import BulkOperation, SandboxState, Shop

__all__ = ["MAX_CONNECTIONS", "MAX_DEPTH", "BulkOperations", "flatten"]

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 5
MAX_DEPTH = 2  # a connection inside a connection, no deeper
_RUNNING_SHARE = 0.25  # of the duration spent CREATED before RUNNING

Parse = Callable[[str], tuple[DocumentNode | None, tuple[GraphQLError, ...]]]


class BulkOperations:
    """Every shop's bulk queries and the thread that moves them on. Callers of ``start`` and
    ``refresh`` hold ``state.lock``; the thread takes it itself."""

    def __init__(
        self,
        state: SandboxState,
        config: SandboxConfig,
        commerce: Commerce,
        schema: GraphQLSchema,
        parse: Parse,
    ) -> None:
        self.state = state
        self.config = config
        self.commerce = commerce
        self.schema = schema
        self.parse = parse
        self._cond = threading.Condition()
        self._due: list[tuple[float, str, int]] = []  # (when, shop, operation id), a heap
        self._stopped = False
        self._thread: threading.Thread | None = None

    @property
    def seconds(self) -> float:
        """How long an operation takes from creation to completion."""
        override = self.state.bulk_operation_seconds
        return self.config.bulk_operation_seconds if override is None else override

    # --- the API's side (state lock held) -----------------------------------------------------

    def start(self, ctx: RequestContext, query: str) -> BulkOperation:
        """``bulkOperationRunQuery``: a new ``CREATED`` operation, or ``UserErrors``."""
        shop = ctx.shop
        busy = self.active(shop)
        if busy is not None:
            raise UserErrors(
                [
                    SandboxError(
                        "A bulk query operation for this app and shop is already in progress: "
                        f"{gid('BulkOperation', busy.id)}.",
                        code="OPERATION_IN_PROGRESS",
                    )
                ]
            )
        problems = self.check(query)
        if problems:
            raise UserErrors([SandboxError(m, code="INVALID", field=["query"]) for m in problems])
        now = time.monotonic()
        seconds = max(0.0, self.seconds)
        operation = BulkOperation(
            id=self.state.next_id(),
            query=query,
            created_at=self.state.now(),
            scopes=ctx.scopes,
            api_version=ctx.api_version,
            running_after=now + seconds * _RUNNING_SHARE,
            finished_after=now + seconds,
        )
        shop.bulk_operations[operation.id] = operation
        self._schedule(operation.running_after, shop.domain, operation.id)
        self._schedule(operation.finished_after, shop.domain, operation.id)
        return self.refresh(shop, operation)

    def active(self, shop: Shop) -> BulkOperation | None:
        """The shop's operation still ``CREATED`` or ``RUNNING``, if any."""
        for operation in shop.bulk_operations.values():
            if self.refresh(shop, operation).active:
                return operation
        return None

    def refresh(self, shop: Shop, operation: BulkOperation) -> BulkOperation:
        """Make the moves that are due by now (run the query, finish)."""
        now = time.monotonic()
        if operation.status == "CREATED" and now >= operation.running_after:
            operation.status = "RUNNING"
            self._run(shop, operation)
        if operation.status == "RUNNING" and now >= operation.finished_after:
            self._finish(shop, operation)
        return operation

    # --- checking a query ------------------------------------------------------------------------

    def check(self, query: str) -> list[str]:
        """What Shopify would refuse in this bulk query (empty: nothing)."""
        document, errors = self.parse(query)
        if document is None:
            return [e.message for e in errors] or ["Invalid bulk query"]
        operation = get_operation_ast(document)
        if operation is None:
            return ["Bulk queries must hold exactly one operation."]
        if operation.operation != OperationType.QUERY:
            return ["Bulk queries must be queries, not mutations."]
        if operation.variable_definitions:
            return ["Bulk queries cannot use variables."]
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        root = self.schema.query_type
        if root is None:  # pragma: no cover - the Admin schema has a query root
            return ["The schema has no query root."]
        counter = _Connections(self.schema, fragments)
        top = counter.walk(operation.selection_set, root, depth=0)
        problems = []
        if top != 1:
            problems.append("Bulk queries must contain exactly one top-level connection field.")
        if counter.total > MAX_CONNECTIONS:
            problems.append(f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections.")
        if counter.deepest > MAX_DEPTH:
            problems.append(
                f"Bulk queries cannot contain connections nested more than {MAX_DEPTH} levels."
            )
        return problems

    # --- running -------------------------------------------------------------------------------

    def _run(self, shop: Shop, operation: BulkOperation) -> None:
        """Execute the query over the store as it is now; keep its JSONL for completion."""
        document, _ = self.parse(operation.query)
        if document is None:  # pragma: no cover - checked when the operation was created
            operation.error_code = "INTERNAL_SERVER_ERROR"
            return
        context = RequestContext(
            state=self.state,
            commerce=self.commerce,
            config=self.config,
            shop=shop,
            scopes=operation.scopes,
            api_version=operation.api_version,
            base_url="",
            bulk=True,
        )
        result = execute(
            self.schema,
            document,
            root_value=query_root(context),
            context_value=context,
            field_resolver=resolve_field,
        )
        if isawaitable(result):  # pragma: no cover - every resolver is synchronous
            raise TypeError("the sandbox's resolvers are synchronous")
        if result.errors:
            codes = {(e.extensions or {}).get("code") for e in result.errors}
            operation.error_code = (
                "ACCESS_DENIED" if "ACCESS_DENIED" in codes else "INTERNAL_SERVER_ERROR"
            )
            operation.errors = [e.message for e in result.errors]
            log.warning("bulk operation %s failed: %s", operation.id, "; ".join(operation.errors))
            return
        data = result.data or {}
        connection = next(
            (v for v in data.values() if isinstance(v, dict) and _is_connection(v)), {}
        )
        lines: list[dict[str, Any]] = []
        operation.root_object_count = flatten(connection, None, lines)
        operation.object_count = len(lines)
        operation.jsonl = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)

    def _finish(self, shop: Shop, operation: BulkOperation) -> None:
        now = self.state.now()
        operation.status = "FAILED" if operation.error_code else "COMPLETED"
        operation.completed_at = now
        if operation.error_code:
            operation.jsonl, operation.object_count, operation.root_object_count = "", 0, 0
        offset = shop.utc_offset_minutes
        self.commerce.emit(
            shop,
            "bulk_operations/finish",
            {
                "admin_graphql_api_id": gid("BulkOperation", operation.id),
                "completed_at": rest_time(now, offset),
                "created_at": rest_time(operation.created_at, offset),
                "error_code": operation.error_code.lower() if operation.error_code else None,
                "status": operation.status.lower(),
                "type": "query",
            },
        )

    # --- the thread ----------------------------------------------------------------------------

    def _schedule(self, when: float, shop: str, operation_id: int) -> None:
        with self._cond:
            if self._stopped:
                return
            heapq.heappush(self._due, (when, shop, operation_id))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="sandbox-bulk", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _next_due(self) -> list[tuple[str, int]] | None:
        """Wait for the next moves that fall due; ``None`` once stopped."""
        with self._cond:
            while not self._stopped:
                now = time.monotonic()
                due = []
                while self._due and self._due[0][0] <= now:
                    _, shop, operation_id = heapq.heappop(self._due)
                    due.append((shop, operation_id))
                if due:
                    return due
                wait = self._due[0][0] - now if self._due else 1.0
                self._cond.wait(min(max(wait, 0.001), 1.0))
            return None

    def _loop(self) -> None:
        while True:
            due = self._next_due()
            if due is None:
                return
            with self.state.lock:  # taken without holding ``_cond``: no lock-order inversion
                for domain, operation_id in due:
                    shop = self.state.shops.get(domain)
                    operation = shop.bulk_operations.get(operation_id) if shop else None
                    if shop is not None and operation is not None:
                        self.refresh(shop, operation)

    def reset(self) -> None:
        with self._cond:
            self._due.clear()

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=5)


class _Connections:
    """Counts a query's connections and how deep they nest (fragments followed)."""

    def __init__(
        self, schema: GraphQLSchema, fragments: Mapping[str, FragmentDefinitionNode]
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.total = 0
        self.deepest = 0

    def walk(
        self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType, depth: int
    ) -> int:
        """The connections directly in this selection set (deeper ones are counted too)."""
        if selection_set is None:
            return 0
        found = 0
        for selection in selection_set.selections:
            if isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    found += self.walk(fragment.selection_set, target or parent, depth)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else None
                found += self.walk(selection.selection_set, target or parent, depth)
            elif isinstance(selection, FieldNode):
                field = getattr(parent, "fields", {}).get(selection.name.value)
                if field is None:
                    continue
                named = get_named_type(field.type)
                if is_connection(named):
                    found += 1
                    self.total += 1
                    self.deepest = max(self.deepest, depth + 1)
                    self.walk(selection.selection_set, named, depth + 1)
                else:
                    self.walk(selection.selection_set, named, depth)
        return found


def _is_connection(value: Mapping[str, Any]) -> bool:
    return isinstance(value.get("edges"), list) or isinstance(value.get("nodes"), list)


def _connection_nodes(value: Mapping[str, Any]) -> list[dict[str, Any]]:
    if isinstance(value.get("edges"), list):
        return [e["node"] for e in value["edges"] if isinstance(e, dict) and e.get("node")]
    return [n for n in value.get("nodes") or [] if isinstance(n, dict)]


def flatten(connection: Mapping[str, Any], parent: object, lines: list[dict[str, Any]]) -> int:
    """Shopify's JSONL: one line per node; nested connections' nodes carry ``__parentId``.

    Returns how many nodes the connection itself held (the root object count at the top).
    """
    nodes = _connection_nodes(connection)
    for node in nodes:
        record: dict[str, Any] = {}
        children = []
        for key, value in node.items():
            if isinstance(value, dict) and _is_connection(value):
                children.append(value)
            else:
                record[key] = value
        if parent is not None:
            record["__parentId"] = parent
        lines.append(record)
        for child in children:
            flatten(child, node.get("id"), lines)
    return len(nodes)
