-- 0012's index on names is taken out again: customer-chosen names land
-- anywhere in it, so a bulk import wrote a leaf page per key (what 0011
-- removed for digests). The exact-name filter reads the table instead
-- (0.3 s at a million keys). 0012 stays as released: a database that ran
-- it has version 12 recorded, and a later file reusing that number would
-- never run there.
DROP INDEX IF EXISTS api_keys_name;
