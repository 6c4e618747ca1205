"""Every error answers JSON ``{"error": code, "message": text}`` (pages get a plain page):
never a stack trace, never a 500 for bad input."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from core.errors import (
    AuthenticationFailed,
    Conflict,
    CryptoError,
    DomainError,
    InvalidInput,
    InvalidShop,
    InvalidSignature,
    NotFound,
    PermissionDenied,
    PlatformError,
    RateLimited,
    StorelinkError,
)

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
}


class ApiError(Exception):
    """An HTTP answer decided in a view: status, code, message."""

    def __init__(self, status: int, code: str, message: str, **extra: object) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def status_for(exc: StorelinkError) -> int:
    if isinstance(exc, InvalidShop):
        return 400
    if isinstance(exc, InvalidInput):
        return 422
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, (Conflict, DomainError)):
        return 409
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, (AuthenticationFailed, InvalidSignature)):
        return 401
    if isinstance(exc, RateLimited):
        return 429
    if isinstance(exc, PlatformError):
        return 502
    if isinstance(exc, CryptoError):
        return 500
    if exc.code in ("database_unavailable", "rate_limiter_unavailable"):
        return 503
    return 500


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(status: int, code: str, message: str, **extra: object) -> Response:
    if _wants_json():
        response = jsonify({"error": code, "message": message, **extra})
    else:
        response = Response(
            render_template("error.html", status=status, code=code, message=message),
            mimetype="text/html",
        )
    response.status_code = status
    return response


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        response = error_response(exc.status, exc.code, exc.message, **exc.extra)
        if exc.status == 429 and "retry_after" in exc.extra:
            response.headers["Retry-After"] = str(
                max(1, round(float(str(exc.extra["retry_after"]))))
            )
        return response

    @app.errorhandler(StorelinkError)
    def domain_error(exc: StorelinkError) -> Response:
        status = status_for(exc)
        if status >= 500:
            log.error("%s on %s %s: %s", exc.code, request.method, request.path, exc.message)
        extra: dict[str, object] = {}
        if isinstance(exc, InvalidInput) and exc.details:
            extra["details"] = exc.details
        response = error_response(status, exc.code, exc.message, **extra)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(max(1, round(exc.retry_after)))
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = _HTTP_CODES.get(status, "http_error")
        message = exc.description or exc.name
        if status == 413:
            message = "request body is too large"
        response = error_response(status, code, message)
        if status == 405 and exc.get_response().headers.get("Allow"):
            response.headers["Allow"] = exc.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "something went wrong on our side")
