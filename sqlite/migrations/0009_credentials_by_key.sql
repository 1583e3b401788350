-- The gateway loads every credential in key order (EachGatewayKey). Keyed
-- by their own ID, each row of that walk was an entry of the
-- (key_id, label) index plus a seek into the table; keyed by
-- (key_id, label) the walk is the table itself, in order, which at a
-- million keys is a second off every restart. Credentials are still found
-- by ID and by digest through unique indexes.
CREATE TABLE credentials_by_key (
	id           TEXT NOT NULL UNIQUE,
	key_id       TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
	label        TEXT NOT NULL,
	hint         TEXT NOT NULL,
	grace_until  TEXT,
	created_at   TEXT NOT NULL,
	digest       BLOB NOT NULL UNIQUE,
	sealed_value BLOB,
	PRIMARY KEY (key_id, label)
) WITHOUT ROWID;
INSERT INTO credentials_by_key (id, key_id, label, hint, grace_until, created_at, digest, sealed_value)
	SELECT id, key_id, label, hint, grace_until, created_at, digest, sealed_value FROM credentials;
DROP TABLE credentials;
ALTER TABLE credentials_by_key RENAME TO credentials;
CREATE INDEX credentials_in_grace ON credentials (key_id) WHERE grace_until IS NOT NULL;
