"""The sandbox's state kept in a file, so a restarted sandbox is the same store.

``storelink demo`` keeps its store in ``$STORELINK_DATA_DIR/sandbox.json`` next to the
database: shops with their products, stock, customers, orders, fulfillments and webhook
subscriptions, the app's installations and access tokens, and the id counter. Without it a
restarted demo's store would hand out the ids of the orders the database already holds.

What is kept: everything a store keeps. What is not: the call log, injected faults, pending
authorization codes, bulk operations (they run on this process's monotonic clock) and the
API cost buckets (they refill). ``save`` writes a temporary file and renames it over the old
one, so a crash leaves the previous state or the new one, never half of one. ``load`` starts
the id counter ``ID_GAP`` past the saved one: ids handed out after the last save of a process
that was killed are never handed out again.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Final

from cattrs.preconf.json import make_converter

from adapters.shopify.sandbox.config import SandboxClock
from adapters.shopify.sandbox.state import (
    AccessToken,
    InventoryLevel,
    RefreshToken,
    SandboxState,
    Shop,
)

__all__ = ["FORMAT", "ID_GAP", "dump_state", "load", "load_state", "save"]

FORMAT: Final = 1
ID_GAP: Final = 100_000
_DROPPED: Final = ("levels", "levels_by_item", "bulk_operations", "bucket")

_converter = make_converter()


def _shop_data(shop: Shop) -> dict[str, Any]:
    data: dict[str, Any] = _converter.unstructure(shop)
    for name in _DROPPED:
        data.pop(name, None)
    data["level_list"] = [_converter.unstructure(level) for level in shop.levels.values()]
    return data


def _shop(data: dict[str, Any]) -> Shop:
    levels = data.pop("level_list", [])
    shop = _converter.structure(data, Shop)
    for level in levels:
        shop.add_level(_converter.structure(level, InventoryLevel))
    return shop


def dump_state(state: SandboxState) -> dict[str, Any]:
    """What ``save`` writes: a JSON document of the state (taken under its lock)."""
    with state.lock:
        return {
            "format": FORMAT,
            "next_id": state._next_id,
            "shops": {domain: _shop_data(shop) for domain, shop in state.shops.items()},
            "access_tokens": [_converter.unstructure(t) for t in state.access_tokens.values()],
            "refresh_tokens": [_converter.unstructure(t) for t in state.refresh_tokens.values()],
        }


def load_state(data: dict[str, Any], clock: SandboxClock | None = None) -> SandboxState:
    if data.get("format") != FORMAT:
        raise ValueError(f"not a sandbox state file of format {FORMAT}")
    state = SandboxState(clock)
    state.shops = {domain: _shop(shop) for domain, shop in data["shops"].items()}
    for token in data["access_tokens"]:
        access = _converter.structure(token, AccessToken)
        state.access_tokens[access.token] = access
    for token in data["refresh_tokens"]:
        refresh = _converter.structure(token, RefreshToken)
        state.refresh_tokens[refresh.token] = refresh
    state._next_id = max(state._next_id, int(data["next_id"]) + ID_GAP)
    return state


def save(state: SandboxState, path: Path) -> None:
    """Write the state to ``path`` atomically (a temporary file renamed over it)."""
    document = json.dumps(dump_state(state), separators=(",", ":"), default=str)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".sandbox-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(document)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load(path: Path, clock: SandboxClock | None = None) -> SandboxState | None:
    """The state saved at ``path``; ``None`` when there is no file yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return load_state(json.loads(text), clock)
