-- Credential digests are kept unique by the store (sqlstore/digests.go),
-- not by a unique index: digests are random, so the index took a random
-- leaf page per key, and that page, written to the WAL and again into the
-- database, was most of what a bulk import wrote at a million keys (11.3
-- KB per key with the index, 1.6 KB without). SQLite has one writer, the
-- process that holds the database's lock (lock_unix.go), which checks
-- each new digest inside its write transaction. A UNIQUE constraint can
-- only be dropped with its table, so the table is built again, as 0009
-- did; nothing else about it changes.
CREATE TABLE credentials_digest_checked (
	id           TEXT NOT NULL UNIQUE,
	key_id       TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
	label        TEXT NOT NULL,
	hint         TEXT NOT NULL,
	grace_until  TEXT,
	created_at   TEXT NOT NULL,
	digest       BLOB NOT NULL,
	sealed_value BLOB,
	PRIMARY KEY (key_id, label)
) WITHOUT ROWID;
INSERT INTO credentials_digest_checked (id, key_id, label, hint, grace_until, created_at, digest, sealed_value)
	SELECT id, key_id, label, hint, grace_until, created_at, digest, sealed_value FROM credentials;
DROP TABLE credentials;
ALTER TABLE credentials_digest_checked RENAME TO credentials;
CREATE INDEX credentials_in_grace ON credentials (key_id) WHERE grace_until IS NOT NULL;
