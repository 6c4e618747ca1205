"""``GET /metrics``: every metric in Prometheus' text format, for a scraper or staff.

Allowed with ``Authorization: Bearer $METRICS_TOKEN`` (compared in constant time), a staff
user's API token, or a signed-in staff session. Wrong tokens count towards the per-address
failure budget, like any API token. Anonymous callers get 401, client users 403, always as
JSON (this is not a page). Without ``METRICS_TOKEN`` only staff can read it.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, jsonify, request

from adapters.metrics import CONTENT_TYPE
from core.errors import AuthenticationFailed, RateLimited
from core.model import User
from core.services import tenancy
from entrypoints.web.auth import AUTH_FAILURES, throttle
from entrypoints.web.context import ctx, current_user, services

bp = Blueprint("metrics", __name__)

PATH = "/metrics"


def _refused(status: int, code: str, message: str, **headers: str) -> Response:
    response = jsonify({"error": code, "message": message})
    response.status_code = status
    response.headers.update(headers)
    return response


def _bearer_user(header: str) -> User | None:
    """Who the bearer token is: None for ``METRICS_TOKEN`` (a scraper), else the API token's
    user. Raises ``AuthenticationFailed`` for anything else."""
    scheme, _, sent = header.partition(" ")
    sent = sent.strip()
    if scheme.lower() != "bearer" or not sent:
        raise AuthenticationFailed("use Authorization: Bearer <METRICS_TOKEN or API token>")
    expected = services().settings.metrics_token
    if expected is not None and hmac.compare_digest(sent.encode(), expected.encode()):
        return None
    return tenancy.authenticate_token(ctx(), sent)


def _refusal() -> Response | None:
    """None when the caller may read the metrics, else the answer to give."""
    header = request.headers.get("Authorization")
    try:
        if header is None:
            user = current_user()  # the session's, if any
        else:
            try:  # only failures are counted: a right token is never refused for them
                user = _bearer_user(header)
            except AuthenticationFailed:
                throttle("token-fail", AUTH_FAILURES)
                return _refused(
                    401, "unauthorized", "wrong metrics token", **{"WWW-Authenticate": "Bearer"}
                )
            if user is None:
                return None  # the metrics token
    except RateLimited as exc:
        retry_after = str(max(1, round(exc.retry_after)))
        return _refused(429, "rate_limited", exc.message, **{"Retry-After": retry_after})
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
