package core_test

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/core"
)

func dur(d time.Duration) *keyward.Duration { v := keyward.Duration(d); return &v }

// labels returns a key's credentials by label.
func labels(t *testing.T, e *env, id string) map[keyward.CredentialLabel]keyward.Credential {
	t.Helper()
	k := must[*keyward.APIKey](t)(e.svc.Keys.GetKey(e.admin, id))
	out := map[keyward.CredentialLabel]keyward.Credential{}
	for _, c := range k.Credentials {
		if _, dup := out[c.Label]; dup {
			t.Fatalf("two %s credentials on %s", c.Label, id)
		}
		out[c.Label] = c
	}
	return out
}

// opens reports which credential label of key id a value opens, as the
// gateway's data plane sees it ("" when none).
func opens(t *testing.T, e *env, id, value string) keyward.CredentialLabel {
	t.Helper()
	snap, err := e.svc.DataPlane.DataPlaneSnapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d := e.hasher.Digest(value)
	for _, k := range snap.Keys {
		for _, c := range k.Credentials {
			if k.ID == id && string(c.Digest) == string(d[:]) {
				return c.Label
			}
		}
	}
	return ""
}

func secretValue(t *testing.T, e *env, name, stage string) string {
	t.Helper()
	v := must[*keyward.SecretValue](t)(e.svc.Secrets.GetSecretValue(e.admin, name, keyward.SecretSelector{Stage: stage}))
	return string(v.Value)
}

func TestRotateKeyKeepsIDPlansAndGivesGrace(t *testing.T) {
	e := newEnv(t)
	plan := must[*keyward.UsagePlan](t)(e.svc.Plans.CreatePlan(e.admin, keyward.PlanCreate{Name: "p", Quota: &keyward.Quota{Limit: 10, Period: keyward.PeriodDay}}))
	ck := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k", PlanIDs: []string{plan.ID}}))
	old := ck.Value
	rk := must[*keyward.RotatedKey](t)(e.svc.Rotations.RotateKey(e.admin, ck.Key.ID, keyward.KeyRotate{Grace: dur(time.Hour)}))
	if rk.Key.ID != ck.Key.ID || rk.Value == "" || rk.Value == old {
		t.Fatalf("rotation answer: id %s, value set %v", rk.Key.ID, rk.Value != "")
	}
	if rk.Rotation.State != keyward.RotationSucceeded || rk.Rotation.Step != keyward.StepFinish {
		t.Fatalf("rotation %+v", rk.Rotation)
	}
	if len(rk.Key.PlanIDs) != 1 || rk.Key.PlanIDs[0] != plan.ID {
		t.Fatalf("plans after rotation: %v", rk.Key.PlanIDs)
	}
	ls := labels(t, e, ck.Key.ID)
	if len(ls) != 2 || ls[keyward.LabelPrevious].GraceUntil == nil ||
		!ls[keyward.LabelPrevious].GraceUntil.Equal(e.clock.Now().Add(time.Hour)) {
		t.Fatalf("credentials after rotation: %+v", ls)
	}
	if got := opens(t, e, ck.Key.ID, old); got != keyward.LabelPrevious {
		t.Fatalf("old value opens %q, want PREVIOUS", got)
	}
	if got := opens(t, e, ck.Key.ID, rk.Value); got != keyward.LabelCurrent {
		t.Fatalf("new value opens %q, want CURRENT", got)
	}
	// A second rotation drops the value two back and keeps the last one.
	rk2 := must[*keyward.RotatedKey](t)(e.svc.Rotations.RotateKey(e.admin, ck.Key.ID, keyward.KeyRotate{Grace: dur(0)}))
	if opens(t, e, ck.Key.ID, old) != "" || opens(t, e, ck.Key.ID, rk.Value) != "" || opens(t, e, ck.Key.ID, rk2.Value) != keyward.LabelCurrent {
		t.Fatal("grace 0: only the newest value may open the key")
	}
	// Every step is in the audit chain, in order.
	var steps []string
	for _, ev := range e.auditEvents(t) {
		if ev.EventName == string(keyward.ActionKeyRotate) && ev.RequestParameters["rotationId"] == rk.Rotation.ID {
			steps = append(steps, ev.RequestParameters["step"].(string))
		}
	}
	if strings.Join(steps, ",") != "setSecret,testSecret,finishSecret" {
		t.Fatalf("audited steps after create: %v", steps)
	}
}

func TestRotateKeyDeliversToSecret(t *testing.T) {
	e := newEnv(t)
	ck := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k", StoreSecret: "pipe/key"}))
	old := secretValue(t, e, "pipe/key", keyward.StageCurrent)
	rk := must[*keyward.RotatedKey](t)(e.svc.Rotations.RotateKey(e.admin, ck.Key.ID, keyward.KeyRotate{}))
	if rk.Value != "" {
		t.Fatal("a value delivered to a secret must not be returned")
	}
	cur, prev := secretValue(t, e, "pipe/key", keyward.StageCurrent), secretValue(t, e, "pipe/key", keyward.StagePrevious)
	if prev != old || cur == old {
		t.Fatal("secret labels did not move with the key's")
	}
	if opens(t, e, ck.Key.ID, cur) != keyward.LabelCurrent || opens(t, e, ck.Key.ID, old) != keyward.LabelPrevious {
		t.Fatal("the secret's CURRENT must open the key's CURRENT, its PREVIOUS the key's PREVIOUS")
	}
	ls := labels(t, e, ck.Key.ID)
	if !ls[keyward.LabelPrevious].GraceUntil.Equal(e.clock.Now().Add(core.DefaultGrace)) {
		t.Fatalf("default grace: %v", ls[keyward.LabelPrevious].GraceUntil)
	}
	// Moving delivery to another secret on rotation.
	must[*keyward.RotatedKey](t)(e.svc.Rotations.RotateKey(e.admin, ck.Key.ID, keyward.KeyRotate{StoreSecret: "pipe/key2"}))
	if k := must[*keyward.APIKey](t)(e.svc.Keys.GetKey(e.admin, ck.Key.ID)); k.ValueSecret != "pipe/key2" {
		t.Fatalf("valueSecret = %q", k.ValueSecret)
	}
	if opens(t, e, ck.Key.ID, secretValue(t, e, "pipe/key2", keyward.StageCurrent)) != keyward.LabelCurrent {
		t.Fatal("new secret does not hold the CURRENT value")
	}
}

func TestRotateKeyIdempotent(t *testing.T) {
	e := newEnv(t)
	ck := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k", Recoverable: true}))
	in := keyward.KeyRotate{Grace: dur(time.Hour), ClientToken: "tok-1"}
	first := must[*keyward.RotatedKey](t)(e.svc.Rotations.RotateKey(e.admin, ck.Key.ID, in))
	again := must[*keyward.RotatedKey](t)(e.svc.Rotations.RotateKey(e.admin, ck.Key.ID, in))
	if !again.Replayed || again.Rotation.ID != first.Rotation.ID {
		t.Fatalf("replay: %+v", again.Rotation)
	}
	if again.Value != first.Value {
		t.Fatal("a recoverable key's replay to a caller allowed ReadValue gives the value again")
	}
	deployer := e.as(t, "deployer")
	replay := must[*keyward.RotatedKey](t)(e.svc.Rotations.RotateKey(deployer, ck.Key.ID, in))
	if replay.Value != "" || replay.Rotation.ID != first.Rotation.ID {
		t.Fatal("a caller without apikeys:ReadValue must not see the value on replay")
	}
	if len(labels(t, e, ck.Key.ID)) != 2 {
		t.Fatal("a replay must not rotate again")
	}
	_, err := e.svc.Rotations.RotateKey(e.admin, ck.Key.ID, keyward.KeyRotate{Grace: dur(2 * time.Hour), ClientToken: "tok-1"})
	wantCode(t, err, keyward.ECONFLICT)
	// The lost answer can be looked up.
	rots := must[[]*keyward.Rotation](t)(func() ([]*keyward.Rotation, error) {
		r, _, err := e.svc.Rotations.ListKeyRotations(e.admin, ck.Key.ID, keyward.RotationFilter{ClientToken: "tok-1"})
		return r, err
	}())
	if len(rots) != 1 || rots[0].ID != first.Rotation.ID {
		t.Fatalf("lookup by client token: %+v", rots)
	}
}

func TestRotateKeyAuthorization(t *testing.T) {
	e := newEnv(t)
	ck := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k"}))
	_, err := e.svc.Rotations.RotateKey(e.as(t, "reader"), ck.Key.ID, keyward.KeyRotate{})
	wantCode(t, err, keyward.EFORBIDDEN)
	// The rotator may not read key values, so it may not be handed the
	// only working one by a rotation that delivers nowhere, whatever the grace.
	_, err = e.svc.Rotations.RotateKey(e.as(t, "rotator"), ck.Key.ID, keyward.KeyRotate{Grace: dur(0)})
	wantCode(t, err, keyward.EFORBIDDEN)
	// The rotator may rotate a key into an existing secret, not create one.
	_, err = e.svc.Rotations.RotateKey(e.as(t, "rotator"), ck.Key.ID, keyward.KeyRotate{StoreSecret: "x"})
	wantCode(t, err, keyward.EFORBIDDEN)
	must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: "x"}))
	if _, err = e.svc.Rotations.RotateKey(e.as(t, "rotator"), ck.Key.ID, keyward.KeyRotate{StoreSecret: "x"}); err != nil {
		t.Fatalf("rotator delivering to a secret: %v", err)
	}
	_, err = e.svc.Rotations.RotateKey(e.admin, "key_missing", keyward.KeyRotate{})
	wantCode(t, err, keyward.ENOTFOUND)
	_, err = e.svc.Rotations.RotateKey(e.admin, ck.Key.ID, keyward.KeyRotate{Grace: dur(-time.Second)})
	wantCode(t, err, keyward.EINVALID)
}

func TestRevokePrevious(t *testing.T) {
	e := newEnv(t)
	ck := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k"}))
	_, err := e.svc.Rotations.RevokePrevious(e.admin, ck.Key.ID)
	wantCode(t, err, keyward.EPRECONDITION)
	must[*keyward.RotatedKey](t)(e.svc.Rotations.RotateKey(e.admin, ck.Key.ID, keyward.KeyRotate{}))
	must[*keyward.APIKey](t)(e.svc.Rotations.RevokePrevious(e.admin, ck.Key.ID))
	if opens(t, e, ck.Key.ID, ck.Value) != "" {
		t.Fatal("revoked PREVIOUS still opens the key")
	}
	if _, ok := labels(t, e, ck.Key.ID)[keyward.LabelCurrent]; !ok {
		t.Fatal("CURRENT gone")
	}
}

// crashAfter returns a core.Hooks whose AfterStep ends the calling
// goroutine after the named step of the first rotation, as a crash would:
// nothing after it runs.
func crashAfter(step keyward.RotationStep) (core.Hooks, *sync.WaitGroup) {
	var once sync.Once
	var wg sync.WaitGroup
	return core.Hooks{AfterStep: func(ctx context.Context, r *keyward.Rotation) {
		if r.Step == step {
			once.Do(func() { wg.Done(); runtime.Goexit() })
		}
	}}, &wg
}

func TestRotationResumesOrRollsBackAfterACrash(t *testing.T) {
	for _, tc := range []struct {
		step       keyward.RotationStep
		toSecret   bool
		recover    bool
		wantState  keyward.RotationState
		wantRotate bool
	}{
		{keyward.StepCreate, true, false, keyward.RotationRolledBack, false},
		{keyward.StepSet, true, false, keyward.RotationSucceeded, true},
		{keyward.StepTest, true, false, keyward.RotationSucceeded, true},
		{keyward.StepCreate, false, false, keyward.RotationRolledBack, false},
		{keyward.StepTest, false, false, keyward.RotationRolledBack, false},
		{keyward.StepSet, false, true, keyward.RotationSucceeded, true},
	} {
		name := string(tc.step)
		if tc.toSecret {
			name += "/secret"
		}
		if tc.recover {
			name += "/recoverable"
		}
		t.Run(name, func(t *testing.T) {
			hooks, wg := crashAfter(tc.step)
			e := newEnvWithHooks(t, hooks)
			in := keyward.KeyCreate{Name: "k", Recoverable: tc.recover}
			if tc.toSecret {
				in.StoreSecret = "pipe/key"
			}
			ck := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, in))
			oldValue := ck.Value
			if tc.toSecret {
				oldValue = secretValue(t, e, "pipe/key", keyward.StageCurrent)
			}
			wg.Add(1)
			go func() { _, _ = e.svc.Rotations.RotateKey(e.admin, ck.Key.ID, keyward.KeyRotate{Grace: dur(time.Hour)}) }()
			wg.Wait()
			// "Restart": a new service on the same store resumes.
			e.restart(t, core.Hooks{})
			if err := e.svc.Rotations.ResumeRotations(context.Background()); err != nil {
				t.Fatal(err)
			}
			rots, _, err := e.svc.Rotations.ListKeyRotations(e.admin, ck.Key.ID, keyward.RotationFilter{})
			if err != nil || len(rots) != 1 || rots[0].State != tc.wantState {
				t.Fatalf("rotations after resume: %+v %v", rots, err)
			}
			ls := labels(t, e, ck.Key.ID)
			if _, pending := ls[keyward.LabelPending]; pending {
				t.Fatal("a PENDING credential survived the resume")
			}
			if tc.wantRotate {
				if opens(t, e, ck.Key.ID, oldValue) != keyward.LabelPrevious {
					t.Fatal("old value must be PREVIOUS after a resumed rotation")
				}
				var newValue string
				if tc.toSecret {
					newValue = secretValue(t, e, "pipe/key", keyward.StageCurrent)
				} else {
					newValue = must[string](t)(e.svc.Keys.ReadKeyValue(e.admin, ck.Key.ID))
				}
				if opens(t, e, ck.Key.ID, newValue) != keyward.LabelCurrent {
					t.Fatal("the new value, where it was delivered, must open CURRENT: the value is not lost")
				}
			} else {
				if opens(t, e, ck.Key.ID, oldValue) != keyward.LabelCurrent || len(ls) != 1 {
					t.Fatalf("rolled back: the old value must stay the only CURRENT (%v)", ls)
				}
				if tc.toSecret {
					if _, err := e.svc.Secrets.GetSecretValue(e.admin, "pipe/key", keyward.SecretSelector{Stage: keyward.StagePending}); keyward.ErrorCode(err) != keyward.ENOTFOUND {
						t.Fatalf("secret PENDING after roll back: %v", err)
					}
				}
			}
			// The key rotates normally afterwards.
			must[*keyward.RotatedKey](t)(e.svc.Rotations.RotateKey(e.admin, ck.Key.ID, keyward.KeyRotate{}))
		})
	}
}

func TestConcurrentRotationConflicts(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	e := newEnvWithHooks(t, core.Hooks{AfterStep: func(ctx context.Context, r *keyward.Rotation) {
		if r.Step == keyward.StepCreate {
			once.Do(func() { close(started); <-release })
		}
	}})
	ck := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k"}))
	done := make(chan error)
	go func() { _, err := e.svc.Rotations.RotateKey(e.admin, ck.Key.ID, keyward.KeyRotate{}); done <- err }()
	<-started
	_, err := e.svc.Rotations.RotateKey(e.admin, ck.Key.ID, keyward.KeyRotate{})
	wantCode(t, err, keyward.ECONFLICT)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestScheduledRotation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	policy := &keyward.RotationPolicy{Every: keyward.Duration(24 * time.Hour), Grace: keyward.Duration(time.Hour)}
	auto := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "auto", StoreSecret: "auto", Rotation: policy}))
	plan := must[*keyward.UsagePlan](t)(e.svc.Plans.CreatePlan(e.admin, keyward.PlanCreate{Name: "rot",
		Rotation: &keyward.RotationPolicy{Every: keyward.Duration(48 * time.Hour), Grace: keyward.Duration(time.Hour)}}))
	viaPlan := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "plan", Recoverable: true, PlanIDs: []string{plan.ID}}))
	manual := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "manual", Rotation: policy}))
	hook := must[*keyward.CreatedWebhook](t)(e.svc.Webhooks.CreateWebhook(e.admin, keyward.WebhookCreate{URL: "http://127.0.0.1:9/hook"}))

	if err := e.svc.Rotations.SchedulePass(ctx); err != nil {
		t.Fatal(err)
	}
	countRotations := func(id string) int {
		rots, _, err := e.svc.Rotations.ListKeyRotations(e.admin, id, keyward.RotationFilter{State: keyward.RotationSucceeded})
		if err != nil {
			t.Fatal(err)
		}
		return len(rots)
	}
	if countRotations(auto.Key.ID)+countRotations(viaPlan.Key.ID) != 0 {
		t.Fatal("nothing is due yet")
	}
	var next time.Time
	for _, d := range e.svc.Rotations.Deadlines() {
		if d.KeyID == auto.Key.ID {
			next = d.NextRotation
		}
	}
	if !next.Equal(e.clock.Now().Add(24 * time.Hour)) {
		t.Fatalf("next rotation of auto = %v", next)
	}
	e.clock.Advance(25 * time.Hour) // a server down over the due time runs it on its next pass
	if err := e.svc.Rotations.SchedulePass(ctx); err != nil {
		t.Fatal(err)
	}
	if countRotations(auto.Key.ID) != 1 || countRotations(viaPlan.Key.ID) != 0 || countRotations(manual.Key.ID) != 0 {
		t.Fatal("after 25h: auto rotates, the plan's 48h key does not, a shown-once key cannot")
	}
	e.clock.Advance(23 * time.Hour)
	if err := e.svc.Rotations.SchedulePass(ctx); err != nil {
		t.Fatal(err)
	}
	if countRotations(viaPlan.Key.ID) != 1 || countRotations(auto.Key.ID) != 1 {
		t.Fatal("after 48h: the plan's key rotates; auto is not due again until 49h")
	}
	// auto's PREVIOUS (grace 1h from 25h) is retired.
	if _, ok := labels(t, e, auto.Key.ID)[keyward.LabelPrevious]; ok {
		t.Fatal("PREVIOUS past its grace must be retired")
	}
	// The notices, each once however many passes: key.rotated for both
	// rotations; key.rotation_due for the shown-once key (due at 24h, it
	// cannot rotate itself) and ahead of auto's (49h) and the plan key's
	// (48h) automatic rotations; key.previous_expiring for the plan key's
	// old value, whose grace ends within the notice window.
	e.svc.Rotations.SchedulePass(ctx)
	types := map[string]int{}
	dls, _, err := e.svc.Webhooks.ListDeliveries(e.admin, hook.Webhook.ID, keyward.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dls {
		types[d.EventType]++
		var ev keyward.Event
		if err := json.Unmarshal(d.Payload, &ev); err != nil || ev.Type != d.EventType {
			t.Fatalf("payload %s: %v", d.Payload, err)
		}
	}
	if types[keyward.EventKeyRotated] != 2 || types[keyward.EventKeyRotationDue] != 3 || types[keyward.EventKeyPreviousExpiring] != 1 {
		t.Fatalf("deliveries by type: %v", types)
	}
}

func TestNotificationsRespectPrincipalEndpoints(t *testing.T) {
	e := newEnv(t)
	ck := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k"}))
	global := must[*keyward.CreatedWebhook](t)(e.svc.Webhooks.CreateWebhook(e.admin, keyward.WebhookCreate{URL: "http://127.0.0.1:9/a"}))
	if !strings.HasPrefix(global.Secret, "whsec_") {
		t.Fatal("signing secret shape")
	}
	auditor := must[*keyward.CreatedPrincipal](t)(e.svc.Access.CreatePrincipal(e.admin, keyward.PrincipalCreate{Name: "aud", Roles: []string{"auditor"}}))
	nobody := must[*keyward.CreatedPrincipal](t)(e.svc.Access.CreatePrincipal(e.admin, keyward.PrincipalCreate{Name: "nobody"}))
	mine := must[*keyward.CreatedWebhook](t)(e.svc.Webhooks.CreateWebhook(e.admin, keyward.WebhookCreate{URL: "http://127.0.0.1:9/b", Principal: auditor.Principal.ID}))
	theirs := must[*keyward.CreatedWebhook](t)(e.svc.Webhooks.CreateWebhook(e.admin, keyward.WebhookCreate{URL: "http://127.0.0.1:9/c", Principal: "nobody"}))
	if theirs.Webhook.PrincipalID != nobody.Principal.ID {
		t.Fatal("principal by name")
	}
	filtered := must[*keyward.CreatedWebhook](t)(e.svc.Webhooks.CreateWebhook(e.admin, keyward.WebhookCreate{URL: "http://127.0.0.1:9/d", Events: []string{keyward.EventRotationFailed}}))
	rk := must[*keyward.RotatedKey](t)(e.svc.Rotations.RotateKey(e.admin, ck.Key.ID, keyward.KeyRotate{}))
	count := func(id string) int {
		d, _, err := e.svc.Webhooks.ListDeliveries(e.admin, id, keyward.DeliveryFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, dl := range d {
			if strings.Contains(string(dl.Payload), rk.Value) || strings.Contains(string(dl.Payload), ck.Value) {
				t.Fatal("a key value in a webhook payload")
			}
		}
		return len(d)
	}
	if count(global.Webhook.ID) != 1 || count(mine.Webhook.ID) != 1 || count(theirs.Webhook.ID) != 0 || count(filtered.Webhook.ID) != 0 {
		t.Fatal("deliveries: global and a reader's endpoint hear of it; a principal without rights and a filtered endpoint do not")
	}
	_, err := e.svc.Webhooks.CreateWebhook(e.admin, keyward.WebhookCreate{URL: "ftp://x"})
	wantCode(t, err, keyward.EINVALID)
	_, err = e.svc.Webhooks.CreateWebhook(e.admin, keyward.WebhookCreate{URL: "http://u:p@127.0.0.1/"})
	wantCode(t, err, keyward.EINVALID)
	_, err = e.svc.Webhooks.CreateWebhook(e.as(t, "reader"), keyward.WebhookCreate{URL: "http://127.0.0.1:9/"})
	wantCode(t, err, keyward.EFORBIDDEN)
	// A deployer may register its own endpoint, not one for another
	// principal (it may not even look principals up).
	deployer := e.as(t, "deployer")
	if _, err := e.svc.Webhooks.CreateWebhook(deployer, keyward.WebhookCreate{URL: "http://127.0.0.1:9/e", Principal: "self"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Webhooks.CreateWebhook(deployer, keyward.WebhookCreate{URL: "http://127.0.0.1:9/f", Principal: auditor.Principal.ID})
	wantCode(t, err, keyward.EFORBIDDEN)
}

func TestRotationPolicyGraceShorterThanInterval(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k", StoreSecret: "s",
		Rotation: &keyward.RotationPolicy{Every: keyward.Duration(time.Hour), Grace: keyward.Duration(24 * time.Hour)}})
	wantCode(t, err, keyward.EINVALID)
	_, err = e.svc.Plans.CreatePlan(e.admin, keyward.PlanCreate{Name: "p",
		Rotation: &keyward.RotationPolicy{Every: keyward.Duration(time.Second), Grace: 0}})
	wantCode(t, err, keyward.EINVALID)
}

func TestKeyAndSecretRotationsDoNotShareASecret(t *testing.T) {
	defer core.SetRotatorBackoff(time.Millisecond)()
	e := newEnv(t)
	rot := newTestRotator(t, e)
	ck := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k", StoreSecret: "ci/key"}))
	_, err := e.svc.Rotations.RotateSecret(e.admin, "ci/key", keyward.SecretRotate{RotatorID: rot.id})
	wantCode(t, err, keyward.EPRECONDITION)
	// A secret the key was not created with, but delivers to after a rotation.
	must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: "shared", Value: []byte("x")}))
	must[*keyward.RotatedKey](t)(e.svc.Rotations.RotateKey(e.admin, ck.Key.ID, keyward.KeyRotate{StoreSecret: "shared"}))
	_, err = e.svc.Rotations.RotateSecret(e.admin, "shared", keyward.SecretRotate{RotatorID: rot.id})
	wantCode(t, err, keyward.EPRECONDITION)
}

func TestScheduledRotationBacksOffAfterFailures(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ck := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k", StoreSecret: "gone",
		Rotation: &keyward.RotationPolicy{Every: keyward.Duration(time.Hour), Grace: keyward.Duration(time.Minute)}}))
	// The key's secret cannot be deleted through the API (it belongs to the
	// key): break it behind keyward's back, as a failing database would.
	err := e.store.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
		sec, err := tx.GetSecret(ctx, "gone")
		if err != nil {
			return err
		}
		soon := e.clock.Now().Add(7 * 24 * time.Hour)
		sec.DeletionDate = &soon
		return tx.UpdateSecret(ctx, sec)
	})
	if err != nil {
		t.Fatal(err)
	}
	failed := func() int {
		rots, _, err := e.svc.Rotations.ListKeyRotations(e.admin, ck.Key.ID, keyward.RotationFilter{State: keyward.RotationFailed})
		if err != nil {
			t.Fatal(err)
		}
		return len(rots)
	}
	e.clock.Advance(2 * time.Hour)
	for i, step := range []struct {
		advance time.Duration
		want    int
	}{{0, 1}, {time.Minute, 1}, {5 * time.Minute, 2}, {6 * time.Minute, 2}, {5 * time.Minute, 3}} {
		e.clock.Advance(step.advance)
		e.svc.Rotations.SchedulePass(ctx)
		if got := failed(); got != step.want {
			t.Fatalf("pass %d: %d failed rotations, want %d (5 min, then 10 min between tries)", i, got, step.want)
		}
	}
	if _, ok := labels(t, e, ck.Key.ID)[keyward.LabelPending]; ok {
		t.Fatal("a failed rotation left its PENDING credential")
	}
}

func TestStaleRotationIsTakenOverWithoutRestart(t *testing.T) {
	hooks, wg := crashAfter(keyward.StepSet)
	e := newEnvWithHooks(t, hooks)
	ck := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k", StoreSecret: "s"}))
	wg.Add(1)
	go func() { _, _ = e.svc.Rotations.RotateKey(e.admin, ck.Key.ID, keyward.KeyRotate{}) }()
	wg.Wait()
	// The goroutine that ran it is gone but this process still counts it as
	// its own until its deferred clean-up ran: it has.
	e.svc.Rotations.SchedulePass(context.Background())
	rots, _, _ := e.svc.Rotations.ListKeyRotations(e.admin, ck.Key.ID, keyward.RotationFilter{})
	if rots[0].State != keyward.RotationInProgress {
		t.Fatal("a fresh rotation must be left to its runner")
	}
	e.clock.Advance(6 * time.Minute)
	e.svc.Rotations.SchedulePass(context.Background())
	rots, _, _ = e.svc.Rotations.ListKeyRotations(e.admin, ck.Key.ID, keyward.RotationFilter{})
	if rots[0].State != keyward.RotationSucceeded {
		t.Fatalf("stale rotation after a pass: %s", rots[0].State)
	}
}
