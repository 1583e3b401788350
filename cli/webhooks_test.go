package cli

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

func TestWebhooksCreate(t *testing.T) {
	const secret = "whsec_signingsecret0123456789"
	fake := &fakeClient{}
	r := runCLI(t, fake, adminEnv, "", "webhooks", "create", "--url", "https://hooks.example/k?a=1&b=2",
		"--event", "key.rotated", "--event", "rotation.failed", "--principal", "self", "--description", "d")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := keyward.WebhookCreate{Kind: keyward.WebhookNotify, URL: "https://hooks.example/k?a=1&b=2", Description: "d",
		Events: []string{"key.rotated", "rotation.failed"}, Principal: "self"}
	if !reflect.DeepEqual(*fake.whCreate, want) {
		t.Errorf("WebhookCreate = %+v", *fake.whCreate)
	}
	if !strings.Contains(r.stdout, "wh_1") || !strings.Contains(r.stdout, secret) {
		t.Errorf("stdout = %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "shown only once") || strings.Contains(r.stderr, secret) {
		t.Errorf("stderr = %q, want a warning and no secret", r.stderr)
	}

	fake = &fakeClient{}
	r = runCLI(t, fake, adminEnv, "", "webhooks", "create", "--url", "https://rotator.example", "--kind", "rotator", "-o", "json")
	if fake.whCreate.Kind != keyward.WebhookRotator || fake.whCreate.Events != nil {
		t.Errorf("WebhookCreate = %+v", *fake.whCreate)
	}
	m := jsonObject(t, r.stdout)
	if m["id"] != "wh_1" || m["signingSecret"] != secret || m["kind"] != "rotator" || r.stderr != "" {
		t.Errorf("json = %v, stderr %q", m, r.stderr)
	}

	// Input the server rejects exits 2, like a bad flag.
	r = runCLI(t, &fakeClient{err: keyward.Errorf(keyward.EINVALID, "url must be https")}, adminEnv, "",
		"webhooks", "create", "--url", "http://x")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "invalid: url must be https") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestWebhooksReadAndDelete(t *testing.T) {
	fake := &fakeClient{webhooks: []*keyward.Webhook{
		{ID: "wh_1", Kind: keyward.WebhookNotify, URL: "https://a.example", Events: []string{"key.rotated"}, CreatedAt: t0},
		{ID: "wh_2", Kind: keyward.WebhookRotator, URL: "https://b.example", PrincipalID: "pr_1", CreatedAt: t0},
	}, principals: []*keyward.Principal{{ID: "pr_1", Name: "rotator-bot"}}}
	r := runCLI(t, fake, adminEnv, "", "webhooks", "list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[1]), " ") != "wh_1 notify https://a.example key.rotated - 2025-01-02T03:04:05Z" ||
		strings.Join(strings.Fields(lines[2]), " ") != "wh_2 rotator https://b.example - pr_1 (rotator-bot) 2025-01-02T03:04:05Z" {
		t.Errorf("table =\n%s", r.stdout)
	}

	r = runCLI(t, fake, adminEnv, "", "webhooks", "get", "wh_1")
	if !strings.Contains(r.stdout, "https://hooks.example/k") || !strings.Contains(r.stdout, "Events:") {
		t.Errorf("get = %q", r.stdout)
	}

	r = runCLI(t, fake, adminEnv, "", "webhooks", "delete", "wh_1")
	if r.code != 0 || r.stdout != "Webhook wh_1 deleted.\n" {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
	if want := []string{"ListWebhooks", "ListPrincipals", "GetWebhook wh_1", "DeleteWebhook wh_1"}; !reflect.DeepEqual(fake.calls, want) {
		t.Errorf("calls = %v", fake.calls)
	}
}

func TestWebhooksDeliveries(t *testing.T) {
	fake := &fakeClient{deliveries: []*keyward.Delivery{
		{ID: "dl_2", EventType: "key.rotated", State: keyward.DeliveryPending, NextAttemptAt: t0.Add(time.Minute), CreatedAt: t0,
			Attempts: []keyward.DeliveryAttempt{{At: t0, StatusCode: 502, Error: "bad gateway"}}},
		{ID: "dl_1", EventType: "key.rotated", State: keyward.DeliveryDelivered, CreatedAt: t0,
			Attempts: []keyward.DeliveryAttempt{{At: t0, Error: "timeout"}, {At: t0, StatusCode: 204}}},
	}}
	r := runCLI(t, fake, adminEnv, "", "webhooks", "deliveries", "wh_1", "--state", "pending", "--event", "key.rotated")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if want := (keyward.DeliveryFilter{EventType: "key.rotated", State: keyward.DeliveryPending}); *fake.delFilter != want {
		t.Errorf("filter = %+v", *fake.delFilter)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 ||
		strings.Join(strings.Fields(lines[1]), " ") != "dl_2 key.rotated PENDING 1 502 bad gateway 2025-01-02T03:05:05Z 2025-01-02T03:04:05Z" ||
		strings.Join(strings.Fields(lines[2]), " ") != "dl_1 key.rotated DELIVERED 2 204 - 2025-01-02T03:04:05Z" {
		t.Errorf("table =\n%s", r.stdout)
	}
	r = runCLI(t, &fakeClient{}, adminEnv, "", "webhooks", "deliveries", "wh_1", "-o", "json")
	if strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("no deliveries = %q, want []", r.stdout)
	}
}
