"""Who uses the system: the 3PL's staff, its merchant clients and their users."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from attrs import define, field

Role = Literal["owner", "admin", "member"]
ROLES: tuple[Role, ...] = ("owner", "admin", "member")


@define
class Client:
    """A merchant of the 3PL. Everything a merchant owns is scoped by ``client_id``."""

    id: str
    name: str
    created_at: datetime
    default_warehouse_id: str | None = None


@define
class User:
    """Staff (``is_staff``, sees every client) or a client user with a role."""

    id: str
    email: str
    password_hash: str
    created_at: datetime
    is_staff: bool = False
    client_id: str | None = None
    role: Role | None = None
    active: bool = True

    def can_see_client(self, client_id: str) -> bool:
        return self.is_staff or self.client_id == client_id

    def can_manage_integrations(self, client_id: str) -> bool:
        if self.is_staff:
            return True
        return self.client_id == client_id and self.role in ("owner", "admin")


@define
class ApiToken:
    """A bearer token for scripts. Only a SHA-256 digest of the token is ever stored."""

    id: str
    user_id: str
    token_hash: str
    created_at: datetime
    label: str = ""
    last_used_at: datetime | None = field(default=None)


@define
class UserSession:
    """A browser signed in as a user. The session id lives only in the browser's cookie; the
    server keeps its SHA-256 digest (``id_hash``), so reading the table opens no session.

    A session is good until it is revoked (logout, a password change, "sign out everywhere",
    the user disabled), reaches ``expires_at`` (its absolute lifetime), or goes unused for the
    idle lifetime after ``last_seen_at``.
    """

    id_hash: str
    user_id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None

    def is_live(self, now: datetime, idle: timedelta) -> bool:
        return self.revoked_at is None and now < self.expires_at and now < self.last_seen_at + idle
