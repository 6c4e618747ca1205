"""The ``UserSessionRepository`` contract: signed-in browsers, kept by the digest of their id.

Each test runs once per adapter (``[memory]``, ``[postgres]``) on an empty store.
"""

from __future__ import annotations

import pytest

from core.errors import Conflict


def test_a_session_round_trips_and_is_found_by_its_id_hash(uow_factory, make, save):
    user = make.user()
    session = make.session(user, last_seen_at=make.at(5), revoked_at=make.at(9))
    save(user, session)
    with uow_factory() as uow:
        assert uow.user_sessions.get(session.id_hash) == session
        assert uow.user_sessions.get("0" * 64) is None


def test_an_id_hash_stored_twice_is_a_conflict(uow_factory, make, save):
    user = make.user()
    session = make.session(user)
    save(user, session)
    with uow_factory() as uow, pytest.raises(Conflict):
        uow.user_sessions.add(make.session(user, id_hash=session.id_hash))


def test_a_users_sessions_are_listed_oldest_first_and_only_theirs(uow_factory, make, save):
    user, other = make.user(), make.user()
    later = make.session(user, created_at=make.at(10))
    earlier = make.session(user, created_at=make.at(1))
    save(user, other, later, earlier, make.session(other))
    with uow_factory() as uow:
        assert uow.user_sessions.for_user(user.id) == [earlier, later]
        assert uow.user_sessions.for_user("nobody") == []


def test_touching_a_session_records_when_it_was_last_used(uow_factory, make, save):
    user = make.user()
    session = make.session(user)
    save(user, session)
    with uow_factory() as uow:
        uow.user_sessions.touch(session.id_hash, make.at(42))
        uow.commit()
    with uow_factory() as uow:
        found = uow.user_sessions.get(session.id_hash)
        assert found is not None
        assert found.last_seen_at == make.at(42)
        assert found.created_at == session.created_at


def test_revoking_ends_a_session_once(uow_factory, make, save):
    user = make.user()
    session = make.session(user)
    save(user, session)
    with uow_factory() as uow:
        assert uow.user_sessions.revoke(session.id_hash, make.at(3)) is True
        assert uow.user_sessions.revoke(session.id_hash, make.at(4)) is False
        assert uow.user_sessions.revoke("0" * 64, make.at(4)) is False
        uow.commit()
    with uow_factory() as uow:
        found = uow.user_sessions.get(session.id_hash)
        assert found is not None
        assert found.revoked_at == make.at(3)


def test_revoking_a_users_sessions_keeps_the_one_asked_and_other_users(uow_factory, make, save):
    user, other = make.user(), make.user()
    kept, ended = make.session(user), make.session(user)
    old = make.session(user, revoked_at=make.at(1))
    expired = make.session(user, expires_at=make.at(2))
    theirs = make.session(other)
    save(user, other, kept, ended, old, expired, theirs)
    with uow_factory() as uow:
        assert uow.user_sessions.revoke_for_user(user.id, make.at(5), keep=kept.id_hash) == 1
        uow.commit()
    with uow_factory() as uow:
        revoked = {s.id_hash: s.revoked_at for s in uow.user_sessions.for_user(user.id)}
        assert revoked == {
            kept.id_hash: None,
            ended.id_hash: make.at(5),
            old.id_hash: make.at(1),
            expired.id_hash: None,
        }
        assert uow.user_sessions.get(theirs.id_hash) == theirs


def test_revoking_without_keep_ends_every_live_session(uow_factory, make, save):
    user = make.user()
    sessions = [make.session(user) for _ in range(3)]
    save(user, *sessions)
    with uow_factory() as uow:
        assert uow.user_sessions.revoke_for_user(user.id, make.at(5)) == 3
        assert uow.user_sessions.revoke_for_user(user.id, make.at(6)) == 0
        uow.commit()


def test_purging_deletes_only_sessions_whose_lifetime_ended(uow_factory, make, save):
    user = make.user()
    gone = make.session(user, expires_at=make.at(10))
    live = make.session(user, expires_at=make.at(30))
    revoked_live = make.session(user, expires_at=make.at(30), revoked_at=make.at(1))
    save(user, gone, live, revoked_live)
    with uow_factory() as uow:
        assert uow.user_sessions.purge(make.at(20)) == 1
        uow.commit()
    with uow_factory() as uow:
        assert uow.user_sessions.for_user(user.id) == [live, revoked_live]
