"""Every error answers JSON ``{"error": code, "message": text}`` under ``/api`` (and to
callers that ask for JSON); pages get an HTML page in the portal's layout with a way back.
Never a stack trace, never a 500 for bad input."""

from __future__ import annotations

import html
import logging
from urllib.parse import urlsplit

from flask import Flask, Response, g, jsonify, render_template, request
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


# What a page says for a status: a title a person understands (the code stays in small print).
_PAGE_TITLES = {
    400: "That request could not be used",
    401: "Please sign in",
    403: "Not allowed",
    404: "Page not found",
    405: "Not available this way",
    409: "That could not be done now",
    413: "Too large",
    415: "Not a form this page accepts",
    422: "That input could not be used",
    429: "Too many attempts",
    502: "The store could not be reached",
    503: "Temporarily unavailable",
}


def _same_site_referrer() -> str | None:
    """Where the browser came from, if that was a page of this site (a "Go back" link)."""
    referrer = request.referrer
    if not referrer or len(referrer) > 2000:
        return None
    parts = urlsplit(referrer)
    if parts.netloc != request.host or parts.scheme not in ("http", "https"):
        return None
    if not parts.path.startswith("/") or parts.path.startswith("/api/"):
        return None
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return None if target == request.full_path.rstrip("?") else target


def _error_page(status: int, code: str, message: str) -> str:
    signed_in = g.get("user") is not None
    context = {
        "status": status,
        "code": code,
        # a server-side failure's text is ours, not the user's business
        "message": "Something went wrong on our side. Please try again in a moment."
        if status >= 500 and status not in (502, 503)
        else message,
        "title": _PAGE_TITLES.get(status, "Something went wrong"),
        "back": _same_site_referrer(),
        "home": "/portal/orders" if signed_in else "/login",
        "home_label": "Back to your orders" if signed_in else "Sign in",
        "request_id": g.get("request_id"),
    }
    try:
        return render_template("error.html", **context)
    except Exception:  # the layout itself failed (e.g. the database is down): a bare page
        log.exception("the error page could not be rendered")
        return (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<title>{status} · storelink</title></head><body><h1>{html.escape(context['title'])}"
            f"</h1><p>{html.escape(str(context['message']))}</p>"
            f'<p><a href="{context["home"]}">{context["home_label"]}</a></p></body></html>'
        )


def error_response(status: int, code: str, message: str, **extra: object) -> Response:
    if _wants_json():
        response = jsonify({"error": code, "message": message, **extra})
    else:
        response = Response(_error_page(status, code, message), mimetype="text/html")
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
