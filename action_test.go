package keyward_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// TestEveryActionConstantIsInTheTable reads action.go: an Action constant
// declared without a row in the table would be an action nothing knows
// the resource, read-only flag or change kind of.
func TestEveryActionConstantIsInTheTable(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "action.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Action" {
				continue
			}
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok {
					t.Fatalf("%s is not a string literal", name.Name)
				}
				v, _ := strconv.Unquote(lit.Value)
				n++
				if _, ok := keyward.Action(v).Spec(); !ok {
					t.Errorf("constant %s (%s) has no row in the action table", name.Name, v)
				}
			}
		}
	}
	if n != len(keyward.Actions()) {
		t.Errorf("action.go declares %d Action constants, the table has %d rows", n, len(keyward.Actions()))
	}
}

// dataPlane maps the resource types the gateway serves from to the change
// it must hear about when one of them is written.
var dataPlane = map[keyward.ResourceType]keyward.ChangeKind{
	keyward.ResourceAPIKey: keyward.ChangeKey, keyward.ResourceAPI: keyward.ChangeAPI,
	keyward.ResourcePlan: keyward.ChangePlan, keyward.ResourceSecret: keyward.ChangeSecret,
}

// TestActionTableIsConsistent checks what a new row could get wrong: a
// write to what the gateway serves that does not tell it, a write to
// principals or policies that leaves stale grants cached, a value read
// that is not marked read-only.
func TestActionTableIsConsistent(t *testing.T) {
	types := map[keyward.ResourceType]bool{}
	for _, rt := range keyward.ResourceTypes() {
		types[rt] = true
	}
	for _, s := range keyward.ActionSpecs() {
		if !types[s.Resource] || s.Resource == "" {
			t.Errorf("%s: unknown resource type %q", s.Action, s.Resource)
		}
		if got, ok := s.Action.Spec(); !ok || !reflect.DeepEqual(got, s) {
			t.Errorf("%s.Spec() = %+v, %v; want its row", s.Action, got, ok)
		}
		if s.Action.ReadOnly() != s.ReadOnly {
			t.Errorf("%s.ReadOnly() disagrees with the table", s.Action)
		}
		if s.ReadOnly && (s.Change != "" || s.ChangesAuth) {
			t.Errorf("%s is read-only but announces a change", s.Action)
		}
		if s.RevealsValue && !s.ReadOnly {
			t.Errorf("%s reveals a value but is not read-only", s.Action)
		}
		wantChange := dataPlane[s.Resource]
		if s.ReadOnly || len(s.With) > 0 {
			wantChange = ""
		}
		if s.Change != wantChange {
			t.Errorf("%s: change kind %q, want %q", s.Action, s.Change, wantChange)
		}
		for _, w := range s.With {
			if ws, ok := w.Spec(); !ok || len(ws.With) > 0 {
				t.Errorf("%s is checked with %s, which must be an action with a route of its own", s.Action, w)
			}
		}
		if s.SetsValue && (s.ReadOnly || s.RevealsValue) {
			t.Errorf("%s sets a value: it changes something and reveals nothing", s.Action)
		}
		auth := !s.ReadOnly && (s.Resource == keyward.ResourcePrincipal || s.Resource == keyward.ResourcePolicy)
		if s.ChangesAuth != auth {
			t.Errorf("%s: ChangesAuth %v, want %v", s.Action, s.ChangesAuth, auth)
		}
	}
	for _, name := range []string{"keyward:Bootstrap", "secrets:PurgeSecret", ""} {
		if s, ok := keyward.Action(name).Spec(); ok || !reflect.DeepEqual(s, keyward.ActionSpec{}) {
			t.Errorf("Spec(%q) = %+v, %v; want none", name, s, ok)
		}
	}
}

// TestServicesNameOneResourceType keeps the policy language readable: the
// service part of an action ("apikeys") always goes with one resource type.
func TestServicesNameOneResourceType(t *testing.T) {
	of := map[string]keyward.ResourceType{}
	for _, s := range keyward.ActionSpecs() {
		svc, _, _ := strings.Cut(string(s.Action), ":")
		if rt, ok := of[svc]; ok && rt != s.Resource {
			t.Errorf("%s acts on %s, other %s actions on %s", s.Action, s.Resource, svc, rt)
		}
		of[svc] = s.Resource
	}
}

func TestResourceARNs(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{keyward.KeyARN("key_1"), "kw:apikey/key_1"},
		{keyward.APIARN("api_1"), "kw:api/api_1"},
		{keyward.PlanARN("plan_1"), "kw:plan/plan_1"},
		{keyward.SecretARN("ci/db"), "kw:secret/ci/db"},
		{keyward.WebhookARN("wh_1"), "kw:webhook/wh_1"},
		{keyward.PrincipalARN("prn_1"), "kw:principal/prn_1"},
		{keyward.PolicyARN("pol_1"), "kw:policy/pol_1"},
		{keyward.ResourceAudit.ARN("ignored"), "kw:audit"},
		{keyward.AuditARN, "kw:audit"},
		{keyward.ResourceAPIKey.Form(), "kw:apikey/<id>"},
		{keyward.ResourceSecret.Form(), "kw:secret/<name>"},
		{keyward.ResourceAudit.Form(), "kw:audit"},
	} {
		if tc.got != tc.want {
			t.Errorf("ARN = %q, want %q", tc.got, tc.want)
		}
	}
}
