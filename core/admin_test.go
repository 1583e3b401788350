package core_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

func TestPlansLifecycle(t *testing.T) {
	e := newEnv(t)
	api := e.demoAPI(t)
	ctx := e.admin
	for name, bad := range map[string]keyward.PlanCreate{
		"zero rate":      {Name: "p", Throttle: &keyward.Throttle{RateLimit: 0, BurstLimit: 1}},
		"bad period":     {Name: "p", Quota: &keyward.Quota{Limit: 1, Period: "YEAR"}},
		"week offset 7":  {Name: "p", Quota: &keyward.Quota{Limit: 1, Period: keyward.PeriodWeek, Offset: 7}},
		"negative token": {Name: "p", Tokens: &keyward.TokenLimits{PerMinute: -1}},
		"unknown stage":  {Name: "p", APIStages: []keyward.PlanStage{{APIID: api.Name, Stage: "nope"}}},
	} {
		_, err := e.svc.Plans.CreatePlan(ctx, bad)
		if c := keyward.ErrorCode(err); c != keyward.EINVALID && c != keyward.ENOTFOUND {
			t.Errorf("%s: code %q", name, c)
		}
	}
	p := must[*keyward.UsagePlan](t)(e.svc.Plans.CreatePlan(ctx, keyward.PlanCreate{Name: "gold",
		Throttle: &keyward.Throttle{RateLimit: 10, BurstLimit: 20}, Quota: &keyward.Quota{Limit: 1000, Period: keyward.PeriodMonth, Offset: 3},
		Tokens:    &keyward.TokenLimits{PerMinute: 1000, PerDay: 100000},
		APIStages: []keyward.PlanStage{{APIID: api.Name, Stage: "prod", RouteThrottles: map[string]keyward.Throttle{"/v1/chat/*/POST": {RateLimit: 1, BurstLimit: 1}}}}}))
	if p.APIStages[0].APIID != api.ID {
		t.Fatalf("stage api %s", p.APIStages[0].APIID)
	}
	ck := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(ctx, keyward.KeyCreate{Name: "k", PlanIDs: []string{"gold"}}))
	if len(ck.Key.PlanIDs) != 1 || ck.Key.PlanIDs[0] != p.ID {
		t.Fatalf("plan ids %v", ck.Key.PlanIDs)
	}
	wantCode(t, e.svc.Plans.AttachKey(ctx, "gold", ck.Key.ID), keyward.ECONFLICT)
	wantCode(t, e.svc.Plans.DeletePlan(ctx, p.ID), keyward.EPRECONDITION)
	keys := must[[]*keyward.APIKey](t)(func() ([]*keyward.APIKey, error) {
		k, _, err := e.svc.Plans.ListPlanKeys(ctx, "gold", keyward.Page{})
		return k, err
	}())
	if len(keys) != 1 || keys[0].ID != ck.Key.ID {
		t.Fatalf("plan keys %v", keys)
	}
	wantCode(t, e.svc.Plans.DetachKey(ctx, p.ID, ck.Key.ID), "")
	wantCode(t, e.svc.Plans.DetachKey(ctx, p.ID, ck.Key.ID), keyward.ENOTFOUND)
	rate := keyward.Throttle{RateLimit: 5, BurstLimit: 5}
	up := must[*keyward.UsagePlan](t)(e.svc.Plans.UpdatePlan(ctx, "gold", keyward.PlanUpdate{Throttle: &rate, ClearQuota: true}))
	if up.Throttle.RateLimit != 5 || up.Quota != nil || up.ID != p.ID {
		t.Fatalf("updated plan %+v", up)
	}
	wantCode(t, e.svc.Plans.DeletePlan(ctx, "gold"), "")
}

func TestAPIsByIDOrName(t *testing.T) {
	e := newEnv(t)
	api := e.demoAPI(t)
	byName := must[*keyward.API](t)(e.svc.APIs.GetAPI(e.admin, "chat"))
	byID := must[*keyward.API](t)(e.svc.APIs.GetAPI(e.admin, api.ID))
	if byName.ID != api.ID || byID.Name != "chat" {
		t.Fatal("lookup by name and ID disagree")
	}
	_, err := e.svc.APIs.CreateAPI(e.admin, keyward.APICreate{Name: "chat", Stages: api.Stages})
	wantCode(t, err, keyward.ECONFLICT)
	for _, bad := range []keyward.APICreate{
		{Name: "Bad Name", Stages: api.Stages},
		{Name: "nostage"},
		{Name: "creds", Stages: []keyward.Stage{{Name: "p", UpstreamURL: "http://user:pw@127.0.0.1/"}}},
		{Name: "ftp", Stages: []keyward.Stage{{Name: "p", UpstreamURL: "ftp://127.0.0.1/"}}},
	} {
		_, err := e.svc.APIs.CreateAPI(e.admin, bad)
		wantCode(t, err, keyward.EINVALID)
	}
	wantCode(t, e.svc.APIs.DeleteAPI(e.admin, "chat"), "")
	_, err = e.svc.APIs.GetAPI(e.admin, "chat")
	wantCode(t, err, keyward.ENOTFOUND)
}

// A policy that names an API by ID applies when the caller names it by name,
// and a missing resource is "forbidden" (not "not found") to callers without
// the right to see it.
func TestPoliciesApplyToResolvedIDs(t *testing.T) {
	e := newEnv(t)
	api := e.demoAPI(t)
	doc, _ := json.Marshal(map[string]any{"Statement": []any{map[string]any{
		"Effect": "Allow", "Action": "apis:Get", "Resource": keyward.APIARN(api.ID)}}})
	must[*keyward.Policy](t)(e.svc.Access.CreatePolicy(e.admin, keyward.PolicyCreate{Name: "one-api", Document: doc}))
	cp := must[*keyward.CreatedPrincipal](t)(e.svc.Access.CreatePrincipal(e.admin, keyward.PrincipalCreate{Name: "narrow", Roles: []string{"one-api"}}))
	narrow := e.login(t, cp.Token)
	if _, err := e.svc.APIs.GetAPI(narrow, "chat"); err != nil {
		t.Fatalf("allowed by ID, asked by name: %v", err)
	}
	_, err := e.svc.APIs.GetAPI(narrow, "missing")
	wantCode(t, err, keyward.EFORBIDDEN)
	_, err = e.svc.APIs.GetAPI(e.admin, "missing")
	wantCode(t, err, keyward.ENOTFOUND)
}

func TestSourceIPCondition(t *testing.T) {
	e := newEnv(t)
	doc := json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"apikeys:List","Resource":"*","Condition":{"IpAddress":{"kw:SourceIp":"10.0.0.0/8"}}}]}`)
	must[*keyward.Policy](t)(e.svc.Access.CreatePolicy(e.admin, keyward.PolicyCreate{Name: "from-vpn", Document: doc}))
	cp := must[*keyward.CreatedPrincipal](t)(e.svc.Access.CreatePrincipal(e.admin, keyward.PrincipalCreate{Name: "vpn-only", Roles: []string{"from-vpn"}}))
	p, tok, _ := e.svc.Access.Authenticate(context.Background(), cp.Token)
	inside := keyward.WithCaller(context.Background(), keyward.Caller{Principal: p, TokenID: tok.ID, SourceIP: "10.1.2.3"})
	outside := keyward.WithCaller(context.Background(), keyward.Caller{Principal: p, TokenID: tok.ID, SourceIP: "127.0.0.1"})
	if _, _, err := e.svc.Keys.ListKeys(inside, keyward.KeyFilter{}); err != nil {
		t.Fatal(err)
	}
	_, _, err := e.svc.Keys.ListKeys(outside, keyward.KeyFilter{})
	wantCode(t, err, keyward.EFORBIDDEN)
}

func TestPrincipalsAndPolicies(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.Access.CreatePolicy(e.admin, keyward.PolicyCreate{Name: "bad", Document: json.RawMessage(`{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}`)})
	wantCode(t, err, keyward.EINVALID)
	for _, doc := range []string{``, `null`, `"{\"Statement\":[]}"`, `[]`} {
		_, err = e.svc.Access.CreatePolicy(e.admin, keyward.PolicyCreate{Name: "odd", Document: json.RawMessage(doc)})
		wantCode(t, err, keyward.EINVALID)
	}
	_, err = e.svc.Access.CreatePolicy(e.admin, keyward.PolicyCreate{Name: "admin", Document: json.RawMessage(`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)})
	wantCode(t, err, keyward.ECONFLICT)
	wantCode(t, e.svc.Access.DeletePolicy(e.admin, "admin"), keyward.EPRECONDITION)
	cp := must[*keyward.CreatedPrincipal](t)(e.svc.Access.CreatePrincipal(e.admin, keyward.PrincipalCreate{Name: "ci", Roles: []string{"reader"}}))
	ci := e.login(t, cp.Token)
	_, err = e.svc.APIs.CreateAPI(ci, keyward.APICreate{Name: "x", Stages: []keyward.Stage{{Name: "p", UpstreamURL: "http://127.0.0.1"}}})
	wantCode(t, err, keyward.EFORBIDDEN)
	wantCode(t, e.svc.Access.AttachPolicy(e.admin, "deployer", "ci"), "")
	if _, err := e.svc.APIs.CreateAPI(ci, keyward.APICreate{Name: "x", Stages: []keyward.Stage{{Name: "p", UpstreamURL: "http://127.0.0.1"}}}); err != nil {
		t.Fatalf("after attaching deployer: %v", err)
	}
	wantCode(t, e.svc.Access.DetachPolicy(e.admin, "deployer", "ci"), "")
	second, _, err := e.svc.Access.CreateToken(e.admin, "ci")
	if err != nil {
		t.Fatal(err)
	}
	e.login(t, second)
	wantCode(t, e.svc.Access.DeletePrincipal(e.admin, "ci"), "")
	if _, _, err := e.svc.Access.Authenticate(context.Background(), cp.Token); keyward.ErrorCode(err) != keyward.EUNAUTHORIZED {
		t.Fatalf("a deleted principal's token still works: %v", err)
	}
	me, _ := keyward.CallerFrom(e.admin)
	wantCode(t, e.svc.Access.DeletePrincipal(e.admin, me.Principal.ID), keyward.EPRECONDITION)
}

func TestBootstrapRunsOnce(t *testing.T) {
	e := newEnv(t)
	token, err := e.svc.Access.Bootstrap(context.Background(), nil)
	if err != nil || token != "" {
		t.Fatalf("second bootstrap gave a token (%v)", err)
	}
	pols, _, _ := e.svc.Access.ListPolicies(e.admin, keyward.Page{})
	names := map[string]bool{}
	for _, p := range pols {
		names[p.Name] = p.BuiltIn
	}
	for _, role := range []string{"admin", "deployer", "reader", "auditor", "rotator"} {
		if !names[role] {
			t.Errorf("built-in role %s missing", role)
		}
	}
}

func TestAuthenticateRejects(t *testing.T) {
	e := newEnv(t)
	for _, tok := range []string{"", "garbage", "kwa_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" + "000000"} {
		_, _, err := e.svc.Access.Authenticate(context.Background(), tok)
		wantCode(t, err, keyward.EUNAUTHORIZED)
	}
}

// Creating a principal with a role is attaching that role: a caller allowed
// principals:Create but not policies:Attach cannot mint an admin.
func TestCreatePrincipalCannotEscalate(t *testing.T) {
	e := newEnv(t)
	doc := json.RawMessage(`{"Statement":[{"Effect":"Allow","Action":["principals:Create"],"Resource":"*"}]}`)
	must[*keyward.Policy](t)(e.svc.Access.CreatePolicy(e.admin, keyward.PolicyCreate{Name: "hr", Document: doc}))
	cp := must[*keyward.CreatedPrincipal](t)(e.svc.Access.CreatePrincipal(e.admin, keyward.PrincipalCreate{Name: "hr-bot", Roles: []string{"hr"}}))
	hr := e.login(t, cp.Token)
	_, err := e.svc.Access.CreatePrincipal(hr, keyward.PrincipalCreate{Name: "sneaky", Roles: []string{"admin"}})
	wantCode(t, err, keyward.EFORBIDDEN)
	if _, err := e.svc.Access.CreatePrincipal(hr, keyward.PrincipalCreate{Name: "plain"}); err != nil {
		t.Fatalf("a principal without roles: %v", err)
	}
	_, err = e.svc.Access.GetPrincipal(e.admin, "sneaky")
	wantCode(t, err, keyward.ENOTFOUND)
}

// Wiring a stage to an upstream secret hands its value to the upstream URL:
// it needs the right to read that secret, which a deployer does not have.
func TestUpstreamSecretNeedsReadRight(t *testing.T) {
	e := newEnv(t)
	must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: "vendor/openai", Value: []byte("sk-vendor")}))
	deployer := e.as(t, "deployer")
	st := []keyward.Stage{{Name: "prod", UpstreamURL: "https://attacker.example", UpstreamSecret: "vendor/openai"}}
	_, err := e.svc.APIs.CreateAPI(deployer, keyward.APICreate{Name: "evil", Stages: st})
	wantCode(t, err, keyward.EFORBIDDEN)
	api := must[*keyward.API](t)(e.svc.APIs.CreateAPI(deployer, keyward.APICreate{Name: "plain", Stages: []keyward.Stage{{Name: "prod", UpstreamURL: "https://llm.example"}}}))
	_, err = e.svc.APIs.UpdateAPI(deployer, api.Name, keyward.APIUpdate{Stages: &st})
	wantCode(t, err, keyward.EFORBIDDEN)
	if _, err := e.svc.APIs.CreateAPI(e.admin, keyward.APICreate{Name: "good", Stages: st}); err != nil {
		t.Fatalf("admin wiring an upstream secret: %v", err)
	}
}

func TestNamesMustNotLookLikeIDs(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.Plans.CreatePlan(e.admin, keyward.PlanCreate{Name: "plan_abc"})
	wantCode(t, err, keyward.EINVALID)
	_, err = e.svc.Access.CreatePrincipal(e.admin, keyward.PrincipalCreate{Name: "prn_x"})
	wantCode(t, err, keyward.EINVALID)
	_, err = e.svc.APIs.CreateAPI(e.admin, keyward.APICreate{Name: "api_x", Stages: []keyward.Stage{{Name: "p", UpstreamURL: "http://127.0.0.1"}}})
	wantCode(t, err, keyward.EINVALID)
}

// A denial names the resource the way the caller did, so it does not reveal
// that a name exists (or its ID).
func TestDenialDoesNotRevealIDs(t *testing.T) {
	e := newEnv(t)
	api := e.demoAPI(t)
	noRights := e.as(t, "rotator")
	_, errExisting := e.svc.APIs.GetAPI(noRights, api.Name)
	_, errMissing := e.svc.APIs.GetAPI(noRights, "nothing-here")
	wantCode(t, errExisting, keyward.EFORBIDDEN)
	wantCode(t, errMissing, keyward.EFORBIDDEN)
	if strings.Contains(keyward.ErrorMessage(errExisting), api.ID) {
		t.Fatalf("denial reveals the ID: %s", keyward.ErrorMessage(errExisting))
	}
}

func TestAttachKeyNeedsKeyUpdate(t *testing.T) {
	e := newEnv(t)
	ck := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "someone-elses"}))
	must[*keyward.UsagePlan](t)(e.svc.Plans.CreatePlan(e.admin, keyward.PlanCreate{Name: "tiny", Quota: &keyward.Quota{Limit: 1, Period: keyward.PeriodDay}}))
	doc := json.RawMessage(`{"Statement":[{"Effect":"Allow","Action":["plans:*"],"Resource":"*"}]}`)
	must[*keyward.Policy](t)(e.svc.Access.CreatePolicy(e.admin, keyward.PolicyCreate{Name: "plans-only", Document: doc}))
	cp := must[*keyward.CreatedPrincipal](t)(e.svc.Access.CreatePrincipal(e.admin, keyward.PrincipalCreate{Name: "planner", Roles: []string{"plans-only"}}))
	planner := e.login(t, cp.Token)
	wantCode(t, e.svc.Plans.AttachKey(planner, "tiny", ck.Key.ID), keyward.EFORBIDDEN)
	wantCode(t, e.svc.Plans.AttachKey(e.admin, "tiny", ck.Key.ID), "")
}
