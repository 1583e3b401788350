package sqlite

// DigestScans is how many times the store read its credentials to rule on
// a key value its DigestSet could not rule out.
func (db *DB) DigestScans() int64 { return db.digests.Scans() }
