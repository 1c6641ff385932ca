-- A message id is never given twice. SQLite gives a new row max(id) + 1, so once retention
-- (or a removed account) took the newest messages, their ids came back: read markers, the
-- search index's and the bulk indexes' cursors (all "up to id") then skipped the new messages.
-- The writer gives ids itself, above this floor (see `store/sqlite/message_ids.rs`).
CREATE TABLE message_id_floor (id INTEGER NOT NULL);
INSERT INTO message_id_floor SELECT coalesce(max(id), 0) FROM messages;

CREATE TRIGGER message_id_floor_delete BEFORE DELETE ON messages
    WHEN old.id > (SELECT id FROM message_id_floor) BEGIN
    UPDATE message_id_floor SET id = old.id;
END;
