package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// Call A, in a batch, inserts a key that is taken: on PostgreSQL the
// insert is kept back and A is told nil. Call B, next in the same batch,
// reads a key that does not exist. Every answer B is ever given, on any
// run, must be what SQLite gives (ENOTFOUND): B must not be told of A's
// failure (a write B never made) as an internal error of its own read.
func TestAttackBystanderToldOfHeldFailure(t *testing.T) {
	both(t, func(t *testing.T, s keyward.Store) {
		mustUpdate(t, s, func(ctx context.Context, tx keyward.Tx) error { return tx.InsertKey(ctx, hbKey("taken")) })
		ctx := context.Background()
		var mu sync.Mutex
		var told []error
		var wg sync.WaitGroup
		started := make(chan struct{})
		// A blocker holds the writer so that A and B queue into one batch.
		wg.Go(func() {
			_ = s.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
				select {
				case <-started:
				default:
					close(started)
				}
				time.Sleep(150 * time.Millisecond)
				return nil
			})
		})
		<-started
		var errA, errB error
		wg.Go(func() {
			errA = s.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
				return tx.InsertKey(ctx, hbKey("taken"))
			})
		})
		time.Sleep(30 * time.Millisecond)
		wg.Go(func() {
			errB = s.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
				_, err := tx.GetKey(ctx, "nothere")
				mu.Lock()
				told = append(told, err)
				mu.Unlock()
				if keyward.ErrorCode(err) == keyward.ENOTFOUND {
					return nil
				}
				return err
			})
		})
		wg.Wait()
		if keyward.ErrorCode(errA) != keyward.ECONFLICT {
			t.Errorf("A: %v, want ECONFLICT", errA)
		}
		if errB != nil {
			t.Errorf("B: %v", errB)
		}
		for i, err := range told {
			if keyward.ErrorCode(err) != keyward.ENOTFOUND {
				t.Errorf("B's run %d of %d was told %v by GetKey of a missing key, want ENOTFOUND", i+1, len(told), err)
			}
		}
		t.Log(fmt.Sprint("B ran ", len(told), " times"))
	})
}
