package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testpg"
	"github.com/keyward/keyward/postgres"
)

// The optimistic group commit (ebdb794) runs a batch's calls again, each
// in a savepoint, when one of them fails. A call's op (core/call.go) is
// made once per call, outside the transaction, and its memo of resolved
// stages and plans outlives the attempt that was rolled back. Batch:
// [CreateAPI svc, CreateKey bound to svc/prod, a call that fails]. The
// first attempt memoizes svc's ID from that attempt; the rerun creates svc
// under a new ID, and the key commits bound to the ID of an API that was
// never committed.
func TestAttackMemoOutlivesRolledBackAttempt(t *testing.T) {
	attackMemo(t, newEnvWithStore(t, func(s keyward.Store) keyward.Store { return s })) // no replay wrapper: the batcher alone
}

func TestAttackMemoOutlivesRolledBackAttemptPostgres(t *testing.T) {
	pg, err := postgres.Open(context.Background(), testpg.MachineURL(), postgres.WithSchema(testpg.Schema(t)), postgres.WithMaxConns(4))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	attackMemo(t, newEnvWithStore(t, func(keyward.Store) keyward.Store { return pg }))
}

func attackMemo(t *testing.T, e *env) {
	ctx := context.Background()
	started, release := make(chan struct{}), make(chan struct{})
	blockerDone := make(chan error, 1)
	go func() {
		blockerDone <- e.store.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started // the writer is busy: what comes next queues into one batch
	type apiRes struct {
		a   *keyward.API
		err error
	}
	type keyRes struct {
		k   *keyward.CreatedKey
		err error
	}
	apiC, keyC, failC := make(chan apiRes, 1), make(chan keyRes, 1), make(chan error, 1)
	go func() {
		a, err := e.svc.APIs.CreateAPI(e.admin, keyward.APICreate{Name: "svc", Stages: []keyward.Stage{{Name: "prod", UpstreamURL: "http://127.0.0.1:9"}}})
		apiC <- apiRes{a, err}
	}()
	time.Sleep(150 * time.Millisecond)
	go func() {
		k, err := e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k", StageKeys: []keyward.StageKey{{APIID: "svc", Stage: "prod"}}})
		keyC <- keyRes{k, err}
	}()
	time.Sleep(150 * time.Millisecond)
	go func() {
		failC <- e.store.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return errors.New("boom") })
	}()
	time.Sleep(150 * time.Millisecond)
	close(release)
	if err := <-blockerDone; err != nil {
		t.Fatal(err)
	}
	ar, kr := <-apiC, <-keyC
	<-failC
	if ar.err != nil || kr.err != nil {
		t.Fatalf("CreateAPI: %v; CreateKey: %v (the calls did not form the intended batch?)", ar.err, kr.err)
	}
	var stored *keyward.APIKey
	var apiErr error
	err := e.store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		var err error
		if stored, err = tx.GetKey(ctx, kr.k.Key.ID); err != nil {
			return err
		}
		_, apiErr = tx.GetAPI(ctx, stored.StageKeys[0].APIID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := stored.StageKeys[0].APIID; got != ar.a.ID || apiErr != nil {
		t.Errorf("the key is bound to API %s (get: %v); the API svc is %s", got, apiErr, ar.a.ID)
	}
}
