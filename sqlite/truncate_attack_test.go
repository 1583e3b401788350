package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// The server's TRUNCATE checkpoint (CheckpointWAL) while an import
// writes: how often does it fail because the passive checkpointer holds
// the checkpoint lock (no reader in the way)?
func TestAttackTruncateDuringImport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	db := open(t, path)
	ctx := context.Background()
	now := time.Now().UTC()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for j := 0; ; j++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
				for i := range 200 {
					id := fmt.Sprintf("key_%06d_%03d", j, i)
					if err := tx.InsertKey(ctx, &keyward.APIKey{ID: id, Name: id, Description: string(make([]byte, 2000)), Enabled: true, CreatedAt: now, UpdatedAt: now}); err != nil {
						return err
					}
				}
				return nil
			})
		}
	}()
	time.Sleep(500 * time.Millisecond)
	fails := 0
	const tries = 30
	for range tries {
		if err := db.CheckpointWAL(ctx); err != nil {
			fails++
			if fails == 1 {
				t.Logf("first failure: %v", err)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	fi, _ := os.Stat(path + "-wal")
	t.Logf("%d of %d TRUNCATE checkpoints failed with no reader; WAL %d bytes", fails, tries, fi.Size())
	if fails > 0 {
		t.Errorf("%d of %d TRUNCATE checkpoints failed with no reader open", fails, tries)
	}
}
