"""The core's own boundary converter: values the core stores as JSON (credentials before they
are encrypted, store orders from reconciliation kept in the inbox for replay)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import cattrs
from cattrs.preconf.json import make_converter

from core.errors import CryptoError, PayloadError
from core.store import Credentials, StoreOrder

converter = make_converter()
converter.register_unstructure_hook(datetime, lambda d: d.isoformat())
converter.register_structure_hook(datetime, lambda v, _: datetime.fromisoformat(v))


def dump_credentials(credentials: Credentials) -> bytes:
    return json.dumps(converter.unstructure(credentials)).encode()


def load_credentials(data: bytes) -> Credentials:
    try:
        return converter.structure(json.loads(data), Credentials)
    except (ValueError, cattrs.BaseValidationError) as exc:
        raise CryptoError("stored credentials are unreadable") from exc


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
