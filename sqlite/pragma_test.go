package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"
)

// TestPragmas checks the settings of every connection: those of the read
// pool (several, held at once so that they are distinct) and the write one.
func TestPragmas(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	check := func(name string, conn interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}, queryOnly int, checkpoint int) {
		want := map[string]any{
			"wal_autocheckpoint": int64(checkpoint),
			"journal_mode":       "wal",
			"synchronous":        int64(1), // NORMAL
			"foreign_keys":       int64(1),
			"busy_timeout":       int64(5000),
			"query_only":         int64(queryOnly),
		}
		for pragma, w := range want {
			var got any
			if err := conn.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Errorf("%s: PRAGMA %s: %v", name, pragma, err)
				continue
			}
			if got != w {
				t.Errorf("%s: %s = %v, want %v", name, pragma, got, w)
			}
		}
	}
	check("write", db.write.db, 0, 16000)
	var wg sync.WaitGroup
	var held sync.WaitGroup
	held.Add(3)
	for range 3 {
		wg.Go(func() {
			tx, err := db.read.db.BeginTx(context.Background(), nil)
			if err != nil {
				t.Error(err)
				held.Done()
				return
			}
			defer tx.Rollback()
			held.Done()
			held.Wait()                // three read connections are busy now
			check("read", tx, 1, 1000) // reads commit nothing to checkpoint
		})
	}
	wg.Wait()
}
