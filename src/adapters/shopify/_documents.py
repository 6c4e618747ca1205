"""Every GraphQL document the adapter sends, in one registry.

``DOCUMENTS`` maps an operation name to its text; the GraphQL client sends only documents
from here (by name), and a test validates each against Shopify's 2026-10 schema, so a field
or argument Shopify does not have fails the build. Fragments are appended to the documents
that use them. Page sizes are fixed here so every document's requested cost stays under
Shopify's 1,000-point ceiling for a single query (checked by a test too). A page size is never
a limit on what is read: every connection that is read whole selects its ``pageInfo``, and the
platform reads the following pages (with the ``...More`` documents) until there are none.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "DOCUMENTS",
    "FULFILLMENT_ORDERS_PAGE_SIZE",
    "INVENTORY_ITEMS_PAGE_SIZE",
    "INVENTORY_LEVELS_BY_ID_SIZE",
    "INVENTORY_QUANTITY_NAMES",
    "LINE_ITEMS_PAGE_SIZE",
    "LOCATIONS_PAGE_SIZE",
    "LOCATION_LEVELS_PAGE_SIZE",
    "MAX_CATALOG_PAGE_SIZE",
    "ORDERS_PAGE_SIZE",
    "SHIPPING_LINES_PAGE_SIZE",
    "WEBHOOKS_PAGE_SIZE",
]

MAX_CATALOG_PAGE_SIZE: Final = 250  # the catalog page size is configurable up to this
ORDERS_PAGE_SIZE: Final = 10
LINE_ITEMS_PAGE_SIZE: Final = 15
LINE_ITEMS_MORE_PAGE_SIZE: Final = 150
SHIPPING_LINES_PAGE_SIZE: Final = 5  # most orders have one; more are paged
SHIPPING_LINES_MORE_PAGE_SIZE: Final = 250
FULFILLMENT_ORDERS_PAGE_SIZE: Final = 3  # most orders have one; more are paged
FULFILLMENT_ORDER_LINES_PAGE_SIZE: Final = 20  # keeps the requested cost near 200 points
FULFILLMENT_ORDER_LINES_MORE_PAGE_SIZE: Final = 250
LOCATIONS_PAGE_SIZE: Final = 100
WEBHOOKS_PAGE_SIZE: Final = 100
INVENTORY_ITEMS_PAGE_SIZE: Final = 250  # 2 + 250 x 1 = 252 points
# a level with its three quantities costs 4 points (the list of quantities costs one per name)
INVENTORY_LEVELS_BY_ID_SIZE: Final = 125  # 125 x 4 = 500 points: divides every bucket size
LOCATION_LEVELS_PAGE_SIZE: Final = 199  # 1 + 2 + 199 x (1 + item 1 + 3) = 998 points
INVENTORY_QUANTITY_NAMES: Final = ("on_hand", "available", "committed")

_PAGE_INFO = "pageInfo { hasNextPage endCursor }"
_QUANTITIES = (
    "quantities(names: ["
    + ", ".join(f'"{name}"' for name in INVENTORY_QUANTITY_NAMES)
    + "]) { name quantity }"
)

_LINE_ITEM_FIELDS = """
fragment LineItemFields on LineItem {
  id
  quantity
  currentQuantity
  unfulfilledQuantity
  sku
  title
  requiresShipping
  variant { id barcode }
  product { id }
  originalUnitPriceSet { shopMoney { amount } }
}
"""

_ORDER_FIELDS = f"""
fragment OrderFields on Order {{
  id
  name
  number
  createdAt
  updatedAt
  cancelledAt
  closedAt
  email
  phone
  test
  displayFinancialStatus
  displayFulfillmentStatus
  sourceName
  tags
  note
  currencyCode
  customer {{ id }}
  shippingAddress {{
    name company address1 address2 city province provinceCode zip country countryCodeV2 phone
  }}
  shippingLines(first: {SHIPPING_LINES_PAGE_SIZE}) {{
    nodes {{ title code }}
    {_PAGE_INFO}
  }}
  lineItems(first: {LINE_ITEMS_PAGE_SIZE}) {{
    nodes {{ ...LineItemFields }}
    {_PAGE_INFO}
  }}
}}
{_LINE_ITEM_FIELDS}"""

_FULFILLMENT_ORDER_LINE_FIELDS = """
fragment FulfillmentOrderLineFields on FulfillmentOrderLineItem {
  id
  totalQuantity
  remainingQuantity
  requiresShipping
  sku
  lineItem { id }
  variant { id }
}
"""

SHOP_INFO: Final = """
query ShopInfo {
  shop {
    name
    email
    contactEmail
    currencyCode
    myshopifyDomain
    plan { publicDisplayName }
  }
  primaryLocation: location { id }
}
"""

LOCATIONS: Final = f"""
query Locations($first: Int!, $after: String) {{
  locations(first: $first, after: $after, includeInactive: true) {{
    nodes {{ id name isActive fulfillsOnlineOrders }}
    {_PAGE_INFO}
  }}
  primaryLocation: location {{ id }}
}}
"""

CATALOG_VARIANTS: Final = f"""
query CatalogVariants($first: Int!, $after: String) {{
  productVariants(first: $first, after: $after, sortKey: ID) {{
    nodes {{
      id
      sku
      barcode
      title
      product {{ id title }}
      inventoryItem {{ id tracked requiresShipping }}
    }}
    {_PAGE_INFO}
  }}
}}
"""

ORDERS_UPDATED_SINCE: Final = f"""
query OrdersUpdatedSince($query: String!, $first: Int!, $after: String) {{
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    nodes {{ ...OrderFields }}
    {_PAGE_INFO}
  }}
}}
{_ORDER_FIELDS}"""

ORDER: Final = f"""
query Order($id: ID!) {{
  order(id: $id) {{ ...OrderFields }}
}}
{_ORDER_FIELDS}"""

ORDER_LINE_ITEMS: Final = f"""
query OrderLineItems($id: ID!, $after: String) {{
  order(id: $id) {{
    lineItems(first: {LINE_ITEMS_MORE_PAGE_SIZE}, after: $after) {{
      nodes {{ ...LineItemFields }}
      {_PAGE_INFO}
    }}
  }}
}}
{_LINE_ITEM_FIELDS}"""

ORDER_SHIPPING_LINES: Final = f"""
query OrderShippingLines($id: ID!, $after: String) {{
  order(id: $id) {{
    shippingLines(first: {SHIPPING_LINES_MORE_PAGE_SIZE}, after: $after) {{
      nodes {{ title code }}
      {_PAGE_INFO}
    }}
  }}
}}
"""

FULFILLMENT_ORDERS: Final = f"""
query FulfillmentOrders($id: ID!, $after: String) {{
  order(id: $id) {{
    id
    fulfillmentOrders(first: {FULFILLMENT_ORDERS_PAGE_SIZE}, after: $after) {{
      nodes {{
        id
        status
        assignedLocation {{ location {{ id }} }}
        lineItems(first: {FULFILLMENT_ORDER_LINES_PAGE_SIZE}) {{
          nodes {{ ...FulfillmentOrderLineFields }}
          {_PAGE_INFO}
        }}
      }}
      {_PAGE_INFO}
    }}
  }}
}}
{_FULFILLMENT_ORDER_LINE_FIELDS}"""

FULFILLMENT_ORDER_LINE_ITEMS: Final = f"""
query FulfillmentOrderLineItems($id: ID!, $after: String) {{
  fulfillmentOrder(id: $id) {{
    lineItems(first: {FULFILLMENT_ORDER_LINES_MORE_PAGE_SIZE}, after: $after) {{
      nodes {{ ...FulfillmentOrderLineFields }}
      {_PAGE_INFO}
    }}
  }}
}}
{_FULFILLMENT_ORDER_LINE_FIELDS}"""

FULFILLMENT_CREATE: Final = """
mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment {
      id
      status
      trackingInfo(first: 1) { company number url }
    }
    userErrors { field message }
  }
}
"""

INVENTORY_SET_QUANTITIES: Final = """
mutation InventorySetQuantities($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}
"""

INVENTORY_LEVELS_BY_ID: Final = f"""
query InventoryLevelsById($ids: [ID!]!) {{
  nodes(ids: $ids) {{
    ... on InventoryLevel {{ {_QUANTITIES} }}
  }}
}}
"""
"""Levels by their gids (``gid://shopify/InventoryLevel/<location>?inventory_item_id=<item>``),
answered in the order asked, ``null`` where the item is not stocked at the location."""

INVENTORY_ITEMS: Final = f"""
query InventoryItems($first: Int!, $after: String) {{
  inventoryItems(first: $first, after: $after) {{
    nodes {{ id tracked }}
    {_PAGE_INFO}
  }}
}}
"""

LOCATION_INVENTORY_LEVELS: Final = f"""
query LocationInventoryLevels($id: ID!, $first: Int!, $after: String) {{
  location(id: $id) {{
    inventoryLevels(first: $first, after: $after) {{
      nodes {{ item {{ id }} {_QUANTITIES} }}
      {_PAGE_INFO}
    }}
  }}
}}
"""

WEBHOOK_SUBSCRIPTIONS: Final = f"""
query WebhookSubscriptions($first: Int!, $after: String) {{
  webhookSubscriptions(first: $first, after: $after) {{
    nodes {{ id topic uri }}
    {_PAGE_INFO}
  }}
}}
"""

WEBHOOK_SUBSCRIPTION_CREATE: Final = """
mutation WebhookSubscriptionCreate(
  $topic: WebhookSubscriptionTopic!
  $subscription: WebhookSubscriptionInput!
) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $subscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"""

WEBHOOK_SUBSCRIPTION_DELETE: Final = """
mutation WebhookSubscriptionDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) {
    deletedWebhookSubscriptionId
    userErrors { field message }
  }
}
"""

CATALOG_BULK: Final = """
query CatalogBulk {
  productVariants {
    edges {
      node {
        id
        sku
        barcode
        title
        product { id title }
        inventoryItem { id tracked requiresShipping }
      }
    }
  }
}
"""
"""Not sent on its own: the query a bulk operation exports (one variant per JSONL line)."""

INVENTORY_BULK: Final = f"""
query InventoryBulk {{
  inventoryItems {{
    edges {{
      node {{
        id
        tracked
        inventoryLevels {{
          edges {{ node {{ location {{ id }} {_QUANTITIES} }} }}
        }}
      }}
    }}
  }}
}}
"""
"""Not sent on its own: every inventory item, then each of its levels on a line of its own
carrying ``__parentId`` (the item's gid)."""

_BULK_OPERATION_FIELDS = "id status errorCode objectCount url"

BULK_OPERATION_RUN_QUERY: Final = f"""
mutation BulkOperationRunQuery($query: String!) {{
  bulkOperationRunQuery(query: $query, groupObjects: false) {{
    bulkOperation {{ {_BULK_OPERATION_FIELDS} }}
    userErrors {{ code field message }}
  }}
}}
"""

BULK_OPERATION: Final = f"""
query BulkOperation($id: ID!) {{
  bulkOperation(id: $id) {{ {_BULK_OPERATION_FIELDS} }}
}}
"""

ACTIVE_BULK_OPERATIONS: Final = f"""
query ActiveBulkOperations {{
  bulkOperations(
    first: 5
    query: "operation_type:query -status:completed -status:failed -status:canceled"
  ) {{
    nodes {{ {_BULK_OPERATION_FIELDS} }}
  }}
}}
"""
"""The app's bulk queries still created, running or canceling on the shop (at most one)."""

DOCUMENTS: Final[dict[str, str]] = {
    "ShopInfo": SHOP_INFO,
    "Locations": LOCATIONS,
    "CatalogVariants": CATALOG_VARIANTS,
    "OrdersUpdatedSince": ORDERS_UPDATED_SINCE,
    "Order": ORDER,
    "OrderLineItems": ORDER_LINE_ITEMS,
    "OrderShippingLines": ORDER_SHIPPING_LINES,
    "FulfillmentOrders": FULFILLMENT_ORDERS,
    "FulfillmentOrderLineItems": FULFILLMENT_ORDER_LINE_ITEMS,
    "FulfillmentCreate": FULFILLMENT_CREATE,
    "InventorySetQuantities": INVENTORY_SET_QUANTITIES,
    "InventoryLevelsById": INVENTORY_LEVELS_BY_ID,
    "InventoryItems": INVENTORY_ITEMS,
    "LocationInventoryLevels": LOCATION_INVENTORY_LEVELS,
    "WebhookSubscriptions": WEBHOOK_SUBSCRIPTIONS,
    "WebhookSubscriptionCreate": WEBHOOK_SUBSCRIPTION_CREATE,
    "WebhookSubscriptionDelete": WEBHOOK_SUBSCRIPTION_DELETE,
    "CatalogBulk": CATALOG_BULK,
    "InventoryBulk": INVENTORY_BULK,
    "BulkOperationRunQuery": BULK_OPERATION_RUN_QUERY,
    "BulkOperation": BULK_OPERATION,
    "ActiveBulkOperations": ACTIVE_BULK_OPERATIONS,
}
"""Operation name -> document text. The name is the document's operation name."""
