-- Keys are found by name (`keyward keys get NAME`): without an index each
-- lookup read every key. (name, id) serves the exact-name filter in ID
-- order, as a page is read. An expand-only change: older nodes ignore it.
CREATE INDEX api_keys_name ON api_keys (name, id);
