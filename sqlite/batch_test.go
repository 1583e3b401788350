package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward"
)

// A caller whose context is already cancelled is not run at all.
func TestGroupCommitCancelledCaller(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "k.db"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := db.Update(ctx, func(context.Context, keyward.Tx) error { ran = true; return nil })
	if !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("err %v ran %v", err, ran)
	}
}
