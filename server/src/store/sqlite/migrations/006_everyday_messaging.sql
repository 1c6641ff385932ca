-- Edits, deletions, replies, reactions, mentions and status.
-- A deleted message keeps its row (its place in the conversation) with `deleted` set and its
-- content, attachment, reply and reactions gone. A reply keeps what it quotes of the original
-- (its author and the start of its current text; no excerpt once the original is deleted),
-- updated when the original changes. Reactions are the delivered JSON
-- (`[{emoji, users}]`), read with the message; mentions the JSON list of userIDs, and a row
-- per mentioned member for counting unread mentions.
ALTER TABLE messages ADD COLUMN edited_ts INTEGER;
ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN reply_to INTEGER;
ALTER TABLE messages ADD COLUMN reply_from TEXT;
ALTER TABLE messages ADD COLUMN reply_excerpt TEXT;
ALTER TABLE messages ADD COLUMN reactions TEXT;
ALTER TABLE messages ADD COLUMN mentions TEXT;
CREATE INDEX messages_by_reply ON messages (reply_to) WHERE reply_to IS NOT NULL;
CREATE TABLE mentions (
    user_id    TEXT NOT NULL,
    group_id   TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, group_id, message_id)
) WITHOUT ROWID;
-- An edit or deletion of an indexed message changes what search finds.
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages
    WHEN old.id <= (SELECT indexed_up_to FROM search_index) BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content)
        VALUES ('delete', old.id, old.content);
    INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
END;
-- NULL: available.
ALTER TABLE users ADD COLUMN status TEXT;
ALTER TABLE users ADD COLUMN status_text TEXT;
