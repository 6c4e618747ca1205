"""Clients, users, passwords and API tokens.

A password change and a disabled user end the user's sessions in the same transaction (a
password change keeps the session it was made from); a disabled user can neither sign in nor
use an API token.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from core.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from core.model import ROLES, ApiToken, Client, Role, User
from core.ports import PasswordHasher, UnitOfWork
from core.services._context import Context, require_staff

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "slk_"  # noqa: S105 - a marker that makes leaked tokens greppable, not a secret


def _clean_name(name: str, what: str, max_length: int = 200) -> str:
    cleaned = name.strip() if isinstance(name, str) else ""
    if not cleaned:
        raise InvalidInput(f"{what} must not be empty")
    if len(cleaned) > max_length:
        raise InvalidInput(f"{what} must be at most {max_length} characters")
    return cleaned


def create_client(ctx: Context, actor: User, *, name: str) -> Client:
    require_staff(actor)
    client = Client(
        id=ctx.ids.new_id(), name=_clean_name(name, "client name"), created_at=ctx.clock.now()
    )
    with ctx.uow() as uow:
        uow.clients.add(client)
        uow.commit()
    return client


def set_default_warehouse(
    ctx: Context, actor: User, *, client_id: str, warehouse_id: str
) -> Client:
    require_staff(actor)
    with ctx.uow() as uow:
        client = uow.clients.get(client_id)
        if client is None:
            raise NotFound("client not found")
        if uow.warehouses.get(warehouse_id) is None:
            raise NotFound("warehouse not found")
        client.default_warehouse_id = warehouse_id
        uow.clients.update(client)
        uow.commit()
    return client


def validate_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise InvalidInput("a password may have at most 1024 characters")


def create_user(
    ctx: Context,
    hasher: PasswordHasher,
    actor: User,
    *,
    email: str,
    password: str,
    staff: bool = False,
    client_name: str | None = None,
    client_id: str | None = None,
    role: Role | None = None,
) -> User:
    """Create a staff user, or a user of a client (by id or name) with a role."""
    require_staff(actor)
    email = email.strip() if isinstance(email, str) else ""
    if not _EMAIL.match(email) or len(email) > 254:
        raise InvalidInput(f"{email!r} is not an e-mail address")
    validate_password(password)
    if staff and (client_name or client_id or role):
        raise InvalidInput("a staff user belongs to no client and has no role")
    if not staff:
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
        if not (client_name or client_id):
            raise InvalidInput("a client user needs a client")
    with ctx.uow() as uow:
        resolved_client: str | None = None
        if not staff:
            client = (
                uow.clients.get(client_id)
                if client_id
                else uow.clients.get_by_name(client_name or "")
            )
            if client is None:
                raise NotFound(f"client {client_id or client_name!r} not found")
            resolved_client = client.id
        if uow.users.get_by_email(email) is not None:
            raise Conflict(f"a user with e-mail {email!r} already exists")
        user = User(
            id=ctx.ids.new_id(),
            email=email,
            password_hash=hasher.hash(password),
            created_at=ctx.clock.now(),
            is_staff=staff,
            client_id=resolved_client,
            role=None if staff else role,
        )
        uow.users.add(user)
        uow.commit()
    return user


def authenticate(ctx: Context, hasher: PasswordHasher, *, email: str, password: str) -> User:
    """The user with these credentials, or ``AuthenticationFailed`` (same answer for an
    unknown e-mail and a wrong password, and about the same time)."""
    with ctx.uow() as uow:
        user = uow.users.get_by_email(email.strip()) if isinstance(email, str) else None
        if user is None or not user.active:
            hasher.verify(_DUMMY_HASH_HOLDER.get(hasher), password or "")
            raise AuthenticationFailed("wrong e-mail or password")
        if not hasher.verify(user.password_hash, password or ""):
            raise AuthenticationFailed("wrong e-mail or password")
        if hasher.needs_rehash(user.password_hash):
            user.password_hash = hasher.hash(password)
            uow.users.update(user)
            uow.commit()
    return user


class _DummyHashes:
    """A hash of a random password per hasher, so unknown e-mails cost a verification too."""

    def __init__(self) -> None:
        self._by_hasher: dict[int, str] = {}

    def get(self, hasher: PasswordHasher) -> str:
        key = id(hasher)
        if key not in self._by_hasher:
            self._by_hasher[key] = hasher.hash(secrets.token_urlsafe(16))
        return self._by_hasher[key]


_DUMMY_HASH_HOLDER = _DummyHashes()


def change_password(
    ctx: Context,
    hasher: PasswordHasher,
    user_id: str,
    *,
    current: str,
    new: str,
    keep_session: str | None = None,
) -> int:
    """A user changes their own password, giving the current one again. Every other session
    of the user ends (``keep_session``, the session id it was made from, stays); how many
    ended. ``AuthenticationFailed`` for a wrong current password, ``InvalidInput`` for a
    new one that is too short or too long."""
    validate_password(new)
    with ctx.uow() as uow:
        user = uow.users.get(user_id)
        if user is None or not user.active:
            raise NotFound("user not found")
        if not hasher.verify(user.password_hash, current if isinstance(current, str) else ""):
            raise AuthenticationFailed("the current password is wrong")
        user.password_hash = hasher.hash(new)
        uow.users.update(user)
        keep = hash_token(keep_session) if keep_session else None
        ended = uow.user_sessions.revoke_for_user(user.id, ctx.clock.now(), keep=keep)
        uow.commit()
    return ended


def _user_by_email(uow: UnitOfWork, email: str) -> User:
    user = uow.users.get_by_email(email.strip()) if isinstance(email, str) else None
    if user is None:
        raise NotFound(f"no user with e-mail {email!r}")
    return user


def set_password(
    ctx: Context, hasher: PasswordHasher, actor: User, *, email: str, password: str
) -> int:
    """Staff set a user's password (a reset); every session of the user ends. How many."""
    require_staff(actor)
    validate_password(password)
    with ctx.uow() as uow:
        user = _user_by_email(uow, email)
        user.password_hash = hasher.hash(password)
        uow.users.update(user)
        ended = uow.user_sessions.revoke_for_user(user.id, ctx.clock.now())
        uow.commit()
    return ended


def set_active(ctx: Context, actor: User, *, email: str, active: bool) -> int:
    """Staff disable or enable a user. Disabling ends every session of the user (how many are
    returned); enabling revives none."""
    require_staff(actor)
    with ctx.uow() as uow:
        user = _user_by_email(uow, email)
        user.active = active
        uow.users.update(user)
        ended = 0 if active else uow.user_sessions.revoke_for_user(user.id, ctx.clock.now())
        uow.commit()
    return ended


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(ctx: Context, *, email: str, label: str = "") -> tuple[User, str]:
    """A new bearer token for the user. Only its digest is stored; the token is returned once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with ctx.uow() as uow:
        user = uow.users.get_by_email(email.strip())
        if user is None:
            raise NotFound(f"no user with e-mail {email!r}")
        uow.api_tokens.add(
            ApiToken(
                id=ctx.ids.new_id(),
                user_id=user.id,
                token_hash=hash_token(token),
                created_at=ctx.clock.now(),
                label=label,
            )
        )
        uow.commit()
    return user, token


def authenticate_token(ctx: Context, token: str) -> User:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise AuthenticationFailed("invalid API token")
    with ctx.uow() as uow:
        stored = uow.api_tokens.get_by_hash(hash_token(token))
        user = uow.users.get(stored.user_id) if stored is not None else None
        if stored is None or user is None or not user.active:
            raise AuthenticationFailed("invalid API token")
        uow.api_tokens.touch(stored.id, ctx.clock.now())
        uow.commit()
    return user


def get_user(ctx: Context, user_id: str) -> User | None:
    with ctx.uow() as uow:
        return uow.users.get(user_id)
