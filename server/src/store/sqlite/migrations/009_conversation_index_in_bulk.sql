-- The conversation index as a table of its own, written in bulk by the writer (see
-- `store/sqlite/conversation_index.rs`): as an index on `messages`, every new message rewrote one random
-- page of it (4 KiB of WAL per message, copied again by the checkpoint).
CREATE TABLE conversation_index (
    user_lo TEXT NOT NULL,
    user_hi TEXT NOT NULL,
    id      INTEGER NOT NULL,
    PRIMARY KEY (user_lo, user_hi, id)
) WITHOUT ROWID;
INSERT INTO conversation_index (user_lo, user_hi, id)
    SELECT user_lo, user_hi, id FROM messages ORDER BY user_lo, user_hi, id;
DROP INDEX messages_by_conversation;

-- Every message with an id up to this is in conversation_index; the newer ones are merged at
-- start (after a crash or a restore).
CREATE TABLE conversation_index_merged (up_to INTEGER NOT NULL);
INSERT INTO conversation_index_merged SELECT coalesce(max(id), 0) FROM messages;

-- A deleted message (retention, a removed account) leaves the index with it.
CREATE TRIGGER conversation_index_delete AFTER DELETE ON messages BEGIN
    DELETE FROM conversation_index
        WHERE user_lo = old.user_lo AND user_hi = old.user_hi AND id = old.id;
END;
