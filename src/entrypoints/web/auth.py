"""Who is asking: a bearer API token, or a session from ``/login``.

Sessions live on the server (``core.services.sessions``): the cookie (signed with
``SECRET_KEY``, HttpOnly, SameSite=Lax, Secure behind https) carries only the session id, and
every request checks it, so logout, a password change, "sign out everywhere" and disabling a
user end it at once, a copied cookie included. Sessions end after ``SESSION_IDLE_MINUTES``
without a request and ``SESSION_MAX_HOURS`` after sign-in, whatever happens.

Anything that changes state through a session needs its CSRF token, an HMAC of the session id:
forms carry it as a hidden field, scripts send it as ``X-CSRF-Token``. Before sign-in, the
login form's token is an HMAC of a random nonce kept in the cookie. Bearer-token calls need
none (no ambient authority).

Rate limits (``client_address`` is the peer, or the client a trusted proxy names):

* every login form post, per address (``LOGIN_ATTEMPTS``);
* failed logins per account, from any address (``ACCOUNT_FAILURES``). A browser that signed in
  to the account before carries a signed "known device" cookie and is exempt from that lock
  (OWASP's device cookies), so an attacker cannot lock a user out; its own failures are
  limited per device (``DEVICE_FAILURES``);
* failed API tokens, per address (``AUTH_FAILURES``): the token is checked first and only
  failures count, so a valid token is never refused for them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import timedelta
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
from itsdangerous import BadData, URLSafeTimedSerializer

from core.errors import AuthenticationFailed, RateLimited
from core.model import User
from core.ports import Rate, RateLimitDecision
from core.services import sessions, tenancy
from core.services.sessions import SessionPolicy
from entrypoints.web.context import actor, ctx, services
from entrypoints.web.errors import ApiError

P = ParamSpec("P")
R = TypeVar("R")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
AUTH_FAILURES = Rate(20, 300)  # failed API tokens, per source address
LOGIN_ATTEMPTS = Rate(10, 60)  # login form posts, per source address
ACCOUNT_FAILURES = Rate(10, 900)  # failed logins per account, from browsers not known to it
DEVICE_FAILURES = Rate(10, 900)  # failed logins per known browser
DEVICE_COOKIE = "storelink_device"
DEVICE_MAX_AGE = 90 * 24 * 3600  # seconds a browser stays known after its last sign-in
DEVICES_KEPT = 5  # accounts one browser is remembered for
# Machine endpoints: signed by the store (HMAC) or by the cron secret, never by a user.
WEBHOOK_PREFIX = "/api/webhooks/"
CSRF_EXEMPT_PREFIXES = (WEBHOOK_PREFIX, "/api/cron/", "/healthz", "/readyz")
# Where a bearer token is the view's own secret (METRICS_TOKEN), not an API token.
OWN_BEARER_PATHS = frozenset({"/metrics"})

bp = Blueprint("auth", __name__)


def client_address() -> str:
    return request.remote_addr or "unknown"


def spend(name: str, rate: Rate, *, key: str | None = None) -> RateLimitDecision:
    """Spend one unit of a budget (per address unless ``key`` says otherwise)."""
    return services().rate_limiter.acquire(f"{name}:{key or client_address()}", rate)


def throttle(name: str, rate: Rate, *, key: str | None = None) -> None:
    """Spend one unit of a budget, or answer 429 with Retry-After."""
    decision = spend(name, rate, key=key)
    if not decision.allowed:
        raise RateLimited("too many attempts; try again later", retry_after=decision.retry_after)


def refuse_if_throttled(name: str, rate: Rate, *, key: str | None = None) -> None:
    """429 if the budget is spent; takes nothing."""
    decision = services().rate_limiter.peek(f"{name}:{key or client_address()}", rate)
    if not decision.allowed:
        raise RateLimited(
            "too many failed attempts; try again later", retry_after=decision.retry_after
        )


def session_policy() -> SessionPolicy:
    settings = services().settings
    return SessionPolicy(
        idle=timedelta(minutes=settings.session_idle_minutes),
        lifetime=timedelta(hours=settings.session_max_hours),
    )


def _keyed_digest(purpose: str, value: str) -> str:
    key = services().settings.secret_key.encode()
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def csrf_token() -> str:
    """This browser's CSRF token: an HMAC of its session id, or before sign-in of a random
    nonce kept in the cookie. It changes with every sign-in and is stored nowhere."""
    basis = g.get("session_id")
    if not isinstance(basis, str):
        basis = session.get("pre")
        if not isinstance(basis, str):
            basis = secrets.token_urlsafe(32)
            session["pre"] = basis
    return _keyed_digest("csrf", basis)


def _csrf_ok(sent: str | None) -> bool:
    return isinstance(sent, str) and hmac.compare_digest(csrf_token().encode(), sent.encode())


def _authenticate_token(header: str) -> User:
    """The token's user. Only failures are counted (per address), after the check: a valid
    token is never refused for them; past the budget a wrong one is answered 429."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "use Authorization: Bearer <api token>")
    try:
        return tenancy.authenticate_token(ctx(), token.strip())
    except AuthenticationFailed:
        throttle("token-fail", AUTH_FAILURES)
        raise


def _load_user() -> None:
    g.user = None
    g.via = None
    g.session_id = None
    if request.path.startswith(CSRF_EXEMPT_PREFIXES):
        return  # machine endpoints authenticate themselves (HMAC, cron secret)
    header = request.headers.get("Authorization")
    if header is not None and request.path not in OWN_BEARER_PATHS:
        g.user = _authenticate_token(header)
        g.via = "token"
        return
    session_id = session.get("sid")
    if session_id is None:
        return
    user = sessions.resume(ctx(), session_id, session_policy())
    if user is None:
        session.clear()  # revoked, expired or unknown: the browser is signed out
        return
    g.user, g.via, g.session_id = user, "session", session_id


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


DEFAULT_PAGE = "/portal/orders"
MAX_NEXT = 2000


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: no open redirect, and nothing that could split a header
    (control characters) or that a browser reads as another host (``//x``, ``/\\x``)."""
    if not target or len(target) > MAX_NEXT:
        return DEFAULT_PAGE
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F or ch == "\\" for ch in target):
        return DEFAULT_PAGE
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return DEFAULT_PAGE
    return target


# --- known devices: browsers that signed in to an account before ------------------------------


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(services().settings.secret_key, salt="storelink-known-device")


def _known_devices() -> list[tuple[str, str]]:
    """``(account, device)`` pairs from this browser's signed device cookie."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or len(raw) > 4096:
        return []
    try:
        entries = _device_serializer().loads(raw, max_age=DEVICE_MAX_AGE)
    except BadData:
        return []
    if not isinstance(entries, list):
        return []
    return [
        (entry[0], entry[1])
        for entry in entries
        if isinstance(entry, list) and len(entry) == 2 and all(isinstance(x, str) for x in entry)
    ]


def _device_for(account: str) -> str | None:
    """This browser's device id for the account, if it signed in to it before."""
    wanted = account.encode()
    return next((d for a, d in _known_devices() if hmac.compare_digest(a.encode(), wanted)), None)


def _remember_device(response: Response, account: str, device: str) -> None:
    entries = [(account, device), *((a, d) for a, d in _known_devices() if a != account)]
    response.set_cookie(
        DEVICE_COOKIE,
        _device_serializer().dumps([list(e) for e in entries[:DEVICES_KEPT]]),
        max_age=DEVICE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=services().settings.is_https,
        path=url_for("auth.login"),
    )


def _account(email: str) -> str:
    """The account an e-mail names, as a keyed digest of its normal form (limiter keys and
    device cookies never hold the address itself)."""
    return _keyed_digest("account", email.strip().lower())[:32]


def _failure_budget(account: str, device: str | None) -> tuple[str, Rate, str]:
    """Where this attempt's failure counts: the known device's budget, or the account's."""
    if device is not None:
        return "login-fail-device", DEVICE_FAILURES, device
    return "login-fail-account", ACCOUNT_FAILURES, account


# --- views -------------------------------------------------------------------------------------


def _signed_in(user: User, account: str, device: str | None) -> Response:
    """A new session (a new id, whatever the browser held before) and a known device."""
    if g.get("session_id"):
        sessions.end(ctx(), g.session_id)  # signing in again ends the session it replaces
    session.clear()
    session.permanent = True
    session["sid"] = sessions.start(ctx(), user, session_policy())
    response: Response = redirect(_safe_next(request.args.get("next")))  # type: ignore[assignment]
    _remember_device(response, account, device or secrets.token_urlsafe(16))
    return response


def _login_page(error: str | None, status: int = 200, *, email: str = "") -> Response:
    """The sign-in form, with an inline error (and the e-mail typed) after a failure."""
    wanted = request.args.get("next")
    return Response(
        render_template(
            "login.html",
            error=error,
            email=email,
            next_page=_safe_next(wanted) if wanted else None,
        ),
        status=status,
        mimetype="text/html",
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    if request.method == "GET":
        if g.get("user") is not None:  # already signed in: straight on
            return redirect(_safe_next(request.args.get("next")))  # type: ignore[return-value]
        return _login_page(None)
    email = request.form.get("email", "")[:254]
    if not _csrf_ok(request.form.get("csrf_token")):
        return _login_page("The form expired. Please sign in again.", 403, email=email)
    try:
        throttle("login", LOGIN_ATTEMPTS)
        account = _account(email)
        device = _device_for(account)
        name, rate, key = _failure_budget(account, device)
        refuse_if_throttled(name, rate, key=key)
    except RateLimited as exc:
        response = _login_page(
            "Too many sign-in attempts. Please wait a few minutes and try again.",
            429,
            email=email,
        )
        response.headers["Retry-After"] = str(max(1, round(exc.retry_after)))
        return response
    try:
        user = tenancy.authenticate(
            ctx(),
            services().passwords,
            email=email,
            password=request.form.get("password", "")[:1024],
        )
    except AuthenticationFailed as exc:
        spend(name, rate, key=key)
        return _login_page(exc.message, 200, email=email)
    return _signed_in(user, account, device)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    if g.get("session_id"):
        sessions.end(ctx(), g.session_id)
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


@bp.delete("/api/me/sessions")
def sign_out_everywhere() -> dict[str, object]:
    """End every session of the caller's user (this one too, when called through one)."""
    ended = sessions.end_all(ctx(), actor().id)
    if g.via == "session":
        session.clear()
    return {"revoked": ended}


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie (it carries only the server-side session's id), but none at all
    on webhook deliveries: a store's request carries no cookie and may not act through one,
    so nothing is read or written for it (``_load_user`` skips them before any lookup)."""

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
