package sqlite

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

func TestLatency(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if v := os.Getenv("PROBE_PRAGMA"); v != "" {
		db.write.db.Exec("PRAGMA " + v)
	}
	const N = 5000
	var lat []time.Duration
	start := time.Now()
	for i := range N {
		t0 := time.Now()
		err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
			d := sha256.Sum256([]byte(fmt.Sprint(i)))
			id := fmt.Sprintf("key-%09d", i)
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
		lat = append(lat, time.Since(t0))
	}
	total := time.Since(start)
	slices.Sort(lat)
	var sum time.Duration
	for _, l := range lat[N*99/100:] {
		sum += l
	}
	t.Logf("%q mean %v p50 %v p99 %v max %v; top1%% share %.0f%%", os.Getenv("PROBE_PRAGMA"), total/N, lat[N/2], lat[N*99/100], lat[N-1], 100*float64(sum)/float64(total))
}
