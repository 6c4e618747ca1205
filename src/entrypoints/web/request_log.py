"""Every request gets an id and one access line.

The id is the caller's ``X-Request-Id`` when it is sane (<= 64 of ``[A-Za-z0-9._-]``, as a
proxy or load balancer sends it), otherwise a new one; it is echoed in the response's
``X-Request-Id`` and bound to every log line written while the request runs. The access line
says method, path (never the query string: OAuth callbacks carry codes and signatures there),
status and duration; health checks and scrapes log theirs at DEBUG only.
"""

from __future__ import annotations

import logging
import time
from contextlib import AbstractContextManager
from typing import NamedTuple

from flask import Flask, Response, g, request

from core.observability import log_context
from entrypoints.logs import request_id

log = logging.getLogger("storelink.access")

HEADER = "X-Request-Id"
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class _Logged(NamedTuple):
    """What a request's hooks share: its id, when it started, its bound log context."""

    request_id: str
    started: float
    context: AbstractContextManager[None]


def register(app: Flask) -> None:
    """Call before any other ``before_request`` is registered, so their lines carry the id."""

    @app.before_request
    def start() -> None:
        rid = request_id(request.headers.get(HEADER))
        bound = log_context(request_id=rid)
        bound.__enter__()  # left in ``unbind``, whatever happens in between
        g.request_log = _Logged(rid, time.perf_counter(), bound)

    @app.after_request
    def finish(response: Response) -> Response:
        logged: _Logged | None = g.get("request_log")
        if logged is None:  # a failure before ``start`` ran
            return response
        response.headers[HEADER] = logged.request_id
        elapsed_ms = (time.perf_counter() - logged.started) * 1000
        path = request.path
        log.log(
            logging.DEBUG if path in QUIET_PATHS else logging.INFO,
            "%s %s %d",
            request.method,
            path,
            response.status_code,
            extra={"duration_ms": round(elapsed_ms, 1)},
        )
        return response

    @app.teardown_request
    def unbind(_exc: BaseException | None) -> None:
        logged: _Logged | None = g.pop("request_log", None)
        if logged is not None:
            logged.context.__exit__(None, None, None)
