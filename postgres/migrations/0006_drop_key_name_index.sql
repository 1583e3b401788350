-- 0005's index on names is taken out again, as on SQLite (0013 there): a
-- bulk import with customer-chosen names writes a leaf page per key. 0005
-- stays as released, so that version 5 keeps meaning the same thing on
-- every database. Dropping an index older nodes never read is safe for them.
DROP INDEX IF EXISTS api_keys_name;
