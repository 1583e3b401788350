package postgres_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/keyward/keyward/internal/testpg"
	"github.com/keyward/keyward/postgres"
)

// Migration 0005 (an index on key names) was released and then taken out
// by 0006: a schema that ran 0005 under the earlier release loses the
// index when a node of this one opens it, and a new schema never keeps it.
func TestTheNameIndexIsDroppedFromASchemaThatHadIt(t *testing.T) {
	schema := testpg.Schema(t)
	ctx := context.Background()
	reopen := func() {
		db, err := postgres.Open(ctx, testpg.MachineURL(), postgres.WithSchema(schema), postgres.WithMaxConns(2))
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	reopen()
	raw, err := sql.Open("pgx", testpg.MachineURL())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	count := func() int {
		var n int
		if err := raw.QueryRow(`SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname = 'api_keys_name'`, schema).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("a new schema has %d api_keys_name indexes, want 0", n)
	}
	// Back to how the earlier release left it: 0005 applied, 0006 not.
	if _, err := raw.Exec(`CREATE INDEX api_keys_name ON ` + schema + `.api_keys (name, id)`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`DELETE FROM ` + schema + `.schema_migrations WHERE version = 6`); err != nil {
		t.Fatal(err)
	}
	reopen()
	if n := count(); n != 0 {
		t.Fatalf("after the upgrade %d api_keys_name indexes, want 0", n)
	}
}
