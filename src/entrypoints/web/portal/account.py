"""The account: password and sessions."""

from __future__ import annotations

from flask import g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from core.errors import AuthenticationFailed, InvalidInput
from core.services import sessions, tenancy
from entrypoints.web.auth import login_required, session_policy, throttle
from entrypoints.web.context import actor, ctx, services
from entrypoints.web.portal._common import PASSWORD_CHANGES, _back, _notices, bp

# --- the account: password and sessions ------------------------------------------------------


@bp.get("/portal/account")
@login_required
def account_page() -> str:
    user = actor()
    return render_template(
        "account.html",
        user=user,
        live_sessions=sessions.live_sessions(ctx(), user.id, session_policy()),
        min_password_length=tenancy.MIN_PASSWORD_LENGTH,
        **_notices(),
    )


@bp.post("/portal/account/password")
@login_required
def change_password() -> Response:
    """Change one's password (the current one asked again); other sessions are signed out."""
    user = actor()
    throttle("password-change", PASSWORD_CHANGES, key=user.id)
    new = request.form.get("new_password", "")
    if new != request.form.get("confirm_password", ""):
        return _back("portal.account_page", error="passwords_differ")
    try:
        tenancy.change_password(
            ctx(),
            services().passwords,
            user.id,
            current=request.form.get("current_password", "")[:1025],
            new=new,
            keep_session=g.get("session_id"),
        )
    except AuthenticationFailed:
        return _back("portal.account_page", error="wrong_password")
    except InvalidInput:
        short = len(new) < tenancy.MIN_PASSWORD_LENGTH
        return _back(
            "portal.account_page", error="password_too_short" if short else "password_too_long"
        )
    return _back("portal.account_page", message="password_changed")


@bp.post("/portal/account/sign-out-everywhere")
@login_required
def sign_out_everywhere() -> Response:
    """End every session of the user, this one included."""
    sessions.end_all(ctx(), actor().id)
    session.clear()
    return redirect(url_for("auth.login"))
