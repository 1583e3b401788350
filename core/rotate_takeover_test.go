package core_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/core"
)

// pauseAfterCreate returns hooks that hold the first rotation reaching
// StepCreate until release is closed, and a channel closed when it is held.
func pauseAfterCreate(release <-chan struct{}) (core.Hooks, <-chan struct{}) {
	held := make(chan struct{})
	var once sync.Once
	return core.Hooks{AfterStep: func(ctx context.Context, r *keyward.Rotation) {
		if r.Step == keyward.StepCreate {
			once.Do(func() { close(held); <-release })
		}
	}}, held
}

// TestStaleRotationTakeoverFencesTheFormerRunner: the attack is time. Node
// A starts a rotation and stalls (a long GC pause, a network partition)
// past the stale bound; node B takes the rotation over. When A comes back
// it must neither advance the rotation nor roll back what B is completing:
// the step it tries fails with ECONFLICT, the roll back that follows is a
// no-op, and B finishes the rotation, each step exactly once in the audit
// log.
func TestStaleRotationTakeoverFencesTheFormerRunner(t *testing.T) {
	releaseA, releaseB := make(chan struct{}), make(chan struct{})
	hooksA, heldA := pauseAfterCreate(releaseA)
	e := newEnvWithHooks(t, hooksA)
	ctx := context.Background()
	ck := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k", Recoverable: true}))

	doneA := make(chan error, 1)
	go func() { _, err := e.svc.Rotations.RotateKey(e.admin, ck.Key.ID, keyward.KeyRotate{}); doneA <- err }()
	<-heldA
	rot := inProgressRotation(t, e, ck.Key.ID)

	// Node B: another process on the same store, past the stale bound.
	cfgB := e.cfg
	hooksB, heldB := pauseAfterCreate(releaseB)
	cfgB.Hooks = hooksB
	nodeB := core.New(cfgB)
	t.Cleanup(nodeB.Stop)
	e.clock.Advance(time.Minute)
	doneB := make(chan error, 1)
	go func() { doneB <- nodeB.Rotations.SchedulePass(ctx) }()
	<-heldB

	// A comes back: its next step meets B as the runner.
	close(releaseA)
	errA := <-doneA
	wantCode(t, errA, keyward.ECONFLICT)
	if got := inProgressRotation(t, e, ck.Key.ID); got == nil || got.ID != rot.ID {
		t.Fatalf("after the former runner came back the rotation is %+v, want %s still IN_PROGRESS", got, rot.ID)
	}
	if _, ok := labels(t, e, ck.Key.ID)[keyward.LabelPending]; !ok {
		t.Fatal("the former runner took the PENDING credential away from the new runner")
	}

	close(releaseB)
	if err := <-doneB; err != nil {
		t.Fatal(err)
	}
	var final *keyward.Rotation
	err := e.store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		var err error
		final, err = tx.GetRotation(ctx, rot.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if final.State != keyward.RotationSucceeded {
		t.Fatalf("rotation ended %s (%s), want SUCCEEDED", final.State, final.Error)
	}
	if got := labels(t, e, ck.Key.ID)[keyward.LabelCurrent].ID; got != rot.PendingID {
		t.Errorf("CURRENT is %s, want the rotation's new credential %s", got, rot.PendingID)
	}
	steps := map[string]int{}
	for _, ev := range e.auditEvents(t) {
		// Failed attempts are audited too (the former runner's refused
		// step among them); count what was done.
		if ev.RequestParameters["rotationId"] == rot.ID && ev.ErrorCode == "" {
			step, _ := ev.RequestParameters["step"].(string)
			steps[step]++
		}
	}
	want := map[string]int{"takeOver": 1, string(keyward.StepSet): 1, string(keyward.StepTest): 1, string(keyward.StepFinish): 1}
	for step, n := range want {
		if steps[step] != n {
			t.Errorf("audit records of step %s: %d, want %d (all: %v)", step, steps[step], n, steps)
		}
	}
	if steps["rollBack"] != 0 {
		t.Errorf("a roll back was audited: %v", steps)
	}
}

// TestLiveRotationIsNotTakenOver: a runner that keeps touching its
// rotation keeps it, however old the rotation is.
func TestLiveRotationIsNotTakenOver(t *testing.T) {
	release := make(chan struct{})
	hooks, held := pauseAfterCreate(release)
	e := newEnvWithHooks(t, hooks)
	ctx := context.Background()
	ck := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k", Recoverable: true}))
	done := make(chan error, 1)
	go func() { _, err := e.svc.Rotations.RotateKey(e.admin, ck.Key.ID, keyward.KeyRotate{}); done <- err }()
	<-held
	rot := inProgressRotation(t, e, ck.Key.ID)

	nodeB := core.New(e.cfg)
	t.Cleanup(nodeB.Stop)
	for range 3 { // an hour of heartbeats, the other node sweeping
		e.clock.Advance(20 * time.Second)
		err := e.store.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
			return tx.TouchRotation(ctx, rot.ID, rot.Runner, e.clock.Now())
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := nodeB.Rotations.SchedulePass(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := inProgressRotation(t, e, ck.Key.ID); got == nil || got.Runner != rot.Runner {
		t.Fatalf("a live rotation changed runner: %+v", got)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the runner could not finish its own rotation: %v", err)
	}
}

func inProgressRotation(t *testing.T, e *env, keyID string) *keyward.Rotation {
	t.Helper()
	var out *keyward.Rotation
	err := e.store.View(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
		rots, _, err := tx.ListRotations(ctx, keyward.RotationFilter{Kind: keyward.RotationKey, Target: keyID, State: keyward.RotationInProgress})
		if len(rots) > 0 {
			out = rots[0]
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
