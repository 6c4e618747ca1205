"""Resolvers: the sandbox's state seen through the Admin GraphQL 2026-10 schema.

Objects are dicts keyed by the schema's field names; a value wrapped in ``Lazy`` is computed
when asked for (relations, fields with arguments). ``resolve_field`` answers a field the dict
lacks with a clear GraphQL error naming it, so a query for something the sandbox does not
simulate fails loudly instead of returning made-up data.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, cast

from attrs import define, field
from graphql import GraphQLError, GraphQLResolveInfo

from adapters.shopify.sandbox.commerce import Commerce, QuantityChange, UserErrors
from adapters.shopify.sandbox.config import SandboxConfig
from adapters.shopify.sandbox.ids import (
    SandboxError,
    gid,
    gql_time,
    inventory_level_gid,
    is_gid,
    parse_gid,
    parse_inventory_level_gid,
)
from adapters.shopify.sandbox.payloads import country_name, money, order_totals
from adapters.shopify.sandbox.search import Getter, matches, parse_query
from adapters.shopify.sandbox.state import (
    QUANTITY_NAMES,
    AdjustmentGroup,
    BulkOperation,
    Customer,
    Fulfillment,
    FulfillmentOrder,
    FulfillmentOrderLine,
    IdempotencyRecord,
    InventoryItem,
    InventoryLevel,
    LineItem,
    Location,
    Order,
    Product,
    SandboxState,
    ShippingLine,
    Shop,
    Subscription,
    Variant,
)

__all__ = [
    "IDEMPOTENT_MUTATIONS",
    "Lazy",
    "RequestContext",
    "mutation_root",
    "query_root",
    "resolve_field",
]

T = TypeVar("T")
Node = dict[str, Any]
if TYPE_CHECKING:
    from adapters.shopify.sandbox.bulk import BulkOperations

    Info: TypeAlias = GraphQLResolveInfo[Any]

# Mutations that must carry ``@idempotent(key: ...)`` from 2026-04 on.
IDEMPOTENT_MUTATIONS = frozenset(
    {
        "inventorySetQuantities",
        "inventoryAdjustQuantities",
        "inventoryMoveQuantities",
        "inventoryActivate",
        "inventoryShipmentReceive",
        "refundCreate",
    }
)

FULFILLMENT_ORDER_READ = (
    "read_merchant_managed_fulfillment_orders",
    "read_assigned_fulfillment_orders",
    "read_third_party_fulfillment_orders",
    "read_marketplace_fulfillment_orders",
)
FULFILLMENT_ORDER_WRITE = tuple(s.replace("read_", "write_") for s in FULFILLMENT_ORDER_READ)


class Lazy:
    """A field computed on demand: ``fn(info, **arguments)``."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn


def resolve_field(source: Any, info: Info, **arguments: Any) -> Any:
    if isinstance(source, dict):
        name = info.field_name
        if name in source:
            value = source[name]
            if isinstance(value, Lazy):
                return value.fn(info, **arguments)
            return value
    raise GraphQLError(
        f"The sandbox does not simulate the field {info.parent_type.name}.{info.field_name}.",
        extensions={"code": "NOT_IMPLEMENTED_IN_SANDBOX"},
    )


@define
class RequestContext:
    """What resolvers of one request share."""

    state: SandboxState
    commerce: Commerce
    config: SandboxConfig
    shop: Shop
    scopes: frozenset[str]
    api_version: str
    base_url: str
    idempotency_keys: dict[str, str] = field(factory=dict)  # root response key -> key
    user_error_codes: list[str] = field(factory=list)
    search_warnings: list[dict[str, Any]] = field(factory=list)
    bulk: bool = False  # executing a bulk query: connections are not paged
    bulk_operations: BulkOperations | None = None


def _ctx(info: Info) -> RequestContext:
    return cast(RequestContext, info.context)


# --- scopes ------------------------------------------------------------------------------------


def _has_scope(ctx: RequestContext, scope: str) -> bool:
    if scope in ctx.scopes:
        return True
    return scope.startswith("read_") and "write_" + scope[5:] in ctx.scopes


def _require(info: Info, *scopes: str) -> RequestContext:
    ctx = _ctx(info)
    if not any(_has_scope(ctx, scope) for scope in scopes):
        wanted = " or ".join(f"`{scope}`" for scope in scopes)
        raise GraphQLError(
            f"Access denied for {info.field_name} field. Required access: {wanted} access scope.",
            extensions={
                "code": "ACCESS_DENIED",
                "documentation": "https://shopify.dev/api/usage/access-scopes",
                "requiredAccess": f"{wanted} access scope.",
            },
        )
    return ctx


# --- small values ------------------------------------------------------------------------------


def _bag(amount: Decimal | str, currency: str) -> Node:
    value = {"amount": money(amount), "currencyCode": currency}
    return {"shopMoney": dict(value), "presentmentMoney": dict(value)}


def _count(value: int) -> Node:
    return {"count": value, "precision": "EXACT"}


def _ts(when: datetime) -> int:
    return int(when.timestamp())


def _encode_cursor(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[Any, ...]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error):
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor!r}") from None
    if not isinstance(decoded, list):
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor!r}")
    return tuple(decoded)


def paginate(
    ctx: RequestContext,
    items: Iterable[T],
    key: Callable[[T], tuple[Any, ...]],
    build: Callable[[T], Node],
    arguments: dict[str, Any],
) -> Node:
    """A Relay connection over ``items`` ordered by ``key`` (its last element unique)."""
    reverse = bool(arguments.get("reverse"))
    keyed = sorted(((key(item), item) for item in items), key=lambda pair: pair[0], reverse=reverse)
    after, before = arguments.get("after"), arguments.get("before")
    try:
        if after:
            after_key = _decode_cursor(after)
            keyed = [(k, i) for k, i in keyed if (k < after_key if reverse else k > after_key)]
        if before:
            before_key = _decode_cursor(before)
            keyed = [(k, i) for k, i in keyed if (k > before_key if reverse else k < before_key)]
    except TypeError:
        raise GraphQLError("Invalid cursor for current pagination sort.") from None
    first, last = arguments.get("first"), arguments.get("last")
    has_next = has_previous = False
    page = keyed
    if not ctx.bulk:
        if first is not None:
            has_next = len(keyed) > first
            page = keyed[:first]
            has_previous = bool(after)
        elif last is not None:
            has_previous = len(keyed) > last
            page = keyed[len(keyed) - last :] if last else []
            has_next = bool(before)
    nodes = [build(item) for _, item in page]
    edges = [
        {"cursor": _encode_cursor(k), "node": node}
        for (k, _), node in zip(page, nodes, strict=True)
    ]
    return {
        "edges": edges,
        "nodes": nodes,
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def _filtered(
    ctx: RequestContext,
    info: Info,
    items: Iterable[T],
    query: str | None,
    getters: dict[str, Getter],
    *,
    text: Getter | None = None,
) -> list[T]:
    terms = parse_query(query)
    if not terms:
        return list(items)
    unknown: list[str] = []
    result = [item for item in items if matches(item, terms, getters, text=text, unknown=unknown)]
    if unknown:
        ctx.search_warnings.append(
            {
                "path": [str(p) for p in info.path.as_list()],
                "query": query,
                "warnings": [
                    {"field": name, "message": "Invalid search field for this query."}
                    for name in unknown
                ],
            }
        )
    return result


def _id_arg(value: Any, kind: str) -> int | None:
    """A gid argument: ``None`` when it names another kind; an error when it is not a gid."""
    if not is_gid(value):
        raise GraphQLError(f"Invalid global id '{value}'", extensions={"code": "INVALID_ID"})
    return parse_gid(value, kind)


def _user_errors(ctx: RequestContext, errors: Sequence[SandboxError], *, coded: bool) -> list[Node]:
    out = []
    for error in errors:
        ctx.user_error_codes.append(error.code or error.message)
        entry: Node = {"field": error.field, "message": error.message}
        if coded:
            entry["code"] = error.code
        out.append(entry)
    return out


# --- shop and locations ------------------------------------------------------------------------


def shop_node(ctx: RequestContext) -> Node:
    shop = ctx.shop
    offset = shop.utc_offset_minutes
    hours, minutes = divmod(abs(offset), 60)
    sign = "-" if offset < 0 else "+"
    primary = shop.locations.get(shop.primary_location_id)
    return {
        "__typename": "Shop",
        "id": gid("Shop", shop.id),
        "name": shop.name,
        "email": shop.email,
        "contactEmail": shop.email,
        "myshopifyDomain": shop.domain,
        "url": f"https://{shop.domain}",
        "currencyCode": shop.currency,
        "enabledPresentmentCurrencies": [shop.currency],
        "ianaTimezone": shop.iana_timezone,
        "timezoneAbbreviation": "UTC" if offset == 0 else shop.iana_timezone,
        "timezoneOffset": f"{sign}{hours:02d}{minutes:02d}",
        "timezoneOffsetMinutes": offset,
        "createdAt": gql_time(shop.created_at),
        "updatedAt": gql_time(shop.updated_at),
        "shopOwnerName": shop.shop_owner,
        "weightUnit": "KILOGRAMS",
        "unitSystem": "METRIC_SYSTEM",
        "taxesIncluded": False,
        "taxShipping": False,
        "setupRequired": False,
        "checkoutApiSupported": True,
        "transactionalSmsDisabled": False,
        "marketingSmsConsentEnabledAtCheckout": False,
        "orderNumberFormatPrefix": "#",
        "orderNumberFormatSuffix": "",
        "description": None,
        "shipsToCountries": [shop.country_code],
        "plan": {
            "displayName": shop.plan_display_name,
            "publicDisplayName": shop.plan_display_name,
            "partnerDevelopment": shop.plan_name in {"partner_test", "affiliate"},
            "shopifyPlus": shop.plan_name in {"shopify_plus", "enterprise"},
        },
        "primaryDomain": {
            "__typename": "Domain",
            "id": gid("Domain", shop.id),
            "host": shop.domain,
            "url": f"https://{shop.domain}",
            "sslEnabled": True,
            "localization": None,
            "marketWebPresence": None,
        },
        "shopAddress": {
            "__typename": "ShopAddress",
            "id": gid("ShopAddress", shop.id),
            "address1": primary.address1 if primary else None,
            "address2": primary.address2 if primary else None,
            "city": primary.city if primary else None,
            "company": shop.name,
            "country": country_name(shop.country_code),
            "countryCodeV2": shop.country_code,
            "province": primary.province if primary else None,
            "provinceCode": primary.province_code if primary else None,
            "zip": primary.zip if primary else None,
            "phone": None,
            "latitude": None,
            "longitude": None,
            "coordinatesValidated": False,
            "formattedArea": country_name(shop.country_code),
            "formatted": Lazy(lambda info, **_: [shop.name, country_name(shop.country_code)]),
        },
    }


def location_node(ctx: RequestContext, location: Location) -> Node:
    shop = ctx.shop

    def levels(info: Info, **arguments: Any) -> Node:
        _require(info, "read_inventory")
        items = [
            level
            for (_, location_id), level in shop.levels.items()
            if location_id == location.id and (level.active or arguments.get("includeInactive"))
        ]
        return paginate(
            ctx,
            items,
            lambda lv: (lv.inventory_item_id,),
            lambda lv: level_node(ctx, lv),
            arguments,
        )

    def level(info: Info, inventoryItemId: str, **_: Any) -> Node | None:  # noqa: N803
        _require(info, "read_inventory")
        item_id = _id_arg(inventoryItemId, "InventoryItem")
        found = ctx.commerce.level(shop, item_id or 0, location.id)
        return level_node(ctx, found) if found else None

    def has_stock(info: Info) -> bool:
        return any(
            lv.active and lv.quantity("on_hand")
            for (_, loc), lv in shop.levels.items()
            if loc == location.id
        )

    return {
        "__typename": "Location",
        "id": gid("Location", location.id),
        "legacyResourceId": str(location.id),
        "name": location.name,
        "isActive": location.active,
        "isPrimary": location.id == shop.primary_location_id,
        "fulfillsOnlineOrders": location.fulfills_online_orders,
        "shipsInventory": location.fulfills_online_orders,
        "hasActiveInventory": Lazy(has_stock),
        "hasUnfulfilledOrders": False,
        "isFulfillmentService": False,
        "fulfillmentService": None,
        "activatable": not location.active,
        "deactivatable": location.active and location.id != shop.primary_location_id,
        "deletable": not location.active,
        "deactivatedAt": None,
        "addressVerified": False,
        "createdAt": gql_time(location.created_at),
        "updatedAt": gql_time(location.updated_at),
        "localPickupSettingsV2": None,
        "suggestedAddresses": [],
        "address": {
            "address1": location.address1,
            "address2": location.address2,
            "city": location.city,
            "country": country_name(location.country_code),
            "countryCode": location.country_code,
            "province": location.province,
            "provinceCode": location.province_code,
            "zip": location.zip,
            "phone": location.phone,
            "latitude": None,
            "longitude": None,
            "formatted": [
                p
                for p in (location.address1, location.city, country_name(location.country_code))
                if p
            ],
        },
        "inventoryLevels": Lazy(levels),
        "inventoryLevel": Lazy(level),
    }


# --- catalog and stock -------------------------------------------------------------------------


def product_node(ctx: RequestContext, product: Product) -> Node:
    shop = ctx.shop

    def variants(info: Info, **arguments: Any) -> Node:
        found = [shop.variants[v] for v in product.variant_ids]
        return paginate(
            ctx, found, lambda v: (v.position, v.id), lambda v: variant_node(ctx, v), arguments
        )

    items = [shop.inventory_items[shop.variants[v].inventory_item_id] for v in product.variant_ids]

    def total() -> int:
        return sum(shop.available(item.id) for item in items if item.tracked)

    return {
        "__typename": "Product",
        "id": gid("Product", product.id),
        "legacyResourceId": str(product.id),
        "title": product.title,
        "handle": product.handle,
        "vendor": product.vendor,
        "productType": product.product_type,
        "status": product.status,
        "tags": list(product.tags),
        "createdAt": gql_time(product.created_at),
        "updatedAt": gql_time(product.updated_at),
        "publishedAt": gql_time(product.created_at),
        "description": "",
        "descriptionHtml": "",
        "isGiftCard": False,
        "hasOnlyDefaultVariant": len(product.variant_ids) == 1,
        "hasOutOfStockVariants": Lazy(
            lambda info: any(item.tracked and shop.available(item.id) <= 0 for item in items)
        ),
        "tracksInventory": any(item.tracked for item in items),
        "totalInventory": Lazy(lambda info: total()),
        "onlineStoreUrl": None,
        "templateSuffix": None,
        "defaultCursor": Lazy(lambda info: _encode_cursor((product.id,))),
        "variantsCount": _count(len(product.variant_ids)),
        "variants": Lazy(variants),
    }


def variant_node(ctx: RequestContext, variant: Variant) -> Node:
    shop = ctx.shop
    item = shop.inventory_items[variant.inventory_item_id]
    product = shop.products[variant.product_id]

    def for_sale(info: Info) -> bool:
        if product.status != "ACTIVE":
            return False
        return (
            not item.tracked
            or variant.inventory_policy == "CONTINUE"
            or shop.available(item.id) > 0
        )

    return {
        "__typename": "ProductVariant",
        "id": gid("ProductVariant", variant.id),
        "legacyResourceId": str(variant.id),
        "title": variant.title,
        "displayName": f"{product.title} - {variant.title}",
        "sku": variant.sku,
        "barcode": variant.barcode,
        "price": money(variant.price),
        "compareAtPrice": variant.compare_at_price,
        "position": variant.position,
        "taxable": variant.taxable,
        "inventoryPolicy": variant.inventory_policy,
        "inventoryQuantity": Lazy(lambda info: shop.available(item.id) if item.tracked else None),
        "sellableOnlineQuantity": Lazy(lambda info: max(0, shop.available(item.id))),
        "availableForSale": Lazy(for_sale),
        "requiresComponents": False,
        "showUnitPrice": False,
        "unitPrice": None,
        "createdAt": gql_time(variant.created_at),
        "updatedAt": gql_time(variant.updated_at),
        "defaultCursor": Lazy(lambda info: _encode_cursor((variant.id,))),
        "selectedOptions": [{"name": "Title", "value": variant.title, "optionValue": None}],
        "inventoryItem": Lazy(lambda info, **_: item_node(ctx, item)),
        "product": Lazy(lambda info, **_: product_node(ctx, product)),
    }


def item_node(ctx: RequestContext, item: InventoryItem) -> Node:
    shop = ctx.shop
    variant = shop.variants[item.variant_id]

    def levels(info: Info, **arguments: Any) -> Node:
        found = shop.item_levels(item.id, include_inactive=bool(arguments.get("includeInactive")))
        found = _filtered(
            ctx,
            info,
            found,
            arguments.get("query"),
            {
                "location_id": lambda lv: cast(InventoryLevel, lv).location_id,
                "updated_at": lambda lv: cast(InventoryLevel, lv).updated_at,
            },
        )
        return paginate(
            ctx, found, lambda lv: (lv.location_id,), lambda lv: level_node(ctx, lv), arguments
        )

    def level(info: Info, locationId: str, **_: Any) -> Node | None:  # noqa: N803
        location_id = _id_arg(locationId, "Location")
        found = ctx.commerce.level(shop, item.id, location_id or 0)
        return level_node(ctx, found) if found else None

    return {
        "__typename": "InventoryItem",
        "id": gid("InventoryItem", item.id),
        "legacyResourceId": str(item.id),
        "sku": variant.sku,
        "tracked": item.tracked,
        "requiresShipping": item.requires_shipping,
        "createdAt": gql_time(item.created_at),
        "updatedAt": gql_time(item.updated_at),
        "countryCodeOfOrigin": None,
        "provinceCodeOfOrigin": None,
        "harmonizedSystemCode": None,
        "duplicateSkuCount": Lazy(
            lambda info: sum(
                1
                for v in shop.variants.values()
                if v.sku and v.sku == variant.sku and v.id != variant.id
            )
        ),
        "unitCost": None,
        "inventoryHistoryUrl": f"https://{shop.domain}/admin/products/inventory/{item.id}/inventory_history",
        "locationsCount": Lazy(lambda info: _count(len(shop.item_levels(item.id)))),
        "trackedEditable": {"locked": False, "reason": None},
        "measurement": {
            "id": gid("InventoryItemMeasurement", item.id),
            "weight": {"unit": "GRAMS", "value": float(variant.grams)},
        },
        "variant": Lazy(lambda info, **_: variant_node(ctx, variant)),
        "variants": Lazy(
            lambda info, **arguments: paginate(
                ctx, [variant], lambda v: (v.id,), lambda v: variant_node(ctx, v), arguments
            )
        ),
        "inventoryLevels": Lazy(levels),
        "inventoryLevel": Lazy(level),
    }


def level_node(ctx: RequestContext, level: InventoryLevel) -> Node:
    shop = ctx.shop

    def quantities(info: Info, names: list[str], **_: Any) -> list[Node]:
        unknown = [name for name in names if name not in QUANTITY_NAMES]
        if unknown:
            raise GraphQLError(
                f"Invalid quantity name(s): {', '.join(unknown)}. Valid names are: "
                f"{', '.join(QUANTITY_NAMES)}.",
                extensions={"code": "BAD_REQUEST"},
            )
        base = inventory_level_gid(level.location_id, level.inventory_item_id)
        return [
            {
                "id": base.replace("InventoryLevel", "InventoryQuantity") + f"&name={name}",
                "name": name,
                "quantity": level.quantity(name),
                "updatedAt": gql_time(level.updated_at),
            }
            for name in names
        ]

    return {
        "__typename": "InventoryLevel",
        "id": inventory_level_gid(level.location_id, level.inventory_item_id),
        "isActive": level.active,
        "canDeactivate": level.quantity("committed") == 0,
        "deactivationAlert": None,
        "createdAt": gql_time(level.created_at),
        "updatedAt": gql_time(level.updated_at),
        "quantities": Lazy(quantities),
        "item": Lazy(
            lambda info, **_: item_node(ctx, shop.inventory_items[level.inventory_item_id])
        ),
        "location": Lazy(lambda info, **_: location_node(ctx, shop.locations[level.location_id])),
    }


def adjustment_group_node(ctx: RequestContext, group: AdjustmentGroup) -> Node:
    def changes(
        info: Info,
        inventoryItemIds: list[str] | None = None,  # noqa: N803
        locationIds: list[str] | None = None,  # noqa: N803
        quantityNames: list[str] | None = None,  # noqa: N803
    ) -> list[Node]:
        items = {parse_gid(i, "InventoryItem") for i in inventoryItemIds or ()}
        locations = {parse_gid(i, "Location") for i in locationIds or ()}
        out = []
        for change in group.changes:
            if items and change.inventory_item_id not in items:
                continue
            if locations and change.location_id not in locations:
                continue
            if quantityNames and change.name not in quantityNames:
                continue
            out.append(
                {
                    "name": change.name,
                    "delta": change.delta,
                    "quantityAfterChange": change.quantity_after,
                    "ledgerDocumentUri": change.ledger_document_uri,
                    "item": Lazy(
                        lambda info, c=change, **_: _item_or_none(ctx, c.inventory_item_id)
                    ),
                    "location": Lazy(
                        lambda info, c=change, **_: _location_or_none(ctx, c.location_id)
                    ),
                }
            )
        return out

    return {
        "__typename": "InventoryAdjustmentGroup",
        "id": gid("InventoryAdjustmentGroup", group.id),
        "createdAt": gql_time(group.created_at),
        "reason": group.reason,
        "referenceDocumentUri": group.reference_document_uri,
        "staffMember": None,
        "app": _app_node(ctx),
        "changes": Lazy(changes),
    }


def _item_or_none(ctx: RequestContext, item_id: int) -> Node | None:
    """An inventory item's node; ``None`` once its variant was deleted."""
    item = ctx.shop.inventory_items.get(item_id)
    return item_node(ctx, item) if item else None


def _location_or_none(ctx: RequestContext, location_id: int) -> Node | None:
    """A location's node; ``None`` once the location was deleted."""
    location = ctx.shop.locations.get(location_id)
    return location_node(ctx, location) if location else None


def _app_node(ctx: RequestContext) -> Node:
    return {
        "__typename": "App",
        "id": gid("App", 1),
        "title": ctx.config.app_name,
        "handle": ctx.config.app_name.lower().replace(" ", "-"),
        "apiKey": ctx.config.client_id,
        "developerName": ctx.config.app_name,
        "embedded": False,
        "published": False,
        "shopifyDeveloped": False,
        "previouslyInstalled": False,
        "webhookApiVersion": ctx.config.api_version,
    }


# --- orders ------------------------------------------------------------------------------------


def address_node(owner_id: int, raw: dict[str, Any] | None, kind: str = "shipping") -> Node | None:
    if raw is None:
        return None

    def formatted(info: Info, **arguments: Any) -> list[str]:
        lines = []
        if arguments.get("withName", False) and raw.get("name"):
            lines.append(str(raw["name"]))
        if arguments.get("withCompany", True) and raw.get("company"):
            lines.append(str(raw["company"]))
        for key in ("address1", "address2"):
            if raw.get(key):
                lines.append(str(raw[key]))
        area = " ".join(str(raw[k]) for k in ("city", "province_code", "zip") if raw.get(k))
        if area:
            lines.append(area)
        if raw.get("country"):
            lines.append(str(raw["country"]))
        return lines

    return {
        "__typename": "MailingAddress",
        "id": f"gid://shopify/MailingAddress/{owner_id}?model_name=Address&type={kind}",
        "address1": raw.get("address1"),
        "address2": raw.get("address2"),
        "city": raw.get("city"),
        "company": raw.get("company"),
        "country": raw.get("country"),
        "countryCodeV2": raw.get("country_code"),
        "firstName": raw.get("first_name"),
        "lastName": raw.get("last_name"),
        "name": raw.get("name"),
        "phone": raw.get("phone"),
        "province": raw.get("province"),
        "provinceCode": raw.get("province_code"),
        "zip": raw.get("zip"),
        "latitude": raw.get("latitude"),
        "longitude": raw.get("longitude"),
        "coordinatesValidated": False,
        "timeZone": None,
        "validationResultSummary": None,
        "formattedArea": ", ".join(
            str(raw[k]) for k in ("city", "province_code", "country") if raw.get(k)
        )
        or None,
        "formatted": Lazy(formatted),
    }


def shipping_line_node(line: ShippingLine, currency: str) -> Node:
    return {
        "__typename": "ShippingLine",
        "id": gid("ShippingLine", line.id),
        "title": line.title,
        "code": line.code,
        "source": line.source,
        "carrierIdentifier": None,
        "custom": line.source != "shopify",
        "deliveryCategory": None,
        "isRemoved": False,
        "phone": None,
        "shippingRateHandle": None,
        "taxLines": [],
        "discountAllocations": [],
        "originalPriceSet": _bag(line.price, currency),
        "discountedPriceSet": _bag(line.price, currency),
        "currentDiscountedPriceSet": _bag(line.price, currency),
    }


def line_item_node(ctx: RequestContext, order: Order, line: LineItem) -> Node:
    shop = ctx.shop
    currency = order.currency
    unfulfilled = (
        0 if order.cancelled_at else max(0, line.current_quantity - line.fulfilled_quantity)
    )
    if line.fulfilled_quantity == 0:
        status = "unfulfilled"
    elif line.fulfilled_quantity >= line.current_quantity:
        status = "fulfilled"
    else:
        status = "partial"
    variant = shop.variants.get(line.variant_id) if line.variant_id else None
    product = shop.products.get(line.product_id) if line.product_id else None
    return {
        "__typename": "LineItem",
        "id": gid("LineItem", line.id),
        "name": line.name,
        "title": line.title,
        "variantTitle": line.variant_title,
        "sku": line.sku,
        "vendor": line.vendor,
        "quantity": line.quantity,
        "currentQuantity": line.current_quantity,
        "unfulfilledQuantity": unfulfilled,
        "fulfillableQuantity": unfulfilled,
        "nonFulfillableQuantity": line.quantity - line.current_quantity,
        "refundableQuantity": line.current_quantity,
        "fulfillmentStatus": status,
        "requiresShipping": line.requires_shipping,
        "taxable": line.taxable,
        "isGiftCard": False,
        "merchantEditable": order.cancelled_at is None,
        "restockable": line.tracked,
        "canRestock": line.tracked,
        "customAttributes": [dict(p, key=p.get("name")) for p in line.properties],
        "discountAllocations": [],
        "taxLines": [],
        "duties": [],
        "contract": None,
        "sellingPlan": None,
        "staffMember": None,
        "lineItemGroup": None,
        "image": None,
        "fulfillmentService": None,
        "weight": {"unit": "GRAMS", "value": float(line.grams)},
        "originalUnitPrice": money(line.price),
        "discountedUnitPrice": money(line.price),
        "originalUnitPriceSet": _bag(line.price, currency),
        "discountedUnitPriceSet": _bag(line.price, currency),
        "discountedUnitPriceAfterAllDiscountsSet": _bag(line.price, currency),
        "originalTotalSet": _bag(Decimal(line.price) * line.quantity, currency),
        "discountedTotalSet": Lazy(
            lambda info, **_: _bag(Decimal(line.price) * line.current_quantity, currency)
        ),
        "totalDiscountSet": _bag("0", currency),
        "unfulfilledOriginalTotalSet": _bag(Decimal(line.price) * unfulfilled, currency),
        "unfulfilledDiscountedTotalSet": _bag(Decimal(line.price) * unfulfilled, currency),
        "variant": Lazy(lambda info, **_: variant_node(ctx, variant) if variant else None),
        "product": Lazy(lambda info, **_: product_node(ctx, product) if product else None),
    }


def customer_node(ctx: RequestContext, customer: Customer) -> Node:
    name = " ".join(p for p in (customer.first_name, customer.last_name) if p)
    return {
        "__typename": "Customer",
        "id": gid("Customer", customer.id),
        "legacyResourceId": str(customer.id),
        "firstName": customer.first_name,
        "lastName": customer.last_name,
        "displayName": name or customer.email or "",
        "email": customer.email,
        "phone": customer.phone,
        "note": None,
        "tags": [],
        "state": "DISABLED",
        "verifiedEmail": True,
        "taxExempt": False,
        "locale": "en",
        "createdAt": gql_time(customer.created_at),
        "updatedAt": gql_time(customer.updated_at),
        "numberOfOrders": str(
            sum(1 for o in ctx.shop.orders.values() if o.customer_id == customer.id)
        ),
        "defaultEmailAddress": (
            {"emailAddress": customer.email, "marketingState": "NOT_SUBSCRIBED"}
            if customer.email
            else None
        ),
        "defaultPhoneNumber": (
            {"phoneNumber": customer.phone, "marketingState": "NOT_SUBSCRIBED"}
            if customer.phone
            else None
        ),
    }


def _order_display_fulfillment(order: Order) -> str:
    status = order.fulfillment_status
    if status == "fulfilled":
        return "FULFILLED"
    if status == "partial":
        return "PARTIALLY_FULFILLED"
    return "UNFULFILLED"


def order_node(ctx: RequestContext, order: Order) -> Node:
    shop = ctx.shop
    currency = order.currency
    totals = order_totals(order)

    def line_items(info: Info, **arguments: Any) -> Node:
        return paginate(
            ctx,
            list(enumerate(order.line_items)),
            lambda pair: (pair[0], pair[1].id),
            lambda pair: line_item_node(ctx, order, pair[1]),
            arguments,
        )

    def fulfillment_orders(info: Info, **arguments: Any) -> Node:
        _require(info, *FULFILLMENT_ORDER_READ)
        found = [shop.fulfillment_orders[f] for f in order.fulfillment_order_ids]
        if arguments.get("displayable"):
            found = [
                fo
                for fo in found
                if fo.status != "CANCELLED"
                and not (fo.status == "CLOSED" and not fo.fulfillment_ids)
            ]
        found = _filtered(ctx, info, found, arguments.get("query"), _FULFILLMENT_ORDER_SEARCH)
        return paginate(
            ctx, found, lambda fo: (fo.id,), lambda fo: fulfillment_order_node(ctx, fo), arguments
        )

    def fulfillments(info: Info, first: int | None = None, **_: Any) -> list[Node]:
        found = [shop.fulfillments[f] for f in order.fulfillment_ids]
        if first is not None:
            found = found[:first]
        return [fulfillment_node(ctx, f) for f in found]

    def shipping_lines(info: Info, **arguments: Any) -> Node:
        return paginate(
            ctx,
            order.shipping_lines,
            lambda sl: (sl.id,),
            lambda sl: shipping_line_node(sl, currency),
            arguments,
        )

    customer = shop.customers.get(order.customer_id) if order.customer_id else None
    paid = order.financial_status in {"paid", "partially_refunded", "refunded"}
    open_order = order.cancelled_at is None and order.closed_at is None
    return {
        "__typename": "Order",
        "id": gid("Order", order.id),
        "legacyResourceId": str(order.id),
        "name": order.name,
        "number": order.number,  # name = prefix + number: #1001 -> 1001
        "email": order.email,
        "phone": order.phone,
        "note": order.note,
        "tags": list(order.tags),
        "test": order.test,
        "sourceName": order.source_name,
        "sourceIdentifier": None,
        "poNumber": None,
        "confirmationNumber": order.token[:9].upper(),
        "confirmed": True,
        "closed": order.closed_at is not None,
        "closedAt": gql_time(order.closed_at),
        "cancelledAt": gql_time(order.cancelled_at),
        "cancelReason": order.cancel_reason.upper() if order.cancel_reason else None,
        "createdAt": gql_time(order.created_at),
        "updatedAt": gql_time(order.updated_at),
        "processedAt": gql_time(order.created_at),
        "edited": order.edited,
        "currencyCode": currency,
        "presentmentCurrencyCode": currency,
        "customerLocale": "en",
        "customerAcceptsMarketing": False,
        "clientIp": None,
        "discountCode": None,
        "discountCodes": [],
        "paymentGatewayNames": ["bogus"],
        "customAttributes": [
            {"key": a.get("name"), "value": a.get("value")} for a in order.note_attributes
        ],
        "displayFinancialStatus": order.financial_status.upper(),
        "displayFulfillmentStatus": _order_display_fulfillment(order),
        "fulfillable": open_order
        and any(line.current_quantity > line.fulfilled_quantity for line in order.line_items),
        "requiresShipping": any(line.requires_shipping for line in order.line_items),
        "unpaid": not paid,
        "fullyPaid": paid,
        "canMarkAsPaid": not paid and order.cancelled_at is None,
        "capturable": order.financial_status == "authorized",
        "refundable": paid,
        "restockable": any(line.tracked for line in order.line_items),
        "merchantEditable": order.cancelled_at is None,
        "merchantEditableErrors": [] if order.cancelled_at is None else ["Order is cancelled"],
        "taxExempt": False,
        "taxesIncluded": False,
        "dutiesIncluded": False,
        "estimatedTaxes": False,
        "taxLines": [],
        "currentTaxLines": [],
        "subtotalLineItemsQuantity": sum(line.quantity for line in order.line_items),
        "currentSubtotalLineItemsQuantity": sum(line.current_quantity for line in order.line_items),
        "totalWeight": str(int(totals["weight"])),
        "currentTotalWeight": str(int(totals["weight"])),
        "subtotalPriceSet": _bag(totals["subtotal"], currency),
        "currentSubtotalPriceSet": _bag(totals["current_subtotal"], currency),
        "totalPriceSet": _bag(totals["total"], currency),
        "currentTotalPriceSet": _bag(totals["current_total"], currency),
        "originalTotalPriceSet": _bag(totals["total"], currency),
        "totalShippingPriceSet": _bag(totals["shipping"], currency),
        "currentShippingPriceSet": _bag(totals["shipping"], currency),
        "totalTaxSet": _bag("0", currency),
        "currentTotalTaxSet": _bag("0", currency),
        "totalDiscountsSet": _bag("0", currency),
        "currentTotalDiscountsSet": _bag("0", currency),
        "currentCartDiscountAmountSet": _bag("0", currency),
        "totalOutstandingSet": _bag("0" if paid else totals["total"], currency),
        "totalReceivedSet": _bag(totals["total"] if paid else "0", currency),
        "totalRefundedSet": _bag(
            totals["total"] if order.financial_status == "refunded" else "0", currency
        ),
        "totalTipReceivedSet": _bag("0", currency),
        "netPaymentSet": _bag(totals["total"] if paid else "0", currency),
        "statusPageUrl": f"https://{shop.domain}/{shop.id}/orders/{order.token}/authenticate",
        "shippingAddress": address_node(order.id, order.shipping_address),
        "billingAddress": address_node(order.id, order.billing_address, "billing"),
        "displayAddress": address_node(order.id, order.shipping_address or order.billing_address),
        "billingAddressMatchesShippingAddress": order.billing_address == order.shipping_address,
        "shippingLine": shipping_line_node(order.shipping_lines[0], currency)
        if order.shipping_lines
        else None,
        "shippingLines": Lazy(shipping_lines),
        "lineItems": Lazy(line_items),
        "fulfillmentOrders": Lazy(fulfillment_orders),
        "fulfillments": Lazy(fulfillments),
        "fulfillmentsCount": _count(len(order.fulfillment_ids)),
        "customer": Lazy(lambda info, **_: customer_node(ctx, customer) if customer else None),
        "refunds": [],
        "returnStatus": "NO_RETURN",
        "app": None,
        "channelInformation": None,
        "retailLocation": None,
        "physicalLocation": None,
        "paymentTerms": None,
        "purchasingEntity": None,
        "cancellation": None,
    }


_FULFILLMENT_ORDER_SEARCH: dict[str, Getter] = {
    "status": lambda fo: cast(FulfillmentOrder, fo).status.lower(),
    "assigned_location_id": lambda fo: cast(FulfillmentOrder, fo).location_id,
    "updated_at": lambda fo: cast(FulfillmentOrder, fo).updated_at,
    "id": lambda fo: cast(FulfillmentOrder, fo).id,
}


def fulfillment_order_line_node(
    ctx: RequestContext, order: Order, fo_line: FulfillmentOrderLine
) -> Node:
    shop = ctx.shop
    line = order.line(fo_line.line_item_id)
    if line is None:  # pragma: no cover - lines are never removed
        raise GraphQLError("line item vanished")
    variant = shop.variants.get(line.variant_id) if line.variant_id else None
    return {
        "__typename": "FulfillmentOrderLineItem",
        "id": gid("FulfillmentOrderLineItem", fo_line.id),
        "totalQuantity": fo_line.total_quantity,
        "remainingQuantity": fo_line.remaining_quantity,
        "sku": line.sku,
        "productTitle": line.title,
        "variantTitle": line.variant_title,
        "vendor": line.vendor,
        "requiresShipping": line.requires_shipping,
        "inventoryItemId": gid("InventoryItem", line.inventory_item_id)
        if line.inventory_item_id
        else None,
        "image": None,
        "warnings": [],
        "financialSummaries": [],
        "shippingLine": None,
        "weight": {"unit": "GRAMS", "value": float(line.grams)},
        "originalUnitPriceSet": _bag(line.price, order.currency),
        "lineItem": Lazy(lambda info, **_: line_item_node(ctx, order, line)),
        "variant": Lazy(lambda info, **_: variant_node(ctx, variant) if variant else None),
    }


def fulfillment_order_node(ctx: RequestContext, fo: FulfillmentOrder) -> Node:
    shop = ctx.shop
    order = shop.orders[fo.order_id]
    location = shop.locations[fo.location_id]
    address = order.shipping_address or {}

    def line_items(info: Info, **arguments: Any) -> Node:
        return paginate(
            ctx,
            fo.lines,
            lambda li: (li.id,),
            lambda li: fulfillment_order_line_node(ctx, order, li),
            arguments,
        )

    def fulfillments(info: Info, **arguments: Any) -> Node:
        found = [shop.fulfillments[f] for f in fo.fulfillment_ids]
        return paginate(
            ctx, found, lambda f: (f.id,), lambda f: fulfillment_node(ctx, f), arguments
        )

    actions = (
        [
            {"action": "CREATE_FULFILLMENT", "externalUrl": None},
            {"action": "HOLD", "externalUrl": None},
        ]
        if fo.status in {"OPEN", "IN_PROGRESS"}
        else []
    )
    empty: Node = {
        "edges": [],
        "nodes": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
    }
    return {
        "__typename": "FulfillmentOrder",
        "id": gid("FulfillmentOrder", fo.id),
        "status": fo.status,
        "requestStatus": "UNSUBMITTED",
        "createdAt": gql_time(fo.created_at),
        "updatedAt": gql_time(fo.updated_at),
        "fulfillAt": None,
        "fulfillBy": None,
        "orderId": gid("Order", order.id),
        "orderName": order.name,
        "orderProcessedAt": gql_time(order.created_at),
        "channelId": None,
        "internationalDuties": None,
        "fulfillmentHolds": [],
        "supportedActions": actions,
        "remainingLineItemsWeight": {
            "unit": "GRAMS",
            "value": float(
                sum(
                    (order.line(li.line_item_id) or LineItem(0, "", 0, 0, "0")).grams
                    * li.remaining_quantity
                    for li in fo.lines
                )
            ),
        },
        "deliveryMethod": {
            "__typename": "DeliveryMethod",
            "id": gid("DeliveryMethod", fo.id),
            "methodType": "SHIPPING",
            "presentedName": order.shipping_lines[0].title if order.shipping_lines else None,
            "serviceCode": order.shipping_lines[0].code if order.shipping_lines else None,
            "sourceReference": None,
            "minDeliveryDateTime": None,
            "maxDeliveryDateTime": None,
            "additionalInformation": None,
            "brandedPromise": None,
        },
        "assignedLocation": {
            "name": location.name,
            "address1": location.address1,
            "address2": location.address2,
            "city": location.city,
            "countryCode": location.country_code,
            "phone": location.phone,
            "province": location.province,
            "zip": location.zip,
            "location": Lazy(lambda info, **_: location_node(ctx, location)),
        },
        "destination": (
            {
                "__typename": "FulfillmentOrderDestination",
                "id": gid("FulfillmentOrderDestination", fo.id),
                "address1": address.get("address1"),
                "address2": address.get("address2"),
                "city": address.get("city"),
                "company": address.get("company"),
                "countryCode": address.get("country_code"),
                "email": order.email,
                "firstName": address.get("first_name"),
                "lastName": address.get("last_name"),
                "phone": address.get("phone"),
                "province": address.get("province"),
                "zip": address.get("zip"),
                "location": None,
            }
            if order.shipping_address
            else None
        ),
        "lineItems": Lazy(line_items),
        "fulfillments": Lazy(fulfillments),
        "merchantRequests": Lazy(lambda info, **_: empty),
        "fulfillmentOrdersForMerge": Lazy(lambda info, **_: empty),
        "order": Lazy(lambda info, **_: order_node(ctx, order)),
    }


def fulfillment_node(ctx: RequestContext, fulfillment: Fulfillment) -> Node:
    shop = ctx.shop
    order = shop.orders[fulfillment.order_id]

    def tracking(info: Info, first: int | None = None, **_: Any) -> list[Node]:
        numbers: list[str | None] = list(fulfillment.tracking_numbers) or [None]
        out = []
        for index, number in enumerate(numbers):
            url = (
                fulfillment.tracking_urls[index] if index < len(fulfillment.tracking_urls) else None
            )
            if number is None and fulfillment.tracking_company is None and url is None:
                continue
            out.append({"company": fulfillment.tracking_company, "number": number, "url": url})
        return out[:first] if first is not None else out

    def line_items(info: Info, **arguments: Any) -> Node:
        pairs = [(i, line_id, q) for i, (line_id, q) in enumerate(fulfillment.lines)]

        def build(entry: tuple[int, int, int]) -> Node:
            index, line_id, quantity = entry
            line = order.line(line_id)
            price = Decimal(line.price) * quantity if line else Decimal(0)
            return {
                "id": gid("FulfillmentLineItem", fulfillment.id * 1000 + index),
                "quantity": quantity,
                "originalTotalSet": _bag(price, order.currency),
                "discountedTotalSet": _bag(price, order.currency),
                "lineItem": Lazy(
                    lambda info, **_: line_item_node(ctx, order, line) if line else None
                ),
            }

        return paginate(ctx, pairs, lambda e: (e[0],), build, arguments)

    def fulfillment_orders(info: Info, **arguments: Any) -> Node:
        found = [shop.fulfillment_orders[f] for f in fulfillment.fulfillment_order_ids]
        return paginate(
            ctx, found, lambda fo: (fo.id,), lambda fo: fulfillment_order_node(ctx, fo), arguments
        )

    return {
        "__typename": "Fulfillment",
        "id": gid("Fulfillment", fulfillment.id),
        "legacyResourceId": str(fulfillment.id),
        "name": fulfillment.name,
        "status": fulfillment.status,
        "displayStatus": "FULFILLED" if fulfillment.status == "SUCCESS" else None,
        "createdAt": gql_time(fulfillment.created_at),
        "updatedAt": gql_time(fulfillment.updated_at),
        "deliveredAt": None,
        "inTransitAt": None,
        "estimatedDeliveryAt": None,
        "requiresShipping": True,
        "totalQuantity": fulfillment.total_quantity,
        "originAddress": None,
        "service": None,
        "trackingInfo": Lazy(tracking),
        "fulfillmentLineItems": Lazy(line_items),
        "fulfillmentOrders": Lazy(fulfillment_orders),
        "location": Lazy(
            lambda info, **_: location_node(ctx, shop.locations[fulfillment.location_id])
        ),
        "order": Lazy(lambda info, **_: order_node(ctx, order)),
    }


# --- webhooks and bulk operations --------------------------------------------------------------


def subscription_node(ctx: RequestContext, subscription: Subscription) -> Node:
    return {
        "__typename": "WebhookSubscription",
        "id": gid("WebhookSubscription", subscription.id),
        "legacyResourceId": str(subscription.id),
        "topic": subscription.topic,
        "uri": subscription.uri,
        "callbackUrl": subscription.uri,
        "endpoint": {"__typename": "WebhookHttpEndpoint", "callbackUrl": subscription.uri},
        "format": subscription.format,
        "includeFields": list(subscription.include_fields),
        "metafieldNamespaces": [],
        "metafields": [],
        "filter": subscription.filter,
        "name": subscription.name,
        "apiVersion": {
            "handle": subscription.api_version,
            "displayName": subscription.api_version,
            "supported": True,
        },
        "createdAt": gql_time(subscription.created_at),
        "updatedAt": gql_time(subscription.updated_at),
    }


def bulk_operation_node(ctx: RequestContext, operation: BulkOperation) -> Node:
    if ctx.bulk_operations is not None:
        ctx.bulk_operations.refresh(ctx.shop, operation)
    status = operation.status
    done = status == "COMPLETED"
    url = f"{ctx.base_url}_sandbox/bulk/{ctx.shop.domain}/{operation.id}.jsonl"
    return {
        "__typename": "BulkOperation",
        "id": gid("BulkOperation", operation.id),
        "status": status,
        "type": "QUERY",
        "query": operation.query,
        "errorCode": operation.error_code,
        "createdAt": gql_time(operation.created_at),
        "completedAt": gql_time(operation.completed_at),
        "objectCount": str(operation.object_count if done else 0),
        "rootObjectCount": str(operation.root_object_count if done else 0),
        "fileSize": str(operation.file_size) if done else None,
        "url": url if done and operation.object_count else None,
        "partialDataUrl": None,
    }


# --- the query root ----------------------------------------------------------------------------

_VARIANT_SEARCH: dict[str, Getter] = {
    "sku": lambda v: cast(Variant, v).sku,
    "barcode": lambda v: cast(Variant, v).barcode,
    "product_id": lambda v: cast(Variant, v).product_id,
    "id": lambda v: cast(Variant, v).id,
    "title": lambda v: cast(Variant, v).title,
    "updated_at": lambda v: cast(Variant, v).updated_at,
    "created_at": lambda v: cast(Variant, v).created_at,
    "inventory_item_id": lambda v: cast(Variant, v).inventory_item_id,
}

_VARIANT_SORT: dict[str, Callable[[Variant], tuple[Any, ...]]] = {
    "ID": lambda v: (v.id,),
    "SKU": lambda v: (v.sku or "", v.id),
    "TITLE": lambda v: (v.title.lower(), v.id),
    "POSITION": lambda v: (v.product_id, v.position, v.id),
}


def _visible_orders(ctx: RequestContext) -> list[Order]:
    if _has_scope(ctx, "read_all_orders"):
        return list(ctx.shop.orders.values())
    horizon = ctx.state.clock.now() - timedelta(days=ctx.config.orders_visible_days)
    return [o for o in ctx.shop.orders.values() if o.created_at >= horizon]


def _order_statuses(order: Order) -> list[str]:
    statuses = ["any"]
    if order.cancelled_at is not None:
        statuses.append("cancelled")
    statuses.append("closed" if order.closed_at is not None else "open")
    if order.closed_at is None:
        statuses.append("not_closed")
    return statuses


def _order_fulfillment_statuses(order: Order) -> list[str]:
    status = order.fulfillment_status
    values = ["any"]
    if status == "fulfilled":
        values += ["shipped", "fulfilled"]
    elif status == "partial":
        values += ["partial", "unfulfilled", "unshipped"]
    else:
        values += ["unshipped", "unfulfilled"]
    return values


_ORDER_SEARCH: dict[str, Getter] = {
    "updated_at": lambda o: cast(Order, o).updated_at,
    "created_at": lambda o: cast(Order, o).created_at,
    "processed_at": lambda o: cast(Order, o).created_at,
    "id": lambda o: cast(Order, o).id,
    "name": lambda o: [cast(Order, o).name, str(cast(Order, o).number)],
    "status": lambda o: _order_statuses(cast(Order, o)),
    "fulfillment_status": lambda o: _order_fulfillment_statuses(cast(Order, o)),
    "financial_status": lambda o: cast(Order, o).financial_status,
    "test": lambda o: cast(Order, o).test,
    "email": lambda o: cast(Order, o).email,
    "tag": lambda o: list(cast(Order, o).tags),
    "sku": lambda o: [li.sku for li in cast(Order, o).line_items if li.sku],
    "source_name": lambda o: cast(Order, o).source_name,
}

_BULK_SEARCH: dict[str, Getter] = {
    "status": lambda op: cast(BulkOperation, op).status.lower(),
    "operation_type": lambda op: "query",  # the sandbox runs bulk queries only
    "created_at": lambda op: cast(BulkOperation, op).created_at,
    "id": lambda op: cast(BulkOperation, op).id,
}

_ORDER_SORT: dict[str, Callable[[Order], tuple[Any, ...]]] = {
    "ID": lambda o: (o.id,),
    "CREATED_AT": lambda o: (_ts(o.created_at), o.id),
    "PROCESSED_AT": lambda o: (_ts(o.created_at), o.id),
    "UPDATED_AT": lambda o: (_ts(o.updated_at), o.id),
    "ORDER_NUMBER": lambda o: (o.number, o.id),
}

_PRODUCT_SEARCH: dict[str, Getter] = {
    "title": lambda p: cast(Product, p).title,
    "status": lambda p: cast(Product, p).status.lower(),
    "product_type": lambda p: cast(Product, p).product_type,
    "vendor": lambda p: cast(Product, p).vendor,
    "id": lambda p: cast(Product, p).id,
    "updated_at": lambda p: cast(Product, p).updated_at,
    "created_at": lambda p: cast(Product, p).created_at,
    "tag": lambda p: list(cast(Product, p).tags),
    "handle": lambda p: cast(Product, p).handle,
}


def query_root(ctx: RequestContext) -> Node:
    shop = ctx.shop

    def locations(info: Info, **arguments: Any) -> Node:
        _require(info, "read_locations")
        found = [
            loc for loc in shop.locations.values() if loc.active or arguments.get("includeInactive")
        ]
        found = _filtered(
            ctx,
            info,
            found,
            arguments.get("query"),
            {
                "name": lambda loc: cast(Location, loc).name,
                "id": lambda loc: cast(Location, loc).id,
                "active": lambda loc: cast(Location, loc).active,
            },
            text=lambda loc: cast(Location, loc).name,
        )
        sort = arguments.get("sortKey") or "NAME"
        key: Callable[[Location], tuple[Any, ...]] = (
            (lambda loc: (loc.id,)) if sort == "ID" else (lambda loc: (loc.name.lower(), loc.id))
        )
        return paginate(ctx, found, key, lambda loc: location_node(ctx, loc), arguments)

    def location(info: Info, id: str | None = None) -> Node | None:
        _require(info, "read_locations")
        location_id = shop.primary_location_id if id is None else _id_arg(id, "Location")
        found = shop.locations.get(location_id or 0)
        return location_node(ctx, found) if found else None

    def product_variants(info: Info, **arguments: Any) -> Node:
        _require(info, "read_products")
        found = _filtered(
            ctx,
            info,
            shop.variants.values(),
            arguments.get("query"),
            _VARIANT_SEARCH,
            text=lambda v: f"{cast(Variant, v).sku or ''} {cast(Variant, v).title}",
        )
        key = _VARIANT_SORT.get(arguments.get("sortKey") or "ID", _VARIANT_SORT["ID"])
        return paginate(ctx, found, key, lambda v: variant_node(ctx, v), arguments)

    def product_variant(info: Info, id: str) -> Node | None:
        _require(info, "read_products")
        found = shop.variants.get(_id_arg(id, "ProductVariant") or 0)
        return variant_node(ctx, found) if found else None

    def products(info: Info, **arguments: Any) -> Node:
        _require(info, "read_products")
        getters = dict(_PRODUCT_SEARCH)
        getters["sku"] = lambda p: [shop.variants[v].sku for v in cast(Product, p).variant_ids]
        getters["barcode"] = lambda p: [
            shop.variants[v].barcode for v in cast(Product, p).variant_ids
        ]
        found = _filtered(
            ctx,
            info,
            shop.products.values(),
            arguments.get("query"),
            getters,
            text=lambda p: cast(Product, p).title,
        )
        sort = arguments.get("sortKey") or "ID"
        sorts: dict[str, Callable[[Product], tuple[Any, ...]]] = {
            "ID": lambda p: (p.id,),
            "TITLE": lambda p: (p.title.lower(), p.id),
            "UPDATED_AT": lambda p: (_ts(p.updated_at), p.id),
            "CREATED_AT": lambda p: (_ts(p.created_at), p.id),
        }
        return paginate(
            ctx, found, sorts.get(sort, sorts["ID"]), lambda p: product_node(ctx, p), arguments
        )

    def product(info: Info, id: str | None = None, **_: Any) -> Node | None:
        _require(info, "read_products")
        found = shop.products.get(_id_arg(id, "Product") or 0) if id else None
        return product_node(ctx, found) if found else None

    def inventory_item(info: Info, id: str) -> Node | None:
        _require(info, "read_inventory", "read_products")
        found = shop.inventory_items.get(_id_arg(id, "InventoryItem") or 0)
        return item_node(ctx, found) if found else None

    def inventory_items(info: Info, **arguments: Any) -> Node:
        _require(info, "read_inventory", "read_products")
        found = _filtered(
            ctx,
            info,
            shop.inventory_items.values(),
            arguments.get("query"),
            {
                "sku": lambda i: shop.variants[cast(InventoryItem, i).variant_id].sku,
                "id": lambda i: cast(InventoryItem, i).id,
                "updated_at": lambda i: cast(InventoryItem, i).updated_at,
                "created_at": lambda i: cast(InventoryItem, i).created_at,
            },
        )
        return paginate(ctx, found, lambda i: (i.id,), lambda i: item_node(ctx, i), arguments)

    def inventory_level(info: Info, id: str) -> Node | None:
        _require(info, "read_inventory")
        pair = parse_inventory_level_gid(id)
        if pair is None:
            if not is_gid(id):
                raise GraphQLError(f"Invalid global id '{id}'", extensions={"code": "INVALID_ID"})
            return None
        found = ctx.commerce.level(shop, pair[1], pair[0])
        return level_node(ctx, found) if found else None

    def orders(info: Info, **arguments: Any) -> Node:
        _require(info, "read_orders")
        found = _filtered(
            ctx,
            info,
            _visible_orders(ctx),
            arguments.get("query"),
            _ORDER_SEARCH,
            text=lambda o: f"{cast(Order, o).name} {cast(Order, o).email or ''}",
        )
        key = _ORDER_SORT.get(arguments.get("sortKey") or "ID", _ORDER_SORT["ID"])
        return paginate(ctx, found, key, lambda o: order_node(ctx, o), arguments)

    def order(info: Info, id: str) -> Node | None:
        _require(info, "read_orders")
        found = shop.orders.get(_id_arg(id, "Order") or 0)
        return order_node(ctx, found) if found else None

    def fulfillment_order(info: Info, id: str) -> Node | None:
        _require(info, *FULFILLMENT_ORDER_READ)
        found = shop.fulfillment_orders.get(_id_arg(id, "FulfillmentOrder") or 0)
        return fulfillment_order_node(ctx, found) if found else None

    def fulfillment(info: Info, id: str) -> Node | None:
        _require(info, "read_orders", "read_fulfillments", *FULFILLMENT_ORDER_READ)
        found = shop.fulfillments.get(_id_arg(id, "Fulfillment") or 0)
        return fulfillment_node(ctx, found) if found else None

    def customer(info: Info, id: str) -> Node | None:
        _require(info, "read_customers")
        found = shop.customers.get(_id_arg(id, "Customer") or 0)
        return customer_node(ctx, found) if found else None

    def webhook_subscriptions(info: Info, **arguments: Any) -> Node:
        found = list(shop.subscriptions.values())
        topics = arguments.get("topics")
        if topics:
            found = [s for s in found if s.topic in topics]
        uri = arguments.get("uri") or arguments.get("callbackUrl")
        if uri:
            found = [s for s in found if s.uri == uri]
        if arguments.get("format"):
            found = [s for s in found if s.format == arguments["format"]]
        sort = arguments.get("sortKey") or "CREATED_AT"
        key: Callable[[Subscription], tuple[Any, ...]] = (
            (lambda s: (s.id,)) if sort == "ID" else (lambda s: (_ts(s.created_at), s.id))
        )
        return paginate(ctx, found, key, lambda s: subscription_node(ctx, s), arguments)

    def webhook_subscription(info: Info, id: str) -> Node | None:
        found = shop.subscriptions.get(_id_arg(id, "WebhookSubscription") or 0)
        return subscription_node(ctx, found) if found else None

    def current_bulk_operation(info: Info, type: str = "QUERY") -> Node | None:
        if type != "QUERY" or not shop.bulk_operations:
            return None
        latest = max(shop.bulk_operations.values(), key=lambda op: op.id)
        return bulk_operation_node(ctx, latest)

    def bulk_operations(info: Info, **arguments: Any) -> Node:
        found = list(shop.bulk_operations.values())
        if ctx.bulk_operations is not None:
            found = [ctx.bulk_operations.refresh(shop, op) for op in found]
        found = _filtered(ctx, info, found, arguments.get("query"), _BULK_SEARCH)
        newest_first = not arguments.get("reverse")  # Shopify: newest first by default
        completed = arguments.get("sortKey") == "COMPLETED_AT"

        def key(op: BulkOperation) -> tuple[Any, ...]:
            when = op.completed_at if completed else op.created_at
            stamp = _ts(when) if when else 0
            return (-stamp, -op.id) if newest_first else (stamp, op.id)

        return paginate(
            ctx,
            found,
            key,
            lambda op: bulk_operation_node(ctx, op),
            {**arguments, "reverse": False},
        )

    def bulk_operation(info: Info, id: str) -> Node | None:
        found = shop.bulk_operations.get(_id_arg(id, "BulkOperation") or 0)
        return bulk_operation_node(ctx, found) if found else None

    def node(info: Info, id: str) -> Node | None:
        return _node_by_id(ctx, info, id)

    def nodes(info: Info, ids: list[str]) -> list[Node | None]:
        return [_node_by_id(ctx, info, i) for i in ids]

    def current_app_installation(info: Info) -> Node:
        return {
            "__typename": "AppInstallation",
            "id": gid("AppInstallation", ctx.shop.id),
            "accessScopes": [
                {"handle": scope, "description": scope.replace("_", " ")}
                for scope in sorted(ctx.scopes)
            ],
            "app": _app_node(ctx),
            "launchUrl": f"https://{shop.domain}/admin/apps/{ctx.config.client_id}",
            "uninstallUrl": None,
        }

    def public_api_versions(info: Info) -> list[Node]:
        return [
            {"handle": v, "displayName": v, "supported": True}
            for v in ("2026-01", "2026-04", "2026-07", "2026-10")
        ]

    return {
        "shop": Lazy(lambda info: shop_node(ctx)),
        "locations": Lazy(locations),
        "location": Lazy(location),
        "productVariants": Lazy(product_variants),
        "productVariant": Lazy(product_variant),
        "products": Lazy(products),
        "product": Lazy(product),
        "inventoryItem": Lazy(inventory_item),
        "inventoryItems": Lazy(inventory_items),
        "inventoryLevel": Lazy(inventory_level),
        "orders": Lazy(orders),
        "order": Lazy(order),
        "fulfillmentOrder": Lazy(fulfillment_order),
        "fulfillment": Lazy(fulfillment),
        "customer": Lazy(customer),
        "webhookSubscriptions": Lazy(webhook_subscriptions),
        "webhookSubscription": Lazy(webhook_subscription),
        "currentBulkOperation": Lazy(current_bulk_operation),
        "bulkOperation": Lazy(bulk_operation),
        "bulkOperations": Lazy(bulk_operations),
        "node": Lazy(node),
        "nodes": Lazy(nodes),
        "currentAppInstallation": Lazy(current_app_installation),
        "publicApiVersions": Lazy(public_api_versions),
    }


def _node_by_id(ctx: RequestContext, info: Info, value: str) -> Node | None:
    shop = ctx.shop
    if not is_gid(value):
        raise GraphQLError(f"Invalid global id '{value}'", extensions={"code": "INVALID_ID"})
    level = parse_inventory_level_gid(value)
    if level is not None:
        found_level = ctx.commerce.level(shop, level[1], level[0])
        return level_node(ctx, found_level) if found_level else None
    kind = value.split("/")[3]
    number = parse_gid(value) or 0
    builders: dict[str, Callable[[], Node | None]] = {
        "Order": lambda: order_node(ctx, shop.orders[number]) if number in shop.orders else None,
        "ProductVariant": lambda: (
            variant_node(ctx, shop.variants[number]) if number in shop.variants else None
        ),
        "Product": lambda: (
            product_node(ctx, shop.products[number]) if number in shop.products else None
        ),
        "InventoryItem": lambda: (
            item_node(ctx, shop.inventory_items[number]) if number in shop.inventory_items else None
        ),
        "Location": lambda: (
            location_node(ctx, shop.locations[number]) if number in shop.locations else None
        ),
        "FulfillmentOrder": lambda: (
            fulfillment_order_node(ctx, shop.fulfillment_orders[number])
            if number in shop.fulfillment_orders
            else None
        ),
        "Fulfillment": lambda: (
            fulfillment_node(ctx, shop.fulfillments[number])
            if number in shop.fulfillments
            else None
        ),
        "WebhookSubscription": lambda: (
            subscription_node(ctx, shop.subscriptions[number])
            if number in shop.subscriptions
            else None
        ),
        "BulkOperation": lambda: (
            bulk_operation_node(ctx, shop.bulk_operations[number])
            if number in shop.bulk_operations
            else None
        ),
    }
    builder = builders.get(kind)
    return builder() if builder else None


# --- the mutation root -------------------------------------------------------------------------


def _idempotent(
    ctx: RequestContext,
    info: Info,
    arguments: dict[str, Any],
    run: Callable[[], Node],
    mismatch: Callable[[SandboxError], Node],
) -> Node:
    """Apply once per ``@idempotent`` key; the same key with other input is refused."""
    key = ctx.idempotency_keys.get(str(info.path.key))
    if key is None:
        return run()
    shop = ctx.shop
    fingerprint = json.dumps(
        {"mutation": info.field_name, "arguments": arguments}, sort_keys=True, default=str
    )
    now = ctx.state.clock.now()
    lifetime = timedelta(seconds=ctx.config.idempotency_key_lifetime)
    record = shop.idempotency.get(key)
    if record is not None and record.created_at + lifetime < now:
        record = None
    if record is not None:
        if record.fingerprint == fingerprint:
            return cast(Node, record.result)
        return mismatch(
            SandboxError(
                "The same idempotency key was used with different parameters.",
                code="IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
            )
        )
    result = run()
    shop.idempotency[key] = IdempotencyRecord(
        fingerprint=fingerprint, result=result, created_at=now
    )
    return result


def _fulfillment_request(
    raw: dict[str, Any],
) -> list[tuple[int | None, list[tuple[int | None, int]] | None]]:
    request: list[tuple[int | None, list[tuple[int | None, int]] | None]] = []
    for entry in raw.get("lineItemsByFulfillmentOrder") or []:
        fo_id = parse_gid(entry.get("fulfillmentOrderId"), "FulfillmentOrder")
        lines = entry.get("fulfillmentOrderLineItems")
        parsed = None
        if lines:
            parsed = [
                (parse_gid(line.get("id"), "FulfillmentOrderLineItem"), int(line["quantity"]))
                for line in lines
            ]
        request.append((fo_id, parsed))
    return request


def mutation_root(ctx: RequestContext) -> Node:
    shop = ctx.shop
    commerce = ctx.commerce

    def fulfillment_create(info: Info, fulfillment: dict[str, Any], **_: Any) -> Node:
        _require(info, *FULFILLMENT_ORDER_WRITE)
        tracking = fulfillment.get("trackingInfo") or {}
        numbers = [n for n in [tracking.get("number"), *(tracking.get("numbers") or [])] if n]
        urls = [u for u in [tracking.get("url"), *(tracking.get("urls") or [])] if u]
        try:
            created = commerce.create_fulfillment(
                shop,
                _fulfillment_request(fulfillment),
                tracking_company=tracking.get("company"),
                tracking_numbers=numbers,
                tracking_urls=urls,
                notify_customer=bool(fulfillment.get("notifyCustomer")),
            )
        except UserErrors as exc:
            return {"fulfillment": None, "userErrors": _user_errors(ctx, exc.errors, coded=False)}
        return {"fulfillment": fulfillment_node(ctx, created), "userErrors": []}

    def inventory_set_quantities(info: Info, input: dict[str, Any]) -> Node:
        _require(info, "write_inventory")
        quantities = input.get("quantities") or []
        missing = [i for i, q in enumerate(quantities) if "changeFromQuantity" not in q]
        if missing:
            raise GraphQLError(
                "InventoryQuantityInput.changeFromQuantity is required in every quantity "
                f"(pass null to skip the compare); missing at quantities {missing}.",
                extensions={"code": "BAD_REQUEST"},
            )

        def run() -> Node:
            changes = [
                QuantityChange(
                    inventory_item_id=parse_gid(q.get("inventoryItemId"), "InventoryItem"),
                    location_id=parse_gid(q.get("locationId"), "Location"),
                    quantity=int(q["quantity"]),
                    has_change_from=True,
                    change_from=q.get("changeFromQuantity"),
                )
                for q in quantities
            ]
            try:
                group = commerce.set_quantities(
                    shop,
                    name=str(input.get("name")),
                    reason=str(input.get("reason")),
                    reference_document_uri=input.get("referenceDocumentUri"),
                    quantities=changes,
                )
            except UserErrors as exc:
                return {
                    "inventoryAdjustmentGroup": None,
                    "userErrors": _user_errors(ctx, exc.errors, coded=True),
                }
            return {"inventoryAdjustmentGroup": adjustment_group_node(ctx, group), "userErrors": []}

        return _idempotent(
            ctx,
            info,
            {"input": input},
            run,
            lambda error: {
                "inventoryAdjustmentGroup": None,
                "userErrors": _user_errors(ctx, [error], coded=True),
            },
        )

    def inventory_activate(info: Info, **arguments: Any) -> Node:
        _require(info, "write_inventory")

        def run() -> Node:
            item_id = parse_gid(arguments.get("inventoryItemId"), "InventoryItem")
            location_id = parse_gid(arguments.get("locationId"), "Location")
            errors = []
            if item_id not in shop.inventory_items:
                errors.append(
                    SandboxError("Inventory item does not exist", field=["inventoryItemId"])
                )
            if location_id not in shop.locations:
                errors.append(SandboxError("Location does not exist", field=["locationId"]))
            if errors:
                return {
                    "inventoryLevel": None,
                    "userErrors": _user_errors(ctx, errors, coded=False),
                }
            level = commerce.activate(
                shop,
                item_id or 0,
                location_id or 0,
                on_hand=arguments.get("onHand"),
                available=arguments.get("available"),
            )
            return {"inventoryLevel": level_node(ctx, level), "userErrors": []}

        return _idempotent(
            ctx,
            info,
            arguments,
            run,
            lambda error: {
                "inventoryLevel": None,
                "userErrors": _user_errors(ctx, [error], coded=False),
            },
        )

    def webhook_subscription_create(
        info: Info,
        topic: str,
        webhookSubscription: dict[str, Any],  # noqa: N803
    ) -> Node:
        spec = webhookSubscription
        try:
            created = commerce.create_subscription(
                shop,
                topic=topic,
                uri=spec.get("uri") or spec.get("callbackUrl"),
                api_version=ctx.api_version,
                format=spec.get("format") or "JSON",
                include_fields=spec.get("includeFields") or (),
                filter=spec.get("filter"),
                name=spec.get("name"),
            )
        except UserErrors as exc:
            return {
                "webhookSubscription": None,
                "userErrors": _user_errors(ctx, exc.errors, coded=False),
            }
        return {"webhookSubscription": subscription_node(ctx, created), "userErrors": []}

    def webhook_subscription_update(
        info: Info,
        id: str,
        webhookSubscription: dict[str, Any],  # noqa: N803
    ) -> Node:
        found = shop.subscriptions.get(_id_arg(id, "WebhookSubscription") or 0)
        if found is None:
            error = SandboxError("Webhook subscription does not exist", field=["id"])
            return {
                "webhookSubscription": None,
                "userErrors": _user_errors(ctx, [error], coded=False),
            }
        spec = webhookSubscription
        if spec.get("uri") or spec.get("callbackUrl"):
            found.uri = spec.get("uri") or spec["callbackUrl"]
        if spec.get("format"):
            found.format = spec["format"]
        if "includeFields" in spec:
            found.include_fields = list(spec.get("includeFields") or [])
        if "filter" in spec:
            found.filter = spec.get("filter")
        found.updated_at = ctx.state.now()
        return {"webhookSubscription": subscription_node(ctx, found), "userErrors": []}

    def webhook_subscription_delete(info: Info, id: str) -> Node:
        subscription_id = _id_arg(id, "WebhookSubscription")
        try:
            commerce.delete_subscription(shop, subscription_id or 0)
        except UserErrors as exc:
            return {
                "deletedWebhookSubscriptionId": None,
                "userErrors": _user_errors(ctx, exc.errors, coded=False),
            }
        return {"deletedWebhookSubscriptionId": id, "userErrors": []}

    def bulk_operation_run_query(info: Info, query: str, **_: Any) -> Node:
        if ctx.bulk_operations is None:  # pragma: no cover - the service always provides it
            raise GraphQLError("bulk operations are not available")
        try:
            started = ctx.bulk_operations.start(ctx, query)
        except UserErrors as exc:
            return {"bulkOperation": None, "userErrors": _user_errors(ctx, exc.errors, coded=True)}
        return {"bulkOperation": bulk_operation_node(ctx, started), "userErrors": []}

    return {
        "fulfillmentCreate": Lazy(fulfillment_create),
        "inventorySetQuantities": Lazy(inventory_set_quantities),
        "inventoryActivate": Lazy(inventory_activate),
        "webhookSubscriptionCreate": Lazy(webhook_subscription_create),
        "webhookSubscriptionUpdate": Lazy(webhook_subscription_update),
        "webhookSubscriptionDelete": Lazy(webhook_subscription_delete),
        "bulkOperationRunQuery": Lazy(bulk_operation_run_query),
    }
