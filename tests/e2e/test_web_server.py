"""The web server the demo runs (waitress in a thread) starts and stops cleanly, however
often and whatever it is serving at the moment."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import pytest

from entrypoints.serving import WebServer

pytestmark = [pytest.mark.e2e]


def test_the_web_server_stops_cleanly_again_and_again_with_requests_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The demo's waitress server is stopped from its own loop: closing its sockets from
    another thread while ``select`` waited on them failed now and then with EBADF."""
    crashed: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: crashed.append(args.exc_value))
    serving = threading.Event()

    def slow_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        serving.set()
        time.sleep(0.01)  # still being served when the stop comes
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    def hammer(url: str, stop: threading.Event) -> None:
        with httpx.Client(timeout=5) as web:
            while not stop.is_set():
                with contextlib.suppress(httpx.TransportError):  # refused or cut off: expected
                    web.get(url)

    for _ in range(30):
        server = WebServer(slow_app, threads=2).start()
        serving.clear()
        stop = threading.Event()
        clients = [threading.Thread(target=hammer, args=(server.url, stop)) for _ in range(3)]
        for client in clients:
            client.start()
        assert serving.wait(10), "no request reached the server"
        server.stop(timeout=5)
        assert not server.running
        stop.set()
        for client in clients:
            client.join(10)
    assert crashed == []
