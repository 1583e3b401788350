-- A batch of writes takes the writers' lock and reads the head of the
-- audit log in one round trip: the statement after a lock granted in
-- PostgreSQL waits for the node to hear of it and answer, all of it time
-- the lock is held while every other node waits. A volatile PL/pgSQL
-- function takes a fresh snapshot for each statement in it, so the head
-- is read after the lock is held, including the last holder's commit.
-- Nodes without it take the same lock their way: an expand-only change.
CREATE FUNCTION keyward_write_lock(lock_key BIGINT) RETURNS BIGINT
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(lock_key);
	RETURN (SELECT coalesce(max(seq), 0) FROM audit_records);
END
$$;

-- A batch's kept-back audit records are numbered from the head it read;
-- the statement that writes them checks, as it starts, that the head is
-- still there (the writes and the COMMIT follow in the same round trip,
-- so the check cannot be the node's). The function's query sees the rows
-- committed before the statement, not those it inserts.
CREATE FUNCTION keyward_audit_follows(expected BIGINT) RETURNS BIGINT
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	head BIGINT := (SELECT coalesce(max(seq), 0) FROM audit_records);
BEGIN
	IF head <> expected THEN
		RAISE EXCEPTION 'audit records kept back follow record %, but the log''s head is %', expected, head
			USING ERRCODE = 'KW001';
	END IF;
	RETURN head;
END
$$;
