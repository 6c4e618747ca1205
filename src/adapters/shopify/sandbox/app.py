"""The sandbox's Flask app factory and ``serve`` (what ``storelink sandbox`` runs)."""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

from adapters.shopify.sandbox.config import SandboxConfig
from adapters.shopify.sandbox.control import control_blueprint
from adapters.shopify.sandbox.oauth import oauth_blueprint
from adapters.shopify.sandbox.runtime import SandboxRuntime, current_runtime
from adapters.shopify.sandbox.state import SandboxState

__all__ = ["create_sandbox_app", "serve"]

log = logging.getLogger(__name__)

_API_VERSION = re.compile(r"^(\d{4}-\d{2}|unstable)$")
MAX_BODY_BYTES = 5 * 1024 * 1024


def create_sandbox_app(
    state: SandboxState | None = None, config: SandboxConfig | None = None
) -> Flask:
    """A simulated Shopify. ``app.extensions["sandbox"]`` holds its ``SandboxRuntime``.

    Call ``app.extensions["sandbox"].close()`` when done, to stop the webhook sender.
    """
    config = config or SandboxConfig()
    state = state or SandboxState()
    runtime = SandboxRuntime.build(state, config)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["sandbox"] = runtime
    app.register_blueprint(oauth_blueprint())
    app.register_blueprint(control_blueprint())

    @app.post("/store/<shop>/admin/api/<version>/graphql.json")
    def graphql(shop: str, version: str) -> tuple[Response, int, dict[str, str]]:
        if not _API_VERSION.match(version):
            return jsonify({"errors": "Not Found"}), 404, {}
        payload: Any
        if request.mimetype == "application/graphql":
            payload = request.get_data(as_text=True)
        else:
            payload = request.get_json(silent=True, force=True)
        reply = current_runtime().graphql.handle(
            shop_domain=shop,
            api_version=version,
            access_token=request.headers.get("X-Shopify-Access-Token"),
            payload=payload,
            base_url=request.host_url,
        )
        return jsonify(reply.body), reply.status, reply.headers

    @app.get("/")
    def index() -> Response:
        return jsonify(
            {
                "service": "storelink Shopify sandbox",
                "shops": "/_sandbox/shops",
                "shop_url_template": request.host_url + "store/{shop}",
            }
        )

    return app


def serve(host: str = "127.0.0.1", port: int = 8081, config: SandboxConfig | None = None) -> None:
    """Run the sandbox until interrupted (``storelink sandbox``)."""
    app = create_sandbox_app(config=config)
    server = make_server(host, port, app, threaded=True)
    log.info("Shopify sandbox on http://%s:%d (shops under /store/<shop>/)", host, server.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("Shopify sandbox stopping")
    finally:
        server.server_close()
        current = app.extensions["sandbox"]
        current.close()
