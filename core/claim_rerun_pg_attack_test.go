package core_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/core"
	"github.com/keyward/keyward/internal/testpg"
	"github.com/keyward/keyward/postgres"
)

// claim (core/rotate_resume.go) sets out = cur in its body and does not
// reset it when the body runs again. With the optimistic group commit a
// batch runs again when one of its calls fails, and on PostgreSQL the
// write lock is let go between the two attempts: another node may claim
// the rotation in between. The rerun then finds the rotation fresh
// (errNotDue, before out is set), yet claim returns the first attempt's
// rotation, and this node goes on to run a rotation another node runs.
func TestAttackClaimRerunOnPostgres(t *testing.T) {
	schema := testpg.Schema(t)
	open := func() *postgres.DB {
		db, err := postgres.Open(context.Background(), testpg.MachineURL(), postgres.WithSchema(schema), postgres.WithMaxConns(4))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	storeB, storeC := open(), open()
	releaseA := make(chan struct{})
	hooksA, heldA := pauseAfterCreate(releaseA)
	e := newEnvWith(t, func(keyward.Store) keyward.Store { return storeB }, hooksA)
	ctx := context.Background()
	ck := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k", Recoverable: true}))
	doneA := make(chan error, 1)
	go func() { _, err := e.svc.Rotations.RotateKey(e.admin, ck.Key.ID, keyward.KeyRotate{}); doneA <- err }()
	<-heldA
	rot := inProgressRotation(t, e, ck.Key.ID)

	var mu sync.Mutex
	ranOn := map[string]int{}
	hook := func(node string) core.Hooks {
		return core.Hooks{AfterStep: func(ctx context.Context, r *keyward.Rotation) {
			if r.ID == rot.ID {
				mu.Lock()
				ranOn[node]++
				mu.Unlock()
			}
		}}
	}
	cfgB := e.cfg
	cfgB.Hooks = hook("B")
	nodeB := core.New(cfgB)
	t.Cleanup(nodeB.Stop)
	cfgC := e.cfg
	cfgC.Store, cfgC.Hooks = storeC, hook("C")
	nodeC := core.New(cfgC)
	t.Cleanup(nodeC.Stop)
	e.clock.Advance(time.Minute)

	// Hold node C's writer so that its claim and a failing call form one batch.
	blockStarted, unblock := make(chan struct{}), make(chan struct{})
	go func() {
		_ = storeC.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { close(blockStarted); <-unblock; return nil })
	}()
	<-blockStarted
	passC := make(chan error, 1)
	go func() { passC <- nodeC.Rotations.SchedulePass(ctx) }()
	time.Sleep(300 * time.Millisecond) // C's claim is queued
	failing := make(chan struct{})
	var once sync.Once
	go func() {
		_ = storeC.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
			first := false
			once.Do(func() { close(failing); first = true })
			if first {
				time.Sleep(700 * time.Millisecond) // B's claim waits for the lock meanwhile
			}
			return errors.New("boom")
		})
	}()
	time.Sleep(100 * time.Millisecond)
	close(unblock)
	<-failing
	passB := make(chan error, 1)
	go func() { passB <- nodeB.Rotations.SchedulePass(ctx) }()
	t.Logf("pass C: %v; pass B: %v", <-passC, <-passB)
	close(releaseA)
	<-doneA
	final := getRotation(t, e, rot.ID)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("final: %s runner %q; ran on %v", final.State, final.Runner, ranOn)
	if ranOn["B"] > 0 && ranOn["C"] > 0 {
		t.Errorf("both B and C ran rotation %s: %v", rot.ID, ranOn)
	}
	var failed []string
	for _, ev := range e.auditEvents(t) {
		if ev.RequestParameters["rotationId"] == rot.ID && ev.ErrorCode != "" {
			failed = append(failed, ev.RequestParameters["step"].(string)+": "+ev.ErrorMessage)
		}
	}
	t.Logf("failed step records: %v", failed)
}
