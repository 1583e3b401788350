package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/policy"
	"github.com/keyward/keyward/server"
)

// TestWebhookToMetadataAddressRefusedAtCreate: an endpoint on a link-local
// or cloud metadata address is a 400 naming the host, and nothing is
// created; loopback endpoints stay allowed. (The same addresses reached
// through a name that changes its answer later are refused by the dialer:
// see package webhook.)
func TestWebhookToMetadataAddressRefusedAtCreate(t *testing.T) {
	r := start(t, server.Config{})
	ctx := context.Background()
	for _, tt := range []struct{ url, host string }{
		{"http://169.254.169.254/latest/meta-data/iam/security-credentials/", "169.254.169.254"},
		{"http://169.254.170.2/v2/credentials", "169.254.170.2"},
		{"http://[fd00:ec2::254]/latest/api/token", "fd00:ec2::254"},
		{"http://[::ffff:169.254.169.254]:80/", "::ffff:169.254.169.254"},
		{"http://[fe80::1%25eth0]:8080/hook", "fe80::1%eth0"},
		{"http://100.100.100.200/latest/meta-data/", "100.100.100.200"},
	} {
		for _, kind := range []keyward.WebhookKind{keyward.WebhookNotify, keyward.WebhookRotator} {
			_, err := r.client.CreateWebhook(ctx, keyward.WebhookCreate{Kind: kind, URL: tt.url})
			if keyward.ErrorCode(err) != keyward.EINVALID {
				t.Fatalf("%s %s: %v, want invalid", kind, tt.url, err)
			}
			if msg := keyward.ErrorMessage(err); !strings.Contains(msg, "url host "+tt.host+" ") {
				t.Errorf("%s %s: message %q does not name the host", kind, tt.url, msg)
			}
		}
	}
	if hooks, _, err := r.client.ListWebhooks(ctx, keyward.Page{}); err != nil || len(hooks) != 0 {
		t.Fatalf("webhooks after refusals: %d %v", len(hooks), err)
	}
	if _, err := r.client.CreateWebhook(ctx, keyward.WebhookCreate{Kind: keyward.WebhookRotator, URL: "http://127.0.0.1:9/rotate"}); err != nil {
		t.Fatalf("loopback rotator: %v", err)
	}
	if _, err := r.client.CreateWebhook(ctx, keyward.WebhookCreate{URL: "http://[::1]:9/hook"}); err != nil {
		t.Fatalf("IPv6 loopback endpoint: %v", err)
	}
}

// TestPoliciesNameEveryKindOfResource creates one resource of every type
// and a Deny naming it by its exact ARN: the policy language's idea of
// what names look like (ID prefixes, secret names) must accept every name
// the service gives out, and the policy must apply to it.
func TestPoliciesNameEveryKindOfResource(t *testing.T) {
	r := start(t, server.Config{})
	ctx := context.Background()
	c := r.client
	key, err := c.CreateKey(ctx, keyward.KeyCreate{Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	api, err := c.CreateAPI(ctx, keyward.APICreate{Name: "chat", Stages: []keyward.Stage{{Name: "prod", UpstreamURL: "http://127.0.0.1:9"}}})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := c.CreatePlan(ctx, keyward.PlanCreate{Name: "gold"})
	if err != nil {
		t.Fatal(err)
	}
	hook, err := c.CreateWebhook(ctx, keyward.WebhookCreate{URL: "http://127.0.0.1:9/hook"})
	if err != nil {
		t.Fatal(err)
	}
	prn, err := c.CreatePrincipal(ctx, keyward.PrincipalCreate{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateSecret(ctx, keyward.SecretCreate{Name: "prod/db.pass@main+x=y_z-1", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	arns := []string{
		keyward.KeyARN(key.Key.ID), keyward.APIARN(api.ID), keyward.PlanARN(plan.ID), keyward.WebhookARN(hook.Webhook.ID),
		keyward.PrincipalARN(prn.Principal.ID), keyward.SecretARN("prod/db.pass@main+x=y_z-1"), keyward.PolicyARN("pol_builtin_admin"),
	}
	for _, arn := range arns {
		doc, _ := json.Marshal(map[string]any{"Statement": []any{map[string]any{"Effect": "Deny", "Action": "*", "Resource": arn}}})
		p, err := c.CreatePolicy(ctx, keyward.PolicyCreate{Name: "deny-" + strings.NewReplacer("/", "-", ":", "-", "@", "-", "+", "-", "=", "-", ".", "-").Replace(arn), Document: doc})
		if err != nil {
			t.Errorf("a Deny on %s: %v", arn, err)
			continue
		}
		if d := policy.Decide([]keyward.PolicyDocument{p.Document}, keyward.AuthzRequest{Action: keyward.ActionKeyGet, Resource: arn}); d != policy.ExplicitDeny {
			t.Errorf("a Deny on %s does not apply to it: %v", arn, d)
		}
	}
}
