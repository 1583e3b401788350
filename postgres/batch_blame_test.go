package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// A call that meets a failed statement and goes on as if it had not (a
// bug, but one call's) leaves a PostgreSQL transaction aborted. It must
// fail alone: the calls sharing its commit, before and after it, commit.
func TestSwallowedStatementFailureFailsOnlyItsCall(t *testing.T) {
	db := openStore(t)
	ctx := context.Background()
	now := time.Now().UTC()
	err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertKey(ctx, &keyward.APIKey{ID: "key_taken", Name: "taken", Enabled: true, CreatedAt: now, UpdatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
				id := fmt.Sprintf("key_%02d", i)
				if err := tx.InsertKey(ctx, &keyward.APIKey{ID: id, Name: id, Enabled: true, CreatedAt: now, UpdatedAt: now}); err != nil {
					return err
				}
				if i%5 == 2 {
					_ = tx.InsertKey(ctx, &keyward.APIKey{ID: "key_taken", Name: "again", Enabled: true, CreatedAt: now, UpdatedAt: now})
				}
				return nil
			})
		})
	}
	close(start)
	wg.Wait()
	err = db.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		for i := range n {
			_, gerr := tx.GetKey(ctx, fmt.Sprintf("key_%02d", i))
			swallowed := i%5 == 2
			switch {
			case !swallowed && (errs[i] != nil || gerr != nil):
				t.Errorf("call %d (a neighbour): err %v, key read %v", i, errs[i], gerr)
			case swallowed && errs[i] == nil && gerr != nil:
				t.Errorf("call %d (swallowed a failure): reported success but its key is missing", i)
			case swallowed && errs[i] != nil && gerr == nil:
				t.Errorf("call %d (swallowed a failure): reported %v but its key was written", i, errs[i])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
