"""Who uses the system: the 3PL's staff, its merchant clients and their users."""

from __future__ import annotations

from datetime import datetime
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
