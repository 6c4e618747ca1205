"""Why a queue item was skipped, where a retry could still do the work.

A skipped item names its reason in ``error``. Most reasons are final ("test order",
"already up to date"): retrying repeats the same answer. These are not: they depend on a
setting, a mapping or the store's connection, which someone may have changed since, so
staff may retry such an item (``worker.retryable``).
"""

from __future__ import annotations

from typing import Final

AUTO_IMPORT_OFF: Final = "automatic order import is off for this store"
NO_MAPPED_LOCATION: Final = "no lines to ship at a store location mapped to a warehouse"
NO_INTEGRATION: Final = "no integration for this shop"
NO_CONNECTED_INTEGRATION: Final = "no connected integration for this shop"
STORE_DISCONNECTED: Final = "the store is disconnected"
STORE_NOT_CONNECTED: Final = "the store is not connected"
INTEGRATION_NOT_CONNECTED: Final = "the integration is not connected"
INTEGRATION_NO_LONGER_CONNECTED: Final = "the integration is no longer connected"
PUSH_RUNNING: Final = "another inventory push of this store is running"

RETRYABLE_SKIPS: Final = frozenset(
    {
        AUTO_IMPORT_OFF,
        NO_MAPPED_LOCATION,
        NO_INTEGRATION,
        NO_CONNECTED_INTEGRATION,
        STORE_DISCONNECTED,
        STORE_NOT_CONNECTED,
        INTEGRATION_NOT_CONNECTED,
        INTEGRATION_NO_LONGER_CONNECTED,
        PUSH_RUNNING,
    }
)
