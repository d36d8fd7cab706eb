-- One GitHub OAuth token per codeterm user. The token column holds the token
-- sealed by auth (AES-GCM under a key derived from the JWT secret, with the
-- user id as associated data), so a copy of the database alone does not
-- reveal it and a row moved to another user does not open.
CREATE TABLE github_tokens (
    user_id    TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    login      TEXT NOT NULL,
    token      BLOB NOT NULL,
    scope      TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
