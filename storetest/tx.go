package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keyward/keyward"
)

var idempotencyTests = []test{
	{"PutGet", testIdempotency},
}

var txTests = []test{
	{"Ping", testPing},
	{"RollbackOnError", testRollbackOnError},
	{"RollbackOnPanic", testRollbackOnPanic},
	{"ViewIsReadOnly", testViewIsReadOnly},
	{"NoDirtyReads", testNoDirtyReads},
	{"ConcurrentUpdates", testConcurrentUpdates},
	{"ConcurrentCallsFailAlone", testConcurrentCallsFailAlone},
	{"ConcurrentAuditAppends", testConcurrentAuditAppends},
	{"HandledConflictsLeaveTxUsable", testHandledConflictsLeaveTxUsable},
	{"QueuedCallerLeavesOnCancel", testQueuedCallerLeavesOnCancel},
	{"AttackBatchMix", func(h *harness) { attackBatchMix(h.t, h.s, 300) }},
}

func testIdempotency(h *harness) {
	r := &keyward.IdempotencyRecord{
		Scope:      string(keyward.ActionKeyCreate),
		Token:      "token-1",
		RequestMAC: digest("request"),
		Response:   json.RawMessage(`{"key": {"id":"k1"} , "z":[1,2]}`),
		CreatedAt:  t0.In(paris),
	}
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.PutIdempotency(ctx, r) })
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.GetIdempotency(ctx, r.Scope, r.Token)
		if err != nil {
			return err
		}
		h.equal("GetIdempotency", got, r)
		return nil
	})
	again := *r
	again.RequestMAC = digest("other request")
	h.expect(keyward.ECONFLICT, "PutIdempotency(same scope and token)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.PutIdempotency(ctx, &again)
	})
	other := *r
	other.Scope = string(keyward.ActionSecretPut)
	h.expect("", "PutIdempotency(same token, other scope)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.PutIdempotency(ctx, &other)
	})
	h.expect(keyward.ENOTFOUND, "GetIdempotency(unknown token)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetIdempotency(ctx, r.Scope, "token-2")
		return err
	})
}

func testPing(h *harness) {
	if err := h.s.Ping(h.t.Context()); err != nil {
		h.t.Errorf("Ping: %v", err)
	}
}

// writeSome inserts a key with a credential, a secret and an audit record:
// rows in several tables, to check that none of them stays after a rollback.
func writeSome(ctx context.Context, tx keyward.Tx) error {
	if err := tx.InsertKey(ctx, newKey("k1")); err != nil {
		return err
	}
	if err := tx.InsertCredential(ctx, newCredential("k1", keyward.LabelCurrent)); err != nil {
		return err
	}
	if err := tx.InsertSecret(ctx, newSecret("s1")); err != nil {
		return err
	}
	return tx.AppendAudit(ctx, chain(1, newEvent("apikeys:Create", "u1", t0)))
}

// checkNothingWritten checks that nothing of writeSome is in the store.
func (h *harness) checkNothingWritten(what string) {
	h.t.Helper()
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		if _, err := tx.GetKey(ctx, "k1"); keyward.ErrorCode(err) != keyward.ENOTFOUND {
			h.t.Errorf("%s: GetKey: %v, want not found", what, err)
		}
		if _, err := tx.FindCredential(ctx, newCredential("k1", keyward.LabelCurrent).Digest); keyward.ErrorCode(err) != keyward.ENOTFOUND {
			h.t.Errorf("%s: FindCredential: %v, want not found", what, err)
		}
		if _, err := tx.GetSecret(ctx, "s1"); keyward.ErrorCode(err) != keyward.ENOTFOUND {
			h.t.Errorf("%s: GetSecret: %v, want not found", what, err)
		}
		if seq, err := tx.AuditHead(ctx); err != nil || seq != 0 {
			h.t.Errorf("%s: AuditHead: %d, %v; want 0", what, seq, err)
		}
		return nil
	})
}

func testRollbackOnError(h *harness) {
	errStop := errors.New("stop")
	err := h.s.Update(h.t.Context(), func(ctx context.Context, tx keyward.Tx) error {
		if err := writeSome(ctx, tx); err != nil {
			return err
		}
		return errStop
	})
	if !errors.Is(err, errStop) {
		h.t.Errorf("Update: %v, want the error fn returned", err)
	}
	h.checkNothingWritten("after an error")

	// A store error half way (here a conflict) undoes what came before.
	err = h.s.Update(h.t.Context(), func(ctx context.Context, tx keyward.Tx) error {
		if err := writeSome(ctx, tx); err != nil {
			return err
		}
		return tx.InsertKey(ctx, newKey("k1"))
	})
	if keyward.ErrorCode(err) != keyward.ECONFLICT {
		h.t.Errorf("Update: %v, want the conflict", err)
	}
	h.checkNothingWritten("after a conflict")

	// The store is usable afterwards.
	h.do(writeSome)
}

func testRollbackOnPanic(h *harness) {
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				h.t.Errorf("recovered %v, want the panic of fn", p)
			}
		}()
		_ = h.s.Update(h.t.Context(), func(ctx context.Context, tx keyward.Tx) error {
			if err := writeSome(ctx, tx); err != nil {
				return err
			}
			panic("boom")
		})
		h.t.Errorf("Update returned after fn panicked")
	}()
	h.checkNothingWritten("after a panic")

	// The write transaction was released: the store is usable afterwards.
	ctx, cancel := context.WithTimeout(h.t.Context(), 10*time.Second)
	defer cancel()
	if err := h.s.Update(ctx, writeSome); err != nil {
		h.t.Fatalf("Update after a panic: %v", err)
	}
}

func testViewIsReadOnly(h *harness) {
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.InsertKey(ctx, newKey("k1")) })
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetKey(ctx, "k1")
		return err
	})
	err := h.s.View(h.t.Context(), func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertKey(ctx, newKey("k2"))
	})
	if err == nil {
		h.t.Errorf("InsertKey in View: no error")
	}
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		if _, err := tx.GetKey(ctx, "k2"); keyward.ErrorCode(err) != keyward.ENOTFOUND {
			h.t.Errorf("GetKey(written in View): %v, want not found", err)
		}
		return nil
	})
}

// testNoDirtyReads reads, from a View, while an Update that has written is
// still open (and then rolls back): the View must not see the write, whether
// it runs alongside the Update or waits for it.
func testNoDirtyReads(h *harness) {
	errAbort := errors.New("abort")
	written := make(chan struct{})
	viewed := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		err := h.s.Update(h.t.Context(), func(ctx context.Context, tx keyward.Tx) error {
			if err := tx.InsertKey(ctx, newKey("k1")); err != nil {
				return err
			}
			close(written)
			select {
			case <-viewed:
			case <-time.After(200 * time.Millisecond): // the View waits for this Update
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			h.t.Errorf("Update: %v", err)
		}
	})
	<-written
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		if _, err := tx.GetKey(ctx, "k1"); keyward.ErrorCode(err) != keyward.ENOTFOUND {
			h.t.Errorf("GetKey(written by an open Update): %v, want not found", err)
		}
		return nil
	})
	close(viewed)
	wg.Wait()
}

// testConcurrentUpdates has writers race to extend the audit chain, each
// reading the head and appending after it, while readers watch the head. If
// read-write transactions were not serialized, appends would conflict or be
// lost.
func testConcurrentUpdates(h *harness) {
	const writers, appends = 8, 50
	ctx := h.t.Context()
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			for i := range appends {
				err := h.s.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
					seq, err := tx.AuditHead(ctx)
					if err != nil {
						return err
					}
					ev := newEvent("apikeys:Create", fmt.Sprintf("w%d", w), at(time.Duration(i)*time.Second))
					return tx.AppendAudit(ctx, chain(seq+1, ev))
				})
				if err != nil {
					h.t.Errorf("writer %d, append %d: %v", w, i, err)
					return
				}
			}
		})
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			last := int64(0)
			for {
				select {
				case <-done:
					return
				default:
				}
				err := h.s.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
					seq, err := tx.AuditHead(ctx)
					if err != nil {
						return err
					}
					if seq < last {
						h.t.Errorf("AuditHead went back from %d to %d", last, seq)
					}
					last = seq
					return nil
				})
				if err != nil {
					h.t.Errorf("View: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()

	h.read(func(ctx context.Context, tx keyward.Tx) error {
		rs, err := tx.ListAudit(ctx, keyward.AuditFilter{Limit: 1000})
		if err != nil {
			return err
		}
		if len(rs) != writers*appends {
			h.t.Errorf("%d records, want %d", len(rs), writers*appends)
		}
		perWriter := map[string]int{}
		for i, r := range rs {
			if r.Seq != int64(i+1) || r.Hash != chain(r.Seq, r.Event).Hash {
				h.t.Fatalf("record %d: seq %d, hash %q; want seq %d with its event's leaf hash", i, r.Seq, r.Hash, i+1)
			}
			var ev keyward.AuditEvent
			if err := json.Unmarshal(r.Event, &ev); err != nil {
				return err
			}
			perWriter[ev.UserIdentity.PrincipalID]++
		}
		for w := range writers {
			if n := perWriter[fmt.Sprintf("w%d", w)]; n != appends {
				h.t.Errorf("writer %d: %d records, want %d", w, n, appends)
			}
		}
		return nil
	})
}
