"""``SandboxServer``: the sandbox on a free local port in a thread, for tests and benchmarks."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from adapters.shopify.sandbox.app import create_sandbox_app
from adapters.shopify.sandbox.client import SandboxControl
from adapters.shopify.sandbox.config import SandboxConfig
from adapters.shopify.sandbox.runtime import SandboxRuntime
from adapters.shopify.sandbox.state import SandboxState

__all__ = ["SandboxServer"]


class _QuietHandler(WSGIRequestHandler):
    """Tests make thousands of requests; werkzeug's access log would drown their output."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class SandboxServer:
    """Runs a sandbox over real HTTP on 127.0.0.1 until the ``with`` block ends.

    ``url`` is its base URL, ``shop_url_template`` what ``SHOPIFY_SHOP_URL_TEMPLATE`` should
    be, ``control`` a ``SandboxControl`` for it, ``state`` and ``runtime`` its insides.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        state: SandboxState | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.config = config or SandboxConfig()
        self.state = state or SandboxState()
        self.app = create_sandbox_app(self.state, self.config)
        self.runtime: SandboxRuntime = self.app.extensions["sandbox"]
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._control: SandboxControl | None = None

    def start(self) -> Self:
        self._server = make_server(
            self._host, self._port, self.app, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sandbox-http",
            daemon=True,
        )
        self._thread.start()
        self._control = SandboxControl(self.url)
        return self

    def stop(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.runtime.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox server is not running")
        return self._server.port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def shop_url_template(self) -> str:
        return self.url + "/store/{shop}"

    @property
    def control(self) -> SandboxControl:
        if self._control is None:
            raise RuntimeError("the sandbox server is not running")
        return self._control

    def shop_url(self, shop: str) -> str:
        return self.shop_url_template.format(shop=shop)

    def graphql_url(self, shop: str, version: str | None = None) -> str:
        return f"{self.shop_url(shop)}/admin/api/{version or self.config.api_version}/graphql.json"
