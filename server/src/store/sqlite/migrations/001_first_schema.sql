-- The first schema: users with one session each, messages by conversation, and who
-- talks with whom.
CREATE TABLE users (
    user_id      TEXT PRIMARY KEY,
    session_hash TEXT NOT NULL UNIQUE,
    username     TEXT NOT NULL,
    created_at   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE messages (
    id        INTEGER PRIMARY KEY,
    sender    TEXT NOT NULL,
    recipient TEXT NOT NULL,
    -- the conversation, as the two userIDs in sorted order
    user_lo   TEXT NOT NULL,
    user_hi   TEXT NOT NULL,
    content   TEXT NOT NULL,
    ts        INTEGER NOT NULL,
    client_id TEXT
);
CREATE INDEX messages_by_conversation ON messages (user_lo, user_hi, id);
CREATE UNIQUE INDEX messages_by_client_id ON messages (sender, client_id)
    WHERE client_id IS NOT NULL;

-- who has talked with whom, so a login reads only its own conversations
CREATE TABLE conversations (
    user_id TEXT NOT NULL,
    peer_id TEXT NOT NULL,
    PRIMARY KEY (user_id, peer_id)
) WITHOUT ROWID;
