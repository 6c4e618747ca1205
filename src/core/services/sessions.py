"""Signed-in browsers: sessions the server can end.

``start`` makes a random session id for the browser's cookie and stores only its SHA-256
digest. ``resume`` runs on every request and answers the user only while the session is
live: not revoked, within its absolute lifetime, used within its idle lifetime, its user
still active. It records the use at most once per ``SessionPolicy.touch_every``, so a busy
browser does not write on every request (the idle lifetime is kept to that precision).
``end`` is a logout, ``end_all`` is "sign out everywhere"; a password change and a disabled
user end sessions too (``tenancy``).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from attrs import frozen

from core.model import User, UserSession
from core.services._context import Context
from core.services.tenancy import hash_token

MAX_SESSION_ID_LENGTH = 128


@frozen
class SessionPolicy:
    """How long sessions last: ``idle`` without a request, ``lifetime`` at most."""

    idle: timedelta = timedelta(hours=2)
    lifetime: timedelta = timedelta(hours=12)
    touch_every: timedelta = timedelta(minutes=1)


def _digest(session_id: object) -> str | None:
    """The stored form of a session id, or ``None`` for what cannot be one."""
    if not isinstance(session_id, str) or not 0 < len(session_id) <= MAX_SESSION_ID_LENGTH:
        return None
    return hash_token(session_id)


def start(ctx: Context, user: User, policy: SessionPolicy) -> str:
    """A new session for ``user``; its id, for the browser's cookie only. Sessions whose
    lifetime is over are deleted on the way."""
    session_id = secrets.token_urlsafe(32)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        uow.user_sessions.purge(now)
        uow.user_sessions.add(
            UserSession(
                id_hash=hash_token(session_id),
                user_id=user.id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + policy.lifetime,
            )
        )
        uow.commit()
    return session_id


def resume(ctx: Context, session_id: object, policy: SessionPolicy) -> User | None:
    """The user of a live session, or ``None`` (unknown, revoked, expired, idle too long, or
    its user disabled)."""
    id_hash = _digest(session_id)
    if id_hash is None:
        return None
    now = ctx.clock.now()
    with ctx.uow() as uow:
        session = uow.user_sessions.get(id_hash)
        if session is None or not session.is_live(now, policy.idle):
            return None
        user = uow.users.get(session.user_id)
        if user is None or not user.active:
            return None
        if now - session.last_seen_at >= policy.touch_every:
            uow.user_sessions.touch(id_hash, now)
            uow.commit()
    return user


def end(ctx: Context, session_id: object) -> bool:
    """Log out: the session is revoked (``False`` if it was not live)."""
    id_hash = _digest(session_id)
    if id_hash is None:
        return False
    with ctx.uow() as uow:
        ended = uow.user_sessions.revoke(id_hash, ctx.clock.now())
        uow.commit()
    return ended


def end_all(ctx: Context, user_id: str, *, keep: str | None = None) -> int:
    """Sign the user out everywhere, except the session ``keep`` (a session id) if given; how
    many sessions ended."""
    with ctx.uow() as uow:
        ended = uow.user_sessions.revoke_for_user(user_id, ctx.clock.now(), keep=_digest(keep))
        uow.commit()
    return ended


def live_sessions(ctx: Context, user_id: str, policy: SessionPolicy) -> int:
    """How many browsers the user is signed in on now."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        found = uow.user_sessions.for_user(user_id)
    return sum(1 for s in found if s.is_live(now, policy.idle))
