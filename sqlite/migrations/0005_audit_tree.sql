-- The audit trail becomes a transparency log (package audit): records are
-- the leaves of an RFC 6962 Merkle tree, whose hashes are kept in the layout
-- of golang.org/x/mod/sumdb/tlog, and checkpoints are signed tree heads in
-- the C2SP signed-note format.
--
-- tag: HMAC of (seq, leaf hash) under the tail key, which the database
-- never holds; NULL on records carried over from the old hash chain.
-- prev_hash stays for those records until they are carried over, then is
-- ''; new records write ''.
ALTER TABLE audit_records ADD COLUMN tag BLOB;

CREATE TABLE audit_tree_hashes (
	idx  INTEGER PRIMARY KEY,
	hash BLOB NOT NULL
);

CREATE TABLE audit_tree_checkpoints (
	size INTEGER PRIMARY KEY,
	root TEXT NOT NULL,
	time TEXT NOT NULL,
	note TEXT NOT NULL
);

-- What was carried over from the old hash chain (one row, once).
CREATE TABLE audit_legacy (
	id               INTEGER PRIMARY KEY CHECK (id = 1),
	through          INTEGER NOT NULL,
	unverified_first INTEGER,
	unverified_last  INTEGER
);

-- The old chain's checkpoints, kept as they were.
ALTER TABLE audit_checkpoints RENAME TO audit_chain_checkpoints;
