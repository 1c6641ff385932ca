-- Groups (their messages live in `messages` with both conversation columns set to the
-- groupID), uploaded files and attachments, and the full-text index.
CREATE TABLE groups (
    group_id   TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE group_members (
    group_id TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    -- the order members joined in
    seq      INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE TABLE files (
    file_id    TEXT PRIMARY KEY,
    uploader   TEXT NOT NULL,
    name       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
-- the fileID (for "who may download it") and the attachment as delivered (JSON)
ALTER TABLE messages ADD COLUMN attachment_id TEXT;
ALTER TABLE messages ADD COLUMN attachment TEXT;
CREATE INDEX messages_by_attachment ON messages (attachment_id)
    WHERE attachment_id IS NOT NULL;
-- trigram: finds parts of words and text without spaces between words, case-insensitive.
-- Filled by the writer when idle (search.rs), up to `indexed_up_to`; existing messages too.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    content, content = 'messages', content_rowid = 'id', tokenize = 'trigram'
);
CREATE TABLE search_index (indexed_up_to INTEGER NOT NULL);
INSERT INTO search_index VALUES (0);
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
    WHEN old.id <= (SELECT indexed_up_to FROM search_index) BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content)
        VALUES ('delete', old.id, old.content);
END;
