-- The OS account each codeterm user's processes run as (security.isolation:
-- accounts). created is 1 when codeterm created the account, which is then
-- the only case in which it deletes it again.
CREATE TABLE os_accounts (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    os_user TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL
);
