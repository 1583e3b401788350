package policy_test

import (
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/policy"
)

// TestParseResourceTypes holds Resource patterns to the action table: a
// pattern must be able to name a resource of a type that one of the
// statement's actions is authorized on.
func TestParseResourceTypes(t *testing.T) {
	doc := func(action, resource string) string {
		return `{"Statement":[{"Effect":"Allow","Action":` + action + `,"Resource":` + resource + `}]}`
	}
	accept := []struct{ name, doc string }{
		{"any resource", doc(`"apikeys:Create"`, `"*"`)},
		{"every type", doc(`"*"`, `"kw:*"`)},
		{"the type of the action", doc(`"apikeys:Create"`, `"kw:apikey/*"`)},
		{"one id", doc(`"apis:Get"`, `"kw:api/api_1"`)},
		{"prefix of two types", doc(`"apis:Get"`, `"kw:api*"`)},
		{"question mark in the type", doc(`"apikeys:Get"`, `"kw:api?ey/*"`)},
		{"star across type and id", doc(`"secrets:*"`, `"kw:sec*prod"`)},
		{"nested secret names", doc(`"secrets:GetSecretValue"`, `"kw:secret/ci/*"`)},
		{"the audit trail", doc(`"audit:Read"`, `"kw:audit"`)},
		{"the audit trail by glob", doc(`"audit:*"`, `"kw:aud*"`)},
		{"actions of two types on both", doc(`["apikeys:*","secrets:PutSecretValue"]`, `["kw:apikey/*","kw:secret/ci/*"]`)},
		{"an action of another type beside", doc(`["APIKEYS:get","plans:*Key*"]`, `"kw:apikey/*"`)},
		{"wildcard action, any type", doc(`"*"`, `["kw:webhook/*","kw:principal/prn_1","kw:policy/*","kw:plan/plan_1"]`)},
	}
	for _, tt := range accept {
		t.Run("accept "+tt.name, func(t *testing.T) {
			if _, err := policy.Parse([]byte(tt.doc)); err != nil {
				t.Fatalf("Parse(%s): %v", tt.doc, err)
			}
		})
	}

	reject := []struct{ name, doc, says string }{
		{"plural type", doc(`"*"`, `"kw:apikeys/key_1"`), "names no resource"},
		{"unknown type", doc(`"*"`, `"kw:key/*"`), "names no resource"},
		{"type in upper case", doc(`"*"`, `"kw:APIKEY/*"`), "names no resource"},
		{"no id", doc(`"*"`, `"kw:api/"`), "names no resource"},
		{"type without slash", doc(`"*"`, `"kw:secret"`), "names no resource"},
		{"audit with an id", doc(`"audit:Read"`, `"kw:audit/x"`), "names no resource"},
		{"a glob too short for any type", doc(`"*"`, `"kw:api?"`), "names no resource"},
		{"create a key on secrets", doc(`"apikeys:Create"`, `"kw:secret/*"`), "act on kw:apikey/<id>"},
		{"one resource no action acts on", doc(`["apikeys:*"]`, `["kw:apikey/*","kw:secret/*"]`), "kw:secret/*"},
		{"audit on keys", doc(`"audit:Read"`, `"kw:apikey/*"`), "act on kw:audit"},
		{"attach a key named by the key", doc(`"plans:AttachKey"`, `"kw:apikey/key_1"`), "act on kw:plan/<id>"},
	}
	for _, tt := range reject {
		t.Run("reject "+tt.name, func(t *testing.T) {
			_, err := policy.Parse([]byte(tt.doc))
			if code := keyward.ErrorCode(err); code != keyward.EINVALID {
				t.Fatalf("Parse(%s) error code = %q (%v), want %q", tt.doc, code, err, keyward.EINVALID)
			}
			if msg := keyward.ErrorMessage(err); !strings.Contains(msg, "statement 1: Resource") || !strings.Contains(msg, tt.says) {
				t.Errorf("message %q does not name the Resource and %q", msg, tt.says)
			}
		})
	}
}

// TestParseAcceptsTheTablesResources checks every action on the ARN its
// own resource type gives (to an ID of the type's shape), so that no row of
// the table names a type the policy language cannot express.
func TestParseAcceptsTheTablesResources(t *testing.T) {
	for _, s := range keyward.ActionSpecs() {
		one := s.Resource.ARN(s.Resource.IDPrefix() + "x")
		for _, arn := range []string{one, s.Resource.ARN("*")} {
			d := `{"Statement":[{"Effect":"Deny","Action":"` + string(s.Action) + `","Resource":"` + arn + `"}]}`
			_, err := policy.Parse([]byte(d))
			switch {
			case s.OnCollection && arn == one && s.Resource != keyward.ResourceAudit:
				// Create and List are checked on kw:<type>/*: a Deny on one
				// resource would deny nothing, so it is refused.
				if err == nil {
					t.Errorf("%s on %s: accepted, but it can never apply", s.Action, arn)
				}
			case err != nil:
				t.Errorf("%s on %s: %v", s.Action, arn, err)
			}
		}
	}
}

// TestParseRefusesActionsThatApplyToNothing: a statement naming an action
// none of its resources can apply to is refused (a Deny that matches
// nothing fails open); patterns such as apikeys:* are not held to it.
func TestParseRefusesActionsThatApplyToNothing(t *testing.T) {
	for _, d := range []string{
		`{"Statement":[{"Effect":"Deny","Action":["apikeys:Create","apikeys:List"],"Resource":"kw:apikey/key_*"}]}`,
		`{"Statement":[{"Effect":"Deny","Action":"principals:Create","Resource":"kw:principal/prn_*"}]}`,
		`{"Statement":[{"Effect":"Deny","Action":"secrets:ListSecrets","Resource":"kw:secret/team/*"}]}`,
		`{"Statement":[{"Effect":"Deny","Action":["apikeys:ReadValue","secrets:GetSecretValue"],"Resource":"kw:apikey/*"}]}`,
	} {
		if _, err := policy.Parse([]byte(d)); err == nil || !strings.Contains(err.Error(), "applies to none of the statement's resources") {
			t.Errorf("%s: %v, want refused", d, err)
		}
	}
	for _, d := range []string{
		`{"Statement":[{"Effect":"Deny","Action":"apikeys:*","Resource":"kw:apikey/key_*"}]}`,
		`{"Statement":[{"Effect":"Deny","Action":["apikeys:Create","apikeys:Get"],"Resource":["kw:apikey/*"]}]}`,
		`{"Statement":[{"Effect":"Allow","Action":["policies:Attach"],"Resource":["kw:principal/prn_x"]}]}`,
		`{"Statement":[{"Effect":"Allow","Action":["apis:BindKey","apikeys:Update"],"Resource":["kw:api/api_x","kw:apikey/key_y"]}]}`,
	} {
		if _, err := policy.Parse([]byte(d)); err != nil {
			t.Errorf("%s: %v, want accepted", d, err)
		}
	}
}
