-- Key material every node of a cluster shares (the pepper of key digests,
-- the audit signing and tail keys), sealed by the cluster's keyring: the
-- database alone reveals none of it.
CREATE TABLE cluster_keys (
	name       TEXT COLLATE "C" PRIMARY KEY,
	sealed     BYTEA NOT NULL,
	created_at TEXT NOT NULL
);
