-- Directory sign-in: an identity the office directory signs in (its own password unused),
-- and the name the directory gives the person.
ALTER TABLE users ADD COLUMN directory INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN display_name TEXT;
