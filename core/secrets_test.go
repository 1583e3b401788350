package core_test

import (
	"testing"
	"time"

	"github.com/keyward/keyward"
)

func TestSecretVersionsAndLabels(t *testing.T) {
	e := newEnv(t)
	ctx := e.admin
	ref1 := must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(ctx, keyward.SecretCreate{Name: "prod/openai", Value: []byte("v1")}))
	ref2 := must[*keyward.SecretVersionRef](t)(e.svc.Secrets.PutSecretValue(ctx, "prod/openai", keyward.SecretPut{Value: []byte("v2")}))
	cur := must[*keyward.SecretValue](t)(e.svc.Secrets.GetSecretValue(ctx, "prod/openai", keyward.SecretSelector{}))
	prev := must[*keyward.SecretValue](t)(e.svc.Secrets.GetSecretValue(ctx, "prod/openai", keyward.SecretSelector{Stage: keyward.StagePrevious}))
	byID := must[*keyward.SecretValue](t)(e.svc.Secrets.GetSecretValue(ctx, "prod/openai", keyward.SecretSelector{VersionID: ref1.VersionID}))
	if string(cur.Value) != "v2" || cur.VersionID != ref2.VersionID || string(prev.Value) != "v1" || string(byID.Value) != "v1" {
		t.Fatalf("current %q prev %q byID %q", cur.Value, prev.Value, byID.Value)
	}
	// Move CURRENT back to v1: v2 becomes PREVIOUS.
	err := e.svc.Secrets.UpdateSecretVersionStage(ctx, "prod/openai", keyward.StageMove{Stage: keyward.StageCurrent, MoveTo: ref1.VersionID, RemoveFrom: ref2.VersionID})
	if err != nil {
		t.Fatal(err)
	}
	d := must[*keyward.Secret](t)(e.svc.Secrets.DescribeSecret(ctx, "prod/openai"))
	if d.VersionIDsToStages[ref1.VersionID][0] != keyward.StageCurrent || d.VersionIDsToStages[ref2.VersionID][0] != keyward.StagePrevious {
		t.Fatalf("stages %v", d.VersionIDsToStages)
	}
	err = e.svc.Secrets.UpdateSecretVersionStage(ctx, "prod/openai", keyward.StageMove{Stage: keyward.StageCurrent, MoveTo: ref2.VersionID})
	wantCode(t, err, keyward.EINVALID) // CURRENT is elsewhere: removeFromVersionId required
}

func TestSecretIdempotentPut(t *testing.T) {
	e := newEnv(t)
	must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: "s"}))
	a := must[*keyward.SecretVersionRef](t)(e.svc.Secrets.PutSecretValue(e.admin, "s", keyward.SecretPut{Value: []byte("x"), ClientToken: "req-1"}))
	b := must[*keyward.SecretVersionRef](t)(e.svc.Secrets.PutSecretValue(e.admin, "s", keyward.SecretPut{Value: []byte("x"), ClientToken: "req-1"}))
	if a.VersionID != "req-1" || b.VersionID != "req-1" {
		t.Fatalf("versions %s %s", a.VersionID, b.VersionID)
	}
	_, err := e.svc.Secrets.PutSecretValue(e.admin, "s", keyward.SecretPut{Value: []byte("y"), ClientToken: "req-1"})
	wantCode(t, err, keyward.ECONFLICT)
	d := must[*keyward.Secret](t)(e.svc.Secrets.DescribeSecret(e.admin, "s"))
	if len(d.VersionIDsToStages) != 1 {
		t.Fatalf("versions %v", d.VersionIDsToStages)
	}
}

func TestSecretDeletionWindow(t *testing.T) {
	e := newEnv(t)
	ctx := e.admin
	must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(ctx, keyward.SecretCreate{Name: "gone", Value: []byte("v")}))
	for _, bad := range []keyward.SecretDelete{{RecoveryWindowDays: 6}, {RecoveryWindowDays: 31}, {RecoveryWindowDays: 7, Force: true}} {
		_, err := e.svc.Secrets.DeleteSecret(ctx, "gone", bad)
		wantCode(t, err, keyward.EINVALID)
	}
	sec := must[*keyward.Secret](t)(e.svc.Secrets.DeleteSecret(ctx, "gone", keyward.SecretDelete{RecoveryWindowDays: 7}))
	if sec.DeletionDate == nil || !sec.DeletionDate.Equal(e.clock.Now().Add(7*24*time.Hour)) {
		t.Fatalf("deletion date %v", sec.DeletionDate)
	}
	_, err := e.svc.Secrets.GetSecretValue(ctx, "gone", keyward.SecretSelector{})
	wantCode(t, err, keyward.EPRECONDITION)
	_, err = e.svc.Secrets.PutSecretValue(ctx, "gone", keyward.SecretPut{Value: []byte("w")})
	wantCode(t, err, keyward.EPRECONDITION)
	if l, _, _ := e.svc.Secrets.ListSecrets(ctx, keyward.SecretFilter{}); len(l) != 0 {
		t.Fatal("a secret pending deletion is listed")
	}
	if l, _, _ := e.svc.Secrets.ListSecrets(ctx, keyward.SecretFilter{IncludeDeleted: true}); len(l) != 1 {
		t.Fatal("includeDeleted does not list it")
	}
	must[*keyward.Secret](t)(e.svc.Secrets.RestoreSecret(ctx, "gone"))
	if v := must[*keyward.SecretValue](t)(e.svc.Secrets.GetSecretValue(ctx, "gone", keyward.SecretSelector{})); string(v.Value) != "v" {
		t.Fatal("restored secret lost its value")
	}
	_, err = e.svc.Secrets.RestoreSecret(ctx, "gone")
	wantCode(t, err, keyward.EPRECONDITION)

	must[*keyward.Secret](t)(e.svc.Secrets.DeleteSecret(ctx, "gone", keyward.SecretDelete{}))
	e.clock.Advance(29 * 24 * time.Hour)
	if n, err := e.svc.Secrets.PurgeDeletedSecrets(ctx); err != nil || n != 0 {
		t.Fatalf("purged %d before the window ended (%v)", n, err)
	}
	e.clock.Advance(24 * time.Hour)
	if n, err := e.svc.Secrets.PurgeDeletedSecrets(ctx); err != nil || n != 1 {
		t.Fatalf("purged %d (%v), want 1", n, err)
	}
	_, err = e.svc.Secrets.DescribeSecret(ctx, "gone")
	wantCode(t, err, keyward.ENOTFOUND)
}

func TestSecretForceDelete(t *testing.T) {
	e := newEnv(t)
	must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: "f", Value: []byte("v")}))
	must[*keyward.Secret](t)(e.svc.Secrets.DeleteSecret(e.admin, "f", keyward.SecretDelete{Force: true}))
	_, err := e.svc.Secrets.DescribeSecret(e.admin, "f")
	wantCode(t, err, keyward.ENOTFOUND)
	_, err = e.svc.Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: "bad name!"})
	wantCode(t, err, keyward.EINVALID)
}

func TestSecretListFilters(t *testing.T) {
	e := newEnv(t)
	for _, s := range []keyward.SecretCreate{
		{Name: "prod/a", Tags: map[string]string{"team": "ml"}},
		{Name: "prod/b", Tags: map[string]string{"team": "web"}},
		{Name: "dev/a", Tags: map[string]string{"team": "ml"}},
	} {
		must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, s))
	}
	byPrefix, _, _ := e.svc.Secrets.ListSecrets(e.admin, keyward.SecretFilter{NamePrefix: "prod/"})
	byTag, _, _ := e.svc.Secrets.ListSecrets(e.admin, keyward.SecretFilter{TagKey: "team", TagValue: "ml"})
	if len(byPrefix) != 2 || len(byTag) != 2 || byTag[0].Name != "dev/a" {
		t.Fatalf("prefix %d, tag %d", len(byPrefix), len(byTag))
	}
}

func TestCreateSecretRetryWithSameToken(t *testing.T) {
	e := newEnv(t)
	in := keyward.SecretCreate{Name: "retry", Value: []byte("v"), ClientToken: "create-1"}
	a := must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, in))
	b := must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, in))
	if a.VersionID != "create-1" || b.VersionID != a.VersionID {
		t.Fatalf("versions %q %q", a.VersionID, b.VersionID)
	}
	in.Value = []byte("other")
	_, err := e.svc.Secrets.CreateSecret(e.admin, in)
	wantCode(t, err, keyward.ECONFLICT)
}

// A restore between the purge's listing and its delete wins.
func TestPurgeSkipsRestored(t *testing.T) {
	e := newEnv(t)
	must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: "back", Value: []byte("v")}))
	must[*keyward.Secret](t)(e.svc.Secrets.DeleteSecret(e.admin, "back", keyward.SecretDelete{RecoveryWindowDays: 7}))
	e.clock.Advance(8 * 24 * time.Hour)
	must[*keyward.Secret](t)(e.svc.Secrets.RestoreSecret(e.admin, "back"))
	if n, err := e.svc.Secrets.PurgeDeletedSecrets(e.admin); err != nil || n != 0 {
		t.Fatalf("purged %d (%v)", n, err)
	}
	must[*keyward.Secret](t)(e.svc.Secrets.DescribeSecret(e.admin, "back"))
}
