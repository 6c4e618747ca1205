"""The errors the core speaks. Adapters translate vendor exceptions into these at their edge.

Every error carries a stable machine-readable ``code`` (used in HTTP answers and CLI lines) and
a message that is safe to show: it never contains a secret, a token or a stack trace.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "Conflict",
    "CryptoError",
    "DomainError",
    "IllegalTransition",
    "InsufficientStock",
    "InvalidInput",
    "InvalidShop",
    "InvalidSignature",
    "NotFound",
    "PayloadError",
    "PermissionDenied",
    "PlatformAuthError",
    "PlatformError",
    "PlatformRejected",
    "PlatformThrottled",
    "PlatformUnavailable",
    "RateLimited",
    "StaleRequest",
    "StoreOrderConflict",
    "StorelinkError",
]


class StorelinkError(Exception):
    """Base of every error the core knows. ``code`` is stable; ``message`` is readable."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class InvalidInput(StorelinkError):
    """The caller sent something the core cannot accept (a value out of range, a bad field)."""

    code = "invalid_input"

    def __init__(
        self, message: str, *, code: str | None = None, details: list[str] | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.details = details or []


class NotFound(StorelinkError):
    """The object does not exist, or belongs to another tenant (the two are indistinguishable)."""

    code = "not_found"


class Conflict(StorelinkError):
    """The change would break a uniqueness rule (same SKU twice, same delivery twice)."""

    code = "conflict"


class DomainError(StorelinkError):
    """A business rule refused the change; nothing was changed."""

    code = "domain_error"


class StoreOrderConflict(DomainError):
    """A store order arrived under the id of an order already imported, but it is another
    order (another number or creation time): the store reused the id (a store reset, a
    simulated store restarted). It is refused, never applied over the order already here;
    retrying cannot help. ``order_id``: the warehouse order the id already belongs to."""

    code = "store_order_identity_conflict"

    def __init__(self, message: str, *, order_id: str) -> None:
        super().__init__(message)
        self.order_id = order_id


class IllegalTransition(DomainError):
    code = "illegal_transition"


class InsufficientStock(DomainError):
    code = "insufficient_stock"


class PermissionDenied(StorelinkError):
    code = "forbidden"


class AuthenticationFailed(StorelinkError):
    code = "unauthorized"


class RateLimited(StorelinkError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CryptoError(StorelinkError):
    """A ciphertext could not be opened: tampered, truncated, or sealed with an unknown key."""

    code = "crypto_error"


# --- store platforms -------------------------------------------------------------------------


class InvalidShop(InvalidInput):
    code = "invalid_shop"


class InvalidSignature(StorelinkError):
    """An HMAC did not match (OAuth callback, webhook)."""

    code = "invalid_hmac"


class StaleRequest(StorelinkError):
    """A signed request is too old to be trusted (OAuth callback timestamp)."""

    code = "stale_request"


class PayloadError(InvalidInput):
    """A store payload could not be understood (no id, no line items, wrong types)."""

    code = "invalid_payload"


class PlatformError(StorelinkError):
    """A call to a store failed. ``retryable`` tells the worker whether to try again."""

    code = "platform_error"
    retryable = False

    def __init__(self, message: str, *, code: str | None = None, operation: str = "") -> None:
        super().__init__(message, code=code)
        self.operation = operation


class PlatformUnavailable(PlatformError):
    """5xx, timeouts, connection errors: worth retrying later."""

    code = "platform_unavailable"
    retryable = True


class PlatformThrottled(PlatformError):
    """The store's API budget is spent; retry after ``retry_after`` seconds."""

    code = "platform_throttled"
    retryable = True

    def __init__(self, message: str, *, retry_after: float, operation: str = "") -> None:
        super().__init__(message, operation=operation)
        self.retry_after = retry_after


class PlatformAuthError(PlatformError):
    """The store refused our credentials (revoked, expired refresh token, uninstalled app)."""

    code = "platform_auth_error"


class PlatformRejected(PlatformError):
    """The store understood the request and refused it (user errors, validation)."""

    code = "platform_rejected"
