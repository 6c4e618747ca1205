"""Sessions the server can end: live until revoked, idle too long or past their lifetime."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.passwords import Argon2PasswordHasher
from adapters.system import ManualClock
from core.errors import AuthenticationFailed, InvalidInput, PermissionDenied
from core.model import User, UserSession
from core.services import SYSTEM, Context, sessions, tenancy
from core.services.sessions import SessionPolicy

POLICY = SessionPolicy(idle=timedelta(hours=2), lifetime=timedelta(hours=12))


@pytest.fixture
def user(ctx: Context, hasher: Argon2PasswordHasher) -> User:
    return tenancy.create_user(
        ctx, hasher, SYSTEM, email="ada@3pl.test", password="password-123", staff=True
    )


def _stored(ctx: Context, user: User) -> list[UserSession]:
    with ctx.uow() as uow:
        return uow.user_sessions.for_user(user.id)


def test_a_session_lives_until_revoked_expired_or_idle(clock: ManualClock) -> None:
    t0 = clock.now()
    session = UserSession(
        id_hash="h", user_id="u", created_at=t0, last_seen_at=t0, expires_at=t0 + POLICY.lifetime
    )
    assert session.is_live(t0 + POLICY.idle - timedelta(seconds=1), POLICY.idle)
    assert not session.is_live(t0 + POLICY.idle, POLICY.idle)
    session.last_seen_at = t0 + POLICY.lifetime - timedelta(minutes=1)
    assert not session.is_live(t0 + POLICY.lifetime, POLICY.idle)
    session.revoked_at = t0
    assert not session.is_live(t0 + timedelta(seconds=1), POLICY.idle)


def test_only_the_digest_of_a_session_id_is_stored(ctx: Context, user: User) -> None:
    session_id = sessions.start(ctx, user, POLICY)
    (stored,) = _stored(ctx, user)
    assert stored.id_hash == tenancy.hash_token(session_id)
    assert session_id not in repr(stored)
    assert sessions.resume(ctx, session_id, POLICY) == user


@pytest.mark.parametrize("session_id", [None, 42, "", "x" * 129, "not-a-session"])
def test_anything_but_a_live_session_id_resumes_nobody(
    ctx: Context, user: User, session_id: object
) -> None:
    sessions.start(ctx, user, POLICY)
    assert sessions.resume(ctx, session_id, POLICY) is None


def test_signing_in_deletes_sessions_whose_lifetime_is_over(
    ctx: Context, clock: ManualClock, user: User
) -> None:
    sessions.start(ctx, user, POLICY)
    clock.advance(POLICY.lifetime + timedelta(seconds=1))
    sessions.start(ctx, user, POLICY)
    assert len(_stored(ctx, user)) == 1


def test_a_password_change_needs_the_current_password_and_keeps_only_its_session(
    ctx: Context, hasher: Argon2PasswordHasher, user: User
) -> None:
    here, there = sessions.start(ctx, user, POLICY), sessions.start(ctx, user, POLICY)
    with pytest.raises(AuthenticationFailed):
        tenancy.change_password(ctx, hasher, user.id, current="wrong-one-1", new="new-password-1")
    with pytest.raises(InvalidInput):
        tenancy.change_password(ctx, hasher, user.id, current="password-123", new="short")
    assert sessions.resume(ctx, there, POLICY) == user
    ended = tenancy.change_password(
        ctx, hasher, user.id, current="password-123", new="new-password-1", keep_session=here
    )
    assert ended == 1
    assert sessions.resume(ctx, here, POLICY) is not None
    assert sessions.resume(ctx, there, POLICY) is None
    tenancy.authenticate(ctx, hasher, email=user.email, password="new-password-1")


def test_a_password_reset_and_disabling_end_every_session_and_need_staff(
    ctx: Context, hasher: Argon2PasswordHasher, user: User
) -> None:
    member = User(id="m", email="m@x.test", password_hash="", created_at=user.created_at)
    with pytest.raises(PermissionDenied):
        tenancy.set_active(ctx, member, email=user.email, active=False)
    with pytest.raises(PermissionDenied):
        tenancy.set_password(ctx, hasher, member, email=user.email, password="new-password-1")

    first = sessions.start(ctx, user, POLICY)
    assert (
        tenancy.set_password(ctx, hasher, SYSTEM, email=user.email, password="pw-reset-0001") == 1
    )
    assert sessions.resume(ctx, first, POLICY) is None
    second = sessions.start(ctx, user, POLICY)
    assert tenancy.set_active(ctx, SYSTEM, email=user.email, active=False) == 1
    assert sessions.resume(ctx, second, POLICY) is None
    with pytest.raises(AuthenticationFailed):
        tenancy.authenticate(ctx, hasher, email=user.email, password="pw-reset-0001")
    assert tenancy.set_active(ctx, SYSTEM, email=user.email, active=True) == 0
    tenancy.authenticate(ctx, hasher, email=user.email, password="pw-reset-0001")


def test_signing_out_everywhere_counts_the_sessions_it_ended(ctx: Context, user: User) -> None:
    ids = [sessions.start(ctx, user, POLICY) for _ in range(3)]
    assert sessions.live_sessions(ctx, user.id, POLICY) == 3
    assert sessions.end(ctx, ids[0]) is True
    assert sessions.end(ctx, ids[0]) is False
    assert sessions.end_all(ctx, user.id) == 2
    assert sessions.live_sessions(ctx, user.id, POLICY) == 0
