"""Clients, users and API tokens."""

from __future__ import annotations

import builtins
from datetime import datetime

from psycopg import sql

from adapters.postgres._rows import API_TOKENS, CLIENTS, USERS
from adapters.postgres._session import Repository, where
from core.model import ApiToken, Client, User


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
