package policy_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/policy"
)

func mustParse(t testing.TB, doc string) keyward.PolicyDocument {
	t.Helper()
	d, err := policy.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse(%s): %v", doc, err)
	}
	return d
}

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestDecide(t *testing.T) {
	const (
		allowAll      = `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
		allowKeys     = `{"Statement":[{"Effect":"Allow","Action":"apikeys:*","Resource":"*"}]}`
		denyReadValue = `{"Statement":[{"Effect":"Deny","Action":"apikeys:ReadValue","Resource":"*"}]}`
		allowOffice   = `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*",
			"Condition":{"IpAddress":{"kw:SourceIp":["10.0.0.0/8","2001:db8:1::/48","192.0.2.7"]}}}]}`
		denyOutsideOffice = `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*",
			"Condition":{"NotIpAddress":{"kw:SourceIp":["10.0.0.0/8","2001:db8:1::/48"]}}}]}`
		allowOutsideBadNet = `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*",
			"Condition":{"NotIpAddress":{"kw:SourceIp":"203.0.113.0/24"}}}]}`
		denyBadNet = `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*",
			"Condition":{"IpAddress":{"kw:SourceIp":"203.0.113.0/24"}}}]}`
		allowIn2026 = `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*",
			"Condition":{"DateGreaterThan":{"kw:CurrentTime":"2026-01-01T00:00:00Z"},
			             "DateLessThan":{"kw:CurrentTime":"2027-01-01T00:00:00+00:00"}}}]}`
		denyAfter2026 = `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*",
			"Condition":{"DateGreaterThan":{"kw:CurrentTime":"2026-12-31T23:59:59Z"}}}]}`
		prodSecrets = `{"Statement":[{"Effect":"Allow","Action":"secrets:GetSecretValue","Resource":"kw:secret/prod/*"}]}`
		oneCharAPI  = `{"Statement":[{"Effect":"Allow","Action":"apis:Get","Resource":"kw:api/api_?"}]}`
		upperAction = `{"Statement":[{"Effect":"Allow","Action":"APIKEYS:GET","Resource":"*"}]}`
		globAction  = `{"Statement":[{"Effect":"Allow","Action":"plans:*Key*","Resource":"*"}]}`
	)
	req := func(action keyward.Action, resource string, mods ...func(*keyward.AuthzRequest)) keyward.AuthzRequest {
		r := keyward.AuthzRequest{Action: action, Resource: resource, SourceIP: "10.1.2.3", Time: now}
		for _, m := range mods {
			m(&r)
		}
		return r
	}
	from := func(ip string) func(*keyward.AuthzRequest) { return func(r *keyward.AuthzRequest) { r.SourceIP = ip } }
	at := func(t time.Time) func(*keyward.AuthzRequest) { return func(r *keyward.AuthzRequest) { r.Time = t } }

	tests := []struct {
		name string
		docs []string
		req  keyward.AuthzRequest
		want policy.Decision
	}{
		{"no policies: implicit deny", nil, req(keyward.ActionKeyGet, "kw:apikey/k1"), policy.ImplicitDeny},
		{"allow all", []string{allowAll}, req(keyward.ActionKeyGet, "kw:apikey/k1"), policy.Allow},
		{"action not granted: implicit deny", []string{allowKeys}, req(keyward.ActionPlanGet, "kw:plan/p1"), policy.ImplicitDeny},
		{"explicit deny beats allow in another policy", []string{allowAll, denyReadValue}, req(keyward.ActionKeyReadValue, "kw:apikey/k1"), policy.ExplicitDeny},
		{"explicit deny beats allow whatever the order", []string{denyReadValue, allowAll}, req(keyward.ActionKeyReadValue, "kw:apikey/k1"), policy.ExplicitDeny},
		{"deny of another action leaves allow", []string{allowAll, denyReadValue}, req(keyward.ActionKeyGet, "kw:apikey/k1"), policy.Allow},
		{"deny alone: explicit deny", []string{denyReadValue}, req(keyward.ActionKeyReadValue, "kw:apikey/k1"), policy.ExplicitDeny},
		{"empty action: implicit deny", []string{allowAll}, req("", "kw:apikey/k1"), policy.ImplicitDeny},
		{"empty resource: implicit deny", []string{allowAll}, req(keyward.ActionKeyGet, ""), policy.ImplicitDeny},

		{"resource glob crosses slashes", []string{prodSecrets}, req(keyward.ActionSecretGetValue, "kw:secret/prod/team/db"), policy.Allow},
		{"resource glob excludes sibling", []string{prodSecrets}, req(keyward.ActionSecretGetValue, "kw:secret/staging/db"), policy.ImplicitDeny},
		{"resource is case-sensitive", []string{prodSecrets}, req(keyward.ActionSecretGetValue, "kw:secret/PROD/db"), policy.ImplicitDeny},
		{"resource prefix is not a match", []string{prodSecrets}, req(keyward.ActionSecretGetValue, "kw:secret/prod"), policy.ImplicitDeny},
		{"question mark one char", []string{oneCharAPI}, req(keyward.ActionAPIGet, "kw:api/api_7"), policy.Allow},
		{"question mark not two", []string{oneCharAPI}, req(keyward.ActionAPIGet, "kw:api/api_77"), policy.ImplicitDeny},
		{"action is case-insensitive", []string{upperAction}, req(keyward.ActionKeyGet, "kw:apikey/k1"), policy.Allow},
		{"action glob in the middle", []string{globAction}, req(keyward.ActionPlanAttachKey, "kw:plan/p1"), policy.Allow},
		{"action glob excludes others", []string{globAction}, req(keyward.ActionPlanGet, "kw:plan/p1"), policy.ImplicitDeny},

		{"IpAddress v4 inside", []string{allowOffice}, req(keyward.ActionKeyGet, "kw:apikey/k1", from("10.200.0.1")), policy.Allow},
		{"IpAddress v4 outside", []string{allowOffice}, req(keyward.ActionKeyGet, "kw:apikey/k1", from("11.0.0.1")), policy.ImplicitDeny},
		{"IpAddress bare IP exact", []string{allowOffice}, req(keyward.ActionKeyGet, "kw:apikey/k1", from("192.0.2.7")), policy.Allow},
		{"IpAddress bare IP neighbour", []string{allowOffice}, req(keyward.ActionKeyGet, "kw:apikey/k1", from("192.0.2.8")), policy.ImplicitDeny},
		{"IpAddress v6 inside", []string{allowOffice}, req(keyward.ActionKeyGet, "kw:apikey/k1", from("2001:db8:1:ff::5")), policy.Allow},
		{"IpAddress v6 outside", []string{allowOffice}, req(keyward.ActionKeyGet, "kw:apikey/k1", from("2001:db8:2::5")), policy.ImplicitDeny},
		{"IpAddress v4-mapped v6 source", []string{allowOffice}, req(keyward.ActionKeyGet, "kw:apikey/k1", from("::ffff:10.0.0.1")), policy.Allow},
		{"IpAddress zoned v6 source", []string{allowOffice}, req(keyward.ActionKeyGet, "kw:apikey/k1", from("2001:db8:1::1%eth0")), policy.Allow},
		{"IpAddress empty source fails allow", []string{allowOffice}, req(keyward.ActionKeyGet, "kw:apikey/k1", from("")), policy.ImplicitDeny},
		{"IpAddress host:port source fails allow", []string{allowOffice}, req(keyward.ActionKeyGet, "kw:apikey/k1", from("10.0.0.1:443")), policy.ImplicitDeny},
		{"NotIpAddress outside bad net allows", []string{allowOutsideBadNet}, req(keyward.ActionKeyGet, "kw:apikey/k1", from("10.0.0.1")), policy.Allow},
		{"NotIpAddress inside bad net", []string{allowOutsideBadNet}, req(keyward.ActionKeyGet, "kw:apikey/k1", from("203.0.113.9")), policy.ImplicitDeny},
		{"NotIpAddress empty source fails allow", []string{allowOutsideBadNet}, req(keyward.ActionKeyGet, "kw:apikey/k1", from("")), policy.ImplicitDeny},
		{"NotIpAddress garbage source fails allow", []string{allowOutsideBadNet}, req(keyward.ActionKeyGet, "kw:apikey/k1", from("not-an-ip")), policy.ImplicitDeny},
		{"deny outside office: office v4 allowed", []string{allowAll, denyOutsideOffice}, req(keyward.ActionKeyGet, "kw:apikey/k1", from("10.9.9.9")), policy.Allow},
		{"deny outside office: office v6 allowed", []string{allowAll, denyOutsideOffice}, req(keyward.ActionKeyGet, "kw:apikey/k1", from("2001:db8:1::9")), policy.Allow},
		{"deny outside office: elsewhere denied", []string{allowAll, denyOutsideOffice}, req(keyward.ActionKeyGet, "kw:apikey/k1", from("198.51.100.1")), policy.ExplicitDeny},
		{"deny outside office: empty source denied (fail closed)", []string{allowAll, denyOutsideOffice}, req(keyward.ActionKeyGet, "kw:apikey/k1", from("")), policy.ExplicitDeny},
		{"deny bad net: empty source denied (fail closed)", []string{allowAll, denyBadNet}, req(keyward.ActionKeyGet, "kw:apikey/k1", from("")), policy.ExplicitDeny},
		{"deny bad net: other source allowed", []string{allowAll, denyBadNet}, req(keyward.ActionKeyGet, "kw:apikey/k1", from("10.0.0.1")), policy.Allow},

		{"dates within window", []string{allowIn2026}, req(keyward.ActionKeyGet, "kw:apikey/k1"), policy.Allow},
		{"dates before window", []string{allowIn2026}, req(keyward.ActionKeyGet, "kw:apikey/k1", at(now.AddDate(-1, 0, 0))), policy.ImplicitDeny},
		{"dates after window", []string{allowIn2026}, req(keyward.ActionKeyGet, "kw:apikey/k1", at(now.AddDate(1, 0, 0))), policy.ImplicitDeny},
		{"date bound is exclusive", []string{allowIn2026}, req(keyward.ActionKeyGet, "kw:apikey/k1", at(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))), policy.ImplicitDeny},
		{"date in another zone compares as instant", []string{allowIn2026}, req(keyward.ActionKeyGet, "kw:apikey/k1", at(time.Date(2026, 12, 31, 23, 0, 0, 0, time.FixedZone("X", -3600)))), policy.ImplicitDeny},
		{"zero time fails allow", []string{allowIn2026}, req(keyward.ActionKeyGet, "kw:apikey/k1", at(time.Time{})), policy.ImplicitDeny},
		{"deny after date: before", []string{allowAll, denyAfter2026}, req(keyward.ActionKeyGet, "kw:apikey/k1"), policy.Allow},
		{"deny after date: after", []string{allowAll, denyAfter2026}, req(keyward.ActionKeyGet, "kw:apikey/k1", at(now.AddDate(1, 0, 0))), policy.ExplicitDeny},
		{"deny after date: zero time denied (fail closed)", []string{allowAll, denyAfter2026}, req(keyward.ActionKeyGet, "kw:apikey/k1", at(time.Time{})), policy.ExplicitDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var docs []keyward.PolicyDocument
			var pols []*keyward.Policy
			for _, d := range tt.docs {
				doc := mustParse(t, d)
				docs = append(docs, doc)
				pols = append(pols, &keyward.Policy{Document: doc})
			}
			if got := policy.Decide(docs, tt.req); got != tt.want {
				t.Errorf("Decide = %v, want %v", got, tt.want)
			}
			tt.req.Policies = pols
			err := policy.Evaluator{}.Authorize(context.Background(), tt.req)
			if tt.want == policy.Allow {
				if err != nil {
					t.Errorf("Authorize = %v, want nil", err)
				}
			} else if code := keyward.ErrorCode(err); code != keyward.EFORBIDDEN {
				t.Errorf("Authorize error code = %q (%v), want %q", code, err, keyward.EFORBIDDEN)
			}
		})
	}
}

// TestDecideUnvalidated covers documents that did not come through Parse
// (e.g. rows edited in the database): whatever cannot be understood fails
// closed.
func TestDecideUnvalidated(t *testing.T) {
	allow := keyward.Statement{Effect: "Allow", Action: keyward.StringList{"*"}, Resource: keyward.StringList{"*"}}
	withCond := func(s keyward.Statement, op, key string, vals ...string) keyward.Statement {
		s.Condition = map[string]map[string]keyward.StringList{op: {key: vals}}
		return s
	}
	deny := allow
	deny.Effect = "Deny"
	odd := allow
	odd.Effect = "deny"

	tests := []struct {
		name  string
		stmts []keyward.Statement
		want  policy.Decision
	}{
		{"unknown effect counts as deny", []keyward.Statement{allow, odd}, policy.ExplicitDeny},
		{"unknown operator fails allow", []keyward.Statement{withCond(allow, "StringEquals", "kw:SourceIp", "x")}, policy.ImplicitDeny},
		{"unknown operator holds for deny", []keyward.Statement{allow, withCond(deny, "StringEquals", "kw:SourceIp", "x")}, policy.ExplicitDeny},
		{"bad CIDR fails allow", []keyward.Statement{withCond(allow, "IpAddress", "kw:SourceIp", "10.0.0.0/99")}, policy.ImplicitDeny},
		{"bad CIDR holds for deny", []keyward.Statement{allow, withCond(deny, "NotIpAddress", "kw:SourceIp", "bad")}, policy.ExplicitDeny},
		{"bad date fails allow", []keyward.Statement{withCond(allow, "DateLessThan", "kw:CurrentTime", "tomorrow")}, policy.ImplicitDeny},
		{"wrong key fails allow", []keyward.Statement{withCond(allow, "IpAddress", "kw:CurrentTime", "10.0.0.0/8")}, policy.ImplicitDeny},
		{"no values fails allow", []keyward.Statement{withCond(allow, "IpAddress", "kw:SourceIp")}, policy.ImplicitDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs := []keyward.PolicyDocument{{Version: policy.Version, Statement: tt.stmts}}
			r := keyward.AuthzRequest{Action: keyward.ActionKeyGet, Resource: "kw:apikey/k1", SourceIP: "10.0.0.1", Time: now}
			if got := policy.Decide(docs, r); got != tt.want {
				t.Errorf("Decide = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAuthorizeMessage(t *testing.T) {
	err := policy.Evaluator{}.Authorize(context.Background(), keyward.AuthzRequest{
		Policies: []*keyward.Policy{nil},
		Action:   keyward.ActionSecretGetValue,
		Resource: "kw:secret/evil\r\nINJECTED",
	})
	if keyward.ErrorCode(err) != keyward.EFORBIDDEN {
		t.Fatalf("err = %v, want EFORBIDDEN", err)
	}
	if msg := keyward.ErrorMessage(err); strings.ContainsAny(msg, "\r\n") {
		t.Errorf("message %q carries CR/LF from the resource name", msg)
	}
}

func TestDecisionString(t *testing.T) {
	for d, want := range map[policy.Decision]string{policy.Allow: "Allow", policy.ImplicitDeny: "ImplicitDeny", policy.ExplicitDeny: "ExplicitDeny"} {
		if d.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(d), d.String(), want)
		}
	}
	var zero policy.Decision
	if zero != policy.ImplicitDeny {
		t.Error("the zero Decision must be ImplicitDeny")
	}
}
