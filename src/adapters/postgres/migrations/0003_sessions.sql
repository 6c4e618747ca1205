-- Signed-in browsers, checked on every request so that a session can be ended on the server
-- (logout, a password change, "sign out everywhere", a disabled user). The session id itself
-- lives only in the browser's cookie: the primary key is its SHA-256 digest.
CREATE TABLE user_sessions (
    id_hash       text COLLATE "C" PRIMARY KEY,
    user_id       text COLLATE "C" NOT NULL
        REFERENCES users (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    created_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id, created_at);
CREATE INDEX user_sessions_expires_idx ON user_sessions (expires_at);
