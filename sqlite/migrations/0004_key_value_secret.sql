-- A secret that holds a key's value belongs to that key: the core finds the
-- key of a secret on every write to it and every read of its value, so the
-- lookup must not walk every key.
CREATE INDEX api_keys_value_secret ON api_keys (value_secret) WHERE value_secret != '';
