"""Access to the wired services and the signed-in user from inside a request."""

from __future__ import annotations

from flask import current_app, g

from core.model import User
from core.services import Context
from entrypoints.bootstrap import Services
from entrypoints.web.errors import ApiError


def services() -> Services:
    found: Services = current_app.extensions["storelink"]
    return found


def ctx() -> Context:
    return services().ctx


def current_user() -> User | None:
    user: User | None = g.get("user")
    return user


def actor() -> User:
    """The signed-in user; 401 when nobody is."""
    user = current_user()
    if user is None:
        raise ApiError(401, "unauthorized", "sign in or send an API token")
    return user
