"""Who is asking: a bearer API token, or a session cookie from ``/login``.

Sessions are signed (``SECRET_KEY``), HttpOnly, SameSite=Lax, Secure behind https. Anything that
changes state through a session needs the session's CSRF token: forms carry it as a hidden
field, scripts send it as ``X-CSRF-Token``. Bearer-token calls need none (no ambient authority).
Failed logins and failed tokens are rate limited per source address.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from core.errors import AuthenticationFailed, RateLimited
from core.ports import Rate
from core.services import tenancy
from entrypoints.web.context import actor, ctx, services
from entrypoints.web.errors import ApiError

P = ParamSpec("P")
R = TypeVar("R")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
AUTH_FAILURES = Rate(20, 300)  # per source address: failed logins, tokens
LOGIN_ATTEMPTS = Rate(10, 60)  # per source address
# Machine endpoints: signed by the store (HMAC) or by the cron secret, never by a user.
WEBHOOK_PREFIX = "/api/webhooks/"
CSRF_EXEMPT_PREFIXES = (WEBHOOK_PREFIX, "/api/cron/", "/healthz", "/readyz")

bp = Blueprint("auth", __name__)


def client_address() -> str:
    return request.remote_addr or "unknown"


def throttle(name: str, rate: Rate, *, key: str | None = None) -> None:
    """Spend one unit of a per-address budget, or answer 429 with Retry-After."""
    decision = services().rate_limiter.acquire(f"{name}:{key or client_address()}", rate)
    if not decision.allowed:
        raise RateLimited("too many attempts; try again later", retry_after=decision.retry_after)


def refuse_if_throttled(name: str, rate: Rate) -> None:
    decision = services().rate_limiter.peek(f"{name}:{client_address()}", rate)
    if not decision.allowed:
        raise RateLimited(
            "too many failed attempts; try again later", retry_after=decision.retry_after
        )


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def _csrf_ok(sent: str | None) -> bool:
    expected = session.get("csrf")
    return (
        isinstance(expected, str)
        and isinstance(sent, str)
        and hmac.compare_digest(expected.encode(), sent.encode())
    )


def _load_user() -> None:
    g.user = None
    g.via = None
    if request.path.startswith(CSRF_EXEMPT_PREFIXES):
        return  # machine endpoints authenticate themselves (HMAC, cron secret)
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "use Authorization: Bearer <api token>")
        refuse_if_throttled("auth-fail", AUTH_FAILURES)
        try:
            g.user = tenancy.authenticate_token(ctx(), token.strip())
        except AuthenticationFailed:
            throttle("auth-fail", AUTH_FAILURES)
            raise
        g.via = "token"
        return
    user_id = session.get("user_id")
    if isinstance(user_id, str):
        user = tenancy.get_user(ctx(), user_id)
        if user is None or not user.active:
            session.clear()
            return
        g.user = user
        g.via = "session"


def _check_csrf() -> None:
    if request.method in SAFE_METHODS or request.path.startswith(CSRF_EXEMPT_PREFIXES):
        return
    if g.get("via") != "session":
        return
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token")
    if not _csrf_ok(sent):
        raise ApiError(403, "csrf_failed", "missing or wrong CSRF token; reload the page")


def login_required(view: Callable[P, R]) -> Callable[P, R]:
    """Pages: redirect to /login. (API views call ``actor()``, which answers 401.)"""

    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        if g.get("user") is None:
            return redirect(url_for("auth.login", next=request.full_path))  # type: ignore[return-value]
        return view(*args, **kwargs)

    return wrapped


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: no open redirect."""
    if not target:
        return "/portal/orders"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/portal/orders"
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    error = None
    if request.method == "POST":
        if not _csrf_ok(request.form.get("csrf_token")):
            raise ApiError(403, "csrf_failed", "the form expired; reload the page")
        throttle("login", LOGIN_ATTEMPTS)
        try:
            user = tenancy.authenticate(
                ctx(),
                services().passwords,
                email=request.form.get("email", "")[:254],
                password=request.form.get("password", "")[:1024],
            )
        except AuthenticationFailed as exc:
            error = exc.message
        else:
            session.clear()
            session.permanent = True
            session["user_id"] = user.id
            csrf_token()
            return redirect(_safe_next(request.args.get("next")))  # type: ignore[return-value]
    return render_template("login.html", error=error, csrf_token=csrf_token())


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    session.clear()
    return redirect(url_for("auth.login"))  # type: ignore[return-value]


@bp.route("/api/me")
def me() -> dict[str, object]:
    from entrypoints.web import presenters  # noqa: PLC0415

    user = actor()
    return {
        "user": presenters.user(user),
        "csrf_token": csrf_token() if g.via == "session" else None,
    }


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, but none at all on webhook deliveries: a store's request
    carries no cookie and may not act through one, so nothing is read or written for it."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(WEBHOOK_PREFIX):
            return None  # Flask's null session: empty, refuses writes, never saved
        return super().open_session(app, request)


def register(app: Flask) -> None:
    app.session_interface = _SessionInterface()
    app.register_blueprint(bp)

    @app.before_request
    def authenticate() -> None:
        _load_user()
        _check_csrf()

    @app.context_processor
    def inject() -> dict[str, object]:
        return {"current_user": g.get("user"), "csrf_token": csrf_token}
