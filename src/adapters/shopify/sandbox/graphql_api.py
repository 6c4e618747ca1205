"""The Admin GraphQL endpoint: authentication, Shopify's pre-execution rules, cost and throttling.

A request goes: access token -> injected faults -> parse and validate against the real 2026-10
schema (cached per document) -> Shopify's structural rules (page sizes, 250-item input lists,
``@idempotent`` on the inventory mutations) -> requested cost against the single-query limit
and the app's leaky bucket -> execution with the resolvers -> actual cost charged -> the call
logged. Every answer that got as far as the bucket carries ``extensions.cost``. Bulk queries
run in the background (``bulk.BulkOperations``).
"""

from __future__ import annotations

import functools
import gzip
import json
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from importlib import resources
from inspect import isawaitable
from typing import Any, cast

from attrs import field, frozen
from graphql import (
    DocumentNode,
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    OperationType,
    build_client_schema,
    execute,
    get_operation_ast,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.utilities import value_from_ast

from adapters.shopify.sandbox.bulk import BulkOperations
from adapters.shopify.sandbox.commerce import Commerce
from adapters.shopify.sandbox.config import SandboxConfig
from adapters.shopify.sandbox.cost import QueryAnalyzer, response_key
from adapters.shopify.sandbox.resolvers import (
    IDEMPOTENT_MUTATIONS,
    RequestContext,
    mutation_root,
    query_root,
    resolve_field,
)
from adapters.shopify.sandbox.state import AccessToken, ApiCall, SandboxState, Shop

__all__ = ["UNAUTHORIZED_MESSAGE", "GraphQLReply", "GraphQLService", "load_schema"]

UNAUTHORIZED_MESSAGE = (
    "[API] Invalid API key or access token (unrecognized login or wrong password)"
)
_STATUS_TEXT = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_DOCUMENT_CACHE_SIZE = 512


@functools.cache
def load_schema() -> GraphQLSchema:
    """Shopify's Admin GraphQL schema, 2026-10 (see ``adapters/shopify/data/README.md``)."""
    data = resources.files("adapters.shopify").joinpath("data/admin-graphql-2026-10.json.gz")
    with data.open("rb") as raw, gzip.open(raw) as unzipped:
        introspection = json.load(unzipped)["data"]
    schema = build_client_schema(introspection)
    # Shopify's schema breaks one strict deprecation rule; skip self-validation (see README).
    schema._validation_errors = []
    return schema


@frozen
class GraphQLReply:
    status: int
    body: dict[str, Any] | str
    headers: dict[str, str] = field(factory=dict)


@frozen
class _Parsed:
    document: DocumentNode | None
    errors: tuple[GraphQLError, ...]


class _DocumentCache:
    """Parsed and validated documents by text: clients send the same few queries again and again."""

    def __init__(self, schema: GraphQLSchema, size: int = _DOCUMENT_CACHE_SIZE) -> None:
        self._schema = schema
        self._size = size
        self._entries: OrderedDict[str, _Parsed] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str) -> _Parsed:
        with self._lock:
            cached = self._entries.get(text)
            if cached is not None:
                self._entries.move_to_end(text)
                return cached
        try:
            document = parse(text)
        except GraphQLError as error:
            parsed = _Parsed(None, (error,))
        else:
            errors = validate(self._schema, document)
            parsed = _Parsed(document if not errors else None, tuple(errors))
        with self._lock:
            self._entries[text] = parsed
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return parsed


def _formatted(errors: list[GraphQLError] | tuple[GraphQLError, ...]) -> list[dict[str, Any]]:
    return [dict(error.formatted) for error in errors]


def coerce_variables(
    schema: GraphQLSchema, operation: OperationDefinitionNode, raw: Mapping[str, Any]
) -> tuple[dict[str, Any], list[GraphQLError]]:
    result = get_variable_values(schema, operation.variable_definitions or (), dict(raw))
    if isinstance(result, list):
        return {}, result
    coerced = getattr(result, "coerced", result)
    return dict(cast(Mapping[str, Any], coerced)), []


class GraphQLService:
    """Answers ``POST /store/<shop>/admin/api/<version>/graphql.json``."""

    def __init__(
        self,
        state: SandboxState,
        config: SandboxConfig,
        commerce: Commerce,
        rng: random.Random,
    ) -> None:
        self.state = state
        self.config = config
        self.commerce = commerce
        self.rng = rng
        self.schema = load_schema()
        self.documents = _DocumentCache(self.schema)
        self.bulk = BulkOperations(state, config, commerce, self.schema, self._parse)

    def _parse(self, text: str) -> tuple[DocumentNode | None, tuple[GraphQLError, ...]]:
        parsed = self.documents.get(text)
        return parsed.document, parsed.errors

    # --- the request -----------------------------------------------------------------------------

    def authenticate(self, shop: Shop, token_value: str | None) -> AccessToken | None:
        if not token_value:
            return None
        token = self.state.access_tokens.get(token_value)
        if token is None or token.revoked or token.shop != shop.domain:
            return None
        if token.expires_at is not None and token.expires_at <= self.state.clock.now():
            return None
        return token

    def handle(
        self,
        *,
        shop_domain: str,
        api_version: str,
        access_token: str | None,
        payload: object,
        base_url: str,
    ) -> GraphQLReply:
        started = time.perf_counter()
        with self.state.lock:
            shop = self.state.shops.get(shop_domain.lower())
            if shop is None:
                return GraphQLReply(404, {"errors": "Not Found"})
            token = self.authenticate(shop, access_token)
            if token is None:
                return GraphQLReply(401, {"errors": UNAUTHORIZED_MESSAGE})
            faults = self.state.faults
            latency = faults.latency
            fail = faults.error_rate > 0 and self.rng.random() < faults.error_rate
            fail_status, fail_after = faults.error_status, faults.error_mode == "after"
            if fail and faults.error_mode == "either":  # a coin decides, per failed request
                fail_after = self.rng.random() < 0.5
        if latency > 0:
            time.sleep(latency)
        if fail and not fail_after:
            return self._fault_reply(shop, api_version, fail_status, started)
        reply = self._run(
            shop,
            token,
            api_version=api_version,
            payload=payload,
            base_url=base_url,
            started=started,
        )
        if fail:
            return self._fault_reply(shop, api_version, fail_status, started, applied=True)
        return reply

    def _fault_reply(
        self, shop: Shop, api_version: str, status: int, started: float, *, applied: bool = False
    ) -> GraphQLReply:
        self._log(
            shop,
            api_version,
            operation_type="unknown",
            operation_name=None,
            root_fields=(),
            requested=None,
            actual=None,
            throttled=False,
            status=status,
            fault="error_after_apply" if applied else "error",
            started=started,
        )
        return GraphQLReply(status, {"errors": _STATUS_TEXT.get(status, "Internal Server Error")})

    def _request(self, payload: object) -> tuple[str, dict[str, Any], str | None] | None:
        if isinstance(payload, str):
            return payload, {}, None
        if not isinstance(payload, Mapping):
            return None
        query = payload.get("query")
        if not isinstance(query, str) or not query.strip():
            return None
        variables = payload.get("variables") or {}
        if isinstance(variables, str):
            try:
                variables = json.loads(variables) or {}
            except ValueError:
                return None
        if not isinstance(variables, Mapping):
            return None
        operation_name = payload.get("operationName")
        return query, dict(variables), operation_name if isinstance(operation_name, str) else None

    def _run(
        self,
        shop: Shop,
        token: AccessToken,
        *,
        api_version: str,
        payload: object,
        base_url: str,
        started: float,
    ) -> GraphQLReply:
        request = self._request(payload)
        log = functools.partial(self._log, shop, api_version, started=started)
        if request is None:
            log(
                operation_type="unknown",
                operation_name=None,
                root_fields=(),
                requested=None,
                actual=None,
                throttled=False,
                status=400,
            )
            return GraphQLReply(400, {"errors": {"query": "Required parameter missing or invalid"}})
        query, raw_variables, operation_name = request
        parsed = self.documents.get(query)
        document = parsed.document
        operation = get_operation_ast(document, operation_name) if document is not None else None
        if document is None or operation is None:
            errors = list(parsed.errors) or [
                GraphQLError(
                    f"No operation named '{operation_name}'"
                    if operation_name
                    else "An operation name is required when a document has several operations."
                )
            ]
            log(
                operation_type="unknown",
                operation_name=operation_name,
                root_fields=(),
                requested=None,
                actual=None,
                throttled=False,
                status=200,
                error_codes=tuple(_codes(errors)),
            )
            return GraphQLReply(200, {"errors": _formatted(errors)})
        name = operation.name.value if operation.name else operation_name
        with self.state.lock:
            return self._execute(
                shop,
                token,
                api_version=api_version,
                document=document,
                operation=operation,
                raw_variables=raw_variables,
                base_url=base_url,
                name=name,
                log=log,
            )

    def _execute(
        self,
        shop: Shop,
        token: AccessToken,
        *,
        api_version: str,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        raw_variables: dict[str, Any],
        base_url: str,
        name: str | None,
        log: functools.partial[None],
    ) -> GraphQLReply:
        operation_type = operation.operation.value
        if operation.operation == OperationType.SUBSCRIPTION:
            errors = [GraphQLError("Subscriptions are not supported by the Admin API.", operation)]
            log(
                operation_type=operation_type,
                operation_name=name,
                root_fields=(),
                requested=None,
                actual=None,
                throttled=False,
                status=200,
            )
            return GraphQLReply(200, {"errors": _formatted(errors)})
        variables, errors = coerce_variables(self.schema, operation, raw_variables)
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        analyzer = QueryAnalyzer(
            self.schema,
            operation,
            fragments,
            variables,
            max_page_size=self.config.max_page_size,
            max_input_size=self.config.max_input_size,
        )
        analysis = analyzer.analyze() if not errors else None
        root_fields = tuple(f.name.value for f in analysis.root_fields) if analysis else ()
        keys: dict[str, str] = {}
        if analysis is not None:
            errors = list(analysis.errors)
            if analyzer.is_mutation:
                errors += self._idempotency_keys(analysis.root_fields, variables, keys)
        if errors or analysis is None:
            log(
                operation_type=operation_type,
                operation_name=name,
                root_fields=root_fields,
                requested=analysis.requested_cost if analysis else None,
                actual=None,
                throttled=False,
                status=200,
                idempotency_keys=tuple(keys.values()),
                error_codes=tuple(_codes(errors)),
            )
            return GraphQLReply(200, {"errors": _formatted(errors)})
        requested = analysis.requested_cost
        bucket = self.commerce.bucket(shop)
        single_limit = min(self.config.max_query_cost, bucket.maximum)
        if requested > single_limit:
            error = GraphQLError(
                f"Query cost is {requested}, which exceeds the single query max cost limit "
                f"({single_limit}).\n\nSee https://shopify.dev/concepts/about-apis/rate-limits "
                "for more information on how the\ncost of a query is calculated.\n\nTo query "
                "larger amounts of data with fewer limits, bulk operations should be used "
                "instead.\nSee https://shopify.dev/tutorials/perform-bulk-operations-with-"
                "admin-api for usage details.\n",
                extensions={
                    "code": "MAX_COST_EXCEEDED",
                    "cost": requested,
                    "maxCost": single_limit,
                },
            )
            log(
                operation_type=operation_type,
                operation_name=name,
                root_fields=root_fields,
                requested=requested,
                actual=None,
                throttled=False,
                status=200,
                idempotency_keys=tuple(keys.values()),
                error_codes=("MAX_COST_EXCEEDED",),
            )
            return GraphQLReply(
                200,
                {"errors": _formatted([error]), "extensions": self._cost(requested, None, shop)},
            )
        if requested > bucket.available:
            status = self.state.faults.throttle_status
            wait = (requested - bucket.available) / bucket.restore_rate
            error = GraphQLError(
                "Throttled",
                extensions={
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits",
                },
            )
            log(
                operation_type=operation_type,
                operation_name=name,
                root_fields=root_fields,
                requested=requested,
                actual=None,
                throttled=True,
                status=status,
                idempotency_keys=tuple(keys.values()),
                error_codes=("THROTTLED",),
            )
            headers = {"Retry-After": f"{max(1, round(wait + 0.5))}"} if status == 429 else {}
            return GraphQLReply(
                status,
                {"errors": _formatted([error]), "extensions": self._cost(requested, None, shop)},
                headers,
            )
        context = RequestContext(
            state=self.state,
            commerce=self.commerce,
            config=self.config,
            shop=shop,
            scopes=frozenset(token.scopes),
            api_version=api_version,
            base_url=base_url,
            idempotency_keys=keys,
            bulk_operations=self.bulk,
        )
        root = mutation_root(context) if analyzer.is_mutation else query_root(context)
        result = self._exec(document, operation, root, context, raw_variables)
        actual = analyzer.actual_cost(result.data)
        bucket.available = max(0.0, bucket.available - actual)
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = _formatted(result.errors)
        body["data"] = result.data
        extensions = self._cost(requested, actual, shop)
        if context.search_warnings:
            extensions["search"] = context.search_warnings
        body["extensions"] = extensions
        log(
            operation_type=operation_type,
            operation_name=name,
            root_fields=root_fields,
            requested=requested,
            actual=actual,
            throttled=False,
            status=200,
            idempotency_keys=tuple(keys.values()),
            error_codes=tuple(_codes(result.errors or [])),
            user_error_codes=tuple(context.user_error_codes),
        )
        return GraphQLReply(200, body)

    def _exec(
        self,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        root: dict[str, Any],
        context: RequestContext,
        variables: dict[str, Any],
    ) -> ExecutionResult:
        result = execute(
            self.schema,
            document,
            root_value=root,
            context_value=context,
            variable_values=variables,
            operation_name=operation.name.value if operation.name else None,
            field_resolver=resolve_field,
        )
        if isawaitable(result):  # pragma: no cover - every resolver is synchronous
            raise TypeError("the sandbox's resolvers are synchronous")
        return result

    def _idempotency_keys(
        self, root_fields: list[Any], variables: dict[str, Any], keys: dict[str, str]
    ) -> list[GraphQLError]:
        errors = []
        for node in root_fields:
            key = None
            for directive in node.directives or ():
                if directive.name.value != "idempotent":
                    continue
                for argument in directive.arguments or ():
                    if argument.name.value == "key":
                        key = value_from_ast(argument.value, GraphQLString, variables)
            name = node.name.value
            if name not in IDEMPOTENT_MUTATIONS:
                continue
            if not isinstance(key, str) or not key.strip():
                errors.append(
                    GraphQLError(
                        f"The @idempotent directive with a non-empty key is required for the "
                        f"{name} mutation.",
                        node,
                        extensions={"code": "BAD_REQUEST"},
                    )
                )
                continue
            keys[response_key(node)] = key
        return errors

    def _cost(self, requested: int, actual: int | None, shop: Shop) -> dict[str, Any]:
        bucket = self.commerce.bucket(shop)
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": {
                    "maximumAvailable": float(bucket.maximum),
                    "currentlyAvailable": int(bucket.available),
                    "restoreRate": float(bucket.restore_rate),
                },
            }
        }

    def _log(
        self,
        shop: Shop,
        api_version: str,
        *,
        operation_type: str,
        operation_name: str | None,
        root_fields: tuple[str, ...],
        requested: int | None,
        actual: int | None,
        throttled: bool,
        status: int,
        started: float,
        idempotency_keys: tuple[str, ...] = (),
        error_codes: tuple[str, ...] = (),
        user_error_codes: tuple[str, ...] = (),
        fault: str | None = None,
    ) -> None:
        with self.state.lock:
            self.state.calls.append(
                ApiCall(
                    id=len(self.state.calls) + 1,
                    at=self.state.clock.now(),
                    shop=shop.domain,
                    api_version=api_version,
                    operation_type=operation_type,
                    operation_name=operation_name,
                    root_fields=root_fields,
                    requested_cost=requested,
                    actual_cost=actual,
                    throttled=throttled,
                    status=status,
                    idempotency_keys=idempotency_keys,
                    error_codes=error_codes,
                    user_error_codes=user_error_codes,
                    fault=fault,
                    duration_ms=round((time.perf_counter() - started) * 1000, 3),
                )
            )


def _codes(errors: list[GraphQLError] | tuple[GraphQLError, ...]) -> list[str]:
    codes = []
    for error in errors:
        code = (error.extensions or {}).get("code")
        codes.append(str(code) if code else error.message[:80])
    return codes
