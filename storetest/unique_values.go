package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/keyward/keyward"
)

// What a store promises of key values (credential digests): no two
// credentials share one, whichever way they arrive. SQLite keeps that in
// the store rather than in a unique index (sqlstore/digests.go); these are
// the ways such a check could be fooled: two inserts in one transaction,
// a value whose first insert was rolled back, a value whose key was
// deleted, and calls sharing one transaction where some fail.

// keyWithValue inserts key id and its current credential with digest d.
func keyWithValue(ctx context.Context, tx keyward.Tx, id string, d []byte) error {
	if err := tx.InsertKey(ctx, newKey(id)); err != nil {
		return err
	}
	c := newCredential(id, keyward.LabelCurrent)
	c.Digest = d
	return tx.InsertCredential(ctx, c)
}

func testUniqueValues(h *harness) {
	h.expect(keyward.ECONFLICT, "two keys with one value in one transaction", func(ctx context.Context, tx keyward.Tx) error {
		if err := keyWithValue(ctx, tx, "k1", digest("v1")); err != nil {
			return err
		}
		return keyWithValue(ctx, tx, "k2", digest("v1"))
	})
	// That transaction was rolled back whole: v1 was never written.
	h.expect("", "a value whose only insert was rolled back", func(ctx context.Context, tx keyward.Tx) error {
		return keyWithValue(ctx, tx, "k1", digest("v1"))
	})
	h.expect(keyward.ECONFLICT, "a value in use, in a later transaction", func(ctx context.Context, tx keyward.Tx) error {
		return keyWithValue(ctx, tx, "k2", digest("v1"))
	})
	h.expect(keyward.ECONFLICT, "a value in use, as another label of its own key", func(ctx context.Context, tx keyward.Tx) error {
		c := newCredential("k1", keyward.LabelPending)
		c.Digest = digest("v1")
		return tx.InsertCredential(ctx, c)
	})
	errAfter := errors.New("the call fails after its inserts")
	if err := h.s.Update(h.t.Context(), func(ctx context.Context, tx keyward.Tx) error {
		if err := keyWithValue(ctx, tx, "k3", digest("v3")); err != nil {
			return err
		}
		return errAfter
	}); !errors.Is(err, errAfter) {
		h.t.Fatalf("Update: %v, want %v", err, errAfter)
	}
	h.expect("", "a value inserted by a call that then failed", func(ctx context.Context, tx keyward.Tx) error {
		return keyWithValue(ctx, tx, "k3", digest("v3"))
	})
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.DeleteKey(ctx, "k1") })
	h.expect("", "the value of a deleted key", func(ctx context.Context, tx keyward.Tx) error {
		return keyWithValue(ctx, tx, "k4", digest("v1"))
	})
	h.expect(keyward.ECONFLICT, "that value again", func(ctx context.Context, tx keyward.Tx) error {
		return keyWithValue(ctx, tx, "k5", digest("v1"))
	})
}

// attackUniqueValuesInBatches: n concurrent calls, so that the store runs
// several in one transaction (group commit), each inserting a key with a
// value of its own; every third fails after its inserts and every fifth
// also tries a value another call took. Afterwards exactly the values of
// the calls that succeeded are taken: a failed call's value is free even
// when it shared a transaction with calls that committed.
func attackUniqueValuesInBatches(t *testing.T, s keyward.Store, n int) {
	ctx := context.Background()
	errBoom := errors.New("boom")
	results := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = s.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
				if err := keyWithValue(ctx, tx, fmt.Sprintf("kb%02d", i), digest(fmt.Sprintf("vb%02d", i))); err != nil {
					return err
				}
				if i%5 == 4 { // a value another call inserts: one of the two fails
					if err := keyWithValue(ctx, tx, fmt.Sprintf("kx%02d", i), digest(fmt.Sprintf("vb%02d", i-1))); err != nil {
						return err
					}
				}
				if i%3 == 2 {
					return errBoom
				}
				return nil
			})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range results {
		v := digest(fmt.Sprintf("vb%02d", i))
		err2 := s.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
			return keyWithValue(ctx, tx, fmt.Sprintf("kc%02d", i), v)
		})
		switch {
		case err == nil && keyward.ErrorCode(err2) != keyward.ECONFLICT:
			t.Errorf("call %d committed, yet its value could be inserted again: %v", i, err2)
		case err != nil && err2 != nil && !takenByNext(results, i):
			t.Errorf("call %d failed (%v), yet its value could not be inserted: %v", i, err, err2)
		}
	}
}

// takenByNext reports whether call i's value was also inserted by call
// i+1 (every fifth call tries its predecessor's), and that call committed.
func takenByNext(results []error, i int) bool {
	return i+1 < len(results) && (i+1)%5 == 4 && results[i+1] == nil
}
