"""Request ids: taken from a sane ``X-Request-Id`` or made up, echoed, and on every log line of
the request; the access line never carries a query string."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from entrypoints import logs

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Every log line as JSON, in a buffer; the root logger restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    buffer = io.StringIO()
    logs.configure("json", stream=buffer, force=True)
    try:
        yield buffer
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def _entries(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_sane_request_id_is_kept_and_echoed(web: FlaskClient) -> None:
    for sent in ("abc-123", "req.1_2-3", "A" * 64):
        response = web.get("/healthz", headers={"X-Request-Id": sent})

        assert response.headers["X-Request-Id"] == sent


@pytest.mark.parametrize(
    "sent",
    ["A" * 65, "has space", "semi;colon", "line\tbreak", "üñí", "", "a/b", "<script>"],
    ids=["too-long", "space", "semicolon", "tab", "unicode", "empty", "slash", "markup"],
)
def test_an_insane_request_id_is_replaced_by_a_new_one(web: FlaskClient, sent: str) -> None:
    response = web.get("/healthz", headers={"X-Request-Id": sent})

    assert GENERATED.fullmatch(response.headers["X-Request-Id"])


def test_every_request_without_one_gets_its_own(web: FlaskClient) -> None:
    ids = {web.get("/healthz").headers["X-Request-Id"] for _ in range(3)}

    assert len(ids) == 3
    assert all(GENERATED.fullmatch(i) for i in ids)


def test_refused_and_failed_requests_carry_the_id_too(web: FlaskClient) -> None:
    refused = web.get("/api/me", headers={"X-Request-Id": "r-401"})
    bad_token = web.get("/api/me", headers={"X-Request-Id": "r-bad", "Authorization": "Basic x"})
    missing = web.get("/no/such/page", headers={"X-Request-Id": "r-404"})

    assert (refused.status_code, refused.headers["X-Request-Id"]) == (401, "r-401")
    assert (bad_token.status_code, bad_token.headers["X-Request-Id"]) == (401, "r-bad")
    assert (missing.status_code, missing.headers["X-Request-Id"]) == (404, "r-404")


def test_the_access_line_names_the_request_id_status_and_duration(
    web: FlaskClient, log_lines: io.StringIO
) -> None:
    web.get("/api/me", headers={"X-Request-Id": "trace-me"})

    (line,) = [e for e in _entries(log_lines) if e["logger"] == "storelink.access"]
    assert line["request_id"] == "trace-me"
    assert line["message"] == "GET /api/me 401"
    assert line["level"] == "INFO"
    assert isinstance(line["duration_ms"], float)


def test_the_access_line_leaves_out_the_query_string_and_secrets(
    web: FlaskClient, log_lines: io.StringIO
) -> None:
    web.get(
        "/api/integrations/shopify/callback?code=secret-code-123&hmac=abcdef&shop=a.myshopify.com",
        headers={"Authorization": "Bearer slk_not-a-real-token-0123456789"},
    )

    text = log_lines.getvalue()
    assert "/api/integrations/shopify/callback" in text
    for secret in ("secret-code-123", "abcdef", "slk_not-a-real-token"):
        assert secret not in text


def test_health_checks_and_scrapes_do_not_fill_the_log(
    web: FlaskClient, log_lines: io.StringIO
) -> None:
    web.get("/healthz")
    web.get("/metrics")

    assert [e for e in _entries(log_lines) if e["logger"] == "storelink.access"] == []
