package core_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/core"
	"github.com/keyward/keyward/webhook"
)

// testRotator plays the remote side of a secret rotation the way a
// Secrets Manager rotation function does, calling keyward back: it puts
// the new value as the PENDING version named by the client request token.
// failAt makes one step answer 500.
type testRotator struct {
	t      *testing.T
	e      *env
	srv    *httptest.Server
	mu     sync.Mutex
	secret []byte
	failAt keyward.RotationStep
	steps  []keyward.RotationStep
	value  string
	id     string
}

func newTestRotator(t *testing.T, e *env) *testRotator {
	r := &testRotator{t: t, e: e, value: "vendor-key-v2"}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	created := must[*keyward.CreatedWebhook](t)(e.svc.Webhooks.CreateWebhook(e.admin, keyward.WebhookCreate{Kind: keyward.WebhookRotator, URL: r.srv.URL + "/rotate"}))
	r.secret = []byte(created.Secret)
	r.id = created.Webhook.ID
	return r
}

func (r *testRotator) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	secret, failAt := r.secret, r.failAt
	r.mu.Unlock()
	if err := webhook.Verify(req.Header.Get("Keyward-Signature"), secret, body, time.Now(), 5*time.Minute); err != nil {
		r.t.Errorf("rotator: bad signature: %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var in struct {
		Step  keyward.RotationStep `json:"step"`
		Name  string               `json:"secretId"`
		Token string               `json:"clientRequestToken"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		r.t.Errorf("rotator: body %s: %v", body, err)
		return
	}
	r.mu.Lock()
	r.steps = append(r.steps, in.Step)
	r.mu.Unlock()
	if in.Step == failAt {
		http.Error(w, "vendor says no", http.StatusInternalServerError)
		return
	}
	if in.Step == keyward.StepCreate {
		_, err := r.e.svc.Secrets.PutSecretValue(r.e.admin, in.Name, keyward.SecretPut{Value: []byte(r.value), ClientToken: in.Token,
			Stages: []string{keyward.StagePending}})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// waitRotation polls until the secret's newest rotation has ended.
func waitRotation(t *testing.T, e *env, name string) *keyward.Rotation {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		rots, _, err := e.svc.Rotations.ListSecretRotations(e.admin, name, keyward.RotationFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rots) > 0 && rots[0].State != keyward.RotationInProgress {
			return rots[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("rotation did not end")
	return nil
}

func TestSecretRotationThroughRotator(t *testing.T) {
	defer core.SetRotatorBackoff(time.Millisecond)()
	e := newEnv(t)
	rot := newTestRotator(t, e)
	must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: "vendor", Value: []byte("vendor-key-v1")}))
	_, err := e.svc.Rotations.RotateSecret(e.admin, "vendor", keyward.SecretRotate{})
	wantCode(t, err, keyward.EPRECONDITION) // no rotator yet
	started := must[*keyward.Rotation](t)(e.svc.Rotations.RotateSecret(e.admin, "vendor", keyward.SecretRotate{RotatorID: rot.id, ClientToken: "r1"}))
	done := waitRotation(t, e, "vendor")
	if done.ID != started.ID || done.State != keyward.RotationSucceeded {
		t.Fatalf("rotation: %+v", done)
	}
	if secretValue(t, e, "vendor", keyward.StageCurrent) != "vendor-key-v2" || secretValue(t, e, "vendor", keyward.StagePrevious) != "vendor-key-v1" {
		t.Fatal("CURRENT must move to the rotator's version, PREVIOUS to the old one")
	}
	if len(rot.steps) != 4 {
		t.Fatalf("steps called: %v", rot.steps)
	}
	again := must[*keyward.Rotation](t)(e.svc.Rotations.RotateSecret(e.admin, "vendor", keyward.SecretRotate{ClientToken: "r1"}))
	if again.ID != started.ID {
		t.Fatal("same client token, same rotation")
	}
	// Every step is audited, on behalf of whoever started the rotation.
	var steps []string
	for _, ev := range e.auditEvents(t) {
		if ev.EventName == string(keyward.ActionSecretRotate) && ev.RequestParameters["rotationId"] == started.ID {
			if ev.UserIdentity.Type != "Principal" {
				t.Fatalf("step %v audited as %s", ev.RequestParameters["step"], ev.UserIdentity.Type)
			}
			steps = append(steps, ev.RequestParameters["step"].(string))
		}
	}
	if strings.Join(steps, ",") != "createSecret,setSecret,testSecret,finishSecret" {
		t.Fatalf("audited steps: %v", steps)
	}
	sec := must[*keyward.Secret](t)(e.svc.Secrets.DescribeSecret(e.admin, "vendor"))
	if sec.Rotation == nil || sec.Rotation.RotatorID != rot.id {
		t.Fatalf("rotation config: %+v", sec.Rotation)
	}
}

func TestSecretRotationFailingAtEachStep(t *testing.T) {
	defer core.SetRotatorBackoff(time.Millisecond)()
	for _, step := range keyward.RotationSteps() {
		t.Run(string(step), func(t *testing.T) {
			e := newEnv(t)
			rot := newTestRotator(t, e)
			rot.failAt = step
			hook := must[*keyward.CreatedWebhook](t)(e.svc.Webhooks.CreateWebhook(e.admin, keyward.WebhookCreate{URL: "http://127.0.0.1:9/n"}))
			must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: "vendor", Value: []byte("vendor-key-v1")}))
			must[*keyward.Rotation](t)(e.svc.Rotations.RotateSecret(e.admin, "vendor", keyward.SecretRotate{RotatorID: rot.id}))
			done := waitRotation(t, e, "vendor")
			if done.State != keyward.RotationFailed || !strings.Contains(done.Error, string(step)+": rotator answered 500") {
				t.Fatalf("rotation: %+v", done)
			}
			if secretValue(t, e, "vendor", keyward.StageCurrent) != "vendor-key-v1" {
				t.Fatal("CURRENT moved although a step failed")
			}
			if _, err := e.svc.Secrets.GetSecretValue(e.admin, "vendor", keyward.SecretSelector{Stage: keyward.StagePending}); keyward.ErrorCode(err) != keyward.ENOTFOUND {
				t.Fatalf("PENDING after a failed rotation: %v", err)
			}
			dls, _, _ := e.svc.Webhooks.ListDeliveries(e.admin, hook.Webhook.ID, keyward.DeliveryFilter{EventType: keyward.EventRotationFailed})
			if len(dls) != 1 {
				t.Fatalf("rotation.failed deliveries: %d", len(dls))
			}
			// A later rotation with a working rotator succeeds.
			rot.mu.Lock()
			rot.failAt = ""
			rot.mu.Unlock()
			e.clock.Advance(time.Second)
			must[*keyward.Rotation](t)(e.svc.Rotations.RotateSecret(e.admin, "vendor", keyward.SecretRotate{}))
			if waitRotation(t, e, "vendor").State != keyward.RotationSucceeded {
				t.Fatal("retry after failure")
			}
		})
	}
}

func TestCancelSecretRotation(t *testing.T) {
	defer core.SetRotatorBackoff(time.Millisecond)()
	e := newEnv(t)
	block := make(chan struct{})
	rot := newTestRotator(t, e)
	inner := rot.srv.Config.Handler
	rot.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Context().Err() == nil {
			select {
			case <-block:
			case <-req.Context().Done():
				return
			}
		}
		inner.ServeHTTP(w, req)
	})
	defer close(block)
	must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: "vendor", Value: []byte("v1")}))
	_, err := e.svc.Rotations.CancelSecretRotation(e.admin, "vendor")
	wantCode(t, err, keyward.EPRECONDITION)
	must[*keyward.Rotation](t)(e.svc.Rotations.RotateSecret(e.admin, "vendor", keyward.SecretRotate{RotatorID: rot.id}))
	_, err = e.svc.Rotations.RotateSecret(e.admin, "vendor", keyward.SecretRotate{})
	wantCode(t, err, keyward.ECONFLICT)
	c := must[*keyward.Rotation](t)(e.svc.Rotations.CancelSecretRotation(e.admin, "vendor"))
	if c.State != keyward.RotationCancelled {
		t.Fatalf("cancel: %+v", c)
	}
	if waitRotation(t, e, "vendor").State != keyward.RotationCancelled || secretValue(t, e, "vendor", keyward.StageCurrent) != "v1" {
		t.Fatal("a cancelled rotation must leave CURRENT alone")
	}
}

// TestSecretRotationResumesAfterStop stops the service while the rotator
// is answering a step; a new service on the same store resumes the
// rotation with the next step and the same client request token.
func TestSecretRotationResumesAfterStop(t *testing.T) {
	defer core.SetRotatorBackoff(time.Millisecond)()
	e := newEnv(t)
	rot := newTestRotator(t, e)
	inSet := make(chan struct{})
	var first atomic.Bool
	inner := rot.srv.Config.Handler
	rot.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.Contains(req.Header.Get("Keyward-Event"), "setSecret") && first.CompareAndSwap(false, true) {
			// The first setSecret hangs until the first service stops. The
			// body is read first: net/http notices a client gone only once
			// the request body has been consumed.
			_, _ = io.Copy(io.Discard, req.Body)
			close(inSet)
			<-req.Context().Done()
			return
		}
		inner.ServeHTTP(w, req)
	})
	must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: "vendor", Value: []byte("vendor-key-v1")}))
	started := must[*keyward.Rotation](t)(e.svc.Rotations.RotateSecret(e.admin, "vendor", keyward.SecretRotate{RotatorID: rot.id}))
	<-inSet
	e.svc.Stop()
	rots, _, _ := e.svc.Rotations.ListSecretRotations(e.admin, "vendor", keyward.RotationFilter{})
	if rots[0].State != keyward.RotationInProgress || rots[0].Step != keyward.StepCreate {
		t.Fatalf("after stop: %s at %s", rots[0].State, rots[0].Step)
	}
	e.restart(t, core.Hooks{})
	if err := e.svc.Rotations.ResumeRotations(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := waitRotation(t, e, "vendor")
	if done.ID != started.ID || done.State != keyward.RotationSucceeded {
		t.Fatalf("resumed: %+v", done)
	}
	if secretValue(t, e, "vendor", keyward.StageCurrent) != "vendor-key-v2" {
		t.Fatal("CURRENT did not move after the resumed rotation")
	}
}
