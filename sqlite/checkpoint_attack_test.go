package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/sqlite"
)

// Closing a DB twice used to be harmless (sql.DB.Close is idempotent);
// the checkpointer's close(c.stop) makes the second Close panic.
func TestAttackDoubleClose(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if v := recover(); v != nil {
			t.Fatalf("second Close panicked: %v", v)
		}
	}()
	_ = db.Close()
}
