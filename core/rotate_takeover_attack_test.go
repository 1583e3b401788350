package core_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/core"
)

// stepCounts counts the successful audit records of rotation id, by step.
func stepCounts(t *testing.T, e *env, id string) map[string]int {
	steps := map[string]int{}
	for _, ev := range e.auditEvents(t) {
		if ev.RequestParameters["rotationId"] == id && ev.ErrorCode == "" {
			step, _ := ev.RequestParameters["step"].(string)
			steps[step]++
		}
	}
	return steps
}

func getRotation(t *testing.T, e *env, id string) *keyward.Rotation {
	var r *keyward.Rotation
	err := e.store.View(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
		var err error
		r, err = tx.GetRotation(ctx, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// holdRotator is a rotator whose first createSecret call (the former
// runner's) does its work, then waits for release before answering with
// status.
type holdRotator struct {
	e       *env
	srv     *httptest.Server
	id      string
	mu      sync.Mutex
	calls   int
	held    chan struct{}
	release chan struct{}
	status  int
	steps   []string
	after   bool // released: every answer is status
}

func newHoldRotator(t *testing.T, e *env, status int) *holdRotator {
	r := &holdRotator{e: e, held: make(chan struct{}), release: make(chan struct{}), status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var in struct {
			Step  keyward.RotationStep `json:"step"`
			Name  string               `json:"secretId"`
			Token string               `json:"clientRequestToken"`
		}
		_ = json.Unmarshal(body, &in)
		r.mu.Lock()
		r.steps = append(r.steps, string(in.Step))
		first := in.Step == keyward.StepCreate && r.calls == 0
		after := r.after
		if in.Step == keyward.StepCreate {
			r.calls++
		}
		r.mu.Unlock()
		if in.Step == keyward.StepCreate {
			_, _ = r.e.svc.Secrets.PutSecretValue(r.e.admin, in.Name, keyward.SecretPut{Value: []byte("v2"), ClientToken: in.Token,
				Stages: []string{keyward.StagePending}})
		}
		if first {
			close(r.held)
			<-r.release
			r.mu.Lock()
			r.after = true
			r.mu.Unlock()
			w.WriteHeader(r.status)
			return
		}
		if after {
			w.WriteHeader(r.status)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.srv.Close)
	created := must[*keyward.CreatedWebhook](t)(e.svc.Webhooks.CreateWebhook(e.admin, keyward.WebhookCreate{Kind: keyward.WebhookRotator, URL: r.srv.URL + "/rotate"}))
	r.id = created.Webhook.ID
	return r
}

// Secret rotation: A's rotator call stalls past the stale bound; B takes
// over and finishes. When A's call answers (200, or 500), A must neither
// advance nor fail the rotation; every step is recorded once.
func TestAttackSecretTakeover(t *testing.T) {
	for _, status := range []int{http.StatusOK, http.StatusInternalServerError} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			defer core.SetRotatorBackoff(time.Millisecond)()
			e := newEnv(t)
			r := newHoldRotator(t, e, status)
			must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: "vendor", Value: []byte("v1")}))
			started := must[*keyward.Rotation](t)(e.svc.Rotations.RotateSecret(e.admin, "vendor", keyward.SecretRotate{RotatorID: r.id}))
			<-r.held
			nodeB := core.New(e.cfg)
			t.Cleanup(nodeB.Stop)
			e.clock.Advance(time.Minute)
			if err := nodeB.Rotations.SchedulePass(context.Background()); err != nil {
				t.Fatal(err)
			}
			done := waitRotation(t, e, "vendor")
			close(r.release)
			time.Sleep(300 * time.Millisecond) // A's answer and its step
			r.mu.Lock()
			t.Logf("rotator calls: %v", r.steps)
			r.mu.Unlock()
			final := getRotation(t, e, started.ID)
			if final.State != keyward.RotationSucceeded || done.State != keyward.RotationSucceeded {
				t.Fatalf("rotation %s (%s)", final.State, final.Error)
			}
			if secretValue(t, e, "vendor", keyward.StageCurrent) != "v2" {
				t.Error("CURRENT is not v2")
			}
			steps := stepCounts(t, e, started.ID)
			for _, s := range []string{"takeOver", "createSecret", "setSecret", "testSecret", "finishSecret"} {
				if steps[s] != 1 {
					t.Errorf("step %s recorded %d times: %v", s, steps[s], steps)
				}
			}
			if steps["fail"] != 0 {
				t.Errorf("the former runner failed the rotation: %v", steps)
			}
		})
	}
}

// Two nodes sweep at once a key rotation whose runner stalled: one
// claim, each step once.
func TestAttackTwoNodesClaimAtOnce(t *testing.T) {
	release := make(chan struct{})
	hooks, held := pauseAfterCreate(release)
	e := newEnvWithHooks(t, hooks)
	ctx := context.Background()
	ck := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k", Recoverable: true}))
	doneA := make(chan error, 1)
	go func() { _, err := e.svc.Rotations.RotateKey(e.admin, ck.Key.ID, keyward.KeyRotate{}); doneA <- err }()
	<-held
	rot := inProgressRotation(t, e, ck.Key.ID)
	cfg := e.cfg
	cfg.Hooks = core.Hooks{}
	nodeB, nodeC := core.New(cfg), core.New(cfg)
	t.Cleanup(nodeB.Stop)
	t.Cleanup(nodeC.Stop)
	e.clock.Advance(time.Minute)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, n := range []*core.Services{nodeB, nodeC} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = n.Rotations.SchedulePass(ctx) }()
	}
	wg.Wait()
	close(release)
	errA := <-doneA
	wantCode(t, errA, keyward.ECONFLICT)
	final := getRotation(t, e, rot.ID)
	if final.State != keyward.RotationSucceeded {
		t.Fatalf("rotation %s (%s); passes: %v", final.State, final.Error, errs)
	}
	steps := stepCounts(t, e, rot.ID)
	for _, s := range []string{"takeOver", "setSecret", "testSecret", "finishSecret"} {
		if steps[s] != 1 {
			t.Errorf("step %s recorded %d times: %v", s, steps[s], steps)
		}
	}
	if steps["rollBack"] != 0 {
		t.Errorf("rolled back: %v", steps)
	}
}

// A rotation left IN_PROGRESS by a version without runners (runner ”):
// a restarted single node resumes it, and the old process's heartbeat
// (any runner but the new one) no longer touches it.
func TestAttackPreMigrationRotationResumes(t *testing.T) {
	release := make(chan struct{})
	hooks, held := pauseAfterCreate(release)
	e := newEnvWithHooks(t, hooks)
	ctx := context.Background()
	ck := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k", Recoverable: true}))
	doneA := make(chan error, 1)
	go func() { _, err := e.svc.Rotations.RotateKey(e.admin, ck.Key.ID, keyward.KeyRotate{}); doneA <- err }()
	<-held
	rot := inProgressRotation(t, e, ck.Key.ID)
	legacy := *rot
	legacy.Runner = ""
	if err := e.store.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return tx.UpdateRotation(ctx, &legacy) }); err != nil {
		t.Fatal(err)
	}
	e.restart(t, core.Hooks{})
	if err := e.svc.Rotations.ResumeRotations(ctx); err != nil {
		t.Fatal(err)
	}
	final := getRotation(t, e, rot.ID)
	if final.State != keyward.RotationSucceeded {
		t.Fatalf("rotation %s (%s)", final.State, final.Error)
	}
	close(release)
	wantCode(t, <-doneA, keyward.ECONFLICT)
	steps := stepCounts(t, e, rot.ID)
	for _, s := range []string{"takeOver", "setSecret", "testSecret", "finishSecret"} {
		if steps[s] != 1 {
			t.Errorf("step %s recorded %d times: %v", s, steps[s], steps)
		}
	}
}

// The former runner's rotator calls fail while the new runner is between
// steps (rotation IN_PROGRESS, runner B): A must not fail the rotation.
func TestAttackSecretTakeoverFormerRunnerFailsMidway(t *testing.T) {
	defer core.SetRotatorBackoff(time.Millisecond)()
	e := newEnv(t)
	r := newHoldRotator(t, e, http.StatusInternalServerError)
	must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: "vendor", Value: []byte("v1")}))
	started := must[*keyward.Rotation](t)(e.svc.Rotations.RotateSecret(e.admin, "vendor", keyward.SecretRotate{RotatorID: r.id}))
	<-r.held
	releaseB := make(chan struct{})
	hooksB, heldB := pauseAfterCreate(releaseB)
	cfg := e.cfg
	cfg.Hooks = hooksB
	nodeB := core.New(cfg)
	t.Cleanup(nodeB.Stop)
	e.clock.Advance(time.Minute)
	if err := nodeB.Rotations.SchedulePass(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-heldB
	close(r.release)
	time.Sleep(300 * time.Millisecond) // A: three failed tries, then its fail step
	mid := getRotation(t, e, started.ID)
	if mid.State != keyward.RotationInProgress {
		t.Fatalf("after the former runner's failure the rotation is %s (%s)", mid.State, mid.Error)
	}
	r.mu.Lock()
	r.after = false
	r.mu.Unlock()
	close(releaseB)
	done := waitRotation(t, e, "vendor")
	if done.State != keyward.RotationSucceeded {
		t.Fatalf("rotation %s (%s)", done.State, done.Error)
	}
	steps := stepCounts(t, e, started.ID)
	if steps["fail"] != 0 || steps["createSecret"] != 1 || steps["finishSecret"] != 1 {
		t.Errorf("steps %v", steps)
	}
}
