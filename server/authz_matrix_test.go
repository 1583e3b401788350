package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/server"
)

// allowed is the authorization contract of the built-in roles, written out
// by hand: a change to a role must change this table. admin may do
// everything and is not listed.
var allowed = map[string]map[keyward.Action]bool{
	"deployer": set(
		"apikeys:Create", "apikeys:Get", "apikeys:List", "apikeys:Update", "apikeys:Delete", "apikeys:GetUsage",
		"apikeys:Rotate", "apikeys:RevokePrevious", "apikeys:ListRotations",
		"apis:Create", "apis:Get", "apis:List", "apis:Update", "apis:Delete", "apis:BindKey",
		"plans:Create", "plans:Get", "plans:List", "plans:Update", "plans:Delete", "plans:AttachKey", "plans:DetachKey", "plans:ListKeys",
		"secrets:CreateSecret", "secrets:PutSecretValue", "secrets:DescribeSecret", "secrets:ListSecrets",
		"secrets:UpdateSecret", "secrets:UpdateSecretVersionStage", "secrets:DeleteSecret", "secrets:RestoreSecret",
		"secrets:RotateSecret", "secrets:CancelRotateSecret", "secrets:ListRotations",
		"webhooks:Create", "webhooks:Get", "webhooks:List", "webhooks:Delete", "webhooks:ListDeliveries",
	),
	"reader": set(
		"apikeys:Get", "apikeys:List", "apikeys:GetUsage", "apis:Get", "apis:List", "plans:Get", "plans:List", "plans:ListKeys",
		"secrets:DescribeSecret", "secrets:ListSecrets", "principals:Get", "principals:List", "policies:Get", "policies:List",
		"apikeys:ListRotations", "secrets:ListRotations", "webhooks:Get", "webhooks:List", "webhooks:ListDeliveries",
	),
	"auditor": set(
		"apikeys:Get", "apikeys:List", "apikeys:GetUsage", "apis:Get", "apis:List", "plans:Get", "plans:List", "plans:ListKeys",
		"secrets:DescribeSecret", "secrets:ListSecrets", "principals:Get", "principals:List", "policies:Get", "policies:List",
		"apikeys:ListRotations", "secrets:ListRotations", "webhooks:Get", "webhooks:List", "webhooks:ListDeliveries",
		"audit:Read", "audit:Verify",
	),
	"rotator": set(
		"apikeys:Get", "apikeys:List", "apikeys:Rotate", "apikeys:RevokePrevious", "apikeys:ListRotations",
		"secrets:PutSecretValue", "secrets:DescribeSecret", "secrets:ListSecrets", "secrets:UpdateSecretVersionStage", "secrets:GetSecretValue",
		"secrets:RotateSecret", "secrets:CancelRotateSecret", "secrets:ListRotations",
	),
}

func set(actions ...keyward.Action) map[keyward.Action]bool {
	m := map[keyward.Action]bool{}
	for _, a := range actions {
		m[a] = true
	}
	return m
}

var wildcard = regexp.MustCompile(`\{[^}]+\}`)

// TestAuthorizationMatrix walks every admin route with a token of every
// built-in role (and none) and checks allow/deny against the table above:
// denied is 403, allowed is any answer of the service but 403 and 5xx. It
// also checks that the call was audited under the route's action: every
// route maps to exactly one action.
func TestAuthorizationMatrix(t *testing.T) {
	r := start(t, server.Config{})
	ctx := context.Background()
	tokens := map[string]string{"admin": r.token}
	for role := range allowed {
		cp, err := r.client.CreatePrincipal(ctx, keyward.PrincipalCreate{Name: "matrix-" + role, Roles: []string{role}})
		if err != nil {
			t.Fatal(err)
		}
		tokens[role] = cp.Token
	}
	covered := map[keyward.Action]bool{}
	for _, route := range httpapi.Routes() {
		if route.Public {
			continue
		}
		covered[route.Action] = true
		path := wildcard.ReplaceAllString(route.Pattern, "zz-missing")
		for role, token := range tokens {
			t.Run(route.Method+" "+route.Pattern+" as "+role, func(t *testing.T) {
				status := call(t, r.srv.AdminURL(), route.Method, path, token)
				want := role == "admin" || allowed[role][route.Action]
				if denied := status == http.StatusForbidden; denied == want {
					t.Fatalf("status %d, want allowed=%v", status, want)
				}
				// Allowed means the service answered: not found, invalid,
				// precondition... never a 5xx, which is what a placeholder
				// or an unwired service answers whatever the role.
				if want && status >= 500 {
					t.Fatalf("status %d for an allowed call, want the service's answer", status)
				}
				if status == http.StatusUnauthorized {
					t.Fatalf("status 401 for a valid token")
				}
				if got := lastEventName(t, r); got != string(route.Action) {
					t.Fatalf("audited as %q, route action is %q", got, route.Action)
				}
			})
		}
		t.Run(route.Method+" "+route.Pattern+" anonymous", func(t *testing.T) {
			if status := call(t, r.srv.AdminURL(), route.Method, path, ""); status != http.StatusUnauthorized {
				t.Fatalf("status %d without a token, want 401", status)
			}
		})
	}
	for _, s := range keyward.ActionSpecs() {
		if !covered[s.Action] && len(s.With) == 0 {
			t.Errorf("action %s has no route", s.Action)
		}
	}
}

func call(t *testing.T, base, method, path, token string) int {
	t.Helper()
	var body *strings.Reader
	if method == http.MethodPost || method == http.MethodPatch || method == http.MethodPut {
		body = strings.NewReader("{}")
	} else {
		body = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, base+path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body.Len() > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func lastEventName(t *testing.T, r *running) string {
	t.Helper()
	var name string
	err := r.srv.Store().View(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
		seq, err := tx.AuditHead(ctx)
		if err != nil {
			return err
		}
		recs, err := tx.ListAudit(ctx, keyward.AuditFilter{AfterSeq: seq - 1, Limit: 1})
		if err != nil || len(recs) != 1 {
			return err
		}
		var ev keyward.AuditEvent
		err = json.Unmarshal(recs[0].Event, &ev)
		name = ev.EventName
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return name
}
