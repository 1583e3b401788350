package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testpg"
	"github.com/keyward/keyward/postgres"
	"github.com/keyward/keyward/storetest"
)

// TestAttackBatchCrash: PostgreSQL crashes (pg_ctl -m immediate) while
// many calls write in shared batches, and stays down a while (Begin
// fails). No caller may hang; every call that returned nil must find its
// key after the restart; the audit log must have no gap; the same store
// must write again once the server is back.
func TestAttackBatchCrash(t *testing.T) {
	pg := testpg.Start(t, testpg.Options{})
	ctx := context.Background()
	db, err := postgres.Open(ctx, pg.URL("disable"), postgres.WithMaxConns(4))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var stop atomic.Bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := map[string]bool{}
	var failures atomic.Int64
	now := time.Now().UTC()
	for w := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; !stop.Load(); j++ {
				id := fmt.Sprintf("key_%02d_%06d", w, j)
				cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				err := db.Update(cctx, func(ctx context.Context, tx keyward.Tx) error {
					if err := tx.InsertKey(ctx, &keyward.APIKey{ID: id, Name: id, Enabled: true, CreatedAt: now, UpdatedAt: now}); err != nil {
						return err
					}
					if err := storetest.AppendNext(ctx, tx, id); err != nil {
						return err
					}
					if j%4 == 1 {
						return fmt.Errorf("refused")
					}
					return nil
				})
				cancel()
				if err == nil {
					mu.Lock()
					ok[id] = true
					mu.Unlock()
				} else if j%4 != 1 {
					failures.Add(1)
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	pg.Crash()
	time.Sleep(500 * time.Millisecond) // down: Begin fails
	stop.Store(true)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("callers hang after the crash")
	}
	t.Logf("%d calls succeeded, %d failed", len(ok), failures.Load())
	pg.Start()
	var werr error
	for range 50 {
		werr = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return storetest.AppendNext(ctx, tx, "after") })
		if werr == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if werr != nil {
		t.Fatalf("the store does not write after the restart: %v", werr)
	}
	err = db.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		for id := range ok {
			if _, err := tx.GetKey(ctx, id); err != nil {
				t.Errorf("key %s acknowledged but lost: %v", id, err)
			}
		}
		head, err := tx.AuditHead(ctx)
		if err != nil {
			return err
		}
		var after int64
		for after < head {
			recs, err := tx.ListAudit(ctx, keyward.AuditFilter{AfterSeq: after, Limit: 1000})
			if err != nil {
				return err
			}
			if len(recs) == 0 {
				t.Fatalf("records stop at %d, head %d", after, head)
			}
			for _, r := range recs {
				if r.Seq != after+1 {
					t.Fatalf("gap at %d", after+1)
				}
				after = r.Seq
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
