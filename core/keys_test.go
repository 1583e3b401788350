package core_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/keyvalue"
)

var jsonUnmarshal = json.Unmarshal

func TestCreateKeyShowsValueOnce(t *testing.T) {
	e := newEnv(t)
	api := e.demoAPI(t)
	ck, err := e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "ci", Description: "API Key for AI Deployment Pipeline",
		StageKeys: []keyward.StageKey{{APIID: api.Name, Stage: "prod"}}})
	if err != nil {
		t.Fatal(err)
	}
	if keyvalue.Check(ck.Value) != keyvalue.Valid || !strings.HasPrefix(ck.Value, "kw_") {
		t.Fatalf("value %q is not a valid keyward value", ck.Value)
	}
	if !ck.Key.Enabled || ck.Key.StageKeys[0].APIID != api.ID {
		t.Fatalf("key = %+v", ck.Key)
	}
	got, err := e.svc.Keys.GetKey(e.admin, ck.Key.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got)
	if strings.Contains(string(b), ck.Value) || got.Credentials[0].Digest != nil {
		t.Fatalf("GetKey leaks the value or digest: %s", b)
	}
	if got.Credentials[0].Label != keyward.LabelCurrent {
		t.Fatalf("credential label %s", got.Credentials[0].Label)
	}
}

func TestCreateKeyUsesAPIPrefix(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.APIs.CreateAPI(e.admin, keyward.APICreate{Name: "emb", KeyPrefix: "emb", Stages: []keyward.Stage{{Name: "prod", UpstreamURL: "http://127.0.0.1:9"}}})
	if err != nil {
		t.Fatal(err)
	}
	ck := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k", StageKeys: []keyward.StageKey{{APIID: "emb", Stage: "prod"}}}))
	if keyvalue.Prefix(ck.Value) != "emb" {
		t.Fatalf("value prefix %q", keyvalue.Prefix(ck.Value))
	}
}

func TestCreateKeyStoreSecretReturnsOnlyID(t *testing.T) {
	e := newEnv(t)
	ck, err := e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "myApiKey", StoreSecret: "pipeline/my-api-key"})
	if err != nil {
		t.Fatal(err)
	}
	if ck.Value != "" {
		t.Fatal("value returned although it was delivered to a secret")
	}
	sv, err := e.svc.Secrets.GetSecretValue(e.admin, "pipeline/my-api-key", keyward.SecretSelector{})
	if err != nil {
		t.Fatal(err)
	}
	if keyvalue.Check(string(sv.Value)) != keyvalue.Valid {
		t.Fatalf("secret holds %q", sv.Value)
	}
	if p, _, err := e.svc.Access.Authenticate(e.admin, string(sv.Value)); err == nil || p != nil {
		t.Fatal("a key value authenticated as an admin token")
	}
	if sv.Stages[0] != keyward.StageCurrent {
		t.Fatalf("stages %v", sv.Stages)
	}
}

func TestCreateKeyStoreSecretNeedsSecretWrite(t *testing.T) {
	e := newEnv(t)
	reader := e.as(t, "reader")
	_, err := e.svc.Keys.CreateKey(reader, keyward.KeyCreate{Name: "x", StoreSecret: "s"})
	wantCode(t, err, keyward.EFORBIDDEN)
	deployer := e.as(t, "deployer")
	ck, err := e.svc.Keys.CreateKey(deployer, keyward.KeyCreate{Name: "x", StoreSecret: "s"})
	if err != nil || ck.Value != "" {
		t.Fatalf("deployer: %v %q", err, ck.Value)
	}
	_, err = e.svc.Secrets.GetSecretValue(deployer, "s", keyward.SecretSelector{})
	wantCode(t, err, keyward.EFORBIDDEN)
}

func TestCreateKeyIdempotent(t *testing.T) {
	e := newEnv(t)
	in := keyward.KeyCreate{Name: "k", ClientToken: "tok-1"}
	first := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, in))
	again := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, in))
	if again.Key.ID != first.Key.ID || again.Value != "" {
		t.Fatalf("replay gave %s (value shown: %v), want %s without value", again.Key.ID, again.Value != "", first.Key.ID)
	}
	in.Name = "other"
	_, err := e.svc.Keys.CreateKey(e.admin, in)
	wantCode(t, err, keyward.ECONFLICT)
	keys, _, _ := e.svc.Keys.ListKeys(e.admin, keyward.KeyFilter{})
	if len(keys) != 1 {
		t.Fatalf("%d keys, want 1", len(keys))
	}
}

func TestImportedValues(t *testing.T) {
	e := newEnv(t)
	for name, tc := range map[string]struct {
		value string
		code  string
	}{
		"too short":          {"short-value", keyward.EINVALID},
		"spaces":             {"a value with spaces in it", keyward.EINVALID},
		"bad keyward sum":    {"kw_" + strings.Repeat("A", 32) + "000000", keyward.EINVALID},
		"custom long enough": {"custom-imported-value-0001", ""},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "imp", Value: tc.value})
			wantCode(t, err, tc.code)
		})
	}
	_, err := e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "dup", Value: "custom-imported-value-0001"})
	wantCode(t, err, keyward.ECONFLICT)
}

func TestRecoverableValue(t *testing.T) {
	e := newEnv(t)
	rec := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "r", Recoverable: true}))
	plain := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "p"}))
	got, err := e.svc.Keys.ReadKeyValue(e.admin, rec.Key.ID)
	if err != nil || got != rec.Value {
		t.Fatalf("ReadKeyValue = %v", err)
	}
	_, err = e.svc.Keys.ReadKeyValue(e.admin, plain.Key.ID)
	wantCode(t, err, keyward.EPRECONDITION)
	_, err = e.svc.Keys.ReadKeyValue(e.as(t, "deployer"), rec.Key.ID)
	wantCode(t, err, keyward.EFORBIDDEN)
	var reads int
	for _, ev := range e.auditEvents(t) {
		b, _ := json.Marshal(ev)
		if strings.Contains(string(b), rec.Value) {
			t.Fatal("audit trail holds a key value")
		}
		if ev.EventName == string(keyward.ActionKeyReadValue) && ev.ErrorCode == "" {
			reads++
			if ev.EventType != keyward.EventTypeValueRead || !strings.HasPrefix(ev.ResponseElements["value"].(string), "hmac-sha256:") {
				t.Fatalf("value read audited as %+v", ev)
			}
		}
	}
	if reads != 1 {
		t.Fatalf("%d successful value reads audited, want 1", reads)
	}
}

func TestUpdateKeyKeepsID(t *testing.T) {
	e := newEnv(t)
	api := e.demoAPI(t)
	ck := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k"}))
	off := false
	name := "renamed"
	sks := []keyward.StageKey{{APIID: api.Name, Stage: "dev"}}
	k, err := e.svc.Keys.UpdateKey(e.admin, ck.Key.ID, keyward.KeyUpdate{Name: &name, Enabled: &off, StageKeys: &sks})
	if err != nil {
		t.Fatal(err)
	}
	if k.ID != ck.Key.ID || k.Enabled || k.Name != name || k.StageKeys[0] != (keyward.StageKey{APIID: api.ID, Stage: "dev"}) {
		t.Fatalf("updated key %+v", k)
	}
	bad := []keyward.StageKey{{APIID: api.Name, Stage: "nope"}}
	_, err = e.svc.Keys.UpdateKey(e.admin, ck.Key.ID, keyward.KeyUpdate{StageKeys: &bad})
	wantCode(t, err, keyward.ENOTFOUND)
	past := e.clock.Now().Add(-time.Hour)
	_, err = e.svc.Keys.UpdateKey(e.admin, ck.Key.ID, keyward.KeyUpdate{ExpiresAt: &past})
	wantCode(t, err, keyward.EINVALID)
	wantCode(t, e.svc.Keys.DeleteKey(e.admin, ck.Key.ID), "")
	_, err = e.svc.Keys.GetKey(e.admin, ck.Key.ID)
	wantCode(t, err, keyward.ENOTFOUND)
}

func TestFailedCreateLeavesNothing(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k", PlanIDs: []string{"no-such-plan"}, StoreSecret: "half"})
	wantCode(t, err, keyward.ENOTFOUND)
	keys, _, _ := e.svc.Keys.ListKeys(e.admin, keyward.KeyFilter{})
	secrets, _, _ := e.svc.Secrets.ListSecrets(e.admin, keyward.SecretFilter{IncludeDeleted: true})
	if len(keys) != 0 || len(secrets) != 0 {
		t.Fatalf("half-written: %d keys, %d secrets", len(keys), len(secrets))
	}
	evs := e.auditEvents(t)
	last := evs[len(evs)-3] // the failed create; then the two lists
	if last.EventName != string(keyward.ActionKeyCreate) || last.ErrorCode != keyward.ENOTFOUND {
		t.Fatalf("failed call audited as %+v", last)
	}
}
