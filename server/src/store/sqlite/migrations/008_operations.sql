-- Running for years: per-user file quotas count an uploader's files; announcements from the
-- operator to everyone.
CREATE INDEX files_by_uploader ON files (uploader);
CREATE TABLE announcements (
    id        INTEGER PRIMARY KEY,
    text      TEXT NOT NULL,
    ts        INTEGER NOT NULL,
    -- ms since the epoch; NULL: until withdrawn
    until_ts  INTEGER,
    withdrawn INTEGER NOT NULL DEFAULT 0
);
