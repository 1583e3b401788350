package core_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/keyward/keyward"
)

// withPolicy creates a principal holding one policy document and returns
// its context and ID.
func withPolicy(t *testing.T, e *env, name, doc string) (context.Context, string) {
	t.Helper()
	must[*keyward.Policy](t)(e.svc.Access.CreatePolicy(e.admin, keyward.PolicyCreate{Name: name, Document: json.RawMessage(doc)}))
	cp := must[*keyward.CreatedPrincipal](t)(e.svc.Access.CreatePrincipal(e.admin, keyward.PrincipalCreate{Name: "p-" + name}))
	if err := e.svc.Access.AttachPolicy(e.admin, name, cp.Principal.ID); err != nil {
		t.Fatal(err)
	}
	return e.login(t, cp.Token), cp.Principal.ID
}

// TestKeyValueNeverGoesUpstream: a stage may not send a key's value
// secret upstream (where whoever runs the upstream reads it), whichever
// comes first, the API or the key.
func TestKeyValueNeverGoesUpstream(t *testing.T) {
	e := newEnv(t)
	victim := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "victim", StoreSecret: "team/victim"}))
	ops, _ := withPolicy(t, e, "teamops", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"secrets:GetSecretValue","Resource":"kw:secret/team/*"},
		{"Effect":"Allow","Action":["apis:Create","apis:Update","apis:BindKey"],"Resource":"*"}]}`)
	stage := keyward.Stage{Name: "prod", UpstreamURL: "http://127.0.0.1:9/", UpstreamSecret: "team/victim"}
	_, err := e.svc.APIs.CreateAPI(ops, keyward.APICreate{Name: "evil", Stages: []keyward.Stage{stage}})
	wantCode(t, err, keyward.ECONFLICT)
	wantMessage(t, err, victim.Key.ID)
	_, err = e.svc.APIs.CreateAPI(e.admin, keyward.APICreate{Name: "evil", Stages: []keyward.Stage{stage}})
	wantCode(t, err, keyward.ECONFLICT)

	// The other order: a stage's upstream secret cannot become a key's.
	must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: "vendor", Value: []byte("vendor-credential")}))
	stage.UpstreamSecret = "vendor"
	api := must[*keyward.API](t)(e.svc.APIs.CreateAPI(e.admin, keyward.APICreate{Name: "chat", Stages: []keyward.Stage{stage}}))
	_, err = e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k", StoreSecret: "vendor"})
	wantCode(t, err, keyward.ECONFLICT)
	_, err = e.svc.Rotations.RotateKey(e.admin, victim.Key.ID, keyward.KeyRotate{StoreSecret: "vendor"})
	wantCode(t, err, keyward.ECONFLICT)
	snap := must[*keyward.DataPlaneSnapshot](t)(e.svc.DataPlane.DataPlaneSnapshot(context.Background()))
	if string(snap.UpstreamSecrets["vendor"]) != "vendor-credential" || len(snap.UpstreamSecrets) != 1 {
		t.Fatalf("upstream secrets: %d, want only the vendor's (API %s)", len(snap.UpstreamSecrets), api.ID)
	}
}

// TestRolesAtCreationAreCheckedOnTheNewPrincipal: giving a role when
// creating a principal is attaching it, checked on the principal too.
func TestRolesAtCreationAreCheckedOnTheNewPrincipal(t *testing.T) {
	e := newEnv(t)
	ctx, _ := withPolicy(t, e, "teamadmin", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["principals:Create","policies:Attach"],"Resource":["kw:principal/*","kw:policy/*"]},
		{"Effect":"Deny","Action":"policies:Attach","Resource":"kw:principal/prn_*"}]}`)
	_, err := e.svc.Access.CreatePrincipal(ctx, keyward.PrincipalCreate{Name: "esc", Roles: []string{"admin"}})
	wantCode(t, err, keyward.EFORBIDDEN)
	if _, err := e.svc.Access.CreatePrincipal(ctx, keyward.PrincipalCreate{Name: "plain"}); err != nil {
		t.Fatalf("a principal without roles: %v", err)
	}
}

// TestPlansBindKeysToAPIs: a plan naming an API binds every key attached
// to it, so naming one and attaching to one need apis:BindKey on it.
func TestPlansBindKeysToAPIs(t *testing.T) {
	e := newEnv(t)
	api := e.demoAPI(t)
	ctx, _ := withPolicy(t, e, "no-bind", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["apikeys:*","plans:*","secrets:CreateSecret","secrets:PutSecretValue"],"Resource":"*"},
		{"Effect":"Deny","Action":"apis:BindKey","Resource":"*"}]}`)
	stages := []keyward.PlanStage{{APIID: api.ID, Stage: "prod"}}
	_, err := e.svc.Plans.CreatePlan(ctx, keyward.PlanCreate{Name: "sneaky", APIStages: stages})
	wantCode(t, err, keyward.EFORBIDDEN)
	admins := must[*keyward.UsagePlan](t)(e.svc.Plans.CreatePlan(e.admin, keyward.PlanCreate{Name: "admins", APIStages: stages}))
	empty := must[*keyward.UsagePlan](t)(e.svc.Plans.CreatePlan(ctx, keyward.PlanCreate{Name: "empty"}))
	_, err = e.svc.Plans.UpdatePlan(ctx, empty.ID, keyward.PlanUpdate{APIStages: &stages})
	wantCode(t, err, keyward.EFORBIDDEN)
	k := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(ctx, keyward.KeyCreate{Name: "pk", StoreSecret: "pk"}))
	wantCode(t, e.svc.Plans.AttachKey(ctx, admins.ID, k.Key.ID), keyward.EFORBIDDEN)
	_, err = e.svc.Keys.CreateKey(ctx, keyward.KeyCreate{Name: "pk2", StoreSecret: "pk2", PlanIDs: []string{admins.ID}})
	wantCode(t, err, keyward.EFORBIDDEN)
	if err := e.svc.Plans.AttachKey(ctx, empty.ID, k.Key.ID); err != nil {
		t.Fatalf("a plan naming no API binds nothing: %v", err)
	}
}

// TestNoValueOracleThroughClientTokens: a retried write answers "same
// value" or "other value", so a caller that may not read the value gets
// neither.
func TestNoValueOracleThroughClientTokens(t *testing.T) {
	e := newEnv(t)
	ref := must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: "db/pass", Value: []byte("hunter2")}))
	deployer := e.as(t, "deployer")
	for _, guess := range []string{"hunter1", "hunter2"} {
		_, err := e.svc.Secrets.CreateSecret(deployer, keyward.SecretCreate{Name: "db/pass", Value: []byte(guess), ClientToken: ref.VersionID})
		wantCode(t, err, keyward.ECONFLICT) // the name is taken, whatever the guess
		_, err = e.svc.Secrets.PutSecretValue(deployer, "db/pass", keyward.SecretPut{Value: []byte(guess), ClientToken: ref.VersionID})
		wantCode(t, err, keyward.EFORBIDDEN)
	}
	// The admin's own retry still answers the same version.
	again := must[*keyward.SecretVersionRef](t)(e.svc.Secrets.PutSecretValue(e.admin, "db/pass", keyward.SecretPut{Value: []byte("hunter2"), ClientToken: ref.VersionID}))
	if again.VersionID != ref.VersionID {
		t.Fatal("a retry by a reader of the value must answer the same version")
	}
}

// TestRotatedSecretsCannotHoldKeyValues: a secret a rotator rotates is
// not a key's value secret (its finishSecret would put the rotator's value
// over the key's).
func TestRotatedSecretsCannotHoldKeyValues(t *testing.T) {
	e := newEnv(t)
	rot := newTestRotator(t, e)
	must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: "pipe/k1", Value: []byte("placeholder")}))
	must[*keyward.Rotation](t)(e.svc.Rotations.RotateSecret(e.admin, "pipe/k1", keyward.SecretRotate{RotatorID: rot.id, Now: ptr(false)}))
	_, err := e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k1", StoreSecret: "pipe/k1"})
	wantCode(t, err, keyward.ECONFLICT)
}

// TestUpstreamsAreNotMetadataServices: a stage's upstream URL may not be a
// literal link-local or metadata address.
func TestUpstreamsAreNotMetadataServices(t *testing.T) {
	e := newEnv(t)
	for _, u := range []string{"http://169.254.169.254/latest", "http://[fd00:ec2::254]/", "http://[::ffff:169.254.169.254]/", "http://[fe80::1]/"} {
		_, err := e.svc.APIs.CreateAPI(e.admin, keyward.APICreate{Name: "meta", Stages: []keyward.Stage{{Name: "prod", UpstreamURL: u}}})
		wantCode(t, err, keyward.EINVALID)
	}
	must[*keyward.API](t)(e.svc.APIs.CreateAPI(e.admin, keyward.APICreate{Name: "local", Stages: []keyward.Stage{{Name: "prod", UpstreamURL: "http://127.0.0.1:9/"}}}))
}

// TestRouteThrottleKeysAreReadOneWay: a plan's route throttle key whose
// last segment is no method is refused, not read as a method nobody sends.
func TestRouteThrottleKeysAreReadOneWay(t *testing.T) {
	e := newEnv(t)
	api := e.demoAPI(t)
	for key, ok := range map[string]bool{"/v1/chat/completions": false, "/v1/chat/completions/POST": true, "/v1/*/any": true} {
		_, err := e.svc.Plans.CreatePlan(e.admin, keyward.PlanCreate{Name: "p" + fmt.Sprint(len(key)), APIStages: []keyward.PlanStage{{APIID: api.ID, Stage: "prod",
			RouteThrottles: map[string]keyward.Throttle{key: {RateLimit: 1, BurstLimit: 1}}}}})
		if (err == nil) != ok {
			t.Errorf("route throttle %q: %v, want accepted %v", key, err, ok)
		}
	}
}
