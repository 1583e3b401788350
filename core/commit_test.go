package core_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/core"
)

// countingStore counts the write transactions that committed.
type countingStore struct {
	keyward.Store
	commits atomic.Int64
}

func (c *countingStore) Update(ctx context.Context, fn func(ctx context.Context, tx keyward.Tx) error) error {
	err := c.Store.Update(ctx, fn)
	if err == nil {
		c.commits.Add(1)
	}
	return err
}

// fixtures are one of every object a mutating call can act on, made by
// the admin before the call under test.
type fixtures struct {
	api            *keyward.API
	plan           *keyward.UsagePlan
	emptyPlan      *keyward.UsagePlan
	key            *keyward.CreatedKey // rotated once: it has a PREVIOUS value
	attached       *keyward.CreatedKey // attached to plan
	secret         *keyward.SecretVersionRef
	deleted        string // a secret pending deletion
	rotating       string // a secret whose rotation waits on a rotator that never answers
	rotator        *keyward.CreatedWebhook
	hook           *keyward.CreatedWebhook
	person         *keyward.CreatedPrincipal
	policy         *keyward.Policy
	attachedPolicy *keyward.Policy
}

func makeFixtures(t *testing.T, e *env) *fixtures {
	t.Helper()
	f := &fixtures{api: e.demoAPI(t)}
	f.plan = must[*keyward.UsagePlan](t)(e.svc.Plans.CreatePlan(e.admin, keyward.PlanCreate{Name: "gold"}))
	f.emptyPlan = must[*keyward.UsagePlan](t)(e.svc.Plans.CreatePlan(e.admin, keyward.PlanCreate{Name: "bronze"}))
	f.key = must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "k", Scopes: keyward.Scopes{}}))
	must[*keyward.RotatedKey](t)(e.svc.Rotations.RotateKey(e.admin, f.key.Key.ID, keyward.KeyRotate{}))
	f.attached = must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "a", PlanIDs: []string{f.plan.ID}}))
	f.secret = must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: "vendor", Value: []byte("vendor-value-1")}))
	f.deleted = "gone"
	must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: f.deleted, Value: []byte("gone-value")}))
	must[*keyward.Secret](t)(e.svc.Secrets.DeleteSecret(e.admin, f.deleted, keyward.SecretDelete{}))

	// A rotator that holds every request until the test ends: the rotation
	// it is asked for stays in createSecret, where it can be cancelled.
	hold := make(chan struct{})
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hold:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(stuck.Close)
	t.Cleanup(func() { close(hold) })
	f.rotator = must[*keyward.CreatedWebhook](t)(e.svc.Webhooks.CreateWebhook(e.admin, keyward.WebhookCreate{Kind: keyward.WebhookRotator, URL: stuck.URL + "/rotate"}))
	f.rotating = "rotating"
	must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: f.rotating, Value: []byte("rotating-value")}))
	must[*keyward.Rotation](t)(e.svc.Rotations.RotateSecret(e.admin, f.rotating, keyward.SecretRotate{RotatorID: f.rotator.Webhook.ID}))

	f.hook = must[*keyward.CreatedWebhook](t)(e.svc.Webhooks.CreateWebhook(e.admin, keyward.WebhookCreate{URL: "https://hooks.example.com/kw"}))
	f.person = must[*keyward.CreatedPrincipal](t)(e.svc.Access.CreatePrincipal(e.admin, keyward.PrincipalCreate{Name: "person"}))
	doc := json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"apikeys:Get","Resource":"*"}]}`)
	f.policy = must[*keyward.Policy](t)(e.svc.Access.CreatePolicy(e.admin, keyward.PolicyCreate{Name: "get-keys", Document: doc}))
	f.attachedPolicy = must[*keyward.Policy](t)(e.svc.Access.CreatePolicy(e.admin, keyward.PolicyCreate{Name: "attached", Document: doc}))
	if err := e.svc.Access.AttachPolicy(e.admin, f.attachedPolicy.ID, f.person.Principal.ID); err != nil {
		t.Fatal(err)
	}
	return f
}

// mutatingCalls is one call for every action that changes something. The
// test below fails when an action has no entry here: a new operation is
// held to the audited commit from its first day.
var mutatingCalls = map[keyward.Action]func(ctx context.Context, s *core.Services, f *fixtures) error{
	keyward.ActionKeyCreate: func(ctx context.Context, s *core.Services, f *fixtures) error {
		_, err := s.Keys.CreateKey(ctx, keyward.KeyCreate{Name: "new"})
		return err
	},
	keyward.ActionKeyUpdate: func(ctx context.Context, s *core.Services, f *fixtures) error {
		_, err := s.Keys.UpdateKey(ctx, f.key.Key.ID, keyward.KeyUpdate{Description: ptr("changed")})
		return err
	},
	keyward.ActionKeyDelete: func(ctx context.Context, s *core.Services, f *fixtures) error {
		return s.Keys.DeleteKey(ctx, f.key.Key.ID)
	},
	keyward.ActionKeyRotate: func(ctx context.Context, s *core.Services, f *fixtures) error {
		_, err := s.Rotations.RotateKey(ctx, f.attached.Key.ID, keyward.KeyRotate{})
		return err
	},
	keyward.ActionKeyRevokePrevious: func(ctx context.Context, s *core.Services, f *fixtures) error {
		_, err := s.Rotations.RevokePrevious(ctx, f.key.Key.ID)
		return err
	},
	keyward.ActionKeyImport: func(ctx context.Context, s *core.Services, f *fixtures) error {
		_, err := s.Keys.CreateKey(ctx, keyward.KeyCreate{Name: "imported", Value: "vendor-chosen-value-0123456789", StoreSecret: "imported"})
		return err
	},
	keyward.ActionAPIBindKey: func(ctx context.Context, s *core.Services, f *fixtures) error {
		_, err := s.Keys.UpdateKey(ctx, f.key.Key.ID, keyward.KeyUpdate{StageKeys: &[]keyward.StageKey{{APIID: f.api.ID, Stage: "prod"}}})
		return err
	},
	keyward.ActionAPICreate: func(ctx context.Context, s *core.Services, f *fixtures) error {
		_, err := s.APIs.CreateAPI(ctx, keyward.APICreate{Name: "embed", Stages: []keyward.Stage{{Name: "prod", UpstreamURL: "http://127.0.0.1:9/"}}})
		return err
	},
	keyward.ActionAPIUpdate: func(ctx context.Context, s *core.Services, f *fixtures) error {
		_, err := s.APIs.UpdateAPI(ctx, f.api.ID, keyward.APIUpdate{Description: ptr("changed")})
		return err
	},
	keyward.ActionAPIDelete: func(ctx context.Context, s *core.Services, f *fixtures) error {
		return s.APIs.DeleteAPI(ctx, f.api.ID)
	},
	keyward.ActionPlanCreate: func(ctx context.Context, s *core.Services, f *fixtures) error {
		_, err := s.Plans.CreatePlan(ctx, keyward.PlanCreate{Name: "silver"})
		return err
	},
	keyward.ActionPlanUpdate: func(ctx context.Context, s *core.Services, f *fixtures) error {
		_, err := s.Plans.UpdatePlan(ctx, f.plan.ID, keyward.PlanUpdate{Description: ptr("changed")})
		return err
	},
	keyward.ActionPlanDelete: func(ctx context.Context, s *core.Services, f *fixtures) error {
		return s.Plans.DeletePlan(ctx, f.emptyPlan.ID)
	},
	keyward.ActionPlanAttachKey: func(ctx context.Context, s *core.Services, f *fixtures) error {
		return s.Plans.AttachKey(ctx, f.plan.ID, f.key.Key.ID)
	},
	keyward.ActionPlanDetachKey: func(ctx context.Context, s *core.Services, f *fixtures) error {
		return s.Plans.DetachKey(ctx, f.plan.ID, f.attached.Key.ID)
	},
	keyward.ActionSecretCreate: func(ctx context.Context, s *core.Services, f *fixtures) error {
		_, err := s.Secrets.CreateSecret(ctx, keyward.SecretCreate{Name: "other", Value: []byte("other-value")})
		return err
	},
	keyward.ActionSecretPut: func(ctx context.Context, s *core.Services, f *fixtures) error {
		_, err := s.Secrets.PutSecretValue(ctx, "vendor", keyward.SecretPut{Value: []byte("vendor-value-2")})
		return err
	},
	keyward.ActionSecretUpdate: func(ctx context.Context, s *core.Services, f *fixtures) error {
		_, err := s.Secrets.UpdateSecret(ctx, "vendor", keyward.SecretUpdate{Description: ptr("changed")})
		return err
	},
	keyward.ActionSecretUpdateStage: func(ctx context.Context, s *core.Services, f *fixtures) error {
		return s.Secrets.UpdateSecretVersionStage(ctx, "vendor", keyward.StageMove{Stage: "TESTING", MoveTo: f.secret.VersionID})
	},
	keyward.ActionSecretDelete: func(ctx context.Context, s *core.Services, f *fixtures) error {
		_, err := s.Secrets.DeleteSecret(ctx, "vendor", keyward.SecretDelete{})
		return err
	},
	keyward.ActionSecretRestore: func(ctx context.Context, s *core.Services, f *fixtures) error {
		_, err := s.Secrets.RestoreSecret(ctx, f.deleted)
		return err
	},
	keyward.ActionSecretRotate: func(ctx context.Context, s *core.Services, f *fixtures) error {
		_, err := s.Rotations.RotateSecret(ctx, "vendor", keyward.SecretRotate{RotatorID: f.rotator.Webhook.ID, Now: ptr(false)})
		return err
	},
	keyward.ActionSecretCancelRotation: func(ctx context.Context, s *core.Services, f *fixtures) error {
		_, err := s.Rotations.CancelSecretRotation(ctx, f.rotating)
		return err
	},
	keyward.ActionWebhookCreate: func(ctx context.Context, s *core.Services, f *fixtures) error {
		_, err := s.Webhooks.CreateWebhook(ctx, keyward.WebhookCreate{URL: "https://hooks.example.com/other"})
		return err
	},
	keyward.ActionWebhookDelete: func(ctx context.Context, s *core.Services, f *fixtures) error {
		return s.Webhooks.DeleteWebhook(ctx, f.hook.Webhook.ID)
	},
	keyward.ActionPrincipalCreate: func(ctx context.Context, s *core.Services, f *fixtures) error {
		_, err := s.Access.CreatePrincipal(ctx, keyward.PrincipalCreate{Name: "another"})
		return err
	},
	keyward.ActionPrincipalDelete: func(ctx context.Context, s *core.Services, f *fixtures) error {
		return s.Access.DeletePrincipal(ctx, f.person.Principal.ID)
	},
	keyward.ActionPrincipalCreateToken: func(ctx context.Context, s *core.Services, f *fixtures) error {
		_, _, err := s.Access.CreateToken(ctx, f.person.Principal.ID)
		return err
	},
	keyward.ActionPolicyCreate: func(ctx context.Context, s *core.Services, f *fixtures) error {
		doc := json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`)
		_, err := s.Access.CreatePolicy(ctx, keyward.PolicyCreate{Name: "deny-all", Document: doc})
		return err
	},
	keyward.ActionPolicyDelete: func(ctx context.Context, s *core.Services, f *fixtures) error {
		return s.Access.DeletePolicy(ctx, f.policy.ID)
	},
	keyward.ActionPolicyAttach: func(ctx context.Context, s *core.Services, f *fixtures) error {
		return s.Access.AttachPolicy(ctx, f.policy.ID, f.person.Principal.ID)
	},
	keyward.ActionPolicyDetach: func(ctx context.Context, s *core.Services, f *fixtures) error {
		return s.Access.DetachPolicy(ctx, f.attachedPolicy.ID, f.person.Principal.ID)
	},
}

func ptr[T any](v T) *T { return &v }

// TestEveryMutatingActionIsOneAuditedCommit runs every mutating action
// twice: denied, it changes nothing but leaves exactly one record (the
// refusal); allowed, every transaction it commits carries exactly one
// record, naming the action.
func TestEveryMutatingActionIsOneAuditedCommit(t *testing.T) {
	for _, a := range keyward.Actions() {
		if !a.ReadOnly() && mutatingCalls[a] == nil {
			t.Errorf("%s changes something but has no entry in mutatingCalls", a)
		}
	}
	// Transactions an allowed call commits: one, but a key rotation is
	// four steps, each its own transaction and record.
	commits := map[keyward.Action]int{keyward.ActionKeyRotate: 4}
	for a, do := range mutatingCalls {
		if a.ReadOnly() {
			t.Errorf("%s is read-only: it has no place in mutatingCalls", a)
		}
		t.Run(string(a), func(t *testing.T) {
			var cs *countingStore
			e := newEnvWithStore(t, func(s keyward.Store) keyward.Store { cs = &countingStore{Store: s}; return cs })
			f := makeFixtures(t, e)
			nobody := e.login(t, must[*keyward.CreatedPrincipal](t)(e.svc.Access.CreatePrincipal(e.admin, keyward.PrincipalCreate{Name: "nobody"})).Token)

			before, seq, n := storeDigest(t, e), auditSeq(t, e), cs.commits.Load()
			wantCode(t, do(nobody, e.svc, f), keyward.EFORBIDDEN)
			if after := storeDigest(t, e); after != before {
				t.Errorf("a denied call changed the store")
			}
			// An action checked with another is recorded under that one.
			spec, _ := a.Spec()
			named := func(ev keyward.AuditEvent) bool {
				return ev.EventName == string(a) || slices.Contains(spec.With, keyward.Action(ev.EventName))
			}
			refusals := recordsAfter(t, e, seq)
			if len(refusals) != 1 || !named(refusals[0]) || refusals[0].ErrorCode == "" {
				t.Fatalf("a denied call must leave exactly one refusal record of %s; got %+v", a, refusals)
			}
			if got := cs.commits.Load() - n; got != 1 {
				t.Errorf("a denied call committed %d transactions, want 1 (its refusal)", got)
			}

			seq, n = auditSeq(t, e), cs.commits.Load()
			if err := do(e.admin, e.svc, f); err != nil {
				t.Fatalf("allowed: %v", err)
			}
			recs := recordsAfter(t, e, seq)
			want := commits[a]
			if want == 0 {
				want = 1
			}
			if got := cs.commits.Load() - n; got != int64(len(recs)) || len(recs) != want {
				t.Fatalf("allowed: %d transactions committed with %d records, want %d of each", got, len(recs), want)
			}
			for _, r := range recs {
				if !named(r) || r.ErrorCode != "" {
					t.Errorf("allowed: record %s (error %q), want %s without error", r.EventName, r.ErrorCode, a)
				}
			}
		})
	}
}

// storeDigest hashes every row of every table but the audit trail's.
func storeDigest(t *testing.T, e *env) string {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(e.dir, "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables []string
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'audit%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	if len(tables) < 10 {
		t.Fatalf("only %d tables: %v", len(tables), tables)
	}
	h := sha256.New()
	for _, table := range tables {
		rows, err := db.Query(`SELECT * FROM "` + table + `" ORDER BY rowid`)
		if err != nil {
			rows, err = db.Query(`SELECT * FROM "` + table + `"`) // WITHOUT ROWID tables are ordered by key
		}
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(h, "%s%v\n", table, vals)
		}
		rows.Close()
	}
	return hex.EncodeToString(h.Sum(nil))
}

func auditSeq(t *testing.T, e *env) int64 {
	t.Helper()
	var seq int64
	err := e.store.View(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
		var err error
		seq, err = tx.AuditHead(ctx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// recordsAfter returns the events of the records after seq. A write's
// record commits with it, so none can come later.
func recordsAfter(t *testing.T, e *env, seq int64) []keyward.AuditEvent {
	t.Helper()
	return e.auditEvents(t)[seq:]
}
