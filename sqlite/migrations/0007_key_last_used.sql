-- When each key was last used, to the minute, written by the gateway's
-- usage flush: a row changes at most once a minute per key. Its own table,
-- so that the keys' rows are not rewritten by traffic.
CREATE TABLE key_last_used (
	key_id TEXT PRIMARY KEY REFERENCES api_keys (id) ON DELETE CASCADE,
	at     TEXT NOT NULL
) WITHOUT ROWID;
