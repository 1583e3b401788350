package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/storetest"
)

// Calls whose context is cancelled during their first run, in batches
// that run again (another call always fails): what Update returns must
// match what was committed (nil: its key and record are there; an error:
// neither), and the log stays gap-free.
func TestAttackCancelDuringRerun(t *testing.T) {
	both(t, func(t *testing.T, s keyward.Store) {
		const n = 60
		errs := make([]error, n)
		var wg sync.WaitGroup
		started := make(chan struct{})
		wg.Go(func() {
			_ = s.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
				select {
				case <-started:
				default:
					close(started)
				}
				time.Sleep(100 * time.Millisecond)
				return nil
			})
		})
		<-started
		for i := range n {
			wg.Go(func() {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				errs[i] = s.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
					if err := tx.InsertKey(ctx, hbKey(fmt.Sprintf("c%02d", i))); err != nil {
						return err
					}
					if err := storetest.AppendNext(ctx, tx, fmt.Sprintf("c%02d", i)); err != nil {
						return err
					}
					if i%10 == 0 {
						return errUnrelated
					}
					if i%3 == 0 {
						cancel()
					}
					return nil
				})
			})
		}
		wg.Wait()
		committed := int64(0)
		for i, err := range errs {
			present := keyExists(t, s, fmt.Sprintf("c%02d", i))
			if present != (err == nil) {
				t.Errorf("call %d: Update = %v but its key present = %v", i, err, present)
			}
			if present {
				committed++
			}
			if i%10 == 0 && err == nil {
				t.Errorf("call %d always fails but returned nil", i)
			}
		}
		if h := auditHead(t, s); h != committed {
			t.Errorf("audit head %d, %d calls committed", h, committed)
		}
	})
}

// In one batch: A's kept-back insert fails, B panics on every run, C and D
// succeed. A gets ECONFLICT, B's caller alone gets the panic, C and D
// commit with one record each, numbered 1 and 2.
func TestAttackHeldFailureAndPanicInOneBatch(t *testing.T) {
	both(t, func(t *testing.T, s keyward.Store) {
		mustUpdate(t, s, func(ctx context.Context, tx keyward.Tx) error { return tx.InsertKey(ctx, hbKey("taken")) })
		var wg sync.WaitGroup
		started := make(chan struct{})
		wg.Go(func() {
			_ = s.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
				close(started)
				time.Sleep(120 * time.Millisecond)
				return nil
			})
		})
		<-started
		names := []string{"A", "B", "C", "D"}
		errs := make([]error, 4)
		panics := make([]any, 4)
		for i, name := range names {
			wg.Go(func() {
				defer func() { panics[i] = recover() }()
				errs[i] = s.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
					id := "k" + name
					if name == "A" {
						id = "taken"
					}
					if err := tx.InsertKey(ctx, hbKey(id)); err != nil {
						return err
					}
					if err := storetest.AppendNext(ctx, tx, name); err != nil {
						return err
					}
					if name == "B" {
						panic("B")
					}
					return nil
				})
			})
			time.Sleep(15 * time.Millisecond)
		}
		wg.Wait()
		if keyward.ErrorCode(errs[0]) != keyward.ECONFLICT || panics[0] != nil {
			t.Errorf("A: %v / %v", errs[0], panics[0])
		}
		if panics[1] != "B" {
			t.Errorf("B: panic %v, err %v", panics[1], errs[1])
		}
		for i := 2; i < 4; i++ {
			if errs[i] != nil || panics[i] != nil || !keyExists(t, s, "k"+names[i]) {
				t.Errorf("%s: %v / %v", names[i], errs[i], panics[i])
			}
		}
		if keyExists(t, s, "kB") || auditHead(t, s) != 2 {
			t.Errorf("kB present %v, head %d (want 2)", keyExists(t, s, "kB"), auditHead(t, s))
		}
	})
}
