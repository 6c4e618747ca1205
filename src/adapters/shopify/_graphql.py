"""The one place that talks GraphQL to a shop: pacing, retries, throttling, typed errors.

Pacing: every process of a deployment shares a shop's budget through the ``RateLimiter``
port (key ``shopify:cost:<shop>``), at the rate the shop last reported in
``extensions.cost.throttleStatus`` (``maximumAvailable`` points per ``maximumAvailable /
restoreRate`` seconds). Shopify runs a query only when its requested cost is available and
then charges what it actually cost, so before a query the client waits until both the shared
budget and the bucket the shop last reported have room for the requested cost (estimated from
the document), reserving what the operation cost last time; after the answer it charges the
shared budget the actual cost. A query is then rarely throttled in the first place.

Faults: ``THROTTLED`` (HTTP 200 or 429) is waited out for the points missing at the restore
rate; 5xx answers, timeouts and connection errors are retried with capped exponential backoff
and jitter, resending the same variables (so an ``@idempotent`` key is reused). When retries
run out the call fails with a ``core.errors`` type saying which operation on which shop
failed and why. The access token travels only in the ``X-Shopify-Access-Token`` header; it is
never logged and never part of an error.

Metrics: every answer (or failed attempt) is reported to the ``Metrics`` port as ``ok``,
``throttled``, ``unavailable`` (5xx, timeout, connection, a retryable error), ``auth_error``
or ``rejected``, with the requested and actual cost points of the queries Shopify ran.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final, TypeVar

import httpx
from attrs import define, field, frozen

from adapters.shopify._config import ShopifyConfig
from adapters.shopify._converter import structure
from adapters.shopify._cost import estimate_cost
from adapters.shopify._documents import DOCUMENTS
from core.errors import (
    PayloadError,
    PlatformAuthError,
    PlatformRejected,
    PlatformThrottled,
    PlatformUnavailable,
)
from core.observability import NoMetrics
from core.ports import Clock, Metrics, Rate, RateLimiter
from core.store import StoreSession

__all__ = ["GraphQLClient", "ThrottleStatus", "shop_base_url"]

T = TypeVar("T")

log = logging.getLogger("adapters.shopify")

_MIN_SLEEP: Final = 0.05
_MAX_MESSAGES: Final = 5
_RETRYABLE_CODES: Final = frozenset({"INTERNAL_SERVER_ERROR", "IDEMPOTENCY_CONCURRENT_REQUEST"})
_AUTH_CODES: Final = frozenset({"ACCESS_DENIED", "UNAUTHORIZED", "FORBIDDEN"})


def shop_base_url(config: ShopifyConfig, shop: str) -> str:
    """Where ``shop`` (a validated ``*.myshopify.com`` domain) lives, without a trailing /."""
    return config.shop_url_template.replace("{shop}", shop).rstrip("/")


@frozen
class ThrottleStatus:
    maximum_available: float
    currently_available: float
    restore_rate: float

    @property
    def rate(self) -> Rate:
        """The shared limiter's view of this bucket: its size per time to refill it."""
        amount = max(1, int(self.maximum_available))
        return Rate(amount=amount, per_seconds=max(1, math.ceil(amount / self.restore_rate)))


STANDARD_BUCKET: Final = ThrottleStatus(
    maximum_available=2000.0, currently_available=2000.0, restore_rate=100.0
)
"""Assumed until a shop reports its own (Shopify's Standard plan: 2,000 points, 100/s)."""


@frozen
class _Cost:
    requested: float | None
    actual: float | None
    throttle: ThrottleStatus | None


@define
class _Seen:
    status: ThrottleStatus
    at: datetime


class _Retry(Exception):
    """One attempt failed in a way worth another (5xx, timeout, connection)."""

    def __init__(self, reason: str, *, maybe_applied: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.maybe_applied = maybe_applied


class _Throttled(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(f"throttled for {wait:.2f}s")
        self.wait = wait


def _float(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _cost(body: Mapping[str, Any]) -> _Cost | None:
    extensions = body.get("extensions")
    cost = extensions.get("cost") if isinstance(extensions, Mapping) else None
    if not isinstance(cost, Mapping):
        return None
    status = cost.get("throttleStatus")
    throttle = None
    if isinstance(status, Mapping):
        maximum = _float(status.get("maximumAvailable"))
        current = _float(status.get("currentlyAvailable"))
        restore = _float(status.get("restoreRate"))
        if maximum and current is not None and restore:
            throttle = ThrottleStatus(maximum, current, restore)
    return _Cost(
        requested=_float(cost.get("requestedQueryCost")),
        actual=_float(cost.get("actualQueryCost")),
        throttle=throttle,
    )


def _error_code(error: object) -> str | None:
    if not isinstance(error, Mapping):
        return None
    extensions = error.get("extensions")
    code = extensions.get("code") if isinstance(extensions, Mapping) else None
    return code if isinstance(code, str) else None


def _error_message(error: object) -> str:
    if isinstance(error, Mapping) and isinstance(error.get("message"), str):
        return str(error["message"])
    return "unknown error"


@define
class GraphQLClient:
    config: ShopifyConfig
    http: httpx.Client
    rate_limiter: RateLimiter
    clock: Clock
    sleep: Callable[[float], None]
    random: Callable[[], float]
    metrics: Metrics = field(factory=NoMetrics)
    _seen: dict[str, _Seen] = field(factory=dict, init=False)
    _actual: dict[str, int] = field(factory=dict, init=False)

    # --- public --------------------------------------------------------------------------------

    def endpoint(self, shop: str) -> str:
        return (
            f"{shop_base_url(self.config, shop)}/admin/api/{self.config.api_version}/graphql.json"
        )

    def last_status(self, shop: str) -> ThrottleStatus | None:
        """The shop's bucket as it last reported it (None before the first answer)."""
        seen = self._seen.get(shop)
        return seen.status if seen else None

    def query(
        self,
        session: StoreSession,
        operation: str,
        variables: Mapping[str, object],
        shape: type[T],
        *,
        retry_ambiguous: bool = True,
    ) -> T:
        """Run ``DOCUMENTS[operation]`` and structure its ``data`` as ``shape``.

        ``retry_ambiguous=False`` is for mutations that must not run twice: a 5xx or a timeout
        after the request went out is then reported, not retried (it may have been applied).
        """
        data = self.execute(session, operation, variables, retry_ambiguous=retry_ambiguous)
        try:
            return structure(data, shape, f"Shopify's answer to {operation}")
        except PayloadError as exc:
            raise PlatformRejected(
                _scrub(exc.message, session.access_token), operation=operation
            ) from None

    def execute(
        self,
        session: StoreSession,
        operation: str,
        variables: Mapping[str, object],
        *,
        retry_ambiguous: bool = True,
    ) -> Mapping[str, Any]:
        document = DOCUMENTS[operation]
        requested = estimate_cost(document, variables)
        shop = session.shop
        failures = 0
        throttles = 0
        waited = 0.0
        while True:
            slept, units = self._pace(shop, operation, requested, waited)
            waited += slept
            try:
                return self._attempt(
                    session,
                    operation=operation,
                    document=document,
                    variables=variables,
                    requested=requested,
                    units=units,
                )
            except _Retry as retry:
                if retry.maybe_applied and not retry_ambiguous:
                    raise PlatformUnavailable(
                        f"Shopify {operation} on {shop} failed ({retry.reason}); it may or may "
                        "not have been applied, so it was not retried",
                        operation=operation,
                    ) from None
                if failures >= self.config.max_retries:
                    raise PlatformUnavailable(
                        f"Shopify {operation} on {shop} failed after {failures + 1} attempts: "
                        f"{retry.reason}",
                        operation=operation,
                    ) from None
                failures += 1
                delay = self.backoff(failures)
                log.warning(
                    "shopify %s on %s: %s; retry %d of %d in %.2fs",
                    operation,
                    shop,
                    retry.reason,
                    failures,
                    self.config.max_retries,
                    delay,
                )
                self.sleep(delay)
                waited += delay
            except _Throttled as throttled:
                throttles += 1
                wait = throttled.wait * (1.0 + 0.1 * self.random())
                if (
                    throttles > self.config.max_throttle_waits
                    or waited + wait > self.config.max_budget_wait_seconds
                ):
                    raise PlatformThrottled(
                        f"Shopify {operation} on {shop} still throttled after {throttles} "
                        f"answers and {waited:.1f}s of waiting",
                        retry_after=wait,
                        operation=operation,
                    ) from None
                log.info("shopify %s on %s: throttled, waiting %.2fs", operation, shop, wait)
                self.sleep(wait)
                waited += wait

    # --- one attempt ---------------------------------------------------------------------------

    def _attempt(
        self,
        session: StoreSession,
        *,
        operation: str,
        document: str,
        variables: Mapping[str, object],
        requested: int,
        units: int,
    ) -> Mapping[str, Any]:
        """``_send`` with its outcome counted."""
        try:
            data, cost = self._send(
                session,
                operation=operation,
                document=document,
                variables=variables,
                requested=requested,
                units=units,
            )
        except _Throttled:
            self._count(operation, "throttled")
            raise
        except _Retry:
            self._count(operation, "unavailable")
            raise
        except PlatformAuthError:
            self._count(operation, "auth_error")
            raise
        except PlatformRejected:
            self._count(operation, "rejected")
            raise
        self._count(operation, "ok", cost)
        return data

    def _count(self, operation: str, outcome: str, cost: _Cost | None = None) -> None:
        self.metrics.store_request(
            "shopify",
            operation,
            outcome,
            requested_cost=cost.requested if cost else None,
            actual_cost=cost.actual if cost else None,
        )

    def _send(
        self,
        session: StoreSession,
        *,
        operation: str,
        document: str,
        variables: Mapping[str, object],
        requested: int,
        units: int,
    ) -> tuple[Mapping[str, Any], _Cost | None]:
        token = session.access_token
        try:
            response = self.http.post(
                self.endpoint(session.shop),
                json={"query": document, "variables": dict(variables)},
                headers={"X-Shopify-Access-Token": token, "Accept": "application/json"},
                timeout=httpx.Timeout(
                    self.config.read_timeout, connect=self.config.connect_timeout
                ),
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise _Retry(f"could not connect ({type(exc).__name__})", maybe_applied=False) from None
        except httpx.TimeoutException as exc:
            raise _Retry(f"timed out ({type(exc).__name__})", maybe_applied=True) from None
        except httpx.TransportError as exc:
            raise _Retry(f"connection failed ({type(exc).__name__})", maybe_applied=True) from None

        status = response.status_code
        body = self._json(response)
        cost = _cost(body) if body is not None else None
        if cost is not None and cost.throttle is not None:
            self._seen[session.shop] = _Seen(cost.throttle, self.clock.now())
        if status == httpx.codes.TOO_MANY_REQUESTS:
            raise _Throttled(self._throttle_wait(cost, requested, response))
        if status >= httpx.codes.INTERNAL_SERVER_ERROR:
            raise _Retry(f"HTTP {status}", maybe_applied=True)
        if status in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
            raise PlatformAuthError(
                f"Shopify refused the credentials for {session.shop} on {operation} "
                f"(HTTP {status}): reconnect the store",
                operation=operation,
            )
        if status >= httpx.codes.BAD_REQUEST:
            detail = self._messages(body, token) if body else ""
            raise PlatformRejected(
                f"Shopify refused {operation} on {session.shop} (HTTP {status})"
                + (f": {detail}" if detail else ""),
                operation=operation,
            )
        if body is None:
            raise _Retry(f"HTTP {status} with a body that is not JSON", maybe_applied=True)

        errors = body.get("errors")
        if errors:
            error_list = errors if isinstance(errors, list) else [errors]
            codes = {_error_code(e) for e in error_list}
            if "THROTTLED" in codes:
                raise _Throttled(self._throttle_wait(cost, requested, response))
            detail = self._messages(body, token)
            if codes & _RETRYABLE_CODES:
                raise _Retry(f"Shopify error: {detail}", maybe_applied=True)
            if codes & _AUTH_CODES:
                raise PlatformAuthError(
                    f"Shopify denied {operation} on {session.shop}: {detail}", operation=operation
                )
            code = next((c.lower() for c in codes if c), None)
            raise PlatformRejected(
                f"Shopify rejected {operation} on {session.shop}: {detail}",
                code=code,
                operation=operation,
            )
        data = body.get("data")
        if not isinstance(data, Mapping):
            raise PlatformRejected(
                f"Shopify answered {operation} on {session.shop} without data", operation=operation
            )
        self._charge(session.shop, operation, cost, units)
        return data, cost

    # --- budget --------------------------------------------------------------------------------

    def _pace(self, shop: str, operation: str, requested: int, waited: float) -> tuple[float, int]:
        """Wait until the shop's budget can take the query; return (seconds waited, units taken).

        Shopify runs a query only if its requested cost is available, then charges the actual
        cost. So: wait until the bucket the shop last reported has refilled to the requested
        cost, and until the shared budget has room for it (``peek``); then reserve what the
        operation really cost last time (nothing the first time). ``_charge`` takes the rest
        once the answer says what the query cost.
        """
        seen = self._seen.get(shop)
        status = seen.status if seen else STANDARD_BUCKET
        slept = 0.0
        need = min(float(requested), status.maximum_available)
        if seen is not None:
            elapsed = max(0.0, (self.clock.now() - seen.at).total_seconds())
            available = min(
                status.maximum_available, status.currently_available + status.restore_rate * elapsed
            )
            if available < need:
                slept += self._wait(
                    (need - available) / status.restore_rate, shop, operation, waited
                )
        rate = status.rate
        key = _key(shop)
        check = max(1, min(requested, rate.amount))
        reserve = min(self._actual.get(operation, 0), rate.amount)
        while True:
            decision = self.rate_limiter.peek(key, rate, check)
            if decision.allowed:
                if reserve < 1:
                    return slept, 0
                decision = self.rate_limiter.acquire(key, rate, reserve)
                if decision.allowed:
                    return slept, reserve
            slept += self._wait(decision.retry_after, shop, operation, waited + slept)

    def _wait(self, seconds: float, shop: str, operation: str, waited: float) -> float:
        seconds = max(seconds, _MIN_SLEEP)
        if waited + seconds > self.config.max_budget_wait_seconds:
            raise PlatformThrottled(
                f"Shopify {operation} on {shop}: the shop's API budget stays spent "
                f"(waited {waited:.1f}s)",
                retry_after=seconds,
                operation=operation,
            )
        self.sleep(seconds)
        return seconds

    def _charge(self, shop: str, operation: str, cost: _Cost | None, reserved: int) -> None:
        """Take what the query really cost (beyond the reservation) from the shared budget."""
        if cost is None or cost.actual is None:
            return
        actual = max(1, math.ceil(cost.actual))
        self._actual[operation] = actual
        rate = (cost.throttle or STANDARD_BUCKET).rate
        extra = min(actual - reserved, rate.amount)
        if extra < 1:
            return
        decision = self.rate_limiter.acquire(_key(shop), rate, extra)
        if not decision.allowed and decision.remaining > 0:  # spent elsewhere meanwhile
            self.rate_limiter.acquire(_key(shop), rate, min(decision.remaining, extra))

    def _throttle_wait(self, cost: _Cost | None, requested: int, response: httpx.Response) -> float:
        if cost is not None and cost.throttle is not None and cost.throttle.restore_rate > 0:
            need = (cost.requested or float(requested)) - cost.throttle.currently_available
            return max(need, 1.0) / cost.throttle.restore_rate
        header = response.headers.get("Retry-After")
        try:
            return max(float(header), _MIN_SLEEP) if header else 1.0
        except ValueError:
            return 1.0

    def backoff(self, failures: int) -> float:
        """Capped exponential backoff with jitter before retry number ``failures``."""
        ceiling = min(
            self.config.backoff_cap_seconds,
            self.config.backoff_base_seconds * 2.0 ** (failures - 1),
        )
        return ceiling * (0.5 + 0.5 * self.random())

    # --- bodies --------------------------------------------------------------------------------

    @staticmethod
    def _json(response: httpx.Response) -> Mapping[str, Any] | None:
        try:
            body = json.loads(response.content)
        except ValueError:
            return None
        return body if isinstance(body, Mapping) else None

    @staticmethod
    def _messages(body: Mapping[str, Any], token: str) -> str:
        errors = body.get("errors")
        if isinstance(errors, str):
            return _scrub(errors, token)
        if not isinstance(errors, list):
            return ""
        messages = [_error_message(e) for e in errors[:_MAX_MESSAGES]]
        return _scrub("; ".join(messages), token)


def _key(shop: str) -> str:
    return f"shopify:cost:{shop}"


def _scrub(text: str, token: str) -> str:
    """Shopify never echoes a token, but an error message must not carry one regardless."""
    return text.replace(token, "<redacted>") if token else text
