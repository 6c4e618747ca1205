"""Log lines: one per event, as text or JSON, with the context they were written in (the
request id, the worker's event or command id)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from adapters.memory import MemoryDatabase, MemoryUnitOfWork
from adapters.system import ManualClock, UuidIdGenerator
from core.model import InboxEvent
from core.observability import log_context, log_fields
from core.services import Context
from core.services.worker import Handlers, Worker, in_transaction
from entrypoints import logs
from entrypoints.settings import ConfigError, LogFormat, read_log_format

Capture = Callable[[LogFormat], io.StringIO]


@pytest.fixture
def capture() -> Iterator[Callable[[LogFormat], io.StringIO]]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)

    def configure(log_format: LogFormat) -> io.StringIO:
        buffer = io.StringIO()
        logs.configure(log_format, stream=buffer, force=True)
        return buffer

    yield configure
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_a_json_line_has_the_fields_a_shipper_expects(capture: Capture) -> None:
    buffer = capture("json")

    with log_context(request_id="req-1"):
        logging.getLogger("storelink.test").warning(
            "stock for %s is low", "TENT-1", extra={"order_id": "o-9"}
        )

    (line,) = buffer.getvalue().splitlines()
    entry = json.loads(line)
    assert entry == {
        "ts": entry["ts"],
        "level": "WARNING",
        "logger": "storelink.test",
        "message": "stock for TENT-1 is low",
        "request_id": "req-1",
        "order_id": "o-9",
    }
    assert entry["ts"].endswith("Z")
    datetime.fromisoformat(entry["ts"].replace("Z", "+00:00"))


def test_outside_a_request_the_request_id_is_null(capture: Capture) -> None:
    buffer = capture("json")

    logging.getLogger("x").info("plain")

    assert json.loads(buffer.getvalue())["request_id"] is None


def test_an_exception_and_a_multi_line_message_stay_on_one_json_line(capture: Capture) -> None:
    buffer = capture("json")

    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("x").exception("first\nsecond")

    (line,) = buffer.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["message"] == "first\nsecond"
    assert "Traceback" in entry["exc"]
    assert "ValueError: boom" in entry["exc"]


def test_a_text_line_keeps_caller_values_from_starting_a_line_of_their_own(
    capture: Capture,
) -> None:
    buffer = capture("text")

    with log_context(request_id="req-2"):
        logging.getLogger("storelink.test").info(
            "shop %s", "evil.myshopify.com\n2026-01-01 INFO forged: line"
        )

    (line,) = buffer.getvalue().splitlines()
    assert " INFO storelink.test: shop evil.myshopify.com\\n2026-01-01 INFO forged" in line
    assert line.endswith(" request_id=req-2")


def test_contexts_nest_and_unwind() -> None:
    with log_context(request_id="r"):
        with log_context(event_id="e", skipped=None):
            assert log_fields() == {"request_id": "r", "event_id": "e"}
        assert log_fields() == {"request_id": "r"}
    assert log_fields() == {}


def test_a_workers_lines_name_the_event_they_were_about(capture: Capture) -> None:
    db = MemoryDatabase()
    clock = ManualClock()
    ctx = Context(uow=lambda: MemoryUnitOfWork(db), clock=clock, ids=UuidIdGenerator())

    def handle(_uow: object, _event: object) -> None:
        logging.getLogger("storelink.handler").info("looking at the order")

    with ctx.uow() as uow:
        uow.inbox.add(
            InboxEvent(
                id="event-42",
                platform="shopify",
                topic="orders/create",
                delivery_id="d-42",
                received_at=clock.now(),
                next_attempt_at=clock.now(),
            )
        )
        uow.commit()
    buffer = capture("json")

    Worker(ctx, Handlers(inbox={"orders/create": in_transaction(handle)}), worker_id="w").drain()

    entries = [json.loads(line) for line in buffer.getvalue().splitlines()]
    handler_line = next(e for e in entries if e["logger"] == "storelink.handler")
    outcome_line = next(e for e in entries if e["logger"] == "core.services.worker")
    for entry in (handler_line, outcome_line):
        assert entry["event_id"] == "event-42"
        assert entry["topic"] == "orders/create"
    assert outcome_line["message"].startswith("inbox orders/create done in ")


def test_log_format_is_text_or_json() -> None:
    assert read_log_format({}) == "text"
    assert read_log_format({"LOG_FORMAT": " JSON "}) == "json"
    with pytest.raises(ConfigError, match="LOG_FORMAT must be text or json"):
        read_log_format({"LOG_FORMAT": "xml"})


def test_configure_leaves_a_logger_someone_else_set_up_alone() -> None:
    # under pytest the root logger has the capture handlers: a plain configure adds nothing
    assert logs.configure("json", stream=io.StringIO()) is None
