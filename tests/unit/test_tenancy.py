"""Users, passwords and API tokens."""

from __future__ import annotations

import pytest

from adapters.passwords import Argon2PasswordHasher
from core.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound, PermissionDenied
from core.model import Client
from core.services import SYSTEM, Context, tenancy


def test_a_client_user_logs_in_with_the_right_password_only(
    ctx: Context, hasher: Argon2PasswordHasher, client: Client
) -> None:
    user = tenancy.create_user(
        ctx,
        hasher,
        SYSTEM,
        email="Owner@Acme.test",
        password="correct horse",
        client_name=client.name,
        role="owner",
    )
    assert (user.client_id, user.role, user.is_staff) == (client.id, "owner", False)
    assert user.password_hash.startswith("$argon2id$")
    logged_in = tenancy.authenticate(ctx, hasher, email="owner@acme.test", password="correct horse")
    assert logged_in.id == user.id
    for email, password in [("owner@acme.test", "wrong horse!"), ("nobody@acme.test", "x" * 12)]:
        with pytest.raises(AuthenticationFailed, match="wrong e-mail or password"):
            tenancy.authenticate(ctx, hasher, email=email, password=password)


def test_user_creation_rejects_bad_input_with_a_reason(
    ctx: Context, hasher: Argon2PasswordHasher, client: Client
) -> None:
    cases = [
        ({"email": "not-an-email", "password": "long enough pw", "staff": True}, InvalidInput),
        ({"email": "a@b.test", "password": "short", "staff": True}, InvalidInput),
        (
            {
                "email": "a@b.test",
                "password": "long enough pw",
                "client_name": client.name,
                "role": "king",
            },
            InvalidInput,
        ),
        (
            {
                "email": "a@b.test",
                "password": "long enough pw",
                "client_name": "nope",
                "role": "member",
            },
            NotFound,
        ),
        (
            {"email": "a@b.test", "password": "long enough pw", "staff": True, "role": "owner"},
            InvalidInput,
        ),
    ]
    for kwargs, error in cases:
        with pytest.raises(error):
            tenancy.create_user(ctx, hasher, SYSTEM, **kwargs)  # type: ignore[arg-type]
    tenancy.create_user(
        ctx, hasher, SYSTEM, email="a@b.test", password="long enough pw", staff=True
    )
    with pytest.raises(Conflict):
        tenancy.create_user(
            ctx, hasher, SYSTEM, email="A@B.test", password="long enough pw", staff=True
        )


def test_only_staff_create_clients_and_users(
    ctx: Context, hasher: Argon2PasswordHasher, client: Client
) -> None:
    member = tenancy.create_user(
        ctx,
        hasher,
        SYSTEM,
        email="m@acme.test",
        password="long enough pw",
        client_id=client.id,
        role="member",
    )
    with pytest.raises(PermissionDenied):
        tenancy.create_client(ctx, member, name="Mine")
    with pytest.raises(PermissionDenied):
        tenancy.create_user(
            ctx, hasher, member, email="x@acme.test", password="long enough pw", staff=True
        )


def test_an_api_token_authenticates_its_user_and_only_its_digest_is_stored(
    ctx: Context, hasher: Argon2PasswordHasher, client: Client
) -> None:
    user = tenancy.create_user(
        ctx, hasher, SYSTEM, email="ops@3pl.test", password="long enough pw", staff=True
    )
    _, token = tenancy.create_api_token(ctx, email="ops@3pl.test")
    assert tenancy.authenticate_token(ctx, token).id == user.id
    with ctx.uow() as uow:
        stored = uow.api_tokens.get_by_hash(tenancy.hash_token(token))
    assert stored is not None
    assert stored.token_hash != token
    assert token not in repr(stored)
    assert stored.last_used_at is not None
    for bad in ["", "slk_wrong", token + "x", "Bearer " + token]:
        with pytest.raises(AuthenticationFailed):
            tenancy.authenticate_token(ctx, bad)


def test_a_deactivated_user_can_neither_log_in_nor_use_tokens(
    ctx: Context, hasher: Argon2PasswordHasher
) -> None:
    user = tenancy.create_user(
        ctx, hasher, SYSTEM, email="gone@3pl.test", password="long enough pw", staff=True
    )
    _, token = tenancy.create_api_token(ctx, email="gone@3pl.test")
    with ctx.uow() as uow:
        user.active = False
        uow.users.update(user)
        uow.commit()
    with pytest.raises(AuthenticationFailed):
        tenancy.authenticate(ctx, hasher, email="gone@3pl.test", password="long enough pw")
    with pytest.raises(AuthenticationFailed):
        tenancy.authenticate_token(ctx, token)
