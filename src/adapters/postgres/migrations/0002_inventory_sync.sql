-- Stock sync to the stores: what changed since the last push, and what each store was told.

-- The store location an order line was ordered from (its fulfillment order's location), so
-- a warehouse serving several store locations knows which location committed which units.
ALTER TABLE order_items ADD COLUMN external_location_id text;

-- Replaced by inventory_push_states (one row per variant and location, with errors).
ALTER TABLE product_mappings DROP COLUMN last_pushed;

CREATE TABLE inventory_push_states (
    mapping_id      text COLLATE "C" NOT NULL
        REFERENCES product_mappings (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    location_id     text COLLATE "C" NOT NULL,
    integration_id  text COLLATE "C" NOT NULL
        REFERENCES integrations (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    quantity        integer,
    pushed_at       timestamptz,
    error           text,
    error_at        timestamptz,
    problem         text,
    PRIMARY KEY (mapping_id, location_id)
);
CREATE INDEX inventory_push_states_integration_idx ON inventory_push_states (integration_id);

-- One row per (store, product, warehouse) whose stock changed since it was last pushed;
-- ``version`` grows with every change so a push clears only what it has seen.
CREATE TABLE inventory_dirty (
    integration_id  text COLLATE "C" NOT NULL
        REFERENCES integrations (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    product_id      text COLLATE "C" NOT NULL,
    warehouse_id    text COLLATE "C" NOT NULL,
    version         bigint NOT NULL DEFAULT 1,
    marked_at       timestamptz NOT NULL,
    PRIMARY KEY (integration_id, product_id, warehouse_id)
);

-- open_units: an integration's open orders
CREATE INDEX orders_integration_open_idx ON orders (integration_id)
    WHERE status IN ('pending', 'allocated', 'picking', 'packing', 'on_hold');
