"""The web server the demo runs (waitress in a thread) starts and stops cleanly, however
often and whatever it is serving at the moment."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import pytest

from entrypoints.serving import WebServer

pytestmark = [pytest.mark.e2e]


def _slow_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    time.sleep(0.005)  # long enough that a stop finds requests being served
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def test_the_web_server_stops_cleanly_again_and_again_with_requests_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The demo's waitress server is stopped from its own loop: closing its sockets from
    another thread while ``select`` waited on them failed now and then with EBADF."""
    crashed: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: crashed.append(args.exc_value))
    answered = 0

    def hammer(url: str, stop: threading.Event) -> None:
        nonlocal answered
        with httpx.Client(timeout=5) as web:
            while not stop.is_set():
                try:
                    if web.get(url).status_code == 200:
                        answered += 1
                except httpx.TransportError:  # refused or cut off by the stop: expected
                    pass

    for _ in range(30):
        server = WebServer(_slow_app, threads=2).start()
        stop = threading.Event()
        clients = [threading.Thread(target=hammer, args=(server.url, stop)) for _ in range(3)]
        for client in clients:
            client.start()
        time.sleep(0.02)
        server.stop(timeout=5)
        assert not server.running
        stop.set()
        for client in clients:
            client.join(10)
    assert crashed == []
    assert answered > 0
