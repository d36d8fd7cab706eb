-- A session shared by its owner with another user, as viewer or editor.
-- expires_at is unix milliseconds, 0 for never. The migration is numbered
-- after its issue so that parallel branches do not collide.
CREATE TABLE session_shares (
    session_id TEXT NOT NULL REFERENCES terminal_sessions(id) ON DELETE CASCADE,
    owner_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    guest_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('viewer', 'editor')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, guest_id)
);
CREATE INDEX session_shares_guest ON session_shares(guest_id);
