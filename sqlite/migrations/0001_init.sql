-- keyward schema, version 1.
--
-- Times are TEXT in a fixed-width RFC 3339 form with nanoseconds, always UTC
-- ("2006-01-02T15:04:05.000000000Z"), so they sort as text and round-trip
-- exactly. JSON columns hold what the domain marshals; NULL stands for a nil
-- value. Identifiers compare bytewise (BINARY collation), as Go strings do.
--
-- Creating a key writes a key, a credential and an audit record in one
-- transaction, and each B-tree it touches is a page written to the WAL: the
-- key and credential tables are WITHOUT ROWID (keyed by their text ID, one
-- B-tree less each), and indexes are only those a lookup or a filter needs.

CREATE TABLE api_keys (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL,
	description  TEXT NOT NULL,
	customer_id  TEXT NOT NULL,
	enabled      INTEGER NOT NULL,
	prefix       TEXT NOT NULL,
	expires_at   TEXT,
	stage_keys   TEXT,          -- JSON array of {apiId, stage}
	scopes       TEXT NOT NULL, -- JSON object
	tags         TEXT,          -- JSON object
	recoverable  INTEGER NOT NULL,
	imported     INTEGER NOT NULL,
	value_secret TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	updated_at   TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX api_keys_customer ON api_keys (customer_id, id);

CREATE TABLE credentials (
	id           TEXT PRIMARY KEY,
	key_id       TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
	label        TEXT NOT NULL,
	hint         TEXT NOT NULL,
	grace_until  TEXT,
	created_at   TEXT NOT NULL,
	digest       BLOB NOT NULL UNIQUE,
	sealed_value BLOB,
	UNIQUE (key_id, label)
) WITHOUT ROWID;

CREATE TABLE apis (
	id                TEXT PRIMARY KEY,
	name              TEXT NOT NULL UNIQUE,
	description       TEXT NOT NULL,
	openai_compatible INTEGER NOT NULL,
	key_prefix        TEXT NOT NULL,
	stages            TEXT, -- JSON array of stages
	created_at        TEXT NOT NULL,
	updated_at        TEXT NOT NULL
);

CREATE TABLE usage_plans (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,
	description TEXT NOT NULL,
	throttle    TEXT, -- JSON
	quota       TEXT, -- JSON
	tokens      TEXT, -- JSON
	api_stages  TEXT, -- JSON array
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL
);

CREATE TABLE plan_keys (
	plan_id TEXT NOT NULL REFERENCES usage_plans (id) ON DELETE CASCADE,
	key_id  TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
	PRIMARY KEY (plan_id, key_id)
) WITHOUT ROWID;
CREATE INDEX plan_keys_key ON plan_keys (key_id);

CREATE TABLE secrets (
	name             TEXT PRIMARY KEY,
	description      TEXT NOT NULL,
	tags             TEXT, -- JSON object
	created_at       TEXT NOT NULL,
	updated_at       TEXT NOT NULL,
	last_accessed_at TEXT,
	deletion_date    TEXT
);

CREATE TABLE secret_versions (
	secret_name TEXT NOT NULL REFERENCES secrets (name) ON DELETE CASCADE,
	version_id  TEXT NOT NULL,
	binary      INTEGER NOT NULL,
	created_at  TEXT NOT NULL,
	sealed      BLOB,
	value_mac   BLOB,
	PRIMARY KEY (secret_name, version_id)
);

-- One row per staging label: the primary key is what keeps a label on at
-- most one version of a secret.
CREATE TABLE secret_version_stages (
	secret_name TEXT NOT NULL,
	stage       TEXT NOT NULL,
	version_id  TEXT NOT NULL,
	PRIMARY KEY (secret_name, stage),
	FOREIGN KEY (secret_name, version_id)
		REFERENCES secret_versions (secret_name, version_id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX secret_version_stages_version ON secret_version_stages (secret_name, version_id);

CREATE TABLE principals (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,
	type        TEXT NOT NULL,
	description TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL
);

CREATE TABLE admin_tokens (
	id           TEXT PRIMARY KEY,
	principal_id TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	hint         TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	expires_at   TEXT,
	digest       BLOB NOT NULL UNIQUE
);
CREATE INDEX admin_tokens_principal ON admin_tokens (principal_id);

CREATE TABLE policies (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,
	description TEXT NOT NULL,
	built_in    INTEGER NOT NULL,
	document    TEXT NOT NULL, -- JSON policy document
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL
);

CREATE TABLE policy_attachments (
	policy_id    TEXT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
	principal_id TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	PRIMARY KEY (policy_id, principal_id)
) WITHOUT ROWID;
CREATE INDEX policy_attachments_principal ON policy_attachments (principal_id, policy_id);

-- The audit chain. event holds the record's bytes exactly as hashed; the
-- event_* and principal_id columns are copies read from it, for filtering.
-- Lists go in seq order, so a time filter reads records from AfterSeq on: an
-- index on event_time would cost every append a page and the planner would
-- still prefer the seq order.
CREATE TABLE audit_records (
	seq          INTEGER PRIMARY KEY,
	prev_hash    TEXT NOT NULL,
	hash         TEXT NOT NULL,
	event        TEXT NOT NULL,
	event_time   TEXT,
	event_name   TEXT NOT NULL,
	principal_id TEXT NOT NULL
);
CREATE INDEX audit_records_name ON audit_records (event_name, seq);
CREATE INDEX audit_records_principal ON audit_records (principal_id, seq);

CREATE TABLE audit_checkpoints (
	seq        INTEGER NOT NULL,
	key_id     TEXT NOT NULL,
	hash       TEXT NOT NULL,
	time       TEXT NOT NULL,
	public_key BLOB NOT NULL,
	signature  BLOB NOT NULL,
	PRIMARY KEY (seq, key_id)
) WITHOUT ROWID;

CREATE TABLE idempotency (
	scope       TEXT NOT NULL,
	token       TEXT NOT NULL,
	request_mac BLOB,
	response    TEXT,
	created_at  TEXT NOT NULL,
	PRIMARY KEY (scope, token)
) WITHOUT ROWID;
