-- Rotations, webhook endpoints, their deliveries, and the notices given.
--
-- Rotation policies are JSON columns on what they configure (NULL: none).
-- Durations are INTEGER nanoseconds. Rotations and notices name their target
-- (a key ID or a secret name, by kind) without a foreign key: one column
-- refers to two tables, and the history outlives what it is about, as
-- key_usage does.

ALTER TABLE api_keys ADD COLUMN rotation TEXT;    -- JSON RotationPolicy
ALTER TABLE usage_plans ADD COLUMN rotation TEXT; -- JSON RotationPolicy
ALTER TABLE secrets ADD COLUMN rotation TEXT;     -- JSON SecretRotation

-- "trigger" is an SQL keyword, hence trigger_type.
CREATE TABLE rotations (
	id           TEXT PRIMARY KEY,
	kind         TEXT NOT NULL,
	target       TEXT NOT NULL,
	state        TEXT NOT NULL,
	step         TEXT NOT NULL,
	trigger_type TEXT NOT NULL,
	client_token TEXT NOT NULL,
	grace        INTEGER NOT NULL,
	store_secret TEXT NOT NULL,
	pending_id   TEXT NOT NULL,
	hint         TEXT NOT NULL,
	error        TEXT NOT NULL,
	started_by   TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	updated_at   TEXT NOT NULL,
	finished_at  TEXT
);
-- At most one rotation per target is running. The index holds only the
-- running ones, so it stays small, and it also serves the scan for them when
-- a server starts (ListRotations by state IN_PROGRESS).
CREATE UNIQUE INDEX rotations_in_progress ON rotations (kind, target)
	WHERE state = 'IN_PROGRESS';
-- A client token names one rotation of a target; no token, no constraint.
CREATE UNIQUE INDEX rotations_client_token ON rotations (kind, target, client_token)
	WHERE client_token != '';
-- A target's rotations, newest first: what the services list (they always
-- give the kind and target), one index range read backwards.
CREATE INDEX rotations_target ON rotations (kind, target, created_at, id);

CREATE TABLE webhooks (
	id            TEXT PRIMARY KEY,
	kind          TEXT NOT NULL,
	url           TEXT NOT NULL,
	description   TEXT NOT NULL,
	events        TEXT, -- JSON array of event types
	principal_id  TEXT NOT NULL,
	created_at    TEXT NOT NULL,
	sealed_secret BLOB
);

-- The outbox. payload holds the body as sent, byte for byte; attempts the
-- JSON array of DeliveryAttempt, rewritten with each attempt.
CREATE TABLE webhook_deliveries (
	id              TEXT PRIMARY KEY,
	webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	event_id        TEXT NOT NULL,
	event_type      TEXT NOT NULL,
	payload         TEXT,
	state           TEXT NOT NULL,
	attempts        TEXT, -- JSON array of attempts
	next_attempt_at TEXT NOT NULL,
	created_at      TEXT NOT NULL,
	updated_at      TEXT NOT NULL
);
-- The dispatcher polls for due deliveries: only PENDING ones are in the
-- index, in the order they are due, so a poll reads the few it sends and
-- delivered history costs it nothing.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id)
	WHERE state = 'PENDING';
-- An endpoint's deliveries, newest first (ListDeliveries, which the service
-- always scopes to an endpoint); also what deleting an endpoint cascades
-- through.
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at, id);

-- A notice is given once per deadline: the primary key is the check.
CREATE TABLE notices (
	kind     TEXT NOT NULL,
	target   TEXT NOT NULL,
	deadline TEXT NOT NULL,
	at       TEXT NOT NULL,
	PRIMARY KEY (kind, target, deadline)
) WITHOUT ROWID;
