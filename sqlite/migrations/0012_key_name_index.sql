-- Keys are found by name (`keyward keys get NAME`, `keys disable NAME`):
-- without an index each lookup read every key, 0.3 s at a million keys,
-- and seconds for a name that prefixes many others. (name, id) serves
-- the exact-name filter in ID order, as a page is read. About 40 bytes
-- a key on disk.
CREATE INDEX api_keys_name ON api_keys (name, id);
