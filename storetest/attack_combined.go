package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keyward/keyward"
)

// A store may hold an insert back and send it with the transaction's next
// statement (PostgreSQL's does: Dialect.CommitWith). These attacks try
// to make such a write fail unseen, land out of order, or hide from what
// the same call reads or changes next.
var combinedWriteTests = []test{
	{"CombinedWriteFailureFailsTheCall", testCombinedWriteFailureFailsTheCall},
	{"CombinedWriteFailureSwallowed", testCombinedWriteFailureSwallowed},
	{"CombinedWritesSeenByTheirCall", testCombinedWritesSeenByTheirCall},
	{"CombinedWritesManyInOneCall", testCombinedWritesManyInOneCall},
	{"CombinedWritesDroppedWithTheirCall", testCombinedWritesDroppedWithTheirCall},
	{"CombinedWriteFailuresInABatch", testCombinedWriteFailuresInABatch},
}

// A create whose credential reuses a digest in use fails with ECONFLICT,
// whichever statement the store ran it with, and leaves no key row.
func testCombinedWriteFailureFailsTheCall(h *harness) {
	taken := newCredential("key-a", keyward.LabelCurrent)
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertKey(ctx, newKey("key-a")); err != nil {
			return err
		}
		return tx.InsertCredential(ctx, taken)
	})
	err := h.s.Update(h.t.Context(), func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertKey(ctx, newKey("key-b")); err != nil {
			return err
		}
		c := newCredential("key-b", keyward.LabelCurrent)
		c.Digest = taken.Digest
		if err := tx.InsertCredential(ctx, c); err != nil {
			return err
		}
		return AppendNext(ctx, tx, "create key-b")
	})
	if keyward.ErrorCode(err) != keyward.ECONFLICT {
		h.t.Fatalf("create with a digest in use: %v, want ECONFLICT", err)
	}
	h.noKey("key-b")
	if got := h.head(); got != 0 {
		h.t.Errorf("audit head %d after the failed create, want 0", got)
	}
}

// A write whose method returned nil is committed with its call, or the
// call fails: a call that goes on after a held-back write failed (its
// method had nothing to report yet) cannot commit what it did next.
func testCombinedWriteFailureSwallowed(h *harness) {
	var credErr error
	err := h.s.Update(h.t.Context(), func(ctx context.Context, tx keyward.Tx) error {
		// The key row this credential refers to does not exist.
		credErr = tx.InsertCredential(ctx, newCredential("key-missing", keyward.LabelCurrent))
		_ = tx.InsertKey(ctx, newKey("key-after"))
		_, _ = tx.GetKey(ctx, "key-after")
		return nil // as if all went well
	})
	if err == nil && credErr == nil {
		h.t.Fatal("a credential whose key does not exist was accepted, and its call committed")
	}
	if err != nil {
		h.noKey("key-after")
	}
	h.noKey("key-missing")
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		if _, err := tx.FindCredential(ctx, digest("key-missing-current")); keyward.ErrorCode(err) != keyward.ENOTFOUND {
			h.t.Errorf("the credential of a missing key: %v, want ENOTFOUND", err)
		}
		return nil
	})
}

// What a call inserts, held back or not, is what its next statements read
// and change: an update, a second credential, an attach and a delete of
// the key it has just inserted all find it.
func testCombinedWritesSeenByTheirCall(h *harness) {
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertPlan(ctx, newPlan("plan-1", "one"))
	})
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		k := newKey("key-1")
		if err := tx.InsertKey(ctx, k); err != nil {
			return err
		}
		k.Name = "renamed"
		if err := tx.UpdateKey(ctx, k); err != nil {
			return fmt.Errorf("update the key just inserted: %w", err)
		}
		if err := tx.InsertCredential(ctx, newCredential("key-1", keyward.LabelCurrent)); err != nil {
			return err
		}
		if err := tx.InsertCredential(ctx, newCredential("key-1", keyward.LabelPending)); err != nil {
			return err
		}
		if err := tx.AttachKey(ctx, "plan-1", "key-1"); err != nil {
			return fmt.Errorf("attach the key just inserted: %w", err)
		}
		got, err := tx.GetKey(ctx, "key-1")
		if err != nil {
			return fmt.Errorf("get the key just inserted: %w", err)
		}
		if got.Name != "renamed" || len(got.Credentials) != 2 || len(got.PlanIDs) != 1 {
			return fmt.Errorf("the key read back in its call: name %q, %d credentials, plans %v", got.Name, len(got.Credentials), got.PlanIDs)
		}
		if err := tx.InsertKey(ctx, newKey("key-2")); err != nil {
			return err
		}
		if err := tx.DeleteKey(ctx, "key-2"); err != nil {
			return fmt.Errorf("delete the key just inserted: %w", err)
		}
		return AppendNext(ctx, tx, "keys")
	})
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.GetKey(ctx, "key-1")
		if err != nil {
			return err
		}
		if got.Name != "renamed" || len(got.Credentials) != 2 {
			h.t.Errorf("committed key: name %q, %d credentials", got.Name, len(got.Credentials))
		}
		return nil
	})
	h.noKey("key-2")
	if got := h.head(); got != 1 {
		h.t.Errorf("audit head %d, want 1", got)
	}
}

// More held-back writes than one statement carries, then a read: every
// one is there, and a duplicate among them is found.
func testCombinedWritesManyInOneCall(h *harness) {
	const n = 70
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		for i := range n {
			id := fmt.Sprintf("key-%03d", i)
			if err := tx.InsertKey(ctx, newKey(id)); err != nil {
				return err
			}
			if err := tx.InsertCredential(ctx, newCredential(id, keyward.LabelCurrent)); err != nil {
				return err
			}
		}
		keys, err := tx.GetKeys(ctx, []string{"key-000", "key-069"})
		if err != nil {
			return err
		}
		if len(keys) != 2 {
			return fmt.Errorf("read %d of the 2 keys the call inserted", len(keys))
		}
		return nil
	})
	err := h.s.Update(h.t.Context(), func(ctx context.Context, tx keyward.Tx) error {
		for i := range n {
			id := fmt.Sprintf("key-x%03d", i)
			if err := tx.InsertKey(ctx, newKey(id)); err != nil {
				return err
			}
		}
		return tx.InsertKey(ctx, newKey("key-050")) // taken
	})
	if keyward.ErrorCode(err) != keyward.ECONFLICT {
		h.t.Errorf("a call inserting a key that exists among %d others: %v, want ECONFLICT", n, err)
	}
	h.noKey("key-x000")
}

// A call that fails after holding writes back writes nothing, and its own
// error is the one returned.
func testCombinedWritesDroppedWithTheirCall(h *harness) {
	errOwn := errors.New("the call's own failure")
	err := h.s.Update(h.t.Context(), func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertKey(ctx, newKey("key-1")); err != nil {
			return err
		}
		if err := tx.InsertCredential(ctx, newCredential("key-1", keyward.LabelCurrent)); err != nil {
			return err
		}
		return errOwn
	})
	if !errors.Is(err, errOwn) {
		h.t.Errorf("Update: %v, want the call's own error", err)
	}
	h.noKey("key-1")
}

// Concurrent creates, every fifth reusing a digest in use: those fail with
// ECONFLICT and leave nothing; the others commit, each with its record.
func testCombinedWriteFailuresInABatch(h *harness) {
	taken := newCredential("key-taken", keyward.LabelCurrent)
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertKey(ctx, newKey("key-taken")); err != nil {
			return err
		}
		return tx.InsertCredential(ctx, taken)
	})
	const n = 60
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("key-%02d", i)
			errs[i] = h.s.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
				k := newKey(id)
				k.CreatedAt = time.Now().UTC()
				if err := tx.InsertKey(ctx, k); err != nil {
					return err
				}
				c := newCredential(id, keyward.LabelCurrent)
				if i%5 == 0 {
					c.Digest = taken.Digest
				}
				if err := tx.InsertCredential(ctx, c); err != nil {
					return err
				}
				return AppendNext(ctx, tx, id)
			})
		}()
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		id := fmt.Sprintf("key-%02d", i)
		switch {
		case i%5 == 0:
			if keyward.ErrorCode(err) != keyward.ECONFLICT {
				h.t.Errorf("%s (digest in use): %v, want ECONFLICT", id, err)
			}
			h.noKey(id)
		case err != nil:
			h.t.Errorf("%s: %v", id, err)
		default:
			ok++
		}
	}
	if got := h.head(); got != int64(ok) {
		h.t.Errorf("audit head %d, want one record per create that committed (%d)", got, ok)
	}
}

// noKey fails the test when key id exists.
func (h *harness) noKey(id string) {
	h.t.Helper()
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		if _, err := tx.GetKey(ctx, id); keyward.ErrorCode(err) != keyward.ENOTFOUND {
			h.t.Errorf("key %s: %v, want ENOTFOUND (it must not have been written)", id, err)
		}
		return nil
	})
}
