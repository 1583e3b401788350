package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// AppendNext appends a record of a test event named name after the head of
// tx's audit log: for tests of the stores that write the log concurrently.
func AppendNext(ctx context.Context, tx keyward.Tx, name string) error {
	head, err := tx.AuditHead(ctx)
	if err != nil {
		return err
	}
	return tx.AppendAudit(ctx, chain(head+1, newEvent(name, "u1", time.Now().UTC())))
}

// attackBatchMix: many concurrent calls (more than one batch holds), each
// inserting its key, probing an attach that conflicts (execProbe's own
// savepoint), appending one or two audit records, and then succeeding,
// failing, panicking, or having been cancelled before it ran. Each call
// must succeed or fail alone; the audit log must have no gap and exactly
// the records of successful calls.
func attackBatchMix(t *testing.T, s keyward.Store, n int) {
	ctx := context.Background()
	now := time.Now().UTC()
	err := s.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertPlan(ctx, &keyward.UsagePlan{ID: "plan_shared", Name: "shared", CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		if err := tx.InsertKey(ctx, &keyward.APIKey{ID: "key_shared", Name: "shared", Enabled: true, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		if err := tx.AttachKey(ctx, "plan_shared", "key_shared"); err != nil {
			return err
		}
		return AppendNext(ctx, tx, "setup")
	})
	if err != nil {
		t.Fatal(err)
	}
	errBoom := errors.New("boom")
	results := make([]error, n)
	panics := make([]any, n)
	ran := make([]bool, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { panics[i] = recover() }()
			cctx := ctx
			if i%11 == 5 {
				c, cancel := context.WithCancel(ctx)
				cancel()
				cctx = c
			}
			<-start
			results[i] = s.Update(cctx, func(ctx context.Context, tx keyward.Tx) error {
				ran[i] = true
				id := fmt.Sprintf("key_%04d", i)
				if err := tx.InsertKey(ctx, &keyward.APIKey{ID: id, Name: id, Enabled: true, CreatedAt: now, UpdatedAt: now}); err != nil {
					return err
				}
				if err := tx.AttachKey(ctx, "plan_shared", "key_shared"); keyward.ErrorCode(err) != keyward.ECONFLICT {
					return fmt.Errorf("attach again: %v", err)
				}
				if err := tx.AttachKey(ctx, "plan_shared", id); err != nil {
					return err
				}
				if err := AppendNext(ctx, tx, id+"/1"); err != nil {
					return err
				}
				switch i % 5 {
				case 1:
					return errBoom
				case 2:
					panic(id)
				case 3, 4:
					if err := AppendNext(ctx, tx, id+"/2"); err != nil {
						return err
					}
					if i%5 == 3 {
						return errBoom
					}
				}
				return nil
			})
		}()
	}
	close(start)
	wg.Wait()
	wantRecords := map[string]bool{"setup": true}
	kept := map[string]bool{}
	for i := range n {
		id := fmt.Sprintf("key_%04d", i)
		switch {
		case i%11 == 5:
			if !errors.Is(results[i], context.Canceled) || ran[i] {
				t.Errorf("call %d (cancelled): err %v, ran %v", i, results[i], ran[i])
			}
		case i%5 == 2:
			if panics[i] != id {
				t.Errorf("call %d: panic %v not passed on (err %v)", i, panics[i], results[i])
			}
		case i%5 == 1 || i%5 == 3:
			if !errors.Is(results[i], errBoom) {
				t.Errorf("call %d: err %v, want boom", i, results[i])
			}
		default:
			if results[i] != nil {
				t.Errorf("call %d: %v", i, results[i])
				continue
			}
			kept[id] = true
			wantRecords[id+"/1"] = true
			if i%5 == 4 {
				wantRecords[id+"/2"] = true
			}
		}
	}
	err = s.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		for i := range n {
			id := fmt.Sprintf("key_%04d", i)
			_, err := tx.GetKey(ctx, id)
			if kept[id] != (err == nil) {
				t.Errorf("key %s: kept=%v, get: %v", id, kept[id], err)
			}
		}
		head, err := tx.AuditHead(ctx)
		if err != nil {
			return err
		}
		if head != int64(len(wantRecords)) {
			t.Errorf("audit head %d, want %d", head, len(wantRecords))
		}
		var after int64
		for {
			recs, err := tx.ListAudit(ctx, keyward.AuditFilter{AfterSeq: after, Limit: 1000})
			if err != nil {
				return err
			}
			if len(recs) == 0 {
				break
			}
			for _, r := range recs {
				if r.Seq != after+1 {
					t.Fatalf("gap: record %d after %d", r.Seq, after)
				}
				after = r.Seq
				var ev keyward.AuditEvent
				_ = json.Unmarshal(r.Event, &ev)
				if !wantRecords[ev.EventName] {
					t.Errorf("record %d (%s) should not be there", r.Seq, ev.EventName)
				}
				delete(wantRecords, ev.EventName)
			}
		}
		if len(wantRecords) != 0 {
			t.Errorf("records missing: %v", wantRecords)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
