-- The portal's pages at 100,000 orders, 10,000 variants and 100,000 events: every list is
-- read through an index that matches its filter and sort, and substring search goes through
-- trigram indexes (pg_trgm is a trusted extension: the database owner may create it).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Orders search (``OrderSearch.q``): number, store number, e-mail and ship-to name in one
-- expression (``ORDER_SEARCH_TEXT`` in adapters/postgres/_orders.py), and line SKUs.
CREATE INDEX orders_search_trgm_idx ON orders USING gin ((
    lower(number || ' ' || coalesce(external_number, '') || ' ' || coalesce(email, '')
          || ' ' || coalesce(ship_to ->> 'name', ''))
) gin_trgm_ops);
CREATE INDEX order_items_sku_trgm_idx ON order_items USING gin (lower(sku) gin_trgm_ops);

-- A client's orders in one status, newest first (the client's list filtered by status).
CREATE INDEX orders_client_status_created_idx ON orders (client_id, status, created_at, id);

-- An order page's events: the integration's events naming that store order.
CREATE INDEX inbox_events_store_order_idx ON inbox_events (
    integration_id,
    (coalesce(nullif(payload ->> 'id', ''), payload -> 'order_edit' ->> 'order_id'))
);


-- The events page filtered by status, per store, newest first (0004 creates the same index
-- since both branches met: kept here for a database that ran the 0004 without it).
CREATE INDEX IF NOT EXISTS inbox_events_integration_status_idx
    ON inbox_events (integration_id, status, received_at, id);

-- The products page: a store's catalogue in its display order (``PostgresCatalogRepository``).
CREATE INDEX catalog_variants_sort_idx ON catalog_variants (
    integration_id,
    (lower(product_title) COLLATE "C"),
    (lower(title) COLLATE "C"),
    external_variant_id
);
