"""The Shopify adapter's settings: one frozen value the composition root builds from env."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from attrs import Attribute, field, frozen

from core.errors import InvalidInput

__all__ = [
    "CATALOG_PAGE_SIZE",
    "DEFAULT_API_VERSION",
    "DEFAULT_SCOPES",
    "DEFAULT_SHOP_URL_TEMPLATE",
    "INVENTORY_BULK_THRESHOLD",
    "ShopifyConfig",
]

DEFAULT_API_VERSION = "2026-10"
DEFAULT_SHOP_URL_TEMPLATE = "https://{shop}"
DEFAULT_SCOPES: tuple[str, ...] = (
    "read_orders",
    "write_orders",
    "read_products",
    "read_inventory",
    "write_inventory",
    "read_locations",
    "read_merchant_managed_fulfillment_orders",
    "write_merchant_managed_fulfillment_orders",
)

CATALOG_PAGE_SIZE = 166
"""Variants per catalog page by default. A page requests 2 + 3 x 166 = 500 points, which
divides Shopify's bucket sizes (2,000 Standard, 4,000 Advanced, 20,000 Plus), so the shared
moving-window budget fits whole pages into a window with nothing left over; pages of 250
(752 points) fit only twice into 2,000 and pace a full read about a third slower."""

INVENTORY_BULK_THRESHOLD = 250
"""Above this many inventory items a whole-store inventory read is one bulk operation (a few
points and a file, however large the store) instead of pages (about 1 point per item plus 5
per level: some 12,000 points, two minutes of a Standard bucket, at 2,000 items). Below it a
paged read answers at once, where a bulk export takes seconds to minutes to run."""

_API_VERSION = re.compile(r"[0-9]{4}-(01|04|07|10)|unstable")
_TEMPLATE = re.compile(r"https?://[^\s{}]*\{shop\}[^\s{}]*")


def _scopes(value: str | Iterable[str]) -> tuple[str, ...]:
    """``"read_orders, write_orders"`` or an iterable of scope names."""
    items = value.split(",") if isinstance(value, str) else value
    return tuple(s.strip() for s in items if s.strip())


def _check_version(_: object, __: object, value: str) -> None:
    if not isinstance(value, str) or not _API_VERSION.fullmatch(value):
        raise InvalidInput(f"SHOPIFY_API_VERSION must look like 2026-10, not {value!r}")


def _check_template(_: object, __: object, value: str) -> None:
    if not isinstance(value, str) or not _TEMPLATE.fullmatch(value):
        raise InvalidInput(
            "SHOPIFY_SHOP_URL_TEMPLATE must be an http(s) URL containing {shop}, "
            f"such as https://{{shop}}; got {value!r}"
        )


def _required_text(_: object, attribute: Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"the Shopify {attribute.name} must not be empty")


def _at_least(minimum: float, maximum: float | None = None) -> Callable[..., None]:
    """A validator raising ``InvalidInput`` (as every setting does) for a number out of range."""

    def check(_: object, attribute: Attribute[float], value: float) -> None:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or value < minimum
            or (maximum is not None and value > maximum)
        ):
            upper = f" and at most {maximum:g}" if maximum is not None else ""
            raise InvalidInput(
                f"the Shopify setting {attribute.name} must be at least {minimum:g}{upper}"
            )

    return check


@frozen
class ShopifyConfig:
    """What the adapter needs to know. Secrets stay out of ``repr``.

    ``shop_url_template`` is where a shop lives: ``https://{shop}`` in production,
    ``http://127.0.0.1:8081/store/{shop}`` against the sandbox. The shop put into it is always
    a validated ``*.myshopify.com`` domain, so the template cannot be steered elsewhere.
    """

    client_id: str = field(validator=_required_text)
    client_secret: str = field(repr=False, validator=_required_text)
    previous_client_secret: str | None = field(default=None, repr=False)
    scopes: tuple[str, ...] = field(default=DEFAULT_SCOPES, converter=_scopes)
    api_version: str = field(default=DEFAULT_API_VERSION, validator=_check_version)
    shop_url_template: str = field(default=DEFAULT_SHOP_URL_TEMPLATE, validator=_check_template)
    # HTTP
    connect_timeout: float = field(default=5.0, validator=_at_least(0.001))
    read_timeout: float = field(default=30.0, validator=_at_least(0.001))
    # retries of 5xx answers and timeouts (after the first attempt), with capped backoff
    max_retries: int = field(default=4, validator=_at_least(0))
    backoff_base_seconds: float = field(default=0.5, validator=_at_least(0))
    backoff_cap_seconds: float = field(default=30.0, validator=_at_least(0))
    # THROTTLED answers waited out before giving up with PlatformThrottled
    max_throttle_waits: int = field(default=8, validator=_at_least(0))
    # longest a call waits for budget (shared limiter and store throttling) before giving up
    max_budget_wait_seconds: float = field(default=120.0, validator=_at_least(0))
    # OAuth callback: oldest accepted timestamp, and how far ahead of our clock one may be
    callback_max_age_seconds: int = field(default=300, validator=_at_least(1))
    callback_max_skew_seconds: int = field(default=60, validator=_at_least(0))
    # catalog variants per GraphQL page (Shopify caps connections at 250 nodes); see below
    catalog_page_size: int = field(default=CATALOG_PAGE_SIZE, validator=_at_least(1, 250))
    # whole-store inventory reads: paged up to this many items, a bulk operation above
    inventory_bulk_threshold: int = field(default=INVENTORY_BULK_THRESHOLD, validator=_at_least(0))
    # bulk operations: first poll after bulk_poll_seconds, doubling up to bulk_poll_max_seconds;
    # an operation (and the wait for another app bulk query to end) may take bulk_max_wait_seconds
    bulk_poll_seconds: float = field(default=1.0, validator=_at_least(0.001))
    bulk_poll_max_seconds: float = field(default=10.0, validator=_at_least(0.001))
    bulk_max_wait_seconds: float = field(default=900.0, validator=_at_least(0))

    def __attrs_post_init__(self) -> None:
        if not self.scopes:
            raise InvalidInput("SHOPIFY_SCOPES must name at least one scope")

    @property
    def secrets(self) -> tuple[str, ...]:
        """The client secrets that may sign what Shopify sends: current, then previous."""
        if self.previous_client_secret:
            return (self.client_secret, self.previous_client_secret)
        return (self.client_secret,)
