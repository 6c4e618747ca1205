"""Liveness and readiness.

``/readyz`` is 503 while a dependency the app cannot work without fails (the database). Redis
only degrades it (rate limits fall back to per-process budgets): it is reported as failing
with status ``degraded`` and 200, so a load balancer keeps sending traffic.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from entrypoints.web.context import services

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    failing: dict[str, str] = {}
    for name, check in services().checks.items():
        try:
            check()
        except Exception as exc:  # a failing dependency is the answer, not an error
            log.warning("readiness check %s failed: %s", name, type(exc).__name__)
            failing[name] = type(exc).__name__
    unready = failing.keys() - services().degraded_only
    status = "unavailable" if unready else "degraded" if failing else "ok"
    body = {
        "status": status,
        "checks": {name: failing.get(name, "ok") for name in services().checks},
    }
    response = jsonify(body)
    response.status_code = 503 if unready else 200
    return response
