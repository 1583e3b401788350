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
