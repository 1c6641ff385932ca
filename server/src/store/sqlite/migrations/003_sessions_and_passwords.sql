-- Several sessions per identity (second devices, revocation one by one) and passwords.
CREATE TABLE sessions (
    session_hash TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    created_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_user ON sessions (user_id);
INSERT INTO sessions (session_hash, user_id, created_at)
    SELECT session_hash, user_id, created_at FROM users;
CREATE TABLE accounts (
    user_id       TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    password_hash TEXT,
    created_at    INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO accounts (user_id, username, password_hash, created_at)
    SELECT user_id, username, NULL, created_at FROM users;
DROP TABLE users;
ALTER TABLE accounts RENAME TO users;
