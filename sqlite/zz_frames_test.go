package sqlite

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

func TestFrames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	db.write.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	db.write.db.Exec("PRAGMA wal_autocheckpoint=0")
	const N = 2000
	for i := range N {
		err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
			d := sha256.Sum256([]byte(fmt.Sprint(i)))
			id := fmt.Sprintf("%x", d[:8]) // random-ish like real IDs
			now := time.Now()
			if err := tx.InsertKey(ctx, &keyward.APIKey{ID: id, Name: "n", Prefix: "kw", CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			if err := tx.InsertCredential(ctx, &keyward.Credential{ID: id + "c", KeyID: id, Label: "CURRENT", Digest: d[:], CreatedAt: now}); err != nil {
				return err
			}
			seq, _, _ := tx.AuditHead(ctx)
			ev := fmt.Sprintf(`{"eventTime":"%s","eventName":"apikeys:Create","userIdentity":{"principalId":"p1"},"pad":"%0400d"}`, now.Format(time.RFC3339Nano), 0)
			return tx.AppendAudit(ctx, &keyward.AuditRecord{Seq: seq + 1, Hash: "h", Event: []byte(ev)})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	fi, _ := os.Stat(path + "-wal")
	t.Logf("frames/tx %.2f", float64(fi.Size())/4120/N)
}
