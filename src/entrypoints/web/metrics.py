"""``GET /metrics``: every metric in Prometheus' text format, for a scraper or staff.

Allowed with ``Authorization: Bearer $METRICS_TOKEN`` (compared in constant time; wrong
tokens count towards the per-address failure budget) or a signed-in staff session. Anonymous
callers get 401, client users 403, always as JSON (this is not a page). Without
``METRICS_TOKEN`` only staff sessions can read it.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, jsonify, request

from adapters.metrics import CONTENT_TYPE
from core.errors import RateLimited
from entrypoints.web.auth import AUTH_FAILURES, refuse_if_throttled, throttle
from entrypoints.web.context import current_user, services

bp = Blueprint("metrics", __name__)

PATH = "/metrics"


def _refused(status: int, code: str, message: str, **headers: str) -> Response:
    response = jsonify({"error": code, "message": message})
    response.status_code = status
    response.headers.update(headers)
    return response


def _token_ok(header: str) -> bool:
    scheme, _, sent = header.partition(" ")
    expected = services().settings.metrics_token
    return (
        expected is not None
        and scheme.lower() == "bearer"
        and hmac.compare_digest(sent.strip().encode(), expected.encode())
    )


def _refusal() -> Response | None:
    """None when the caller may read the metrics, else the answer to give."""
    header = request.headers.get("Authorization")
    if header is not None:
        try:
            refuse_if_throttled("auth-fail", AUTH_FAILURES)
            if _token_ok(header):
                return None
            throttle("auth-fail", AUTH_FAILURES)
        except RateLimited as exc:
            return _refused(
                429,
                "rate_limited",
                exc.message,
                **{"Retry-After": str(max(1, round(exc.retry_after)))},
            )
        return _refused(
            401, "unauthorized", "wrong metrics token", **{"WWW-Authenticate": "Bearer"}
        )
    user = current_user()
    if user is None:
        return _refused(
            401,
            "unauthorized",
            "send Authorization: Bearer <METRICS_TOKEN>, or sign in as warehouse staff",
            **{"WWW-Authenticate": "Bearer"},
        )
    if not user.is_staff:
        return _refused(403, "forbidden", "only warehouse staff may read the metrics")
    return None


@bp.get(PATH)
def metrics() -> Response:
    refusal = _refusal()
    if refusal is not None:
        return refusal
    response = Response(services().metrics.render(), content_type=CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response
