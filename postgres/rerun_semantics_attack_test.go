package postgres_test

// Attacks on how a call's answers and results survive the batch's passes
// (optimistic pass with writes kept back, then savepoint pass).

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/storetest"
)

var errUnrelated = errors.New("unrelated failure after the insert")

// A call alone inserts a duplicate key (kept back on PostgreSQL, answered
// nil at once) and then, believing it succeeded, fails for a reason of its
// own. On SQLite InsertKey says ECONFLICT and the call returns it; the
// PostgreSQL store must tell the call the same, not the later error that
// only a call told "nil" can reach.
func TestAttackAloneErrorAfterHeldDuplicate(t *testing.T) {
	both(t, func(t *testing.T, s keyward.Store) {
		mustUpdate(t, s, func(ctx context.Context, tx keyward.Tx) error { return tx.InsertKey(ctx, hbKey("dup")) })
		var told []error
		err := s.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
			ierr := tx.InsertKey(ctx, hbKey("dup"))
			told = append(told, ierr)
			if ierr != nil {
				return ierr
			}
			return errUnrelated
		})
		if keyward.ErrorCode(err) != keyward.ECONFLICT {
			t.Errorf("Update = %v (InsertKey told %v over %d runs), want ECONFLICT from InsertKey", err, told, len(told))
		}
	})
}

// The same with a panic: on SQLite the call returns ECONFLICT and never
// reaches its panic; on PostgreSQL the panic must not escape either.
func TestAttackAlonePanicAfterHeldDuplicate(t *testing.T) {
	both(t, func(t *testing.T, s keyward.Store) {
		mustUpdate(t, s, func(ctx context.Context, tx keyward.Tx) error { return tx.InsertKey(ctx, hbKey("dup")) })
		var err error
		var panicked any
		func() {
			defer func() { panicked = recover() }()
			err = s.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
				if err := tx.InsertKey(ctx, hbKey("dup")); err != nil {
					return err
				}
				panic("reached only when InsertKey said nil")
			})
		}()
		if panicked != nil || keyward.ErrorCode(err) != keyward.ECONFLICT {
			t.Errorf("Update = %v, panic %v; want ECONFLICT and no panic", err, panicked)
		}
	})
}

// The same with an audit append after a duplicate credential (core's key
// create): the call fails its own way after the held write would have
// failed. Alone, and again in a batch with calls that succeed.
func TestAttackHeldCredentialConflictThenOwnError(t *testing.T) {
	both(t, func(t *testing.T, s keyward.Store) {
		mustUpdate(t, s, func(ctx context.Context, tx keyward.Tx) error {
			if err := tx.InsertKey(ctx, hbKey("owner")); err != nil {
				return err
			}
			return tx.InsertCredential(ctx, hbCred("taken", "owner", keyward.LabelCurrent))
		})
		fn := func(id string) func(ctx context.Context, tx keyward.Tx) error {
			return func(ctx context.Context, tx keyward.Tx) error {
				if err := tx.InsertKey(ctx, hbKey(id)); err != nil {
					return err
				}
				c := hbCred(id+"-c", id, keyward.LabelCurrent)
				c.Digest = hbDigest("digest:taken") // in use by owner
				if err := tx.InsertCredential(ctx, c); err != nil {
					return fmt.Errorf("credential: %w", err)
				}
				if err := storetest.AppendNext(ctx, tx, id); err != nil {
					return err
				}
				return errUnrelated
			}
		}
		err := s.Update(context.Background(), fn("alone"))
		if keyward.ErrorCode(err) != keyward.ECONFLICT {
			t.Errorf("alone: Update = %v, want the credential's ECONFLICT", err)
		}
		// In batches: 20 such calls with 20 good ones.
		var wg sync.WaitGroup
		errs := make([]error, 40)
		for i := range 40 {
			wg.Go(func() {
				id := fmt.Sprintf("b%02d", i)
				if i%2 == 0 {
					errs[i] = s.Update(context.Background(), fn(id))
					return
				}
				errs[i] = s.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
					if err := tx.InsertKey(ctx, hbKey(id)); err != nil {
						return err
					}
					return storetest.AppendNext(ctx, tx, id)
				})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if i%2 == 0 && keyward.ErrorCode(err) != keyward.ECONFLICT {
				t.Errorf("call %d: %v, want ECONFLICT", i, err)
			}
			if i%2 == 1 && err != nil {
				t.Errorf("good call %d: %v", i, err)
			}
		}
		if h := auditHead(t, s); h != 20 {
			t.Errorf("audit head %d, want 20", h)
		}
	})
}

// A call that panics only on its first run, in a batch where another call
// fails: the panic of a run that was thrown away must not reach its
// caller, and the committed run's result is returned.
func TestAttackPanicOnlyFirstRun(t *testing.T) {
	both(t, func(t *testing.T, s keyward.Store) {
		const n = 30
		var wg sync.WaitGroup
		errs := make([]error, n)
		panics := make([]any, n)
		runs := make([]atomic.Int32, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				defer func() { panics[i] = recover() }()
				errs[i] = s.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
					run := runs[i].Add(1)
					if err := tx.InsertKey(ctx, hbKey(fmt.Sprintf("k%02d-run%d", i, run))); err != nil {
						return err
					}
					if err := storetest.AppendNext(ctx, tx, fmt.Sprintf("c%02d", i)); err != nil {
						return err
					}
					switch {
					case i == 7:
						return errUnrelated // always fails: forces a savepoint pass
					case i%3 == 0 && run == 1:
						panic(fmt.Sprintf("first run of %d", i))
					}
					return nil
				})
			})
		}
		close(start)
		wg.Wait()
		committed := 0
		for i := range n {
			switch {
			case i == 7:
				if !errors.Is(errs[i], errUnrelated) {
					t.Errorf("call 7: %v", errs[i])
				}
			case runs[i].Load() == 1 && i%3 == 0:
				// ran once and panicked: the caller must have the panic
				if panics[i] == nil {
					t.Errorf("call %d ran once, panicked, but its caller got %v", i, errs[i])
				}
			default:
				if panics[i] != nil || errs[i] != nil {
					t.Errorf("call %d (runs %d): err %v panic %v", i, runs[i].Load(), errs[i], panics[i])
					continue
				}
				committed++
				// exactly the last run's key is there
				last := runs[i].Load()
				for r := int32(1); r <= last; r++ {
					if got := keyExists(t, s, fmt.Sprintf("k%02d-run%d", i, r)); got != (r == last) {
						t.Errorf("call %d run %d (of %d): key present %v", i, r, last, got)
					}
				}
			}
		}
		if h := auditHead(t, s); h != int64(committed) {
			t.Errorf("audit head %d, %d calls committed", h, committed)
		}
	})
}
