package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// The scheduler's notice() (core/schedule.go) inserts a notice and takes
// ECONFLICT ("already given") as success, in the same transaction. On
// PostgreSQL the failed INSERT has aborted the transaction: a call that
// returns nil then fails itself (commit) and, sharing a batch, every
// neighbour too, though each call must succeed or fail alone.
func TestAttackSwallowedConflictPoisonsBatch(t *testing.T) {
	db := openStore(t)
	ctx := context.Background()
	deadline := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	notice := func(ctx context.Context, tx keyward.Tx) error {
		err := tx.InsertNotice(ctx, "key.expiring", "key_x", deadline, time.Now())
		if keyward.ErrorCode(err) == keyward.ECONFLICT {
			return nil // as core/schedule.go notice() does
		}
		return err
	}
	if err := db.Update(ctx, notice); err != nil {
		t.Fatal(err)
	}
	// Alone: fn returned nil.
	if err := db.Update(ctx, notice); err != nil {
		t.Errorf("notice alone, fn returned nil, Update: %v", err)
	}
	// With neighbours in the same batch.
	now := time.Now().UTC()
	failedNeighbours := 0
	for round := range 20 {
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i == 3 {
					errs[i] = db.Update(ctx, notice)
					return
				}
				id := fmt.Sprintf("key_%02d_%d", round, i)
				errs[i] = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
					return tx.InsertKey(ctx, &keyward.APIKey{ID: id, Name: id, Enabled: true, CreatedAt: now, UpdatedAt: now})
				})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if i != 3 && err != nil {
				failedNeighbours++
				if failedNeighbours <= 3 {
					t.Errorf("round %d: neighbour %d failed: %v", round, i, err)
				}
			}
		}
	}
	t.Logf("%d neighbour calls failed in 20 rounds", failedNeighbours)
}
