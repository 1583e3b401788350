-- Usage per key and UTC day, as the gateway counts it. Days are TEXT
-- "YYYY-MM-DD", which sorts in time order. There is no foreign key to
-- api_keys: usage outlives a deleted key, for reporting. The gateway adds
-- to a row many times a day (an upsert), so the table is keyed by what it
-- looks up, WITHOUT ROWID; the index on day serves the read of every key's
-- recent rows when a gateway starts (ListUsageSince).

CREATE TABLE key_usage (
	key_id     TEXT NOT NULL,
	day        TEXT NOT NULL,
	requests   INTEGER NOT NULL,
	tokens_in  INTEGER NOT NULL,
	tokens_out INTEGER NOT NULL,
	PRIMARY KEY (key_id, day)
) WITHOUT ROWID;
CREATE INDEX key_usage_day ON key_usage (day);
