-- What the portal's daily work needs from the core (issue 9).

-- A store's order numbering is fixed when it is connected. Existing stores keep what they use
-- now: "SH-" for a client's only store, "SH-<SHOP>-" where the client has several.
ALTER TABLE integrations ADD COLUMN order_prefix text NOT NULL DEFAULT '';
UPDATE integrations AS i SET order_prefix = CASE
    WHEN EXISTS (
        SELECT 1 FROM integrations AS o
        WHERE o.client_id = i.client_id AND o.platform = i.platform AND o.id <> i.id
    ) THEN 'SH-' || upper(split_part(i.shop_domain, '.', 1)) || '-'
    ELSE 'SH-'
END
WHERE i.platform = 'shopify';
UPDATE integrations SET order_prefix = upper(left(platform, 2)) || '-'
WHERE order_prefix = '';
-- two stores of one client never share a numbering
CREATE UNIQUE INDEX integrations_client_prefix_key ON integrations (client_id, order_prefix)
    WHERE order_prefix <> '';

-- When the store created the order: with its number, what tells it from another order the
-- store gave the same id. Unknown (NULL) for orders imported before; set at their next change.
ALTER TABLE orders ADD COLUMN external_created_at timestamptz;

-- Alerts: acknowledged by someone, resolved by someone (NULL: by the core), and what they
-- concern for links (the warehouse order, the inbox event).
ALTER TABLE alerts
    ADD COLUMN order_id text COLLATE "C",
    ADD COLUMN event_id text COLLATE "C",
    ADD COLUMN acknowledged_at timestamptz,
    ADD COLUMN acknowledged_by text COLLATE "C",
    ADD COLUMN resolved_by text COLLATE "C";
UPDATE alerts AS a SET order_id = a.subject_id
WHERE EXISTS (SELECT 1 FROM orders AS o WHERE o.id = a.subject_id);
UPDATE alerts AS a SET event_id = a.subject_id
WHERE EXISTS (SELECT 1 FROM inbox_events AS e WHERE e.id = a.subject_id);
-- the open alerts about one thing (resolved when its cause is fixed)
CREATE INDEX alerts_subject_idx ON alerts (subject_id) WHERE resolved_at IS NULL;
CREATE INDEX alerts_order_idx ON alerts (order_id) WHERE resolved_at IS NULL;
-- the alerts inbox by status: open ones, acknowledged ones, newest first
CREATE INDEX alerts_open_idx ON alerts (created_at, id)
    WHERE resolved_at IS NULL AND acknowledged_at IS NULL;

-- The events page lists one client's stores' events newest first.
CREATE INDEX inbox_events_integration_status_idx
    ON inbox_events (integration_id, status, received_at, id);
