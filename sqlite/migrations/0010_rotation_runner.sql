-- The process running a rotation (a random ID per process): only it may
-- advance, fail or touch it, and a takeover of a stale rotation hands it
-- to the taker in one write. Without it, a process that lost a rotation
-- (stalled past the stale bound, then back) would roll back the one its
-- successor is completing.
ALTER TABLE rotations ADD COLUMN runner TEXT NOT NULL DEFAULT '';
