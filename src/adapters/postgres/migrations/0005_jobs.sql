-- Jobs: long work someone asked for (an order sync, a catalogue refresh, an inventory push),
-- run by a worker with progress written as it goes. At most one queued or running job of a
-- kind per integration: the partial unique index is what makes asking twice return the
-- first one. A running job whose lease ran out (its worker died) is claimed again.
CREATE TABLE jobs (
    id               text COLLATE "C" PRIMARY KEY,
    kind             text NOT NULL
        CONSTRAINT jobs_kind_check CHECK (kind IN (
            'order_sync', 'catalogue_refresh', 'inventory_push'
        )),
    integration_id   text COLLATE "C" NOT NULL
        REFERENCES integrations (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    created_at       timestamptz NOT NULL,
    next_attempt_at  timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    requested_by     text,
    status           text NOT NULL DEFAULT 'queued'
        CONSTRAINT jobs_status_check CHECK (status IN ('queued', 'running', 'done', 'failed')),
    progress         jsonb NOT NULL DEFAULT '{}',
    problems         jsonb NOT NULL DEFAULT '[]',
    error            text,
    attempts         integer NOT NULL DEFAULT 0 CONSTRAINT jobs_attempts_check
        CHECK (attempts >= 0),
    max_attempts     integer NOT NULL DEFAULT 3 CONSTRAINT jobs_max_attempts_check
        CHECK (max_attempts > 0),
    locked_by        text,
    locked_until     timestamptz,
    started_at       timestamptz,
    finished_at      timestamptz
);
CREATE UNIQUE INDEX jobs_one_pending_idx ON jobs (integration_id, kind)
    WHERE status IN ('queued', 'running');
CREATE INDEX jobs_due_idx ON jobs (next_attempt_at, id) WHERE status = 'queued';
CREATE INDEX jobs_lease_idx ON jobs (locked_until) WHERE status = 'running';
CREATE INDEX jobs_integration_idx ON jobs (integration_id, created_at, id);
