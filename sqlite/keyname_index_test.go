package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/sqlite"
)

// Migration 0012 (an index on key names) was released and then taken out
// by 0013. A database that ran 0012 under the earlier release keeps
// version 12 recorded; the index must still go when it is opened by this
// one, and a new database must end up without it too.
func TestTheNameIndexIsDroppedFromADatabaseThatHadIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if n := nameIndexes(t, raw); n != 0 {
		t.Fatalf("a new database has %d api_keys_name indexes, want 0", n)
	}
	// Back to how the earlier release left it: 0012 applied, 0013 not.
	if _, err := raw.Exec(`CREATE INDEX api_keys_name ON api_keys (name, id); DELETE FROM schema_migrations WHERE version = 13`); err != nil {
		t.Fatal(err)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	open(t, path)
	raw, err = sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if n := nameIndexes(t, raw); n != 0 {
		t.Fatalf("after the upgrade %d api_keys_name indexes, want 0", n)
	}
	var v int
	if err := raw.QueryRow(`SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil || v != 13 {
		t.Fatalf("schema version %d (%v), want 13", v, err)
	}
}

func nameIndexes(t *testing.T, raw *sql.DB) int {
	t.Helper()
	var n int
	if err := raw.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'api_keys_name'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
