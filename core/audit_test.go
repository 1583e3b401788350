package core_test

import (
	"context"
	"errors"
	"testing"

	"github.com/keyward/keyward"
)

// failingAudit is a store whose transactions cannot append audit records.
type failingAudit struct{ keyward.Store }

func (f failingAudit) Update(ctx context.Context, fn func(context.Context, keyward.Tx) error) error {
	return f.Store.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
		return fn(ctx, failingTx{tx})
	})
}

type failingTx struct{ keyward.Tx }

func (failingTx) AppendAudit(context.Context, *keyward.AuditRecord) error {
	return errors.New("disk full")
}

func TestAuditFailureFailsTheCall(t *testing.T) {
	broken := false
	e := newEnvWithStore(t, func(s keyward.Store) keyward.Store { return &switchable{Store: s, broken: &broken} })
	broken = true
	_, err := e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k"})
	if err == nil {
		t.Fatal("a call whose audit record could not be written succeeded")
	}
	wantCode(t, err, keyward.EINTERNAL)
	broken = false
	keys, _, err := e.svc.Keys.ListKeys(e.admin, keyward.KeyFilter{})
	if err != nil || len(keys) != 0 {
		t.Fatalf("the change survived its failed audit record: %d keys (%v)", len(keys), err)
	}
}

type switchable struct {
	keyward.Store
	broken *bool
}

func (s *switchable) Update(ctx context.Context, fn func(context.Context, keyward.Tx) error) error {
	if *s.broken {
		return failingAudit{s.Store}.Update(ctx, fn)
	}
	return s.Store.Update(ctx, fn)
}

func TestEveryCallIsAudited(t *testing.T) {
	e := newEnv(t)
	reader := e.as(t, "reader")
	before := len(e.auditEvents(t))
	_, _ = e.svc.Keys.CreateKey(reader, keyward.KeyCreate{Name: "denied"})
	_, _ = e.svc.Keys.GetKey(e.admin, "key_missing")
	_, _, _ = e.svc.Keys.ListKeys(e.admin, keyward.KeyFilter{})
	_, _ = e.svc.Keys.CreateKey(context.Background(), keyward.KeyCreate{Name: "anonymous"})
	evs := e.auditEvents(t)[before:]
	if len(evs) != 4 {
		t.Fatalf("%d records for 4 calls", len(evs))
	}
	want := []struct{ name, code string }{
		{"apikeys:Create", keyward.EFORBIDDEN}, {"apikeys:Get", keyward.ENOTFOUND},
		{"apikeys:List", ""}, {"apikeys:Create", keyward.EUNAUTHORIZED},
	}
	for i, w := range want {
		if evs[i].EventName != w.name || evs[i].ErrorCode != w.code {
			t.Errorf("record %d = %s/%q, want %s/%q", i, evs[i].EventName, evs[i].ErrorCode, w.name, w.code)
		}
	}
	if evs[0].UserIdentity.Type != "Principal" || evs[3].UserIdentity.Type != "Anonymous" || !evs[2].ReadOnly || evs[0].ReadOnly {
		t.Fatalf("identities/readOnly wrong: %+v", evs)
	}
}

func TestAuditChainVerifiesAndCheckpoints(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 20; i++ {
		must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k"}))
	}
	if err := e.svc.Audit.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	v, err := e.svc.Audit.VerifyAudit(e.admin)
	if err != nil || !v.OK || v.Checkpoints != 1 || v.Records < 21 {
		t.Fatalf("verify = %+v, %v", v, err)
	}
	_, err = e.svc.Audit.VerifyAudit(e.as(t, "deployer"))
	wantCode(t, err, keyward.EFORBIDDEN)
	if _, err := e.svc.Audit.VerifyAudit(e.as(t, "auditor")); err != nil {
		t.Fatal(err)
	}
}

// A flood of bad tokens from one address becomes one record a second, each
// saying how many failures it stands for.
func TestAuthFailuresAreFolded(t *testing.T) {
	e := newEnv(t)
	ctx := keyward.WithCaller(context.Background(), keyward.Caller{SourceIP: "192.0.2.7"})
	before := len(e.auditEvents(t))
	for range 50 {
		e.svc.Access.RecordAuthFailure(ctx, keyward.ActionKeyList, "unknown")
	}
	e.svc.Access.RecordAuthFailure(keyward.WithCaller(context.Background(), keyward.Caller{SourceIP: "192.0.2.8"}), keyward.ActionKeyList, "unknown")
	evs := e.auditEvents(t)[before:]
	if len(evs) != 2 {
		t.Fatalf("%d records for a flood from one address and one failure from another", len(evs))
	}
	if evs[0].ErrorCode != keyward.EUNAUTHORIZED || evs[0].UserIdentity.Type != "Anonymous" || evs[1].SourceIPAddress != "192.0.2.8" {
		t.Fatalf("records %+v", evs)
	}
}
