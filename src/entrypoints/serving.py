"""The web app on waitress in a background thread (the demo), stopped cleanly.

waitress's loop is a ``select`` over its sockets in the thread that runs it. Closing those
sockets from another thread while the loop waits (``server.close()``) makes ``select`` fail
with ``OSError: Bad file descriptor``, or worse, watch a descriptor number that has meanwhile
been reused. So ``stop`` closes nothing itself: it hands the loop thread the closing through
waitress's trigger (a pipe the loop watches, whose thunks run in the loop thread between two
``select`` calls), in three steps: stop accepting, let the requests being served finish (the
loop still writes their answers), then close every channel, after which the loop has nothing
left to watch and returns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Self

from waitress import wasyncore
from waitress.server import create_server

__all__ = ["WebServer"]

WsgiApp = Callable[..., Any]


class WebServer:
    """``app`` served by waitress on ``host:port`` (port 0: any free one) in a thread."""

    def __init__(
        self,
        app: WsgiApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        threads: int = 8,
        ident: str = "storelink",
    ) -> None:
        self._server = create_server(app, host=host, port=port, threads=threads, ident=ident)
        self._host = host
        self._thread = threading.Thread(target=self._server.run, name="web-server", daemon=True)
        self._stopped = False

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, finish the requests being served (up to ``timeout``), close every
        connection and end the loop; returns once its thread has ended. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        server = self._server
        if not self._thread.is_alive():  # never started (or its loop ended): nobody selects
            server.task_dispatcher.shutdown(timeout=timeout)
            wasyncore.close_all(server._map)
            return
        self._in_loop(lambda: wasyncore.dispatcher.close(server), timeout)  # the listener only
        server.task_dispatcher.shutdown(timeout=timeout)
        self._in_loop(lambda: _close_channels(server._map), timeout)
        self._thread.join(timeout)

    def _in_loop(self, action: Callable[[], None], timeout: float) -> None:
        """Run ``action`` in the loop's thread, between two ``select`` calls; wait for it."""
        done = threading.Event()

        def thunk() -> None:
            try:
                action()
            finally:
                done.set()

        self._server.trigger.pull_trigger(thunk)
        done.wait(timeout)


def _close_channels(channels: dict[int, Any]) -> None:
    """Close every connection and the trigger (``handle_close`` also wakes a request thread
    still waiting to write); the loop ends once its map is empty."""
    for channel in list(channels.values()):
        channel.handle_close()
    channels.clear()
