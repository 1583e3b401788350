package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testpg"
	"github.com/keyward/keyward/postgres"
	"github.com/keyward/keyward/storetest"
)

// Two nodes on one schema, 320 goroutines, each call doing one of: a
// plain append, failing or panicking on its first run only, always
// failing after its append, inserting a key already taken (a held write
// that fails) and swallowing nothing, swallowing an append conflict
// (wrong Seq), reading the head twice around its own append and ListAudit
// after it, or having its context cancelled before Update. Afterwards:
// the log is 1..N without gap, exactly one record per committed call that
// appended one and none for the others, and each committed call's key is
// the one of its committed run.
func TestAttackTwoNodeChaos(t *testing.T) {
	schema := testpg.Schema(t)
	ctx := context.Background()
	var nodes [2]*postgres.DB
	for i := range nodes {
		db, err := postgres.Open(ctx, testpg.MachineURL(), postgres.WithSchema(schema), postgres.WithMaxConns(6))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		nodes[i] = db
	}
	mustUpdate(t, nodes[0], func(ctx context.Context, tx keyward.Tx) error { return tx.InsertKey(ctx, hbKey("taken")) })

	const goroutines, iters = 320, 6
	type outcome struct {
		name     string
		kind     int
		err      error
		panicked any
		runs     int32
		ran      bool // fn ran at all
	}
	var mu sync.Mutex
	var outs []*outcome
	var invariant atomic.Value // first broken in-call invariant
	errInvariant := errors.New("in-call invariant broken")
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range goroutines {
		wg.Go(func() {
			<-start
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for i := range iters {
				o := &outcome{name: fmt.Sprintf("g%03d-i%d", g, i), kind: rng.IntN(9)}
				mu.Lock()
				outs = append(outs, o)
				mu.Unlock()
				db := nodes[(g+i)%2]
				cctx := ctx
				if o.kind == 8 {
					c, cancel := context.WithCancel(ctx)
					cancel()
					cctx = c
				}
				var runs atomic.Int32
				func() {
					defer func() { o.panicked = recover() }()
					o.err = db.Update(cctx, func(ctx context.Context, tx keyward.Tx) error {
						run := runs.Add(1)
						o.ran = true
						if err := tx.InsertKey(ctx, hbKey(fmt.Sprintf("%s-r%d", o.name, run))); err != nil {
							return err
						}
						switch o.kind {
						case 4: // a key already taken: ECONFLICT, never a record
							if err := tx.InsertKey(ctx, hbKey("taken")); err != nil {
								return err
							}
							return storetest.AppendNext(ctx, tx, o.name)
						case 5: // a wrong Seq, swallowed: no record, commits
							h, err := tx.AuditHead(ctx)
							if err != nil {
								return err
							}
							rec := &keyward.AuditRecord{Seq: h + 2, Hash: "x", Event: json.RawMessage(`{"eventName":"` + o.name + `"}`)}
							if err := tx.AppendAudit(ctx, rec); keyward.ErrorCode(err) != keyward.ECONFLICT {
								// (a pass thrown away may say otherwise: see
								// TestAttackBystanderToldOfHeldFailure)
								return fmt.Errorf("AppendAudit(head+2) = %w, want ECONFLICT", err)
							}
							return nil
						}
						h1, err := tx.AuditHead(ctx)
						if err != nil {
							return err
						}
						if err := storetest.AppendNext(ctx, tx, o.name); err != nil {
							return err
						}
						if o.kind == 6 {
							h2, err := tx.AuditHead(ctx)
							if err != nil {
								return err
							}
							recs, err := tx.ListAudit(ctx, keyward.AuditFilter{Descending: true, Limit: 1})
							if err != nil {
								return err
							}
							if h2 != h1+1 || len(recs) != 1 || recs[0].Seq != h2 || !json.Valid(recs[0].Event) ||
								!containsName(recs[0].Event, o.name) {
								invariant.CompareAndSwap(nil, fmt.Sprintf("%s: head %d then %d, last record %v", o.name, h1, h2, recs))
								return errInvariant
							}
						}
						switch {
						case o.kind == 1 && run == 1:
							return errUnrelated
						case o.kind == 2 && run == 1:
							panic("first run")
						case o.kind == 3:
							return errUnrelated
						case o.kind == 7 && run == 1:
							time.Sleep(time.Millisecond) // hold the batch a little
						}
						return nil
					})
				}()
				o.runs = runs.Load()
			}
		})
	}
	close(start)
	wg.Wait()
	if v := invariant.Load(); v != nil {
		t.Error(v)
	}

	// What each call was told, and what it must have left.
	wantRecord := map[string]bool{}
	committedKeys := 0
	for _, o := range outs {
		switch o.kind {
		case 8:
			if o.ran || !errors.Is(o.err, context.Canceled) {
				t.Errorf("%s cancelled before Update: ran %v, err %v", o.name, o.ran, o.err)
			}
			continue
		case 3:
			if !errors.Is(o.err, errUnrelated) || o.panicked != nil {
				t.Errorf("%s: %v / %v, want its own error", o.name, o.err, o.panicked)
			}
		case 4:
			if keyward.ErrorCode(o.err) != keyward.ECONFLICT {
				t.Errorf("%s: %v / %v, want ECONFLICT", o.name, o.err, o.panicked)
			}
		case 2:
			if o.runs == 1 && o.panicked == nil {
				t.Errorf("%s ran once, panicked, yet its caller got %v", o.name, o.err)
			}
			if o.runs > 1 && (o.panicked != nil || o.err != nil) {
				t.Errorf("%s ran %d times: err %v panic %v", o.name, o.runs, o.err, o.panicked)
			}
		case 1:
			if o.runs == 1 && !errors.Is(o.err, errUnrelated) {
				t.Errorf("%s ran once, failed, yet its caller got %v", o.name, o.err)
			}
			if o.runs > 1 && o.err != nil {
				t.Errorf("%s ran %d times: err %v", o.name, o.runs, o.err)
			}
		default:
			if o.err != nil || o.panicked != nil {
				t.Errorf("%s (kind %d): err %v panic %v", o.name, o.kind, o.err, o.panicked)
			}
		}
		ok := o.err == nil && o.panicked == nil
		if ok && o.kind != 5 {
			wantRecord[o.name] = true
		}
		for r := int32(1); r <= o.runs; r++ {
			present := keyExists(t, nodes[1], fmt.Sprintf("%s-r%d", o.name, r))
			if present != (ok && r == o.runs) {
				t.Errorf("%s (kind %d, ok %v): key of run %d/%d present %v", o.name, o.kind, ok, r, o.runs, present)
			}
			if present {
				committedKeys++
			}
		}
	}

	var all []*keyward.AuditRecord
	if err := nodes[1].View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		all = all[:0]
		after := int64(0)
		for {
			recs, err := tx.ListAudit(ctx, keyward.AuditFilter{AfterSeq: after, Limit: 1000})
			if err != nil {
				return err
			}
			if len(recs) == 0 {
				return nil
			}
			all = append(all, recs...)
			after = recs[len(recs)-1].Seq
		}
	}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int64{}
	for i, r := range all {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d: a gap", i+1, r.Seq)
		}
		var ev struct {
			EventName string `json:"eventName"`
		}
		_ = json.Unmarshal(r.Event, &ev)
		if prev, dup := seen[ev.EventName]; dup {
			t.Errorf("%s has records %d and %d", ev.EventName, prev, r.Seq)
		}
		seen[ev.EventName] = r.Seq
		if !wantRecord[ev.EventName] {
			t.Errorf("record %d for %s, which did not commit an append", r.Seq, ev.EventName)
		}
	}
	for name := range wantRecord {
		if _, ok := seen[name]; !ok {
			t.Errorf("%s committed but has no record", name)
		}
	}
	t.Logf("%d calls, %d records, %d committed keys", len(outs), len(all), committedKeys)
}

func containsName(event json.RawMessage, name string) bool {
	var ev struct {
		EventName string `json:"eventName"`
	}
	return json.Unmarshal(event, &ev) == nil && ev.EventName == name
}
