"""Credentials from Shopify's token endpoint (at rest they are the core's concern:
``core.serialization``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from core.errors import PayloadError
from core.store import Credentials

__all__ = ["credentials_from_token_answer"]


def _seconds(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PayloadError(f"the token answer's {name} is not a number of seconds")
    try:
        seconds = int(value)
    except ValueError:
        raise PayloadError(f"the token answer's {name} is not a number of seconds") from None
    if seconds < 0:
        raise PayloadError(f"the token answer's {name} is negative")
    return seconds


def credentials_from_token_answer(
    answer: Mapping[str, object], now: datetime, previous: Credentials | None = None
) -> Credentials:
    """``Credentials`` from ``/admin/oauth/access_token``'s JSON.

    ``{access_token, scope, expires_in?, refresh_token?, refresh_token_expires_in?}``; without
    ``expires_in`` the token does not expire. On a refresh, what the answer leaves out (scopes,
    a rotated refresh token) is kept from ``previous``.
    """
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise PayloadError("the token answer carries no access_token")
    scope = answer.get("scope")
    if isinstance(scope, str):
        scopes = tuple(s.strip() for s in scope.split(",") if s.strip())
    elif previous is not None:
        scopes = previous.scopes
    else:
        scopes = ()
    expires_in = _seconds(answer.get("expires_in"), "expires_in")
    refresh_token = answer.get("refresh_token")
    if refresh_token is not None and not isinstance(refresh_token, str):
        raise PayloadError("the token answer's refresh_token is not text")
    refresh_in = _seconds(answer.get("refresh_token_expires_in"), "refresh_token_expires_in")
    refresh_expires_at = None if refresh_in is None else now + timedelta(seconds=refresh_in)
    if refresh_token is None and previous is not None:
        refresh_token = previous.refresh_token
        refresh_expires_at = previous.refresh_token_expires_at
    return Credentials(
        access_token=token,
        scopes=scopes,
        expires_at=None if expires_in is None else now + timedelta(seconds=expires_in),
        refresh_token=refresh_token or None,
        refresh_token_expires_at=refresh_expires_at if refresh_token else None,
    )
