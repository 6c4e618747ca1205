"""The Flask app factory: ``create_app(services=None, config=None)``.

Blueprints are registered here; the wired ``Services`` live in ``app.extensions["storelink"]``.
With no ``services`` the app bootstraps from the environment (``gunicorn
'entrypoints.web:create_app()'``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask

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
    webhooks,
)

MAX_BODY_BYTES = 5 * 1024 * 1024


def create_app(services: Services | None = None, config: dict[str, Any] | None = None) -> Flask:
    services = services or bootstrap()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=services.settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        SESSION_COOKIE_NAME="storelink_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=services.settings.is_https,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        JSON_SORT_KEYS=False,
    )
    app.config.update(config or {})
    app.extensions["storelink"] = services
    request_log.register(app)  # first: every later hook's log lines carry the request id
    errors.register(app)
    auth.register(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(api_warehouse.bp)
    app.register_blueprint(api_integrations.bp)
    app.register_blueprint(api_health.bp)
    app.register_blueprint(api_cron.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(portal.bp)
    app.register_blueprint(metrics.bp)
    return app


__all__ = ["create_app"]
