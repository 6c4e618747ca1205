"""The Flask app on in-memory adapters, with users of every kind and their API tokens."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from adapters.crypto import generate_key_spec
from adapters.memory import MemoryDatabase, MemoryUnitOfWork
from adapters.passwords import TEST_PARAMETERS, Argon2PasswordHasher
from adapters.ratelimit import LimitsRateLimiter
from adapters.system import ManualClock, UuidIdGenerator
from core.services import SYSTEM, tenancy
from entrypoints.bootstrap import Services, bootstrap
from entrypoints.settings import Settings
from entrypoints.web import create_app


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        secret_key="s" * 40,
        token_encryption_keys=generate_key_spec("k1"),
        shopify_client_id="sandbox-client-id",
        shopify_client_secret="sandbox-client-secret",
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    db = MemoryDatabase()
    services = bootstrap(
        settings,
        uow=lambda: MemoryUnitOfWork(db),
        clock=ManualClock(),
        ids=UuidIdGenerator(),
        passwords=Argon2PasswordHasher(parameters=TEST_PARAMETERS),
        rate_limiter=LimitsRateLimiter("memory://", prefix="test"),
    )
    yield services
    services.close()


@pytest.fixture
def app(services: Services) -> Flask:
    return create_app(services, {"TESTING": True})


@pytest.fixture
def web(app: Flask) -> FlaskClient:
    return app.test_client()


class People:
    """Two clients (acme, globex) with an owner and a member each, and one staff user."""

    def __init__(self, services: Services) -> None:
        ctx, hasher = services.ctx, services.passwords
        self.acme = tenancy.create_client(ctx, SYSTEM, name="Acme")
        self.globex = tenancy.create_client(ctx, SYSTEM, name="Globex")
        self.tokens: dict[str, str] = {}
        for email, kwargs in {
            "staff@3pl.test": {"staff": True},
            "owner@acme.test": {"client_id": self.acme.id, "role": "owner"},
            "member@acme.test": {"client_id": self.acme.id, "role": "member"},
            "owner@globex.test": {"client_id": self.globex.id, "role": "owner"},
        }.items():
            tenancy.create_user(ctx, hasher, SYSTEM, email=email, password="password-123", **kwargs)  # type: ignore[arg-type]
            self.tokens[email.split("@")[0] + "@" + email.split("@")[1].split(".")[0]] = (
                tenancy.create_api_token(ctx, email=email)[1]
            )

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def people(services: Services) -> People:
    return People(services)


def login_form_token(browser: FlaskClient, **request: Any) -> str:
    """The CSRF token of the login form, as a browser that opens ``/login`` gets it."""
    page = browser.get("/login", **request).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the login form carries a CSRF token"
    return match.group(1)


def sign_in(
    browser: FlaskClient, email: str, password: str = "password-123", **request: Any
) -> TestResponse:
    """Post the login form as a browser would (``request``: e.g. ``environ_base``)."""
    token = login_form_token(browser, **request)
    return browser.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}, **request
    )


def from_address(address: str) -> dict[str, Any]:
    """Request arguments that make the test client come from ``address``."""
    return {"environ_base": {"REMOTE_ADDR": address}}
