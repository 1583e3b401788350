package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// A key named on the command line (`keys get NAME`) is found through the
// name index, not by reading every key: a page of the exact-name filter,
// as sqlstore's ListKeys asks for it (IDs after a position, in ID order),
// is planned as a search of api_keys_name. Without it the lookup read a
// million rows (0.3 s), and a name that prefixes 111,111 others (k1 among
// k1..k1000000) took 3 s.
func TestAKeyIsFoundByNameThroughTheIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	db := open(t, path)
	now := time.Now().UTC()
	err := db.Update(t.Context(), func(ctx context.Context, tx keyward.Tx) error {
		for i := range 2000 {
			id := fmt.Sprintf("key_%05d", i)
			if err := tx.InsertKey(ctx, &keyward.APIKey{ID: id, Name: fmt.Sprintf("k%d", i), Enabled: true, CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = db.View(t.Context(), func(ctx context.Context, tx keyward.Tx) error {
		keys, _, err := tx.ListKeys(ctx, keyward.KeyFilter{Name: "k1"})
		for _, k := range keys {
			got = append(got, k.ID)
		}
		return err
	})
	if err != nil || len(got) != 1 || got[0] != "key_00001" {
		t.Fatalf("keys named k1: %v, %v", got, err)
	}
	rows, err := inspect(t, path).Query(`EXPLAIN QUERY PLAN SELECT id, name, enabled FROM api_keys WHERE id > ? AND name = ? ORDER BY id LIMIT ?`, "", "k1", 500)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(detail + "\n")
	}
	if p := plan.String(); !strings.Contains(p, "USING INDEX api_keys_name (name=?") || strings.Contains(p, "TEMP B-TREE") {
		t.Fatalf("a name lookup is not a search of the name index:\n%s", p)
	}
}
