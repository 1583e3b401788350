package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keyward/keyward"
)

// Concurrent Updates may share a transaction (group commit), but each one
// still succeeds or fails alone: a failing or panicking call leaves
// nothing behind, and its neighbours in the same commit are unaffected.
func testConcurrentCallsFailAlone(h *harness) {
	ctx := h.t.Context()
	errBoom := errors.New("boom")
	const n = 48
	var wg sync.WaitGroup
	results := make([]error, n)
	panics := make([]any, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			defer func() { panics[i] = recover() }()
			<-start
			results[i] = h.s.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
				now := time.Now().UTC()
				a := &keyward.API{ID: fmt.Sprintf("api_%02d", i), Name: fmt.Sprintf("api-%02d", i), CreatedAt: now, UpdatedAt: now,
					Stages: []keyward.Stage{{Name: "p", UpstreamURL: "http://127.0.0.1"}}}
				if err := tx.InsertAPI(ctx, a); err != nil {
					return err
				}
				switch i % 4 {
				case 1:
					return errBoom
				case 2:
					panic(fmt.Sprintf("panic %d", i))
				}
				return nil
			})
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if i%4 == 2 {
			if panics[i] != fmt.Sprintf("panic %d", i) {
				h.t.Errorf("call %d: panic %v was not passed on", i, panics[i])
			}
			continue
		}
		var want error
		if i%4 == 1 {
			want = errBoom
		}
		if !errors.Is(results[i], want) {
			h.t.Errorf("call %d: err %v, want %v", i, results[i], want)
		}
	}
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		for i := range n {
			_, err := tx.GetAPI(ctx, fmt.Sprintf("api_%02d", i))
			if kept := i%4 == 0 || i%4 == 3; kept != (err == nil) {
				h.t.Errorf("api %d: kept=%v but get err=%v", i, kept, err)
			}
		}
		return nil
	})
}

// Concurrent calls each append an audit record at the head they read;
// every third fails after appending. The store may answer the head from
// what an earlier call of the same transaction wrote, but never from what
// a failed call wrote: the records kept are numbered 1..k without a gap,
// one per successful call, and no call meets a conflict.
func testConcurrentAuditAppends(h *harness) {
	ctx := h.t.Context()
	errBoom := errors.New("boom")
	const n = 60
	var wg sync.WaitGroup
	results := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = h.s.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
				seq, err := tx.AuditHead(ctx)
				if err != nil {
					return err
				}
				if err := tx.AppendAudit(ctx, chain(seq+1, newEvent(fmt.Sprintf("call:%d", i), "u1", t0))); err != nil {
					return err
				}
				if i%3 == 1 {
					return errBoom
				}
				return nil
			})
		})
	}
	close(start)
	wg.Wait()
	kept := 0
	for i, err := range results {
		if i%3 == 1 {
			if !errors.Is(err, errBoom) {
				h.t.Errorf("call %d: err %v, want boom", i, err)
			}
			continue
		}
		if err != nil {
			h.t.Errorf("call %d: %v", i, err)
			continue
		}
		kept++
	}
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		head, err := tx.AuditHead(ctx)
		if err != nil {
			return err
		}
		if head != int64(kept) {
			h.t.Errorf("audit head %d after %d successful appends", head, kept)
		}
		recs, err := tx.ListAudit(ctx, keyward.AuditFilter{Limit: 1000})
		if err != nil {
			return err
		}
		for i, r := range recs {
			if r.Seq != int64(i+1) {
				h.t.Fatalf("record %d has seq %d: the log has a gap", i, r.Seq)
			}
		}
		return nil
	})
}

// Conflicts a caller handles and goes on from leave the transaction
// usable (on PostgreSQL a failed statement aborts the transaction unless
// it ran in a savepoint): a notice already given, a secret name taken (a
// retried create). Concurrent calls that share the commit are unaffected.
func testHandledConflictsLeaveTxUsable(h *harness) {
	ctx := h.t.Context()
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertNotice(ctx, keyward.EventKeyExpiring, "k1", t0, t0); err != nil {
			return err
		}
		return tx.InsertSecret(ctx, newSecret("taken"))
	})
	const n = 24
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = h.s.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
				if i%2 == 0 {
					if err := tx.InsertNotice(ctx, keyward.EventKeyExpiring, "k1", t0, t0); keyward.ErrorCode(err) != keyward.ECONFLICT {
						return fmt.Errorf("InsertNotice(again): %v, want conflict", err)
					}
					if err := tx.InsertSecret(ctx, newSecret("taken")); keyward.ErrorCode(err) != keyward.ECONFLICT {
						return fmt.Errorf("InsertSecret(taken): %v, want conflict", err)
					}
				}
				// The transaction goes on: a read and a write.
				if _, err := tx.GetSecret(ctx, "taken"); err != nil {
					return err
				}
				return tx.InsertSecret(ctx, newSecret(fmt.Sprintf("s%02d", i)))
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			h.t.Errorf("call %d: %v", i, err)
		}
	}
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		for i := range n {
			if _, err := tx.GetSecret(ctx, fmt.Sprintf("s%02d", i)); err != nil {
				h.t.Errorf("secret of call %d: %v", i, err)
			}
		}
		return nil
	})
}

// A caller that gives up while its write is still queued (behind a write
// that takes long, or waiting for the writers' lock) leaves at once with
// its context's error, and its write is never made; the write ahead of it
// commits as usual.
func testQueuedCallerLeavesOnCancel(h *harness) {
	ctx := h.t.Context()
	running, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- h.s.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
			close(running)
			<-release
			return tx.InsertSecret(ctx, newSecret("first"))
		})
	}()
	<-running
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	ran := make(chan struct{}, 1)
	err := h.s.Update(short, func(ctx context.Context, tx keyward.Tx) error {
		ran <- struct{}{}
		return tx.InsertSecret(ctx, newSecret("queued"))
	})
	close(release)
	if !errors.Is(err, context.DeadlineExceeded) {
		h.t.Errorf("a queued call whose context ended: %v, want %v", err, context.DeadlineExceeded)
	}
	if err := <-first; err != nil {
		h.t.Fatalf("the write ahead of it: %v", err)
	}
	select {
	case <-ran:
		h.t.Errorf("the queued call's fn ran after its caller left")
	default:
	}
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		if _, err := tx.GetSecret(ctx, "queued"); keyward.ErrorCode(err) != keyward.ENOTFOUND {
			h.t.Errorf("the queued call's write: %v, want not found", err)
		}
		_, err := tx.GetSecret(ctx, "first")
		return err
	})
}
