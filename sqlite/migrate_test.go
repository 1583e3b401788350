package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// TestUpgradeToRotation opens a database written before migration 3: rows
// written then come back with no rotation policy, and the new tables work.
func TestUpgradeToRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	old := inspect(t, path)
	if _, err := old.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"0001_init.sql", "0002_key_usage.sql"} {
		b, err := os.ReadFile(filepath.Join("migrations", name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := old.Exec(string(b)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := old.Exec(`INSERT INTO schema_migrations VALUES (?, '2025-01-01T00:00:00.000000000Z')`, i+1); err != nil {
			t.Fatal(err)
		}
	}
	const ts = "2025-01-01T00:00:00.000000000Z"
	for _, q := range []string{
		`INSERT INTO api_keys VALUES ('k1', 'key', '', '', 1, 'kw', NULL, NULL, '{}', NULL, 0, 0, '', '` + ts + `', '` + ts + `')`,
		`INSERT INTO usage_plans VALUES ('p1', 'plan', '', NULL, NULL, NULL, NULL, '` + ts + `', '` + ts + `')`,
		`INSERT INTO secrets VALUES ('s1', '', NULL, '` + ts + `', '` + ts + `', NULL, NULL)`,
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db := open(t, path)
	err := db.Update(t.Context(), func(ctx context.Context, tx keyward.Tx) error {
		k, err := tx.GetKey(ctx, "k1")
		if err != nil {
			return err
		}
		p, err := tx.GetPlan(ctx, "p1")
		if err != nil {
			return err
		}
		s, err := tx.GetSecret(ctx, "s1")
		if err != nil {
			return err
		}
		if k.Rotation != nil || p.Rotation != nil || s.Rotation != nil {
			t.Errorf("rotation of rows written before migration 3: %+v %+v %+v, want none", k.Rotation, p.Rotation, s.Rotation)
		}
		k.Rotation = &keyward.RotationPolicy{Every: keyward.Duration(24 * time.Hour)}
		if err := tx.UpdateKey(ctx, k); err != nil {
			return err
		}
		return tx.InsertRotation(ctx, &keyward.Rotation{ID: "r1", Kind: keyward.RotationKey, Target: "k1",
			State: keyward.RotationInProgress})
	})
	if err != nil {
		t.Fatal(err)
	}
}
