-- The scheduler reads only the keys that have something scheduled: an
-- expiry, a rotation policy of their own, a PREVIOUS value in its grace, or
-- a plan with a rotation policy (plan_keys_key). Each index holds only
-- those rows, so a million keys with nothing scheduled cost a pass nothing.
CREATE INDEX api_keys_expiring ON api_keys (id) WHERE expires_at IS NOT NULL;
CREATE INDEX api_keys_rotating ON api_keys (id) WHERE rotation IS NOT NULL;
CREATE INDEX credentials_in_grace ON credentials (key_id) WHERE grace_until IS NOT NULL;
