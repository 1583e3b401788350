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
	f.Add("JyBPUiAxPTEgLS0")                                // "' OR 1=1 --"
	f.Add("MjAyNS0wMS0wMlQwMzowNDowNS4wMDAwMDAwMDZaIHItMQ") // "2025-01-02T03:04:05.000000006Z r-1"
	f.Add("MjAyNS0wMS0wMlQwMzowNDowNVogcg")                 // "2025-01-02T03:04:05Z r"
	db := open(f, filepath.Join(f.TempDir(), "k.db"))
	f.Fuzz(func(t *testing.T, pos string) {
		err := db.View(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
			if _, _, err := tx.ListKeys(ctx, keyward.KeyFilter{Page: keyward.Page{Limit: 5, Position: pos}}); err != nil {
				return err
			}
			if _, _, err := tx.ListSecrets(ctx, keyward.SecretFilter{Page: keyward.Page{Limit: 5, Position: pos}}); err != nil {
				return err
			}
			// Lists newest first read a time and an ID from the position.
			if _, _, err := tx.ListRotations(ctx, keyward.RotationFilter{Page: keyward.Page{Limit: 5, Position: pos}}); err != nil {
				return err
			}
			_, _, err := tx.ListDeliveries(ctx, keyward.DeliveryFilter{Page: keyward.Page{Limit: 5, Position: pos}})
			return err
		})
		if c := keyward.ErrorCode(err); c != "" && c != keyward.EINVALID {
			t.Fatalf("position %q: %v", pos, err)
		}
	})
}
