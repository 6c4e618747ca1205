"""The Shopify adapter: ``ShopifyPlatform`` implements the ``StorePlatform`` port.

OAuth (authorization URL, callback HMAC, code exchange for expiring offline tokens, refresh
with rotation), webhooks (body HMAC with the current and previous secret, payloads parsed
into core events), and the GraphQL Admin API (paced through the shared ``RateLimiter``,
retried, with typed errors; large reads as bulk operations). ``sandbox/`` is a simulated
Shopify for tests and the demo.
"""

from adapters.shopify._config import (
    CATALOG_PAGE_SIZE,
    DEFAULT_API_VERSION,
    DEFAULT_SCOPES,
    DEFAULT_SHOP_URL_TEMPLATE,
    INVENTORY_BULK_THRESHOLD,
    ShopifyConfig,
)
from adapters.shopify._documents import DOCUMENTS
from adapters.shopify._graphql import ThrottleStatus
from adapters.shopify._oauth import normalize_shop, sign_callback, webhook_signature
from adapters.shopify._platform import MAX_INVENTORY_BATCH, ShopifyPlatform
from adapters.shopify._webhooks import REQUIRED_TOPICS, TOPICS, parse_order, parse_webhook

__all__ = [
    "CATALOG_PAGE_SIZE",
    "DEFAULT_API_VERSION",
    "DEFAULT_SCOPES",
    "DEFAULT_SHOP_URL_TEMPLATE",
    "DOCUMENTS",
    "INVENTORY_BULK_THRESHOLD",
    "MAX_INVENTORY_BATCH",
    "REQUIRED_TOPICS",
    "TOPICS",
    "ShopifyConfig",
    "ShopifyPlatform",
    "ThrottleStatus",
    "normalize_shop",
    "parse_order",
    "parse_webhook",
    "sign_callback",
    "webhook_signature",
]
