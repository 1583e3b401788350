package core_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/keyward/keyward"
)

// TestNoSelfEscalation tries, for every built-in role but admin and for a
// principal allowed to attach policies (but not on itself), every call
// that could widen its own rights: attaching a stronger policy to itself,
// writing one and attaching it, minting itself a principal or a token with
// more rights, and shedding a Deny. Each is refused, and what it may do
// afterwards is what it could do before.
func TestNoSelfEscalation(t *testing.T) {
	e := newEnv(t)
	deny := json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"audit:*","Resource":"*"}]}`)
	must[*keyward.Policy](t)(e.svc.Access.CreatePolicy(e.admin, keyward.PolicyCreate{Name: "no-audit", Document: deny}))
	other := must[*keyward.CreatedPrincipal](t)(e.svc.Access.CreatePrincipal(e.admin, keyward.PrincipalCreate{Name: "other"}))

	// attacher may attach and detach any policy, to other principals only.
	attach := json.RawMessage(fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["policies:Attach","policies:Detach","policies:Get","policies:List"],"Resource":"kw:policy/*"},
		{"Effect":"Allow","Action":["policies:Attach","policies:Detach"],"Resource":"kw:principal/%s"}]}`, other.Principal.ID))
	must[*keyward.Policy](t)(e.svc.Access.CreatePolicy(e.admin, keyward.PolicyCreate{Name: "attach-to-other", Document: attach}))

	subjects := map[string]context.Context{}
	ids := map[string]string{}
	for _, role := range []string{"deployer", "reader", "auditor", "rotator", "attacher"} {
		in := keyward.PrincipalCreate{Name: "esc-" + role, Roles: []string{role}}
		if role == "attacher" {
			in.Roles = nil
		}
		cp := must[*keyward.CreatedPrincipal](t)(e.svc.Access.CreatePrincipal(e.admin, in))
		for _, p := range []string{"no-audit", "attach-to-other"} {
			if p == "attach-to-other" && role != "attacher" {
				continue
			}
			if err := e.svc.Access.AttachPolicy(e.admin, p, cp.Principal.ID); err != nil {
				t.Fatal(err)
			}
		}
		subjects[role], ids[role] = e.login(t, cp.Token), cp.Principal.ID
	}
	bootstrap := must[[]*keyward.Principal](t)(func() ([]*keyward.Principal, error) {
		ps, _, err := e.svc.Access.ListPrincipals(e.admin, keyward.Page{})
		return ps, err
	}())[0]

	allowAll := json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)
	for role, ctx := range subjects {
		t.Run(role, func(t *testing.T) {
			me := ids[role]
			before := policiesOf(t, e, me)
			attempts := map[string]error{
				"attach admin to itself":      e.svc.Access.AttachPolicy(ctx, "admin", me),
				"detach its Deny":             e.svc.Access.DetachPolicy(ctx, "no-audit", me),
				"attach admin by name":        e.svc.Access.AttachPolicy(ctx, "pol_builtin_admin", "esc-"+role),
				"create a principal as admin": second(e.svc.Access.CreatePrincipal(ctx, keyward.PrincipalCreate{Name: "mine-" + role, Roles: []string{"admin"}})),
				"mint the admin a token":      third(e.svc.Access.CreateToken(ctx, bootstrap.ID)),
				"delete its Deny policy":      e.svc.Access.DeletePolicy(ctx, "no-audit"),
			}
			if _, err := e.svc.Access.CreatePolicy(ctx, keyward.PolicyCreate{Name: "all-" + role, Document: allowAll}); err == nil {
				attempts["attach a policy it wrote"] = e.svc.Access.AttachPolicy(ctx, "all-"+role, me)
			} else {
				attempts["write an allow-all policy"] = err
			}
			for what, err := range attempts {
				if keyward.ErrorCode(err) != keyward.EFORBIDDEN {
					t.Errorf("%s: %v, want forbidden", what, err)
				}
			}
			if after := policiesOf(t, e, me); !slices.Equal(before, after) {
				t.Errorf("policies changed from %v to %v", before, after)
			}
		})
	}
	// The attacher keeps the right it was given: on the other principal.
	if err := e.svc.Access.AttachPolicy(subjects["attacher"], "reader", other.Principal.ID); err != nil {
		t.Fatalf("attaching to the principal it has rights on: %v", err)
	}
}

func policiesOf(t *testing.T, e *env, id string) []string {
	t.Helper()
	p := must[*keyward.Principal](t)(e.svc.Access.GetPrincipal(e.admin, id))
	out := slices.Clone(p.PolicyIDs)
	slices.Sort(out)
	return out
}

func second[T any](_ T, err error) error        { return err }
func third[T, U any](_ T, _ U, err error) error { return err }

// TestBindAndImportAreTheirOwnActions: a principal that may create and
// update keys still needs apis:BindKey on an API to bind a key to it, and
// apikeys:Import to choose a key's value.
func TestBindAndImportAreTheirOwnActions(t *testing.T) {
	e := newEnv(t)
	chat, embed := e.demoAPI(t), must[*keyward.API](t)(e.svc.APIs.CreateAPI(e.admin, keyward.APICreate{Name: "embed",
		Stages: []keyward.Stage{{Name: "prod", UpstreamURL: "http://127.0.0.1:9/"}}}))
	doc := json.RawMessage(fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["apikeys:Create","apikeys:Update","apikeys:Get","apikeys:ReadValue"],"Resource":"*"},
		{"Effect":"Allow","Action":["secrets:PutSecretValue","secrets:CreateSecret"],"Resource":"*"},
		{"Effect":"Allow","Action":"apis:BindKey","Resource":"kw:api/%s"}]}`, chat.ID))
	must[*keyward.Policy](t)(e.svc.Access.CreatePolicy(e.admin, keyward.PolicyCreate{Name: "keys-on-chat", Document: doc}))
	cp := must[*keyward.CreatedPrincipal](t)(e.svc.Access.CreatePrincipal(e.admin, keyward.PrincipalCreate{Name: "team"}))
	if err := e.svc.Access.AttachPolicy(e.admin, "keys-on-chat", cp.Principal.ID); err != nil {
		t.Fatal(err)
	}
	ctx := e.login(t, cp.Token)
	on := func(api *keyward.API) []keyward.StageKey { return []keyward.StageKey{{APIID: api.ID, Stage: "prod"}} }

	ck := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(ctx, keyward.KeyCreate{Name: "k", StageKeys: on(chat)}))
	_, err := e.svc.Keys.CreateKey(ctx, keyward.KeyCreate{Name: "k2", StageKeys: on(embed)})
	wantCode(t, err, keyward.EFORBIDDEN)
	wantMessage(t, err, "apis:BindKey")
	both := append(on(chat), on(embed)...)
	_, err = e.svc.Keys.UpdateKey(ctx, ck.Key.ID, keyward.KeyUpdate{StageKeys: &both})
	wantCode(t, err, keyward.EFORBIDDEN)
	// Keeping a binding it could not make is fine; so is dropping one.
	must[*keyward.APIKey](t)(e.svc.Keys.UpdateKey(e.admin, ck.Key.ID, keyward.KeyUpdate{StageKeys: &both}))
	must[*keyward.APIKey](t)(e.svc.Keys.UpdateKey(ctx, ck.Key.ID, keyward.KeyUpdate{Description: ptr("kept")}))
	must[*keyward.APIKey](t)(e.svc.Keys.UpdateKey(ctx, ck.Key.ID, keyward.KeyUpdate{StageKeys: &[]keyward.StageKey{}}))

	_, err = e.svc.Keys.CreateKey(ctx, keyward.KeyCreate{Name: "picked", Value: chosenValue, StoreSecret: "picked"})
	wantCode(t, err, keyward.EFORBIDDEN)
	wantMessage(t, err, "apikeys:Import")
	if _, err := e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "picked", Value: chosenValue, StoreSecret: "picked"}); err != nil {
		t.Fatalf("admin import: %v", err)
	}
	_, err = e.svc.Keys.CreateKey(e.as(t, "deployer"), keyward.KeyCreate{Name: "picked2", Value: chosenValue + "x", StoreSecret: "picked2"})
	wantCode(t, err, keyward.EFORBIDDEN)
}
