-- The clientId index as a table of its own, written in bulk by the writer (see
-- `store/sqlite/client_ids.rs`): as a unique index on `messages`, every message that carried
-- a clientId rewrote one random page of it.
CREATE TABLE client_ids (
    sender    TEXT NOT NULL,
    client_id TEXT NOT NULL,
    id        INTEGER NOT NULL,
    PRIMARY KEY (sender, client_id)
) WITHOUT ROWID;
INSERT INTO client_ids (sender, client_id, id)
    SELECT sender, client_id, id FROM messages WHERE client_id IS NOT NULL
    ORDER BY sender, client_id;
DROP INDEX messages_by_client_id;

-- Every message with an id up to this has its clientId in client_ids; the newer ones are
-- merged at start (after a crash or a restore).
CREATE TABLE client_ids_merged (up_to INTEGER NOT NULL);
INSERT INTO client_ids_merged SELECT coalesce(max(id), 0) FROM messages;

-- A deleted message (retention, a removed account) leaves the table with it: a retry of its
-- clientId is then a new message, as it was with the unique index.
CREATE TRIGGER client_ids_delete AFTER DELETE ON messages WHEN old.client_id IS NOT NULL BEGIN
    DELETE FROM client_ids
        WHERE sender = old.sender AND client_id = old.client_id AND id = old.id;
END;
