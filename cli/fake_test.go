package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward"
)

// fakeClient records what the commands ask and answers from its fields. err,
// when set, is returned by every call.
type fakeClient struct {
	err   error
	calls []string

	keyCreate  *keyward.KeyCreate
	keyUpdate  *keyward.KeyUpdate
	keyFilter  *keyward.KeyFilter
	created    *keyward.CreatedKey
	key        *keyward.APIKey
	keyPages   [][]*keyward.APIKey
	keyValue   string
	usage      []keyward.UsageDay
	usageArgs  []any
	apiCreate  *keyward.APICreate
	apiUpdate  *keyward.APIUpdate
	planCreate *keyward.PlanCreate
	planUpdate *keyward.PlanUpdate
	plan       *keyward.UsagePlan
	secCreate  *keyward.SecretCreate
	secPut     *keyward.SecretPut
	secSel     *keyward.SecretSelector
	secDelete  *keyward.SecretDelete
	secMove    *keyward.StageMove
	secValue   *keyward.SecretValue
	prCreate   *keyward.PrincipalCreate
	created2   *keyward.CreatedPrincipal
	polCreate  *keyward.PolicyCreate
	auditF     *keyward.AuditFilter
	records    []*keyward.AuditRecord
	checks     []*keyward.AuditCheckpoint
	verify     *keyward.AuditVerification
	auditReads bool                      // ListAudit appends a record, as the server does
	alog       *testAuditLog             // when set, the audit calls are answered from a real log
	auditKey   string                    // PublicKey's answer when alog is nil
	badProof   func(*keyward.AuditProof) // when set, changes what ProveRecord answers

	keyRotate   *keyward.KeyRotate
	rotated     *keyward.RotatedKey
	rotFilter   *keyward.RotationFilter
	rotations   []*keyward.Rotation
	secRotate   *keyward.SecretRotate
	whCreate    *keyward.WebhookCreate
	createdWh   *keyward.CreatedWebhook
	webhooks    []*keyward.Webhook
	delFilter   *keyward.DeliveryFilter
	deliveries  []*keyward.Delivery
	noRotateRet bool // RotateSecret answers no rotation, as with rotateImmediately false

	// What the list calls answer, in one page: the names tables show.
	apis       []*keyward.API
	plans      []*keyward.UsagePlan
	principals []*keyward.Principal
	policies   []*keyward.Policy
	denyLists  bool // those four lists fail as for a caller without read rights
}

// listCall is call for the lists that only give names to tables.
func (f *fakeClient) listCall(name string) error {
	if err := f.call(name); err != nil || !f.denyLists {
		return err
	}
	return keyward.Errorf(keyward.EFORBIDDEN, "denied")
}

var _ Client = (*fakeClient)(nil)

func (f *fakeClient) call(name string) error {
	f.calls = append(f.calls, name)
	return f.err
}

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func (f *fakeClient) CreateKey(_ context.Context, in keyward.KeyCreate) (*keyward.CreatedKey, error) {
	f.keyCreate = &in
	if err := f.call("CreateKey"); err != nil {
		return nil, err
	}
	if f.created != nil {
		return f.created, nil
	}
	ck := &keyward.CreatedKey{Key: &keyward.APIKey{ID: "key_1", Name: in.Name, Enabled: true, Prefix: "kw", CreatedAt: t0, UpdatedAt: t0}}
	if in.StoreSecret == "" {
		ck.Value = "kw_secretvalue0123456789abcdef"
	}
	return ck, nil
}
func (f *fakeClient) GetKey(_ context.Context, id string) (*keyward.APIKey, error) {
	if err := f.call("GetKey " + id); err != nil {
		return nil, err
	}
	if f.key != nil {
		return f.key, nil
	}
	return &keyward.APIKey{ID: id, Name: "k", Enabled: true, CreatedAt: t0}, nil
}
func (f *fakeClient) ListKeys(_ context.Context, kf keyward.KeyFilter) ([]*keyward.APIKey, string, error) {
	f.keyFilter = &kf
	if err := f.call("ListKeys " + kf.Position); err != nil {
		return nil, "", err
	}
	return f.page(kf.Page)
}
func (f *fakeClient) page(p keyward.Page) ([]*keyward.APIKey, string, error) {
	i := 0
	if p.Position != "" {
		i = int(p.Position[0] - '0')
	}
	if i >= len(f.keyPages) {
		return nil, "", nil
	}
	next := ""
	if i+1 < len(f.keyPages) {
		next = string(rune('0' + i + 1))
	}
	return f.keyPages[i], next, nil
}
func (f *fakeClient) UpdateKey(_ context.Context, id string, u keyward.KeyUpdate) (*keyward.APIKey, error) {
	f.keyUpdate = &u
	if err := f.call("UpdateKey " + id); err != nil {
		return nil, err
	}
	return &keyward.APIKey{ID: id, Name: "k"}, nil
}
func (f *fakeClient) DeleteKey(_ context.Context, id string) error { return f.call("DeleteKey " + id) }
func (f *fakeClient) ReadKeyValue(_ context.Context, id string) (string, error) {
	if err := f.call("ReadKeyValue " + id); err != nil {
		return "", err
	}
	return f.keyValue, nil
}
func (f *fakeClient) GetKeyUsage(_ context.Context, id string, from, to time.Time) ([]keyward.UsageDay, error) {
	f.usageArgs = []any{id, from, to}
	if err := f.call("GetKeyUsage " + id); err != nil {
		return nil, err
	}
	return f.usage, nil
}

func (f *fakeClient) CreateAPI(_ context.Context, in keyward.APICreate) (*keyward.API, error) {
	f.apiCreate = &in
	if err := f.call("CreateAPI"); err != nil {
		return nil, err
	}
	return &keyward.API{ID: "api_1", Name: in.Name, Stages: in.Stages}, nil
}
func (f *fakeClient) GetAPI(_ context.Context, n string) (*keyward.API, error) {
	if err := f.call("GetAPI " + n); err != nil {
		return nil, err
	}
	return &keyward.API{ID: "api_1", Name: n}, nil
}
func (f *fakeClient) ListAPIs(_ context.Context, p keyward.Page) ([]*keyward.API, string, error) {
	return f.apis, "", f.listCall("ListAPIs")
}
func (f *fakeClient) UpdateAPI(_ context.Context, n string, u keyward.APIUpdate) (*keyward.API, error) {
	f.apiUpdate = &u
	if err := f.call("UpdateAPI " + n); err != nil {
		return nil, err
	}
	return &keyward.API{ID: "api_1", Name: n}, nil
}
func (f *fakeClient) DeleteAPI(_ context.Context, n string) error { return f.call("DeleteAPI " + n) }

func (f *fakeClient) CreatePlan(_ context.Context, in keyward.PlanCreate) (*keyward.UsagePlan, error) {
	f.planCreate = &in
	if err := f.call("CreatePlan"); err != nil {
		return nil, err
	}
	return &keyward.UsagePlan{ID: "plan_1", Name: in.Name, Throttle: in.Throttle, Quota: in.Quota, Tokens: in.Tokens}, nil
}
func (f *fakeClient) GetPlan(_ context.Context, n string) (*keyward.UsagePlan, error) {
	if err := f.call("GetPlan " + n); err != nil {
		return nil, err
	}
	if f.plan != nil {
		return f.plan, nil
	}
	return &keyward.UsagePlan{ID: "plan_1", Name: n}, nil
}
func (f *fakeClient) ListPlans(_ context.Context, p keyward.Page) ([]*keyward.UsagePlan, string, error) {
	return f.plans, "", f.listCall("ListPlans")
}
func (f *fakeClient) UpdatePlan(_ context.Context, n string, u keyward.PlanUpdate) (*keyward.UsagePlan, error) {
	f.planUpdate = &u
	if err := f.call("UpdatePlan " + n); err != nil {
		return nil, err
	}
	return &keyward.UsagePlan{ID: "plan_1", Name: n}, nil
}
func (f *fakeClient) DeletePlan(_ context.Context, n string) error { return f.call("DeletePlan " + n) }
func (f *fakeClient) AttachKey(_ context.Context, p, k string) error {
	return f.call("AttachKey " + p + " " + k)
}
func (f *fakeClient) DetachKey(_ context.Context, p, k string) error {
	return f.call("DetachKey " + p + " " + k)
}
func (f *fakeClient) ListPlanKeys(_ context.Context, n string, p keyward.Page) ([]*keyward.APIKey, string, error) {
	if err := f.call("ListPlanKeys " + n); err != nil {
		return nil, "", err
	}
	return f.page(p)
}

func (f *fakeClient) CreateSecret(_ context.Context, in keyward.SecretCreate) (*keyward.SecretVersionRef, error) {
	f.secCreate = &in
	if err := f.call("CreateSecret"); err != nil {
		return nil, err
	}
	return &keyward.SecretVersionRef{Name: in.Name, ARN: keyward.SecretARN(in.Name), VersionID: "v1"}, nil
}
func (f *fakeClient) PutSecretValue(_ context.Context, n string, in keyward.SecretPut) (*keyward.SecretVersionRef, error) {
	f.secPut = &in
	if err := f.call("PutSecretValue " + n); err != nil {
		return nil, err
	}
	return &keyward.SecretVersionRef{Name: n, ARN: keyward.SecretARN(n), VersionID: "v2"}, nil
}
func (f *fakeClient) GetSecretValue(_ context.Context, n string, sel keyward.SecretSelector) (*keyward.SecretValue, error) {
	f.secSel = &sel
	if err := f.call("GetSecretValue " + n); err != nil {
		return nil, err
	}
	return f.secValue, nil
}
func (f *fakeClient) DescribeSecret(_ context.Context, n string) (*keyward.Secret, error) {
	if err := f.call("DescribeSecret " + n); err != nil {
		return nil, err
	}
	return &keyward.Secret{Name: n, ARN: keyward.SecretARN(n)}, nil
}
func (f *fakeClient) ListSecrets(_ context.Context, sf keyward.SecretFilter) ([]*keyward.Secret, string, error) {
	return nil, "", f.call("ListSecrets")
}
func (f *fakeClient) UpdateSecret(_ context.Context, n string, u keyward.SecretUpdate) (*keyward.Secret, error) {
	return nil, f.call("UpdateSecret " + n)
}
func (f *fakeClient) UpdateSecretVersionStage(_ context.Context, n string, m keyward.StageMove) error {
	f.secMove = &m
	return f.call("UpdateSecretVersionStage " + n)
}
func (f *fakeClient) DeleteSecret(_ context.Context, n string, d keyward.SecretDelete) (*keyward.Secret, error) {
	f.secDelete = &d
	if err := f.call("DeleteSecret " + n); err != nil {
		return nil, err
	}
	return &keyward.Secret{Name: n}, nil
}
func (f *fakeClient) RestoreSecret(_ context.Context, n string) (*keyward.Secret, error) {
	if err := f.call("RestoreSecret " + n); err != nil {
		return nil, err
	}
	return &keyward.Secret{Name: n}, nil
}

func (f *fakeClient) CreatePrincipal(_ context.Context, in keyward.PrincipalCreate) (*keyward.CreatedPrincipal, error) {
	f.prCreate = &in
	if err := f.call("CreatePrincipal"); err != nil {
		return nil, err
	}
	if f.created2 != nil {
		return f.created2, nil
	}
	return &keyward.CreatedPrincipal{Principal: &keyward.Principal{ID: "pr_1", Name: in.Name, Type: "service"}, Token: "kwa_tokentokentoken"}, nil
}
func (f *fakeClient) GetPrincipal(_ context.Context, n string) (*keyward.Principal, error) {
	if err := f.call("GetPrincipal " + n); err != nil {
		return nil, err
	}
	return &keyward.Principal{ID: "pr_1", Name: n}, nil
}
func (f *fakeClient) ListPrincipals(_ context.Context, p keyward.Page) ([]*keyward.Principal, string, error) {
	return f.principals, "", f.listCall("ListPrincipals")
}
func (f *fakeClient) DeletePrincipal(_ context.Context, n string) error {
	return f.call("DeletePrincipal " + n)
}
func (f *fakeClient) CreateToken(_ context.Context, n string) (string, *keyward.AdminToken, error) {
	if err := f.call("CreateToken " + n); err != nil {
		return "", nil, err
	}
	return "kwa_newtokennewtoken", &keyward.AdminToken{ID: "tok_2", PrincipalID: "pr_1", Hint: "kwa_…oken"}, nil
}

func (f *fakeClient) CreatePolicy(_ context.Context, in keyward.PolicyCreate) (*keyward.Policy, error) {
	f.polCreate = &in
	if err := f.call("CreatePolicy"); err != nil {
		return nil, err
	}
	return &keyward.Policy{ID: "pol_1", Name: in.Name}, nil
}
func (f *fakeClient) GetPolicy(_ context.Context, n string) (*keyward.Policy, error) {
	if err := f.call("GetPolicy " + n); err != nil {
		return nil, err
	}
	return &keyward.Policy{ID: "pol_1", Name: n}, nil
}
func (f *fakeClient) ListPolicies(_ context.Context, p keyward.Page) ([]*keyward.Policy, string, error) {
	return f.policies, "", f.listCall("ListPolicies")
}
func (f *fakeClient) DeletePolicy(_ context.Context, n string) error {
	return f.call("DeletePolicy " + n)
}
func (f *fakeClient) AttachPolicy(_ context.Context, p, pr string) error {
	return f.call("AttachPolicy " + p + " " + pr)
}
func (f *fakeClient) DetachPolicy(_ context.Context, p, pr string) error {
	return f.call("DetachPolicy " + p + " " + pr)
}

func (f *fakeClient) ListAudit(ctx context.Context, af keyward.AuditFilter) ([]*keyward.AuditRecord, error) {
	f.auditF = &af
	if err := f.call("ListAudit"); err != nil {
		return nil, err
	}
	if f.alog != nil {
		out, err := f.alog.store.ListAudit(ctx, af)
		if f.auditReads {
			f.alog.add(1, "audit:Read")
		}
		return out, err
	}
	var out []*keyward.AuditRecord
	for i := range f.records {
		r := f.records[i]
		if af.Descending {
			r = f.records[len(f.records)-1-i]
		}
		if r.Seq > af.AfterSeq && (af.BeforeSeq == 0 || r.Seq < af.BeforeSeq) && (af.Limit == 0 || len(out) < af.Limit) {
			out = append(out, r)
		}
	}
	if f.auditReads {
		// Like the server, audit the read itself.
		n := int64(len(f.records)) + 1
		f.records = append(f.records, &keyward.AuditRecord{Seq: n, Event: []byte(`{"eventName":"audit:Read"}`)})
	}
	return out, nil
}
func (f *fakeClient) ListCheckpoints(ctx context.Context, after int64, limit int) ([]*keyward.AuditCheckpoint, error) {
	if err := f.call("ListCheckpoints"); err != nil {
		return nil, err
	}
	if f.alog != nil {
		return f.alog.store.ListCheckpoints(ctx, after, limit)
	}
	var out []*keyward.AuditCheckpoint
	for _, c := range f.checks {
		if c.Size > after && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}
func (f *fakeClient) VerifyAudit(context.Context) (*keyward.AuditVerification, error) {
	if err := f.call("VerifyAudit"); err != nil {
		return nil, err
	}
	return f.verify, nil
}
func (f *fakeClient) ProveRecord(ctx context.Context, seq, size int64) (*keyward.AuditProof, error) {
	if err := f.call(fmt.Sprintf("ProveRecord %d %d", seq, size)); err != nil {
		return nil, err
	}
	if f.alog == nil {
		return nil, keyward.Errorf(keyward.ENOTFOUND, "no audit checkpoint yet")
	}
	c, err := f.alog.checkpointAt(size)
	if err != nil {
		return nil, err
	}
	p, err := f.alog.log.ProveRecord(ctx, f.alog.store, c, seq)
	if err == nil && f.badProof != nil {
		f.badProof(p)
	}
	return p, err
}
func (f *fakeClient) ProveConsistency(ctx context.Context, from, to int64) (*keyward.AuditConsistency, error) {
	if err := f.call(fmt.Sprintf("ProveConsistency %d %d", from, to)); err != nil {
		return nil, err
	}
	if f.alog == nil {
		return nil, keyward.Errorf(keyward.ENOTFOUND, "no audit checkpoint yet")
	}
	c, err := f.alog.checkpointAt(to)
	if err != nil {
		return nil, err
	}
	return f.alog.log.ProveConsistency(ctx, f.alog.store, c, from)
}
func (f *fakeClient) PublicKey(context.Context) (string, error) {
	if err := f.call("PublicKey"); err != nil {
		return "", err
	}
	if f.alog != nil {
		return f.alog.verifierKey(), nil
	}
	return f.auditKey, nil
}

// RotationService.

func (f *fakeClient) RotateKey(_ context.Context, id string, in keyward.KeyRotate) (*keyward.RotatedKey, error) {
	f.keyRotate = &in
	if err := f.call("RotateKey " + id); err != nil {
		return nil, err
	}
	if f.rotated != nil {
		return f.rotated, nil
	}
	grace := t0.Add(24 * time.Hour)
	rot := &keyward.Rotation{ID: "rot_1", Kind: keyward.RotationKey, Target: id, State: keyward.RotationSucceeded,
		Step: keyward.StepFinish, Trigger: keyward.TriggerManual, StoreSecret: in.StoreSecret, CreatedAt: t0}
	out := &keyward.RotatedKey{Key: &keyward.APIKey{ID: id, Name: "k", Enabled: true, Credentials: []keyward.Credential{
		{ID: "c2", KeyID: id, Label: keyward.LabelCurrent, Hint: "kw_…new1", CreatedAt: t0},
		{ID: "c1", KeyID: id, Label: keyward.LabelPrevious, Hint: "kw_…old1", GraceUntil: &grace, CreatedAt: t0},
	}}, Rotation: rot}
	if in.StoreSecret == "" {
		out.Value = "kw_rotatedvalue0123456789abcdef"
	}
	return out, nil
}
func (f *fakeClient) RevokePrevious(_ context.Context, id string) (*keyward.APIKey, error) {
	if err := f.call("RevokePrevious " + id); err != nil {
		return nil, err
	}
	return &keyward.APIKey{ID: id, Name: "k"}, nil
}
func (f *fakeClient) ListKeyRotations(_ context.Context, id string, rf keyward.RotationFilter) ([]*keyward.Rotation, string, error) {
	f.rotFilter = &rf
	if err := f.call("ListKeyRotations " + id); err != nil {
		return nil, "", err
	}
	return f.rotations, "", nil
}
func (f *fakeClient) RotateSecret(_ context.Context, n string, in keyward.SecretRotate) (*keyward.Rotation, error) {
	f.secRotate = &in
	if err := f.call("RotateSecret " + n); err != nil {
		return nil, err
	}
	if f.noRotateRet {
		return nil, nil
	}
	return &keyward.Rotation{ID: "rot_2", Kind: keyward.RotationSecret, Target: n, State: keyward.RotationInProgress,
		Trigger: keyward.TriggerManual, ClientToken: in.ClientToken, StartedBy: "pr_1", CreatedAt: t0}, nil
}
func (f *fakeClient) CancelSecretRotation(_ context.Context, n string) (*keyward.Rotation, error) {
	if err := f.call("CancelSecretRotation " + n); err != nil {
		return nil, err
	}
	return &keyward.Rotation{ID: "rot_2", Kind: keyward.RotationSecret, Target: n, State: keyward.RotationCancelled, CreatedAt: t0}, nil
}
func (f *fakeClient) ListSecretRotations(_ context.Context, n string, rf keyward.RotationFilter) ([]*keyward.Rotation, string, error) {
	f.rotFilter = &rf
	if err := f.call("ListSecretRotations " + n); err != nil {
		return nil, "", err
	}
	return f.rotations, "", nil
}

// WebhookService.

func (f *fakeClient) CreateWebhook(_ context.Context, in keyward.WebhookCreate) (*keyward.CreatedWebhook, error) {
	f.whCreate = &in
	if err := f.call("CreateWebhook"); err != nil {
		return nil, err
	}
	if f.createdWh != nil {
		return f.createdWh, nil
	}
	return &keyward.CreatedWebhook{Webhook: &keyward.Webhook{ID: "wh_1", Kind: in.Kind, URL: in.URL, Events: in.Events, CreatedAt: t0},
		Secret: "whsec_signingsecret0123456789"}, nil
}
func (f *fakeClient) GetWebhook(_ context.Context, id string) (*keyward.Webhook, error) {
	if err := f.call("GetWebhook " + id); err != nil {
		return nil, err
	}
	return &keyward.Webhook{ID: id, Kind: keyward.WebhookNotify, URL: "https://hooks.example/k", CreatedAt: t0}, nil
}
func (f *fakeClient) ListWebhooks(_ context.Context, p keyward.Page) ([]*keyward.Webhook, string, error) {
	if err := f.call("ListWebhooks"); err != nil {
		return nil, "", err
	}
	return f.webhooks, "", nil
}
func (f *fakeClient) DeleteWebhook(_ context.Context, id string) error {
	return f.call("DeleteWebhook " + id)
}
func (f *fakeClient) ListDeliveries(_ context.Context, id string, df keyward.DeliveryFilter) ([]*keyward.Delivery, string, error) {
	f.delFilter = &df
	if err := f.call("ListDeliveries " + id); err != nil {
		return nil, "", err
	}
	return f.deliveries, "", nil
}
