-- keyward's schema on PostgreSQL: the same tables as SQLite's migrations
-- 0001-0009 leave, so that the same statements (package sqlstore) run on
-- both. Text is COLLATE "C" (identifiers and names order bytewise, as in
-- SQLite); times are fixed-width text, as in SQLite, so that they compare
-- and order the same; constraints the store tells apart by name are named
-- "table.column", as SQLite's messages name them.
CREATE TABLE api_keys (
	id           TEXT COLLATE "C" PRIMARY KEY,
	name         TEXT COLLATE "C" NOT NULL,
	description  TEXT COLLATE "C" NOT NULL,
	customer_id  TEXT COLLATE "C" NOT NULL,
	enabled      BOOLEAN NOT NULL,
	prefix       TEXT COLLATE "C" NOT NULL,
	expires_at   TEXT COLLATE "C",
	stage_keys   TEXT COLLATE "C",          -- JSON array of {apiId, stage}
	scopes       TEXT COLLATE "C" NOT NULL, -- JSON object
	tags         TEXT COLLATE "C",          -- JSON object
	recoverable  BOOLEAN NOT NULL,
	imported     BOOLEAN NOT NULL,
	value_secret TEXT COLLATE "C" NOT NULL,
	created_at   TEXT COLLATE "C" NOT NULL,
	updated_at   TEXT COLLATE "C" NOT NULL,
	rotation     TEXT COLLATE "C"
);
CREATE INDEX api_keys_customer ON api_keys (customer_id, id);
CREATE TABLE apis (
	id                TEXT COLLATE "C" PRIMARY KEY,
	name              TEXT COLLATE "C" NOT NULL CONSTRAINT "apis.name" UNIQUE,
	description       TEXT COLLATE "C" NOT NULL,
	openai_compatible BOOLEAN NOT NULL,
	key_prefix        TEXT COLLATE "C" NOT NULL,
	stages            TEXT COLLATE "C", -- JSON array of stages
	created_at        TEXT COLLATE "C" NOT NULL,
	updated_at        TEXT COLLATE "C" NOT NULL
);
CREATE TABLE usage_plans (
	id          TEXT COLLATE "C" PRIMARY KEY,
	name        TEXT COLLATE "C" NOT NULL CONSTRAINT "usage_plans.name" UNIQUE,
	description TEXT COLLATE "C" NOT NULL,
	throttle    TEXT COLLATE "C", -- JSON
	quota       TEXT COLLATE "C", -- JSON
	tokens      TEXT COLLATE "C", -- JSON
	api_stages  TEXT COLLATE "C", -- JSON array
	created_at  TEXT COLLATE "C" NOT NULL,
	updated_at  TEXT COLLATE "C" NOT NULL,
	rotation     TEXT COLLATE "C"
);
CREATE TABLE plan_keys (
	plan_id TEXT COLLATE "C" NOT NULL REFERENCES usage_plans (id) ON DELETE CASCADE,
	key_id  TEXT COLLATE "C" NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
	PRIMARY KEY (plan_id, key_id)
);
CREATE INDEX plan_keys_key ON plan_keys (key_id);
CREATE TABLE secrets (
	name             TEXT COLLATE "C" PRIMARY KEY,
	description      TEXT COLLATE "C" NOT NULL,
	tags             TEXT COLLATE "C", -- JSON object
	created_at       TEXT COLLATE "C" NOT NULL,
	updated_at       TEXT COLLATE "C" NOT NULL,
	last_accessed_at TEXT COLLATE "C",
	deletion_date    TEXT COLLATE "C",
	rotation     TEXT COLLATE "C"
);
CREATE TABLE secret_versions (
	secret_name TEXT COLLATE "C" NOT NULL REFERENCES secrets (name) ON DELETE CASCADE,
	version_id  TEXT COLLATE "C" NOT NULL,
	"binary"    BOOLEAN NOT NULL,
	created_at  TEXT COLLATE "C" NOT NULL,
	sealed      BYTEA,
	value_mac   BYTEA,
	ord         BIGINT GENERATED ALWAYS AS IDENTITY, -- insertion order (SQLite's rowid)
	PRIMARY KEY (secret_name, version_id)
);
CREATE TABLE secret_version_stages (
	secret_name TEXT COLLATE "C" NOT NULL,
	stage       TEXT COLLATE "C" NOT NULL,
	version_id  TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (secret_name, stage),
	FOREIGN KEY (secret_name, version_id)
		REFERENCES secret_versions (secret_name, version_id) ON DELETE CASCADE
);
CREATE INDEX secret_version_stages_version ON secret_version_stages (secret_name, version_id);
CREATE TABLE principals (
	id          TEXT COLLATE "C" PRIMARY KEY,
	name        TEXT COLLATE "C" NOT NULL CONSTRAINT "principals.name" UNIQUE,
	type        TEXT COLLATE "C" NOT NULL,
	description TEXT COLLATE "C" NOT NULL,
	created_at  TEXT COLLATE "C" NOT NULL,
	updated_at  TEXT COLLATE "C" NOT NULL
);
CREATE TABLE admin_tokens (
	id           TEXT COLLATE "C" PRIMARY KEY,
	principal_id TEXT COLLATE "C" NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	hint         TEXT COLLATE "C" NOT NULL,
	created_at   TEXT COLLATE "C" NOT NULL,
	expires_at   TEXT COLLATE "C",
	digest       BYTEA NOT NULL CONSTRAINT "admin_tokens.digest" UNIQUE
);
CREATE INDEX admin_tokens_principal ON admin_tokens (principal_id);
CREATE TABLE policies (
	id          TEXT COLLATE "C" PRIMARY KEY,
	name        TEXT COLLATE "C" NOT NULL CONSTRAINT "policies.name" UNIQUE,
	description TEXT COLLATE "C" NOT NULL,
	built_in    BOOLEAN NOT NULL,
	document    TEXT COLLATE "C" NOT NULL, -- JSON policy document
	created_at  TEXT COLLATE "C" NOT NULL,
	updated_at  TEXT COLLATE "C" NOT NULL
);
CREATE TABLE policy_attachments (
	policy_id    TEXT COLLATE "C" NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
	principal_id TEXT COLLATE "C" NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
	PRIMARY KEY (policy_id, principal_id)
);
CREATE INDEX policy_attachments_principal ON policy_attachments (principal_id, policy_id);
CREATE TABLE audit_records (
	seq          BIGINT PRIMARY KEY,
	prev_hash    TEXT COLLATE "C" NOT NULL,
	hash         TEXT COLLATE "C" NOT NULL,
	event        TEXT COLLATE "C" NOT NULL,
	event_time   TEXT COLLATE "C",
	event_name   TEXT COLLATE "C" NOT NULL,
	principal_id TEXT COLLATE "C" NOT NULL
, tag BYTEA);
CREATE INDEX audit_records_name ON audit_records (event_name, seq);
CREATE INDEX audit_records_principal ON audit_records (principal_id, seq);
CREATE TABLE audit_chain_checkpoints (
	seq        BIGINT NOT NULL,
	key_id     TEXT COLLATE "C" NOT NULL,
	hash       TEXT COLLATE "C" NOT NULL,
	time       TEXT COLLATE "C" NOT NULL,
	public_key BYTEA NOT NULL,
	signature  BYTEA NOT NULL,
	PRIMARY KEY (seq, key_id)
);
CREATE TABLE idempotency (
	scope       TEXT COLLATE "C" NOT NULL,
	token       TEXT COLLATE "C" NOT NULL,
	request_mac BYTEA,
	response    TEXT COLLATE "C",
	created_at  TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (scope, token)
);
CREATE TABLE key_usage (
	key_id     TEXT COLLATE "C" NOT NULL,
	day        TEXT COLLATE "C" NOT NULL,
	requests   BIGINT NOT NULL,
	tokens_in  BIGINT NOT NULL,
	tokens_out BIGINT NOT NULL,
	PRIMARY KEY (key_id, day)
);
CREATE INDEX key_usage_day ON key_usage (day);
CREATE TABLE rotations (
	id           TEXT COLLATE "C" PRIMARY KEY,
	kind         TEXT COLLATE "C" NOT NULL,
	target       TEXT COLLATE "C" NOT NULL,
	state        TEXT COLLATE "C" NOT NULL,
	step         TEXT COLLATE "C" NOT NULL,
	trigger_type TEXT COLLATE "C" NOT NULL,
	client_token TEXT COLLATE "C" NOT NULL,
	grace        BIGINT NOT NULL,
	store_secret TEXT COLLATE "C" NOT NULL,
	pending_id   TEXT COLLATE "C" NOT NULL,
	hint         TEXT COLLATE "C" NOT NULL,
	error        TEXT COLLATE "C" NOT NULL,
	started_by   TEXT COLLATE "C" NOT NULL,
	created_at   TEXT COLLATE "C" NOT NULL,
	updated_at   TEXT COLLATE "C" NOT NULL,
	finished_at  TEXT COLLATE "C"
);
CREATE UNIQUE INDEX "rotations.target" ON rotations (kind, target)
	WHERE state = 'IN_PROGRESS';
CREATE UNIQUE INDEX "rotations.client_token" ON rotations (kind, target, client_token)
	WHERE client_token != '';
CREATE INDEX rotations_target ON rotations (kind, target, created_at, id);
CREATE TABLE webhooks (
	id            TEXT COLLATE "C" PRIMARY KEY,
	kind          TEXT COLLATE "C" NOT NULL,
	url           TEXT COLLATE "C" NOT NULL,
	description   TEXT COLLATE "C" NOT NULL,
	events        TEXT COLLATE "C", -- JSON array of event types
	principal_id  TEXT COLLATE "C" NOT NULL,
	created_at    TEXT COLLATE "C" NOT NULL,
	sealed_secret BYTEA
);
CREATE TABLE webhook_deliveries (
	id              TEXT COLLATE "C" PRIMARY KEY,
	webhook_id      TEXT COLLATE "C" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	event_id        TEXT COLLATE "C" NOT NULL,
	event_type      TEXT COLLATE "C" NOT NULL,
	payload         TEXT COLLATE "C",
	state           TEXT COLLATE "C" NOT NULL,
	attempts        TEXT COLLATE "C", -- JSON array of attempts
	next_attempt_at TEXT COLLATE "C" NOT NULL,
	created_at      TEXT COLLATE "C" NOT NULL,
	updated_at      TEXT COLLATE "C" NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id)
	WHERE state = 'PENDING';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at, id);
CREATE TABLE notices (
	kind     TEXT COLLATE "C" NOT NULL,
	target   TEXT COLLATE "C" NOT NULL,
	deadline TEXT COLLATE "C" NOT NULL,
	at       TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (kind, target, deadline)
);
CREATE INDEX api_keys_value_secret ON api_keys (value_secret) WHERE value_secret != '';
CREATE TABLE audit_tree_hashes (
	idx  BIGINT PRIMARY KEY,
	hash BYTEA NOT NULL
);
CREATE TABLE audit_tree_checkpoints (
	size BIGINT PRIMARY KEY,
	root TEXT COLLATE "C" NOT NULL,
	time TEXT COLLATE "C" NOT NULL,
	note TEXT COLLATE "C" NOT NULL
);
CREATE TABLE audit_legacy (
	id               BIGINT PRIMARY KEY CHECK (id = 1),
	through          BIGINT NOT NULL,
	unverified_first BIGINT,
	unverified_last  BIGINT
);
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (updated_at)
	WHERE state != 'PENDING';
CREATE INDEX notices_deadline ON notices (deadline);
CREATE TABLE key_last_used (
	key_id TEXT COLLATE "C" PRIMARY KEY REFERENCES api_keys (id) ON DELETE CASCADE,
	at     TEXT COLLATE "C" NOT NULL
);
CREATE INDEX api_keys_expiring ON api_keys (id) WHERE expires_at IS NOT NULL;
CREATE INDEX api_keys_rotating ON api_keys (id) WHERE rotation IS NOT NULL;
CREATE TABLE credentials (
	id           TEXT COLLATE "C" NOT NULL CONSTRAINT "credentials.id" UNIQUE,
	key_id       TEXT COLLATE "C" NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
	label        TEXT COLLATE "C" NOT NULL,
	hint         TEXT COLLATE "C" NOT NULL,
	grace_until  TEXT COLLATE "C",
	created_at   TEXT COLLATE "C" NOT NULL,
	digest       BYTEA NOT NULL CONSTRAINT "credentials.digest" UNIQUE,
	sealed_value BYTEA,
	CONSTRAINT "credentials.label" PRIMARY KEY (key_id, label)
);
CREATE INDEX credentials_in_grace ON credentials (key_id) WHERE grace_until IS NOT NULL;
