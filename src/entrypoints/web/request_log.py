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
from contextlib import ExitStack

from flask import Flask, Response, g, request

from core.observability import log_context
from entrypoints.logs import request_id

log = logging.getLogger("storelink.access")

HEADER = "X-Request-Id"
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def register(app: Flask) -> None:
    """Call before any other ``before_request`` is registered, so their lines carry the id."""

    @app.before_request
    def start() -> None:
        g.request_id = request_id(request.headers.get(HEADER))
        g.request_started = time.perf_counter()
        stack = ExitStack()
        stack.enter_context(log_context(request_id=g.request_id))
        g.request_log_context = stack

    @app.after_request
    def finish(response: Response) -> Response:
        rid = g.get("request_id")
        if rid is None:  # a failure before ``start`` ran
            return response
        response.headers[HEADER] = rid
        elapsed_ms = (time.perf_counter() - g.request_started) * 1000
        log.log(
            logging.DEBUG if request.path in QUIET_PATHS else logging.INFO,
            "%s %s %d",
            request.method,
            request.path,
            response.status_code,
            extra={"duration_ms": round(elapsed_ms, 1)},
        )
        return response

    @app.teardown_request
    def unbind(_exc: BaseException | None) -> None:
        stack: ExitStack | None = g.pop("request_log_context", None)
        if stack is not None:
            stack.close()
