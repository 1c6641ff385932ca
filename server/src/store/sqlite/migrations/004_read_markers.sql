-- Read markers (how far each person has read each conversation) and whether a person
-- shares them with others.
CREATE TABLE read_markers (
    reader TEXT NOT NULL,
    peer   TEXT NOT NULL,
    up_to  INTEGER NOT NULL,
    PRIMARY KEY (reader, peer)
) WITHOUT ROWID;
ALTER TABLE users ADD COLUMN receipts INTEGER NOT NULL DEFAULT 1;
