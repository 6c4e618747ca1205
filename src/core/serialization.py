"""The core's own boundary converter: values the core stores as JSON (credentials before they
are encrypted, store orders from reconciliation kept in the inbox for replay), and the
payload of a webhook kept as the document it came in."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import cattrs
from attrs import frozen
from cattrs.preconf.json import make_converter

from core.errors import CryptoError, PayloadError
from core.store import Credentials, StoreOrder

converter = make_converter()
converter.register_unstructure_hook(datetime, lambda d: d.isoformat())
converter.register_structure_hook(datetime, lambda v, _: datetime.fromisoformat(v))


_CREDENTIALS_FORMAT = 1


@frozen
class _StoredCredentials:
    """``Credentials`` at rest (before sealing), versioned so the shape can evolve."""

    access_token: str
    v: int = _CREDENTIALS_FORMAT
    scopes: tuple[str, ...] = ()
    expires_at: datetime | None = None
    refresh_token: str | None = None
    refresh_token_expires_at: datetime | None = None


def dump_credentials(credentials: Credentials) -> bytes:
    """UTF-8 JSON of the credentials, for the ``Cipher`` to seal."""
    stored = _StoredCredentials(
        access_token=credentials.access_token,
        scopes=credentials.scopes,
        expires_at=credentials.expires_at,
        refresh_token=credentials.refresh_token,
        refresh_token_expires_at=credentials.refresh_token_expires_at,
    )
    return json.dumps(converter.unstructure(stored)).encode()


def load_credentials(data: bytes) -> Credentials:
    """The inverse of ``dump_credentials``; ``CryptoError`` that never echoes the data."""
    try:
        stored = converter.structure(json.loads(data), _StoredCredentials)
    except (ValueError, TypeError, cattrs.BaseValidationError):
        raise CryptoError("stored credentials are unreadable") from None
    if stored.v != _CREDENTIALS_FORMAT:
        raise CryptoError(f"stored credentials have an unknown format version {stored.v}")
    return Credentials(
        access_token=stored.access_token,
        scopes=stored.scopes,
        expires_at=stored.expires_at,
        refresh_token=stored.refresh_token,
        refresh_token_expires_at=stored.refresh_token_expires_at,
    )


def dump_order(order: StoreOrder) -> dict[str, Any]:
    data: dict[str, Any] = converter.unstructure(order)
    return data


def load_order(data: dict[str, Any]) -> StoreOrder:
    try:
        return converter.structure(data, StoreOrder)
    except (ValueError, TypeError, cattrs.BaseValidationError) as exc:
        details = (
            "; ".join(cattrs.transform_error(exc))
            if isinstance(exc, cattrs.BaseValidationError)
            else str(exc)
        )
        raise PayloadError(f"stored order is unreadable: {details}") from exc


def _no_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def load_document(document: bytes) -> dict[str, Any]:
    """The JSON object a stored document is (a webhook body kept as it came in), as an
    inbox that cannot read JSON itself decodes it; ``PayloadError`` if it is no JSON object
    (``NaN`` and ``Infinity`` are no JSON). The message never echoes the document."""
    try:
        value = json.loads(document, parse_constant=_no_json)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        raise PayloadError(f"the payload is not JSON: {type(exc).__name__}") from None
    if not isinstance(value, dict):
        raise PayloadError("the payload is not a JSON object")
    return value
