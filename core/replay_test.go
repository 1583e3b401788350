package core_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/keyward/keyward"
)

// replayStore runs every Update's fn twice: once in a transaction it then
// rolls back, as a backend may when the database calls a failure
// transient (PostgreSQL's serialization failures and deadlocks are
// retried), then for real. The Store contract says fn must not keep
// effects of an attempt that failed; this holds the services to it.
type replayStore struct{ keyward.Store }

var errReplay = errors.New("replayed: this attempt is rolled back")

func (s replayStore) Update(ctx context.Context, fn func(context.Context, keyward.Tx) error) error {
	err := s.Store.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
		if err := fn(ctx, tx); err != nil {
			return err
		}
		return errReplay
	})
	if !errors.Is(err, errReplay) {
		return err
	}
	return s.Store.Update(ctx, fn)
}

// TestImportKeysSurvivesARetriedTransaction: the IDs an import answers
// are those of the keys it wrote, once each, even when its transaction
// ran twice.
func TestImportKeysSurvivesARetriedTransaction(t *testing.T) {
	e := newEnvWithStore(t, func(s keyward.Store) keyward.Store { return replayStore{s} })
	var rows []keyward.KeyImportRow
	for i := range 5 {
		rows = append(rows, keyward.KeyImportRow{Line: i + 2, Name: fmt.Sprintf("k%d", i), Value: fmt.Sprintf("sk-replayed-import-value-%04d", i)})
	}
	out, err := e.svc.Keys.ImportKeys(e.admin, keyward.KeyImport{Rows: rows})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.KeyIDs) != len(rows) {
		t.Fatalf("import answered %d key IDs for %d rows: %v", len(out.KeyIDs), len(rows), out.KeyIDs)
	}
	for _, id := range out.KeyIDs {
		if _, err := e.svc.Keys.GetKey(e.admin, id); err != nil {
			t.Errorf("key %s the import answered: %v", id, err)
		}
	}
}
