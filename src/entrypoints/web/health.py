"""Liveness and readiness."""

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
    body = {
        "status": "ok" if not failing else "unavailable",
        "checks": {name: failing.get(name, "ok") for name in services().checks},
    }
    response = jsonify(body)
    response.status_code = 200 if not failing else 503
    return response
