"""Clients, users, API tokens and signed-in sessions."""

from __future__ import annotations

import builtins
from datetime import datetime

from psycopg import sql

from adapters.postgres._rows import API_TOKENS, CLIENTS, USER_SESSIONS, USERS
from adapters.postgres._session import Repository, where
from core.model import ApiToken, Client, User, UserSession


class PostgresClientRepository(Repository):
    def _conflicts(self, client: Client) -> dict[str, str]:
        return {"clients_name_key": f"a client named {client.name!r} already exists"}

    def add(self, client: Client) -> None:
        self._s.write(CLIENTS.insert(), CLIENTS.params(client), conflicts=self._conflicts(client))

    def get(self, client_id: str) -> Client | None:
        row = self._s.row("SELECT * FROM clients WHERE id = %s", [client_id])
        return None if row is None else CLIENTS.load(row)

    def get_by_name(self, name: str) -> Client | None:
        row = self._s.row("SELECT * FROM clients WHERE name = %s", [name])
        return None if row is None else CLIENTS.load(row)

    def update(self, client: Client) -> None:
        self._update(CLIENTS, client, conflicts=self._conflicts(client))

    def list(self) -> builtins.list[Client]:
        rows = self._s.rows('SELECT * FROM clients ORDER BY name COLLATE "C", id')
        return [CLIENTS.load(row) for row in rows]


class PostgresUserRepository(Repository):
    def _conflicts(self, user: User) -> dict[str, str]:
        return {"users_email_key": f"a user with e-mail {user.email!r} already exists"}

    def add(self, user: User) -> None:
        self._s.write(USERS.insert(), USERS.params(user), conflicts=self._conflicts(user))

    def get(self, user_id: str) -> User | None:
        row = self._s.row("SELECT * FROM users WHERE id = %s", [user_id])
        return None if row is None else USERS.load(row)

    def get_by_email(self, email: str) -> User | None:
        row = self._s.row("SELECT * FROM users WHERE lower(email) = lower(%s)", [email])
        return None if row is None else USERS.load(row)

    def update(self, user: User) -> None:
        self._update(USERS, user, conflicts=self._conflicts(user))

    def list(self, client_id: str | None = None) -> builtins.list[User]:
        conditions: builtins.list[sql.Composable] = []
        if client_id is not None:
            conditions.append(sql.SQL("client_id = %(client_id)s"))
        query = (
            sql.SQL("SELECT * FROM users")
            + where(conditions)
            + sql.SQL(' ORDER BY lower(email) COLLATE "C", id')
        )
        rows = self._s.rows(query, {"client_id": client_id})
        return [USERS.load(row) for row in rows]


class PostgresApiTokenRepository(Repository):
    def add(self, token: ApiToken) -> None:
        self._s.write(API_TOKENS.insert(), API_TOKENS.params(token))

    def get_by_hash(self, token_hash: str) -> ApiToken | None:
        row = self._s.row("SELECT * FROM api_tokens WHERE token_hash = %s", [token_hash])
        return None if row is None else API_TOKENS.load(row)

    def touch(self, token_id: str, when: datetime) -> None:
        self._s.write("UPDATE api_tokens SET last_used_at = %s WHERE id = %s", [when, token_id])

    def delete_for_user(self, user_id: str) -> int:
        return self._s.write("DELETE FROM api_tokens WHERE user_id = %s", [user_id])


class PostgresUserSessionRepository(Repository):
    def add(self, session: UserSession) -> None:
        self._s.write(
            USER_SESSIONS.insert(),
            USER_SESSIONS.params(session),
            conflicts={"user_sessions_pkey": "that session already exists"},
        )

    def get(self, id_hash: str) -> UserSession | None:
        row = self._s.row("SELECT * FROM user_sessions WHERE id_hash = %s", [id_hash])
        return None if row is None else USER_SESSIONS.load(row)

    def for_user(self, user_id: str) -> builtins.list[UserSession]:
        rows = self._s.rows(
            "SELECT * FROM user_sessions WHERE user_id = %s ORDER BY created_at, id_hash",
            [user_id],
        )
        return [USER_SESSIONS.load(row) for row in rows]

    def touch(self, id_hash: str, when: datetime) -> None:
        self._s.write(
            "UPDATE user_sessions SET last_seen_at = %s WHERE id_hash = %s", [when, id_hash]
        )

    def revoke(self, id_hash: str, when: datetime) -> bool:
        ended = self._s.write(
            "UPDATE user_sessions SET revoked_at = %s WHERE id_hash = %s AND revoked_at IS NULL",
            [when, id_hash],
        )
        return ended > 0

    def revoke_for_user(self, user_id: str, when: datetime, *, keep: str | None = None) -> int:
        return self._s.write(
            "UPDATE user_sessions SET revoked_at = %(when)s"
            " WHERE user_id = %(user_id)s AND revoked_at IS NULL AND expires_at > %(when)s"
            " AND id_hash IS DISTINCT FROM %(keep)s",
            {"when": when, "user_id": user_id, "keep": keep},
        )

    def purge(self, before: datetime) -> int:
        return self._s.write("DELETE FROM user_sessions WHERE expires_at < %s", [before])
