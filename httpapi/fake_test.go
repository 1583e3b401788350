package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// This file holds the test double of the core: one value implementing every
// service interface, which records each call (method, arguments, Caller) and
// answers with values derived from its input, or with an error set for the
// method. It stores nothing: what is under test is the adapter.

const (
	goodToken = "kwa_good_token_0123456789"
	tokenID   = "tok-1"
)

var (
	testPrincipal = &keyward.Principal{ID: "prn-1", Name: "ci", Type: "service"}
	t0            = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
)

type call struct {
	Method string
	Args   []any
	Caller keyward.Caller
	HasCtx bool
}

type fake struct {
	mu    sync.Mutex
	calls []call
	errs  map[string]error
}

func newFake() *fake { return &fake{errs: map[string]error{}} }

func (f *fake) failWith(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[method] = err
}

func (f *fake) enter(ctx context.Context, method string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := keyward.CallerFrom(ctx)
	f.calls = append(f.calls, call{Method: method, Args: args, Caller: c, HasCtx: ok})
	return f.errs[method]
}

// last returns the last call, failing the test when there was none or it was
// to another method.
func (f *fake) last(t *testing.T, method string) call {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatalf("no call recorded, want %s", method)
	}
	c := f.calls[len(f.calls)-1]
	if c.Method != method {
		t.Fatalf("last call = %s, want %s", c.Method, method)
	}
	return c
}

func (f *fake) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// Authenticator.

func (f *fake) Authenticate(ctx context.Context, token string) (*keyward.Principal, *keyward.AdminToken, error) {
	if err := f.errs["Authenticate"]; err != nil {
		return nil, nil, err
	}
	if token != goodToken {
		return nil, nil, keyward.Errorf(keyward.EUNAUTHORIZED, "unknown token")
	}
	return testPrincipal, &keyward.AdminToken{ID: tokenID, PrincipalID: testPrincipal.ID}, nil
}

// authFailures records RecordAuthFailure calls.
type authFailure struct {
	Action keyward.Action
	Reason string
	Caller keyward.Caller
}

type authFailures struct {
	mu   sync.Mutex
	seen []authFailure
}

func (a *authFailures) RecordAuthFailure(ctx context.Context, action keyward.Action, reason string) {
	c, _ := keyward.CallerFrom(ctx)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = append(a.seen, authFailure{action, reason, c})
}

func (a *authFailures) all() []authFailure {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]authFailure(nil), a.seen...)
}

// KeyService.

func (f *fake) CreateKey(ctx context.Context, in keyward.KeyCreate) (*keyward.CreatedKey, error) {
	if err := f.enter(ctx, "CreateKey", in); err != nil {
		return nil, err
	}
	return &keyward.CreatedKey{Key: &keyward.APIKey{ID: "key-1", Name: in.Name, Tags: in.Tags, Scopes: in.Scopes, CreatedAt: t0, UpdatedAt: t0}, Value: "kw_value_shown_once"}, nil
}

func (f *fake) GetKey(ctx context.Context, id string) (*keyward.APIKey, error) {
	if err := f.enter(ctx, "GetKey", id); err != nil {
		return nil, err
	}
	return &keyward.APIKey{ID: id, Name: "k", Enabled: true, CreatedAt: t0, UpdatedAt: t0}, nil
}

func (f *fake) ListKeys(ctx context.Context, fl keyward.KeyFilter) ([]*keyward.APIKey, string, error) {
	if err := f.enter(ctx, "ListKeys", fl); err != nil {
		return nil, "", err
	}
	return []*keyward.APIKey{{ID: "key-1", CreatedAt: t0, UpdatedAt: t0}, {ID: "key-2", CreatedAt: t0, UpdatedAt: t0}}, "pos-2", nil
}

func (f *fake) UpdateKey(ctx context.Context, id string, u keyward.KeyUpdate) (*keyward.APIKey, error) {
	if err := f.enter(ctx, "UpdateKey", id, u); err != nil {
		return nil, err
	}
	k := &keyward.APIKey{ID: id, CreatedAt: t0, UpdatedAt: t0}
	if u.Name != nil {
		k.Name = *u.Name
	}
	return k, nil
}

func (f *fake) DeleteKey(ctx context.Context, id string) error {
	return f.enter(ctx, "DeleteKey", id)
}

func (f *fake) ReadKeyValue(ctx context.Context, id string) (string, error) {
	if err := f.enter(ctx, "ReadKeyValue", id); err != nil {
		return "", err
	}
	return "kw_recovered_value_for_" + id, nil
}

// UsageService.

// GetKeyUsage answers one row per day from from to to (at most 3), or none
// when from is zero.
func (f *fake) GetKeyUsage(ctx context.Context, id string, from, to time.Time) ([]keyward.UsageDay, error) {
	if err := f.enter(ctx, "GetKeyUsage", id, from, to); err != nil {
		return nil, err
	}
	var out []keyward.UsageDay
	for d, n := from, int64(1); !from.IsZero() && !d.After(to) && n <= 3; d, n = d.AddDate(0, 0, 1), n+1 {
		out = append(out, keyward.UsageDay{KeyID: id, Day: d.Format(keyward.DayFormat), Requests: n, TokensIn: 10 * n, TokensOut: 100 * n})
	}
	return out, nil
}

// APIService.

func (f *fake) CreateAPI(ctx context.Context, in keyward.APICreate) (*keyward.API, error) {
	if err := f.enter(ctx, "CreateAPI", in); err != nil {
		return nil, err
	}
	return &keyward.API{ID: "api-1", Name: in.Name, Stages: in.Stages, CreatedAt: t0, UpdatedAt: t0}, nil
}

func (f *fake) GetAPI(ctx context.Context, idOrName string) (*keyward.API, error) {
	if err := f.enter(ctx, "GetAPI", idOrName); err != nil {
		return nil, err
	}
	return &keyward.API{ID: "api-1", Name: idOrName, Stages: []keyward.Stage{}, CreatedAt: t0, UpdatedAt: t0}, nil
}

func (f *fake) ListAPIs(ctx context.Context, p keyward.Page) ([]*keyward.API, string, error) {
	if err := f.enter(ctx, "ListAPIs", p); err != nil {
		return nil, "", err
	}
	return nil, "", nil // an empty last page
}

func (f *fake) UpdateAPI(ctx context.Context, idOrName string, u keyward.APIUpdate) (*keyward.API, error) {
	if err := f.enter(ctx, "UpdateAPI", idOrName, u); err != nil {
		return nil, err
	}
	a := &keyward.API{ID: "api-1", Name: idOrName, Stages: []keyward.Stage{}, CreatedAt: t0, UpdatedAt: t0}
	if u.Stages != nil {
		a.Stages = *u.Stages
	}
	return a, nil
}

func (f *fake) DeleteAPI(ctx context.Context, idOrName string) error {
	return f.enter(ctx, "DeleteAPI", idOrName)
}

// PlanService.

func (f *fake) CreatePlan(ctx context.Context, in keyward.PlanCreate) (*keyward.UsagePlan, error) {
	if err := f.enter(ctx, "CreatePlan", in); err != nil {
		return nil, err
	}
	return &keyward.UsagePlan{ID: "plan-1", Name: in.Name, Throttle: in.Throttle, Quota: in.Quota, CreatedAt: t0, UpdatedAt: t0}, nil
}

func (f *fake) GetPlan(ctx context.Context, idOrName string) (*keyward.UsagePlan, error) {
	if err := f.enter(ctx, "GetPlan", idOrName); err != nil {
		return nil, err
	}
	return &keyward.UsagePlan{ID: "plan-1", Name: idOrName, CreatedAt: t0, UpdatedAt: t0}, nil
}

func (f *fake) ListPlans(ctx context.Context, p keyward.Page) ([]*keyward.UsagePlan, string, error) {
	if err := f.enter(ctx, "ListPlans", p); err != nil {
		return nil, "", err
	}
	return []*keyward.UsagePlan{{ID: "plan-1", CreatedAt: t0, UpdatedAt: t0}}, "", nil
}

func (f *fake) UpdatePlan(ctx context.Context, idOrName string, u keyward.PlanUpdate) (*keyward.UsagePlan, error) {
	if err := f.enter(ctx, "UpdatePlan", idOrName, u); err != nil {
		return nil, err
	}
	return &keyward.UsagePlan{ID: "plan-1", Name: idOrName, Throttle: u.Throttle, CreatedAt: t0, UpdatedAt: t0}, nil
}

func (f *fake) DeletePlan(ctx context.Context, idOrName string) error {
	return f.enter(ctx, "DeletePlan", idOrName)
}

func (f *fake) AttachKey(ctx context.Context, plan, keyID string) error {
	return f.enter(ctx, "AttachKey", plan, keyID)
}

func (f *fake) DetachKey(ctx context.Context, plan, keyID string) error {
	return f.enter(ctx, "DetachKey", plan, keyID)
}

func (f *fake) ListPlanKeys(ctx context.Context, plan string, p keyward.Page) ([]*keyward.APIKey, string, error) {
	if err := f.enter(ctx, "ListPlanKeys", plan, p); err != nil {
		return nil, "", err
	}
	return []*keyward.APIKey{{ID: "key-9", PlanIDs: []string{plan}, CreatedAt: t0, UpdatedAt: t0}}, "", nil
}

// SecretService.

func (f *fake) CreateSecret(ctx context.Context, in keyward.SecretCreate) (*keyward.SecretVersionRef, error) {
	if err := f.enter(ctx, "CreateSecret", in); err != nil {
		return nil, err
	}
	return &keyward.SecretVersionRef{Name: in.Name, ARN: keyward.SecretARN(in.Name), VersionID: in.ClientToken}, nil
}

func (f *fake) PutSecretValue(ctx context.Context, name string, in keyward.SecretPut) (*keyward.SecretVersionRef, error) {
	if err := f.enter(ctx, "PutSecretValue", name, in); err != nil {
		return nil, err
	}
	return &keyward.SecretVersionRef{Name: name, ARN: keyward.SecretARN(name), VersionID: "v-2"}, nil
}

// secretValues are what GetSecretValue returns, by name.
var secretValues = map[string]*keyward.SecretValue{
	"bin":    {Name: "bin", VersionID: "v-b", Stages: []string{"CURRENT"}, CreatedAt: t0, Binary: true, Value: []byte{0, 1, 2, 0xff}},
	"latin1": {Name: "latin1", VersionID: "v-l", Stages: []string{"CURRENT"}, CreatedAt: t0, Value: []byte{'c', 0xe9}},
}

func (f *fake) GetSecretValue(ctx context.Context, name string, sel keyward.SecretSelector) (*keyward.SecretValue, error) {
	if err := f.enter(ctx, "GetSecretValue", name, sel); err != nil {
		return nil, err
	}
	if v, ok := secretValues[name]; ok {
		return v, nil
	}
	return &keyward.SecretValue{Name: name, VersionID: "v-1", Stages: []string{"CURRENT"}, CreatedAt: t0, Value: []byte("sk-upstream-" + name)}, nil
}

func (f *fake) DescribeSecret(ctx context.Context, name string) (*keyward.Secret, error) {
	if err := f.enter(ctx, "DescribeSecret", name); err != nil {
		return nil, err
	}
	return &keyward.Secret{Name: name, ARN: keyward.SecretARN(name), CreatedAt: t0, UpdatedAt: t0,
		VersionIDsToStages: map[string][]string{"v-1": {"CURRENT"}}}, nil
}

func (f *fake) ListSecrets(ctx context.Context, fl keyward.SecretFilter) ([]*keyward.Secret, string, error) {
	if err := f.enter(ctx, "ListSecrets", fl); err != nil {
		return nil, "", err
	}
	return []*keyward.Secret{{Name: "prod/openai", ARN: keyward.SecretARN("prod/openai"), CreatedAt: t0, UpdatedAt: t0}}, "next-secrets", nil
}

func (f *fake) UpdateSecret(ctx context.Context, name string, u keyward.SecretUpdate) (*keyward.Secret, error) {
	if err := f.enter(ctx, "UpdateSecret", name, u); err != nil {
		return nil, err
	}
	s := &keyward.Secret{Name: name, ARN: keyward.SecretARN(name), CreatedAt: t0, UpdatedAt: t0}
	if u.Description != nil {
		s.Description = *u.Description
	}
	return s, nil
}

func (f *fake) UpdateSecretVersionStage(ctx context.Context, name string, m keyward.StageMove) error {
	return f.enter(ctx, "UpdateSecretVersionStage", name, m)
}

func (f *fake) DeleteSecret(ctx context.Context, name string, d keyward.SecretDelete) (*keyward.Secret, error) {
	if err := f.enter(ctx, "DeleteSecret", name, d); err != nil {
		return nil, err
	}
	del := t0.AddDate(0, 0, 7)
	return &keyward.Secret{Name: name, ARN: keyward.SecretARN(name), CreatedAt: t0, UpdatedAt: t0, DeletionDate: &del}, nil
}

func (f *fake) RestoreSecret(ctx context.Context, name string) (*keyward.Secret, error) {
	if err := f.enter(ctx, "RestoreSecret", name); err != nil {
		return nil, err
	}
	return &keyward.Secret{Name: name, ARN: keyward.SecretARN(name), CreatedAt: t0, UpdatedAt: t0}, nil
}

// PrincipalService.

func (f *fake) CreatePrincipal(ctx context.Context, in keyward.PrincipalCreate) (*keyward.CreatedPrincipal, error) {
	if err := f.enter(ctx, "CreatePrincipal", in); err != nil {
		return nil, err
	}
	return &keyward.CreatedPrincipal{Principal: &keyward.Principal{ID: "prn-2", Name: in.Name, Type: "service", PolicyIDs: []string{}, CreatedAt: t0, UpdatedAt: t0}, Token: "kwa_new_token"}, nil
}

func (f *fake) GetPrincipal(ctx context.Context, idOrName string) (*keyward.Principal, error) {
	if err := f.enter(ctx, "GetPrincipal", idOrName); err != nil {
		return nil, err
	}
	return &keyward.Principal{ID: "prn-2", Name: idOrName, Type: "user", PolicyIDs: []string{"pol-1"}, CreatedAt: t0, UpdatedAt: t0}, nil
}

func (f *fake) ListPrincipals(ctx context.Context, p keyward.Page) ([]*keyward.Principal, string, error) {
	if err := f.enter(ctx, "ListPrincipals", p); err != nil {
		return nil, "", err
	}
	return []*keyward.Principal{testPrincipal}, "", nil
}

func (f *fake) DeletePrincipal(ctx context.Context, idOrName string) error {
	return f.enter(ctx, "DeletePrincipal", idOrName)
}

func (f *fake) CreateToken(ctx context.Context, idOrName string) (string, *keyward.AdminToken, error) {
	if err := f.enter(ctx, "CreateToken", idOrName); err != nil {
		return "", nil, err
	}
	return "kwa_another", &keyward.AdminToken{ID: "tok-2", PrincipalID: "prn-2", Hint: "kwa_…ther", CreatedAt: t0}, nil
}

// PolicyService.

func (f *fake) CreatePolicy(ctx context.Context, in keyward.PolicyCreate) (*keyward.Policy, error) {
	if err := f.enter(ctx, "CreatePolicy", in); err != nil {
		return nil, err
	}
	var doc keyward.PolicyDocument
	if err := json.Unmarshal(in.Document, &doc); err != nil {
		return nil, keyward.Errorf(keyward.EINVALID, "bad document")
	}
	return &keyward.Policy{ID: "pol-1", Name: in.Name, Document: doc, CreatedAt: t0, UpdatedAt: t0}, nil
}

func (f *fake) GetPolicy(ctx context.Context, idOrName string) (*keyward.Policy, error) {
	if err := f.enter(ctx, "GetPolicy", idOrName); err != nil {
		return nil, err
	}
	return &keyward.Policy{ID: "pol-1", Name: idOrName, BuiltIn: true, CreatedAt: t0, UpdatedAt: t0}, nil
}

func (f *fake) ListPolicies(ctx context.Context, p keyward.Page) ([]*keyward.Policy, string, error) {
	if err := f.enter(ctx, "ListPolicies", p); err != nil {
		return nil, "", err
	}
	return []*keyward.Policy{{ID: "pol-1", Name: "admin", CreatedAt: t0, UpdatedAt: t0}}, "", nil
}

func (f *fake) DeletePolicy(ctx context.Context, idOrName string) error {
	return f.enter(ctx, "DeletePolicy", idOrName)
}

func (f *fake) AttachPolicy(ctx context.Context, policy, principal string) error {
	return f.enter(ctx, "AttachPolicy", policy, principal)
}

func (f *fake) DetachPolicy(ctx context.Context, policy, principal string) error {
	return f.enter(ctx, "DetachPolicy", policy, principal)
}

// AuditService.

func (f *fake) ListAudit(ctx context.Context, fl keyward.AuditFilter) ([]*keyward.AuditRecord, error) {
	if err := f.enter(ctx, "ListAudit", fl); err != nil {
		return nil, err
	}
	return []*keyward.AuditRecord{{Seq: fl.AfterSeq + 1, Hash: "ab", Event: json.RawMessage(`{"eventName":"apikeys:Create"}`)}}, nil
}

// fakeCheckpoint is the checkpoint of a tree of size records the fake
// hands out (its note is not a real signature: the fake does not sign).
func fakeCheckpoint(size int64) *keyward.AuditCheckpoint {
	return &keyward.AuditCheckpoint{Size: size, Root: "cd", Time: t0, Note: "keyward/audit/k1\n" + fmt.Sprint(size) + "\n"}
}

func (f *fake) ListCheckpoints(ctx context.Context, afterSize int64, limit int) ([]*keyward.AuditCheckpoint, error) {
	if err := f.enter(ctx, "ListCheckpoints", afterSize, limit); err != nil {
		return nil, err
	}
	return []*keyward.AuditCheckpoint{fakeCheckpoint(afterSize + 10)}, nil
}

func (f *fake) VerifyAudit(ctx context.Context) (*keyward.AuditVerification, error) {
	if err := f.enter(ctx, "VerifyAudit"); err != nil {
		return nil, err
	}
	return fakeVerification(), nil
}

func fakeVerification() *keyward.AuditVerification {
	since := t0.Add(time.Minute)
	return &keyward.AuditVerification{OK: true, Records: 12, Verified: 10, Checkpoints: 2, TreeSize: 10, Root: "cd",
		TailRecords: 2, TailSince: &since, TailTagged: true, LegacyUnverified: &keyward.SeqRange{First: 1, Last: 3}}
}

func (f *fake) ProveRecord(ctx context.Context, seq, size int64) (*keyward.AuditProof, error) {
	if err := f.enter(ctx, "ProveRecord", seq, size); err != nil {
		return nil, err
	}
	return &keyward.AuditProof{
		Record:     &keyward.AuditRecord{Seq: seq, Hash: "ab", Event: json.RawMessage(`{"eventName":"apikeys:Create"}`)},
		Proof:      []string{"01", "02"},
		Checkpoint: fakeCheckpoint(max(size, seq+5)),
	}, nil
}

func (f *fake) ProveConsistency(ctx context.Context, from, to int64) (*keyward.AuditConsistency, error) {
	if err := f.enter(ctx, "ProveConsistency", from, to); err != nil {
		return nil, err
	}
	return &keyward.AuditConsistency{From: from, Proof: []string{"03"}, Checkpoint: fakeCheckpoint(max(to, from+7))}, nil
}

// fakeVerifierKey is the verifier key the fake reports.
const fakeVerifierKey = "keyward/audit/0123456789abcdef+01020304+AQID"

func (f *fake) PublicKey(ctx context.Context) (string, error) {
	if err := f.enter(ctx, "PublicKey"); err != nil {
		return "", err
	}
	return fakeVerifierKey, nil
}

// RotationService.

// Values the fake hands out once, which must never reach a log.
const (
	rotatedValue  = "kw_rotated_value_shown_once"
	signingSecret = "whsec_signing_secret_shown_once"
)

func fakeRotation(kind keyward.RotationKind, target string) *keyward.Rotation {
	done := t0.Add(time.Minute)
	return &keyward.Rotation{ID: "rot-1", Kind: kind, Target: target, State: keyward.RotationSucceeded,
		Step: keyward.StepFinish, Trigger: keyward.TriggerManual, Grace: keyward.Duration(24 * time.Hour),
		StartedBy: testPrincipal.ID, CreatedAt: t0, UpdatedAt: done, FinishedAt: &done}
}

func (f *fake) RotateKey(ctx context.Context, id string, in keyward.KeyRotate) (*keyward.RotatedKey, error) {
	if err := f.enter(ctx, "RotateKey", id, in); err != nil {
		return nil, err
	}
	grace := t0.Add(24 * time.Hour)
	rot := fakeRotation(keyward.RotationKey, id)
	rot.ClientToken, rot.StoreSecret, rot.Hint = in.ClientToken, in.StoreSecret, "kw_…once"
	k := &keyward.APIKey{ID: id, Name: "k", Enabled: true, CreatedAt: t0, UpdatedAt: t0, Credentials: []keyward.Credential{
		{ID: "cred-2", KeyID: id, Label: keyward.LabelCurrent, Hint: "kw_…once", CreatedAt: t0},
		{ID: "cred-1", KeyID: id, Label: keyward.LabelPrevious, Hint: "kw_…old1", GraceUntil: &grace, CreatedAt: t0},
	}}
	out := &keyward.RotatedKey{Key: k, Rotation: rot}
	if in.StoreSecret == "" {
		out.Value = rotatedValue
	}
	return out, nil
}

func (f *fake) RevokePrevious(ctx context.Context, id string) (*keyward.APIKey, error) {
	if err := f.enter(ctx, "RevokePrevious", id); err != nil {
		return nil, err
	}
	return &keyward.APIKey{ID: id, Name: "k", Enabled: true, CreatedAt: t0, UpdatedAt: t0,
		Credentials: []keyward.Credential{{ID: "cred-2", KeyID: id, Label: keyward.LabelCurrent, Hint: "kw_…once", CreatedAt: t0}}}, nil
}

func (f *fake) ListKeyRotations(ctx context.Context, id string, fl keyward.RotationFilter) ([]*keyward.Rotation, string, error) {
	if err := f.enter(ctx, "ListKeyRotations", id, fl); err != nil {
		return nil, "", err
	}
	return []*keyward.Rotation{fakeRotation(keyward.RotationKey, id)}, "next-rotations", nil
}

func (f *fake) RotateSecret(ctx context.Context, name string, in keyward.SecretRotate) (*keyward.Rotation, error) {
	if err := f.enter(ctx, "RotateSecret", name, in); err != nil {
		return nil, err
	}
	if in.Now != nil && !*in.Now {
		return nil, nil // configured, not started
	}
	rot := fakeRotation(keyward.RotationSecret, name)
	rot.State, rot.Step, rot.FinishedAt, rot.UpdatedAt = keyward.RotationInProgress, "", nil, t0
	rot.ClientToken = in.ClientToken
	return rot, nil
}

func (f *fake) CancelSecretRotation(ctx context.Context, name string) (*keyward.Rotation, error) {
	if err := f.enter(ctx, "CancelSecretRotation", name); err != nil {
		return nil, err
	}
	rot := fakeRotation(keyward.RotationSecret, name)
	rot.State = keyward.RotationCancelled
	return rot, nil
}

func (f *fake) ListSecretRotations(ctx context.Context, name string, fl keyward.RotationFilter) ([]*keyward.Rotation, string, error) {
	if err := f.enter(ctx, "ListSecretRotations", name, fl); err != nil {
		return nil, "", err
	}
	return []*keyward.Rotation{fakeRotation(keyward.RotationSecret, name)}, "", nil
}

// WebhookService.

func (f *fake) CreateWebhook(ctx context.Context, in keyward.WebhookCreate) (*keyward.CreatedWebhook, error) {
	if err := f.enter(ctx, "CreateWebhook", in); err != nil {
		return nil, err
	}
	kind := in.Kind
	if kind == "" {
		kind = keyward.WebhookNotify
	}
	wh := &keyward.Webhook{ID: "wh-1", Kind: kind, URL: in.URL, Description: in.Description, Events: in.Events,
		PrincipalID: in.Principal, CreatedAt: t0, SealedSecret: []byte("sealed-must-not-travel")}
	return &keyward.CreatedWebhook{Webhook: wh, Secret: signingSecret}, nil
}

func (f *fake) GetWebhook(ctx context.Context, id string) (*keyward.Webhook, error) {
	if err := f.enter(ctx, "GetWebhook", id); err != nil {
		return nil, err
	}
	return &keyward.Webhook{ID: id, Kind: keyward.WebhookRotator, URL: "https://rotator.internal/hook", CreatedAt: t0,
		SealedSecret: []byte("sealed-must-not-travel")}, nil
}

func (f *fake) ListWebhooks(ctx context.Context, p keyward.Page) ([]*keyward.Webhook, string, error) {
	if err := f.enter(ctx, "ListWebhooks", p); err != nil {
		return nil, "", err
	}
	return []*keyward.Webhook{{ID: "wh-1", Kind: keyward.WebhookNotify, URL: "https://hooks.internal/a", Events: []string{keyward.EventKeyRotated}, CreatedAt: t0}}, "next-webhooks", nil
}

func (f *fake) DeleteWebhook(ctx context.Context, id string) error {
	return f.enter(ctx, "DeleteWebhook", id)
}

func (f *fake) ListDeliveries(ctx context.Context, id string, fl keyward.DeliveryFilter) ([]*keyward.Delivery, string, error) {
	if err := f.enter(ctx, "ListDeliveries", id, fl); err != nil {
		return nil, "", err
	}
	return []*keyward.Delivery{{ID: "dl-1", WebhookID: id, EventID: "ev-1", EventType: keyward.EventKeyRotated,
		Payload: json.RawMessage(`{"id":"ev-1","type":"key.rotated"}`), State: keyward.DeliveryDelivered,
		Attempts:      []keyward.DeliveryAttempt{{At: t0, StatusCode: 500, Error: "HTTP 500", Millis: 12}, {At: t0.Add(time.Minute), StatusCode: 204, Millis: 8}},
		NextAttemptAt: t0.Add(time.Minute), CreatedAt: t0, UpdatedAt: t0.Add(time.Minute)}}, "", nil
}
