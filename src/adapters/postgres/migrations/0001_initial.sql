-- storelink: the initial schema.
--
-- Conventions:
-- * Ids are text UUIDs, collated "C" so they sort by code point, as Python sorts str.
-- * Timestamps are timestamptz; the adapter always reads them as UTC.
-- * Foreign keys are DEFERRABLE INITIALLY DEFERRED: a unit of work may write rows in any
--   order and the references are checked at commit. History (orders, shipments, the stock
--   ledger) is never deleted by a cascade (NO ACTION); configuration that means nothing without
--   its owner cascades; optional references become NULL.
-- * Constraint and index names are stable: the adapter turns a violation of one into a
--   readable error by its name.

CREATE TABLE warehouses (
    id          text COLLATE "C" PRIMARY KEY,
    code        text NOT NULL,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    CONSTRAINT warehouses_code_key UNIQUE (code)
);

CREATE TABLE clients (
    id                    text COLLATE "C" PRIMARY KEY,
    name                  text NOT NULL,
    created_at            timestamptz NOT NULL,
    default_warehouse_id  text COLLATE "C"
        REFERENCES warehouses (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT clients_name_key UNIQUE (name)
);

CREATE TABLE users (
    id             text COLLATE "C" PRIMARY KEY,
    email          text NOT NULL,
    password_hash  text NOT NULL,
    created_at     timestamptz NOT NULL,
    is_staff       boolean NOT NULL DEFAULT false,
    client_id      text COLLATE "C"
        REFERENCES clients (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    role           text CONSTRAINT users_role_check CHECK (role IN ('owner', 'admin', 'member')),
    active         boolean NOT NULL DEFAULT true
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_client_idx ON users (client_id);

CREATE TABLE api_tokens (
    id            text COLLATE "C" PRIMARY KEY,
    user_id       text COLLATE "C" NOT NULL
        REFERENCES users (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    token_hash    text NOT NULL,
    created_at    timestamptz NOT NULL,
    label         text NOT NULL DEFAULT '',
    last_used_at  timestamptz,
    CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

CREATE TABLE products (
    id          text COLLATE "C" PRIMARY KEY,
    client_id   text COLLATE "C" NOT NULL
        REFERENCES clients (id) DEFERRABLE INITIALLY DEFERRED,
    sku         text NOT NULL,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL,
    barcode     text
);
CREATE UNIQUE INDEX products_client_sku_key ON products (client_id, lower(sku));
CREATE INDEX products_client_barcode_idx ON products (client_id, barcode)
    WHERE barcode IS NOT NULL;

CREATE TABLE stock_levels (
    product_id    text COLLATE "C" NOT NULL
        REFERENCES products (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    warehouse_id  text COLLATE "C" NOT NULL
        REFERENCES warehouses (id) DEFERRABLE INITIALLY DEFERRED,
    on_hand       integer NOT NULL DEFAULT 0,
    reserved      integer NOT NULL DEFAULT 0,
    PRIMARY KEY (product_id, warehouse_id),
    CONSTRAINT stock_levels_on_hand_check CHECK (on_hand >= 0),
    CONSTRAINT stock_levels_reserved_check CHECK (reserved >= 0),
    CONSTRAINT stock_levels_reserved_le_on_hand_check CHECK (reserved <= on_hand)
);
CREATE INDEX stock_levels_warehouse_idx ON stock_levels (warehouse_id);

CREATE TABLE integrations (
    id                        text COLLATE "C" PRIMARY KEY,
    client_id                 text COLLATE "C" NOT NULL
        REFERENCES clients (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    platform                  text NOT NULL,
    shop_domain               text NOT NULL,
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL,
    shop_name                 text NOT NULL DEFAULT '',
    status                    text NOT NULL DEFAULT 'pending'
        CONSTRAINT integrations_status_check
        CHECK (status IN ('pending', 'active', 'paused', 'error', 'disconnected')),
    credentials               text,
    token_expires_at          timestamptz,
    refresh_token_expires_at  timestamptz,
    scopes                    text[] NOT NULL DEFAULT '{}',
    settings                  jsonb NOT NULL DEFAULT '{}',
    orders_synced_at          timestamptz,
    inventory_synced_at       timestamptz,
    webhooks_checked_at       timestamptz,
    last_error                text,
    last_error_at             timestamptz,
    connected_at              timestamptz,
    disconnected_at           timestamptz,
    CONSTRAINT integrations_client_shop_key UNIQUE (client_id, platform, shop_domain)
);
CREATE INDEX integrations_shop_idx ON integrations (platform, shop_domain);

CREATE TABLE orders (
    id                   text COLLATE "C" PRIMARY KEY,
    client_id            text COLLATE "C" NOT NULL
        REFERENCES clients (id) DEFERRABLE INITIALLY DEFERRED,
    warehouse_id         text COLLATE "C" NOT NULL
        REFERENCES warehouses (id) DEFERRABLE INITIALLY DEFERRED,
    number               text NOT NULL,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    status               text NOT NULL DEFAULT 'pending'
        CONSTRAINT orders_status_check CHECK (status IN (
            'pending', 'allocated', 'picking', 'packing', 'shipped', 'on_hold', 'cancelled'
        )),
    source               text NOT NULL DEFAULT 'manual',
    -- the external reference: all four set, or none
    platform             text,
    integration_id       text COLLATE "C"
        REFERENCES integrations (id) DEFERRABLE INITIALLY DEFERRED,
    external_order_id    text COLLATE "C",
    external_number      text,
    ship_to              jsonb,
    email                text,
    rush                 boolean NOT NULL DEFAULT false,
    notes                text NOT NULL DEFAULT '',
    hold_reason          text,
    external_updated_at  timestamptz,
    currency             text,
    CONSTRAINT orders_client_number_key UNIQUE (client_id, number),
    CONSTRAINT orders_external_key UNIQUE (integration_id, external_order_id),
    CONSTRAINT orders_external_check CHECK (
        (platform IS NULL AND integration_id IS NULL AND external_order_id IS NULL
            AND external_number IS NULL)
        OR (platform IS NOT NULL AND integration_id IS NOT NULL
            AND external_order_id IS NOT NULL AND external_number IS NOT NULL)
    )
);
CREATE INDEX orders_created_idx ON orders (created_at, id);
CREATE INDEX orders_client_created_idx ON orders (client_id, created_at, id);
CREATE INDEX orders_status_created_idx ON orders (status, created_at, id);
CREATE INDEX orders_integration_email_idx ON orders (integration_id, lower(email))
    WHERE integration_id IS NOT NULL;
CREATE INDEX orders_pending_idx ON orders (warehouse_id, created_at)
    WHERE status = 'pending';

CREATE TABLE order_items (
    order_id                            text COLLATE "C" NOT NULL
        REFERENCES orders (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    id                                  text COLLATE "C" NOT NULL,
    position                            integer NOT NULL,
    product_id                          text COLLATE "C"
        REFERENCES products (id) DEFERRABLE INITIALLY DEFERRED,
    sku                                 text NOT NULL,
    name                                text NOT NULL,
    quantity                            integer NOT NULL,
    shipped_quantity                    integer NOT NULL DEFAULT 0,
    unit_price                          text,
    external_line_id                    text,
    external_variant_id                 text,
    external_fulfillment_order_id       text,
    external_fulfillment_order_line_id  text,
    barcode                             text,
    PRIMARY KEY (order_id, id),
    CONSTRAINT order_items_quantity_check CHECK (quantity > 0),
    CONSTRAINT order_items_shipped_quantity_check
        CHECK (shipped_quantity >= 0 AND shipped_quantity <= quantity)
);
CREATE INDEX order_items_product_idx ON order_items (product_id) WHERE product_id IS NOT NULL;

CREATE TABLE shipments (
    id                       text COLLATE "C" PRIMARY KEY,
    order_id                 text COLLATE "C" NOT NULL
        REFERENCES orders (id) DEFERRABLE INITIALLY DEFERRED,
    client_id                text COLLATE "C" NOT NULL
        REFERENCES clients (id) DEFERRABLE INITIALLY DEFERRED,
    lines                    jsonb NOT NULL DEFAULT '[]',
    carrier                  text NOT NULL,
    tracking_number          text NOT NULL,
    created_at               timestamptz NOT NULL,
    tracking_url             text,
    sync_state               text NOT NULL DEFAULT 'not_required'
        CONSTRAINT shipments_sync_state_check
        CHECK (sync_state IN ('not_required', 'pending', 'synced', 'failed')),
    external_fulfillment_id  text,
    synced_at                timestamptz,
    sync_error               text
);
CREATE INDEX shipments_order_idx ON shipments (order_id, created_at, id);

-- The ledger: append-only (see the trigger below). ``seq`` is the recording order.
CREATE TABLE stock_movements (
    seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id              text COLLATE "C" PRIMARY KEY,
    product_id      text COLLATE "C" NOT NULL
        REFERENCES products (id) DEFERRABLE INITIALLY DEFERRED,
    warehouse_id    text COLLATE "C" NOT NULL
        REFERENCES warehouses (id) DEFERRABLE INITIALLY DEFERRED,
    kind            text NOT NULL CONSTRAINT stock_movements_kind_check
        CHECK (kind IN ('receive', 'adjust', 'reserve', 'release', 'ship')),
    on_hand_delta   integer NOT NULL,
    reserved_delta  integer NOT NULL,
    created_at      timestamptz NOT NULL,
    reason          text NOT NULL DEFAULT '',
    order_id        text COLLATE "C"
        REFERENCES orders (id) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX stock_movements_product_idx ON stock_movements (product_id, warehouse_id, seq);
CREATE INDEX stock_movements_warehouse_idx ON stock_movements (warehouse_id, seq);
CREATE INDEX stock_movements_order_idx ON stock_movements (order_id, seq)
    WHERE order_id IS NOT NULL;

CREATE FUNCTION stock_movements_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the stock ledger is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

CREATE TRIGGER stock_movements_append_only
    BEFORE UPDATE OR DELETE ON stock_movements
    FOR EACH ROW EXECUTE FUNCTION stock_movements_append_only();

CREATE TABLE location_mappings (
    id                    text COLLATE "C" PRIMARY KEY,
    integration_id        text COLLATE "C" NOT NULL
        REFERENCES integrations (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    external_location_id  text COLLATE "C" NOT NULL,
    name                  text NOT NULL,
    warehouse_id          text COLLATE "C"
        REFERENCES warehouses (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
    is_default            boolean NOT NULL DEFAULT false,
    sync_inventory        boolean NOT NULL DEFAULT true,
    active                boolean NOT NULL DEFAULT true,
    CONSTRAINT location_mappings_external_key UNIQUE (integration_id, external_location_id)
);

CREATE TABLE product_mappings (
    id                          text COLLATE "C" PRIMARY KEY,
    integration_id              text COLLATE "C" NOT NULL
        REFERENCES integrations (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    product_id                  text COLLATE "C" NOT NULL
        REFERENCES products (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    external_variant_id         text COLLATE "C" NOT NULL,
    created_at                  timestamptz NOT NULL,
    external_product_id         text,
    external_inventory_item_id  text,
    sku                         text,
    barcode                     text,
    sync_inventory              boolean NOT NULL DEFAULT true,
    last_pushed                 jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT product_mappings_variant_key UNIQUE (integration_id, external_variant_id)
);
CREATE INDEX product_mappings_product_idx ON product_mappings (product_id);

CREATE TABLE catalog_variants (
    integration_id              text COLLATE "C" NOT NULL
        REFERENCES integrations (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    external_variant_id         text COLLATE "C" NOT NULL,
    loaded_at                   timestamptz NOT NULL,
    external_product_id         text,
    external_inventory_item_id  text,
    sku                         text,
    barcode                     text,
    title                       text NOT NULL DEFAULT '',
    product_title               text NOT NULL DEFAULT '',
    requires_shipping           boolean NOT NULL DEFAULT true,
    CONSTRAINT catalog_variants_pkey PRIMARY KEY (integration_id, external_variant_id)
);

-- The inbox keeps what arrived even for an integration that no longer exists: no foreign key.
CREATE TABLE inbox_events (
    id               text COLLATE "C" PRIMARY KEY,
    platform         text NOT NULL,
    topic            text NOT NULL,
    delivery_id      text NOT NULL,
    received_at      timestamptz NOT NULL,
    next_attempt_at  timestamptz NOT NULL,
    payload          jsonb NOT NULL DEFAULT '{}',
    integration_id   text COLLATE "C",
    shop_domain      text,
    event_id         text,
    source           text NOT NULL DEFAULT 'webhook',
    status           text NOT NULL DEFAULT 'received'
        CONSTRAINT inbox_events_status_check CHECK (status IN (
            'received', 'processing', 'processed', 'failed', 'skipped', 'dead'
        )),
    attempts         integer NOT NULL DEFAULT 0 CONSTRAINT inbox_events_attempts_check
        CHECK (attempts >= 0),
    max_attempts     integer NOT NULL DEFAULT 8 CONSTRAINT inbox_events_max_attempts_check
        CHECK (max_attempts > 0),
    locked_until     timestamptz,
    locked_by        text,
    processed_at     timestamptz,
    error            text,
    triggered_at     timestamptz,
    CONSTRAINT inbox_events_delivery_key UNIQUE (platform, delivery_id)
);
-- queue claims: due claimable events, and processing ones whose lease ran out
CREATE INDEX inbox_events_due_idx ON inbox_events (next_attempt_at, id)
    WHERE status IN ('received', 'failed');
CREATE INDEX inbox_events_lease_idx ON inbox_events (locked_until)
    WHERE status = 'processing';
CREATE INDEX inbox_events_received_idx ON inbox_events (received_at, id);
CREATE INDEX inbox_events_integration_idx ON inbox_events (integration_id, received_at, id);
CREATE INDEX inbox_events_status_idx ON inbox_events (status, received_at, id);

CREATE TABLE outbox_commands (
    id               text COLLATE "C" PRIMARY KEY,
    kind             text NOT NULL,
    idempotency_key  text NOT NULL,
    created_at       timestamptz NOT NULL,
    next_attempt_at  timestamptz NOT NULL,
    payload          jsonb NOT NULL DEFAULT '{}',
    integration_id   text COLLATE "C"
        REFERENCES integrations (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    status           text NOT NULL DEFAULT 'pending'
        CONSTRAINT outbox_commands_status_check CHECK (status IN (
            'pending', 'processing', 'done', 'failed', 'dead'
        )),
    attempts         integer NOT NULL DEFAULT 0 CONSTRAINT outbox_commands_attempts_check
        CHECK (attempts >= 0),
    max_attempts     integer NOT NULL DEFAULT 8 CONSTRAINT outbox_commands_max_attempts_check
        CHECK (max_attempts > 0),
    locked_until     timestamptz,
    locked_by        text,
    done_at          timestamptz,
    error            text,
    result           jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT outbox_commands_idempotency_key UNIQUE (idempotency_key)
);
CREATE INDEX outbox_commands_due_idx ON outbox_commands (next_attempt_at, id)
    WHERE status IN ('pending', 'failed');
CREATE INDEX outbox_commands_lease_idx ON outbox_commands (locked_until)
    WHERE status = 'processing';
CREATE INDEX outbox_commands_created_idx ON outbox_commands (created_at, id);
CREATE INDEX outbox_commands_integration_idx ON outbox_commands (integration_id, created_at, id);
CREATE INDEX outbox_commands_status_idx ON outbox_commands (status, created_at, id);

CREATE TABLE alerts (
    id              text COLLATE "C" PRIMARY KEY,
    severity        text NOT NULL
        CONSTRAINT alerts_severity_check CHECK (severity IN ('info', 'warning', 'error')),
    code            text NOT NULL,
    message         text NOT NULL,
    created_at      timestamptz NOT NULL,
    client_id       text COLLATE "C"
        REFERENCES clients (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    integration_id  text COLLATE "C"
        REFERENCES integrations (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    subject_id      text,
    resolved_at     timestamptz
);
CREATE INDEX alerts_created_idx ON alerts (created_at, id);
CREATE INDEX alerts_client_idx ON alerts (client_id, created_at, id);
CREATE INDEX alerts_integration_idx ON alerts (integration_id, created_at, id);
CREATE INDEX alerts_unresolved_idx ON alerts (created_at, id) WHERE resolved_at IS NULL;

CREATE TABLE sync_runs (
    id              text COLLATE "C" PRIMARY KEY,
    kind            text NOT NULL,
    started_at      timestamptz NOT NULL,
    integration_id  text COLLATE "C"
        REFERENCES integrations (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    finished_at     timestamptz,
    counts          jsonb NOT NULL DEFAULT '{}',
    error           text
);
CREATE INDEX sync_runs_started_idx ON sync_runs (started_at, id);
CREATE INDEX sync_runs_integration_idx ON sync_runs (integration_id, kind, started_at, id);
