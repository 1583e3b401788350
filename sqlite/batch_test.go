package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// Concurrent Updates share commits (group commit), but each one still
// succeeds or fails alone: a failing or panicking call leaves nothing
// behind, and its neighbours in the same commit are unaffected.
func TestGroupCommitIsolatesCalls(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "k.db"))
	ctx := context.Background()
	errBoom := errors.New("boom")
	const n = 48
	var wg sync.WaitGroup
	results := make([]error, n)
	panics := make([]any, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { panics[i] = recover() }()
			<-start
			results[i] = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
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
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		var want error
		if i%4 == 1 {
			want = errBoom
		}
		if i%4 == 2 {
			if panics[i] != fmt.Sprintf("panic %d", i) {
				t.Errorf("call %d: panic %v was not passed on", i, panics[i])
			}
			continue
		}
		if !errors.Is(results[i], want) {
			t.Errorf("call %d: err %v, want %v", i, results[i], want)
		}
	}
	err := db.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		for i := range n {
			_, err := tx.GetAPI(ctx, fmt.Sprintf("api_%02d", i))
			kept := i%4 == 0 || i%4 == 3
			if kept != (err == nil) {
				t.Errorf("api %d: kept=%v but get err=%v", i, kept, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A caller whose context is already cancelled is not run at all.
func TestGroupCommitCancelledCaller(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "k.db"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := db.Update(ctx, func(context.Context, keyward.Tx) error { ran = true; return nil })
	if !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("err %v ran %v", err, ran)
	}
}
