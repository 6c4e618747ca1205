"""The Flask app factory: ``create_app(services=None, config=None)``.

Blueprints are registered here; the wired ``Services`` live in ``app.extensions["storelink"]``.
With no ``services`` the app bootstraps from the environment (``gunicorn
'entrypoints.web:create_app()'``). Behind ``TRUSTED_PROXY_HOPS`` reverse proxies the app reads
the client's address, scheme and host from their ``X-Forwarded-*`` headers (werkzeug's
``ProxyFix``); with 0 (the default) those headers are ignored, so nobody can forge an address.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from entrypoints.bootstrap import Services, bootstrap
from entrypoints.web import (
    api_cron,
    api_health,
    api_integrations,
    api_warehouse,
    auth,
    errors,
    health,
    metrics,
    portal,
    request_log,
    security_headers,
    webhooks,
)
from entrypoints.web.strict_json import StrictJSONProvider

MAX_BODY_BYTES = 5 * 1024 * 1024


def create_app(services: Services | None = None, config: dict[str, Any] | None = None) -> Flask:
    services = services or bootstrap()
    app = Flask(__name__)
    app.json = StrictJSONProvider(app)
    app.config.update(
        SECRET_KEY=services.settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        SESSION_COOKIE_NAME="storelink_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=services.settings.is_https,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=services.settings.session_max_hours),
        JSON_SORT_KEYS=False,
    )
    app.config.update(config or {})
    app.extensions["storelink"] = services
    request_log.register(app)  # first: every later hook's log lines carry the request id
    errors.register(app)
    security_headers.register(app)
    auth.register(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(api_warehouse.bp)
    app.register_blueprint(api_integrations.bp)
    app.register_blueprint(api_health.bp)
    app.register_blueprint(api_cron.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(portal.bp)
    hops = services.settings.trusted_proxy_hops
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
    app.register_blueprint(metrics.bp)
    return app


__all__ = ["create_app"]
