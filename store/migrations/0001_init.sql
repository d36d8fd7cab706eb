-- Users are codeterm accounts. tokens_valid_after (unix seconds) revokes every
-- JWT of the user issued before it.
CREATE TABLE users (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE,
    github_login       TEXT UNIQUE,
    created_at         INTEGER NOT NULL,
    tokens_valid_after INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE ssh_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL UNIQUE,
    public_key  TEXT NOT NULL,
    comment     TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);
CREATE INDEX ssh_keys_user ON ssh_keys(user_id);

CREATE TABLE workspaces (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    repo_url      TEXT NOT NULL DEFAULT '',
    branch        TEXT NOT NULL DEFAULT '',
    local_path    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_activity INTEGER NOT NULL,
    UNIQUE (user_id, name)
);

CREATE TABLE terminal_sessions (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL DEFAULT '',
    shell         TEXT NOT NULL,
    pid           INTEGER NOT NULL DEFAULT 0,
    cols          INTEGER NOT NULL,
    rows          INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    last_activity INTEGER NOT NULL,
    status        TEXT NOT NULL,
    exit_code     INTEGER,
    signal        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX terminal_sessions_workspace ON terminal_sessions(workspace_id);

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);

-- Only the SHA-256 of a login code is stored, so the table is useless to a reader.
CREATE TABLE login_codes (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
