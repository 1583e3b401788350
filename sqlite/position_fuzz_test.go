package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward"
)

// FuzzPagePosition: page positions come from clients. Any string either
// pages (no error) or is refused as invalid; it never panics or reaches the
// database as anything but a bound parameter.
func FuzzPagePosition(f *testing.F) {
	f.Add("")
	f.Add("a2V5XzAx")
	f.Add("%%%")
	f.Add("JyBPUiAxPTEgLS0") // "' OR 1=1 --"
	db := open(f, filepath.Join(f.TempDir(), "k.db"))
	f.Fuzz(func(t *testing.T, pos string) {
		err := db.View(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
			if _, _, err := tx.ListKeys(ctx, keyward.KeyFilter{Page: keyward.Page{Limit: 5, Position: pos}}); err != nil {
				return err
			}
			_, _, err := tx.ListSecrets(ctx, keyward.SecretFilter{Page: keyward.Page{Limit: 5, Position: pos}})
			return err
		})
		if c := keyward.ErrorCode(err); c != "" && c != keyward.EINVALID {
			t.Fatalf("position %q: %v", pos, err)
		}
	})
}
