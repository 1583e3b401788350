package core_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testpg"
	"github.com/keyward/keyward/postgres"
)

// On PostgreSQL, a scheduler pass that meets a key whose expiry notice was
// already given (every pass after the first, for a day) makes its notice
// write "succeed" on an aborted transaction: the pass errs, and admin
// writes sharing the batch fail.
func TestAttackNoticeOnPostgres(t *testing.T) {
	pg, err := postgres.Open(context.Background(), testpg.MachineURL(), postgres.WithSchema(testpg.Schema(t)), postgres.WithMaxConns(4))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	e := newEnvWithStore(t, func(keyward.Store) keyward.Store { return pg })
	ctx := context.Background()
	exp := e.clock.Now().Add(2 * time.Hour)
	for i := range 5 {
		must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: fmt.Sprint("expiring", i), ExpiresAt: &exp}))
	}
	if err := e.svc.Rotations.SchedulePass(ctx); err != nil {
		t.Fatalf("first pass: %v", err)
	}
	if err := e.svc.Rotations.SchedulePass(ctx); err != nil {
		t.Errorf("second pass (notices already given): %v", err)
	}
	// Admin writes while passes run.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = e.svc.Rotations.SchedulePass(ctx)
		}
	}()
	failed := 0
	for i := range 200 {
		if _, err := e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: fmt.Sprint("k", i)}); err != nil {
			failed++
			if failed == 1 {
				t.Errorf("CreateKey during scheduler passes: %v", err)
			}
		}
	}
	close(stop)
	wg.Wait()
	if failed > 0 {
		t.Errorf("%d of 200 CreateKey calls failed", failed)
	}
}

// Aside (code not in the reviewed range): CreateSecret's replay of a retry
// (same name, token and value) continues after InsertSecret's conflict in
// the same transaction; on PostgreSQL that transaction is aborted.
func TestAttackCreateSecretReplayOnPostgres(t *testing.T) {
	pg, err := postgres.Open(context.Background(), testpg.MachineURL(), postgres.WithSchema(testpg.Schema(t)), postgres.WithMaxConns(4))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	e := newEnvWithStore(t, func(keyward.Store) keyward.Store { return pg })
	in := keyward.SecretCreate{Name: "vendor", Value: []byte("v1"), ClientToken: "tok-1"}
	first := must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, in))
	again, err := e.svc.Secrets.CreateSecret(e.admin, in)
	if err != nil || again.VersionID != first.VersionID {
		t.Errorf("replayed CreateSecret: %+v, %v; want version %s", again, err, first.VersionID)
	}
}

func TestAttackCreateSecretReplayOnSQLite(t *testing.T) {
	e := newEnv(t)
	in := keyward.SecretCreate{Name: "vendor", Value: []byte("v1"), ClientToken: "tok-1"}
	first := must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, in))
	again, err := e.svc.Secrets.CreateSecret(e.admin, in)
	if err != nil || again.VersionID != first.VersionID {
		t.Errorf("replayed CreateSecret: %+v, %v; want version %s", again, err, first.VersionID)
	}
}
