package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/mockupstream"
	"github.com/keyward/keyward/server"
	"github.com/keyward/keyward/webhook/webhooktest"
)

// startWithChat starts a server with an OpenAI-compatible API "chat",
// stage "prod", in front of a mock upstream.
func startWithChat(t *testing.T) *running {
	t.Helper()
	r := start(t, server.Config{})
	up := httptest.NewServer(mockupstream.Handler())
	t.Cleanup(up.Close)
	if _, err := r.client.CreateAPI(context.Background(), keyward.APICreate{Name: "chat", OpenAICompatible: true,
		Stages: []keyward.Stage{{Name: "prod", UpstreamURL: up.URL}}}); err != nil {
		t.Fatal(err)
	}
	return r
}

// chat sends one chat completion through the gateway with value.
func chat(t testing.TB, gatewayURL, value string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, gatewayURL+"/chat/prod/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+value)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within 10 s", what)
}

// TestRotationEndToEnd rotates a key behind a running gateway: both values
// work during the grace period, the old one stops after it, a signed
// webhook tells of the rotation, and the metrics count down by key ID.
func TestRotationEndToEnd(t *testing.T) {
	r := startWithChat(t)
	ctx := context.Background()
	c := r.client
	recv := webhooktest.NewReceiver(t, nil)
	hook, err := c.CreateWebhook(ctx, keyward.WebhookCreate{URL: recv.URL() + "/events", Events: []string{keyward.EventKeyRotated}})
	if err != nil {
		t.Fatal(err)
	}
	recv.SetSecret([]byte(hook.Secret))

	ck, err := c.CreateKey(ctx, keyward.KeyCreate{Name: "pipeline", StoreSecret: "ci/key",
		StageKeys: []keyward.StageKey{{APIID: "chat", Stage: "prod"}}})
	if err != nil {
		t.Fatal(err)
	}
	read := func(stage string) string {
		v, err := c.GetSecretValue(ctx, "ci/key", keyward.SecretSelector{Stage: stage})
		if err != nil {
			t.Fatal(err)
		}
		return string(v.Value)
	}
	old := read(keyward.StageCurrent)
	eventually(t, "the key works", func() bool { return chat(t, r.srv.GatewayURL(), old) == http.StatusOK })

	grace := keyward.Duration(2 * time.Second)
	rk, err := c.RotateKey(ctx, ck.Key.ID, keyward.KeyRotate{Grace: &grace, ClientToken: "deploy-1"})
	if err != nil {
		t.Fatal(err)
	}
	if rk.Key.ID != ck.Key.ID || rk.Value != "" {
		t.Fatal("same ID; the value went to the secret, not into the answer")
	}
	cur := read(keyward.StageCurrent)
	eventually(t, "the new value works", func() bool { return chat(t, r.srv.GatewayURL(), cur) == http.StatusOK })
	if got := chat(t, r.srv.GatewayURL(), old); got != http.StatusOK {
		t.Fatalf("old value within its grace: %d", got)
	}
	eventually(t, "the old value stops after its grace", func() bool { return chat(t, r.srv.GatewayURL(), old) == http.StatusUnauthorized })
	if got := chat(t, r.srv.GatewayURL(), cur); got != http.StatusOK {
		t.Fatalf("new value after the grace: %d", got)
	}

	evs := recv.WaitEvents(1, 10*time.Second)
	if len(evs) != 1 || evs[0].Type != keyward.EventKeyRotated {
		t.Fatalf("webhook events: %+v", evs)
	}
	var ev keyward.Event
	if err := json.Unmarshal(evs[0].Body, &ev); err != nil || ev.Data["keyId"] != ck.Key.ID {
		t.Fatalf("event body %s: %v", evs[0].Body, err)
	}
	if strings.Contains(string(evs[0].Body), cur) || strings.Contains(string(evs[0].Body), old) {
		t.Fatal("a key value in a webhook body")
	}
	eventually(t, "the delivery is recorded", func() bool {
		dls, _, err := c.ListDeliveries(ctx, hook.Webhook.ID, keyward.DeliveryFilter{})
		return err == nil && len(dls) == 1 && dls[0].State == keyward.DeliveryDelivered &&
			len(dls[0].Attempts) == 1 && dls[0].Attempts[0].StatusCode == http.StatusOK
	})

	// The scheduler retires the expired PREVIOUS and the gauges follow.
	if _, err := c.UpdateKey(ctx, ck.Key.ID, keyward.KeyUpdate{Rotation: &keyward.RotationPolicy{
		Every: keyward.Duration(24 * time.Hour), Grace: keyward.Duration(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RotateKey(ctx, ck.Key.ID, keyward.KeyRotate{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "rotation gauges on /metrics", func() bool {
		m := scrape(t, r.srv.AdminURL())
		return strings.Contains(m, `keyward_key_previous_grace_seconds{key_id="`+ck.Key.ID+`"}`) &&
			strings.Contains(m, `keyward_key_next_rotation_seconds{key_id="`+ck.Key.ID+`"}`) &&
			strings.Contains(m, `keyward_rotations_total{kind="apikey",outcome="SUCCEEDED",trigger="manual"} 2`)
	})
	// A replay of the first rotation answers it again, without rotating.
	again, err := c.RotateKey(ctx, ck.Key.ID, keyward.KeyRotate{Grace: &grace, ClientToken: "deploy-1"})
	if err != nil || !again.Replayed || again.Rotation.ID != rk.Rotation.ID {
		t.Fatalf("replay: %+v %v", again, err)
	}
}

func scrape(t *testing.T, adminURL string) string {
	t.Helper()
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestRotationKeepsBudgets: counters belong to the key ID, so a rotation
// resets neither the quota nor the usage history.
func TestRotationKeepsBudgets(t *testing.T) {
	r := startWithChat(t)
	ctx := context.Background()
	c := r.client
	plan, err := c.CreatePlan(ctx, keyward.PlanCreate{Name: "three", Quota: &keyward.Quota{Limit: 3, Period: keyward.PeriodDay},
		APIStages: []keyward.PlanStage{{APIID: "chat", Stage: "prod"}}})
	if err != nil {
		t.Fatal(err)
	}
	ck, err := c.CreateKey(ctx, keyward.KeyCreate{Name: "k", PlanIDs: []string{plan.ID},
		StageKeys: []keyward.StageKey{{APIID: "chat", Stage: "prod"}}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the key works", func() bool { return chat(t, r.srv.GatewayURL(), ck.Value) == http.StatusOK })
	if got := chat(t, r.srv.GatewayURL(), ck.Value); got != http.StatusOK {
		t.Fatalf("second request: %d", got)
	}
	rk, err := c.RotateKey(ctx, ck.Key.ID, keyward.KeyRotate{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new value works", func() bool { return chat(t, r.srv.GatewayURL(), rk.Value) != http.StatusUnauthorized })
	for _, v := range []string{rk.Value, ck.Value} {
		if got := chat(t, r.srv.GatewayURL(), v); got != http.StatusTooManyRequests {
			t.Fatalf("after 3 requests on the key, whatever its value: %d, want 429", got)
		}
	}
	eventually(t, "usage recorded across the rotation", func() bool {
		days, err := c.GetKeyUsage(ctx, ck.Key.ID, time.Now().Add(-24*time.Hour), time.Now().Add(24*time.Hour))
		return err == nil && len(days) == 1 && days[0].Requests == 3
	})
}

// TestKeyChangesReachTheGatewayByTheFeed: a disable, an enable and a
// delete made through the admin API are enforced by the gateway through
// the change feed alone (no reload asked for), each by re-reading that
// one key.
func TestKeyChangesReachTheGatewayByTheFeed(t *testing.T) {
	r := startWithChat(t)
	ctx := context.Background()
	ck, err := r.client.CreateKey(ctx, keyward.KeyCreate{Name: "k", StageKeys: []keyward.StageKey{{APIID: "chat", Stage: "prod"}}})
	if err != nil {
		t.Fatal(err)
	}
	gw := r.srv.GatewayURL()
	eventually(t, "the new key admitted", func() bool { return chat(t, gw, ck.Value) == http.StatusOK })
	off := false
	if _, err := r.client.UpdateKey(ctx, ck.Key.ID, keyward.KeyUpdate{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the disable enforced", func() bool { return chat(t, gw, ck.Value) == http.StatusUnauthorized })
	on := true
	if _, err := r.client.UpdateKey(ctx, ck.Key.ID, keyward.KeyUpdate{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the enable enforced", func() bool { return chat(t, gw, ck.Value) == http.StatusOK })
	if err := r.client.DeleteKey(ctx, ck.Key.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the delete enforced", func() bool { return chat(t, gw, ck.Value) == http.StatusUnauthorized })
}

// TestLastUsedIsRecorded: a key used through the gateway shows when, to the
// minute, after the usage flush; an unused key shows none; the unusedSince
// filter tells them apart.
func TestLastUsedIsRecorded(t *testing.T) {
	r := startWithChat(t)
	ctx := context.Background()
	used, err := r.client.CreateKey(ctx, keyward.KeyCreate{Name: "used", StageKeys: []keyward.StageKey{{APIID: "chat", Stage: "prod"}}})
	if err != nil {
		t.Fatal(err)
	}
	idle, err := r.client.CreateKey(ctx, keyward.KeyCreate{Name: "idle", StageKeys: []keyward.StageKey{{APIID: "chat", Stage: "prod"}}})
	if err != nil {
		t.Fatal(err)
	}
	gw := r.srv.GatewayURL()
	eventually(t, "the key admitted", func() bool { return chat(t, gw, used.Value) == http.StatusOK })
	var last *time.Time
	eventually(t, "last use recorded", func() bool {
		k, err := r.client.GetKey(ctx, used.Key.ID)
		if err != nil {
			t.Fatal(err)
		}
		last = k.LastUsedAt
		return last != nil
	})
	if last.Second() != 0 || last.Nanosecond() != 0 || time.Since(*last) > 2*time.Minute || last.After(time.Now()) {
		t.Errorf("last used %v: want this minute, to the minute", last)
	}
	if k, err := r.client.GetKey(ctx, idle.Key.ID); err != nil || k.LastUsedAt != nil {
		t.Fatalf("idle key: %v %v", k.LastUsedAt, err)
	}
	keys, _, err := r.client.ListKeys(ctx, keyward.KeyFilter{UnusedSince: last})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.ID == used.Key.ID {
			t.Error("a key used at the cut is listed as unused since it")
		}
	}
	future := time.Now().Add(2 * time.Minute)
	keys, _, err = r.client.ListKeys(ctx, keyward.KeyFilter{UnusedSince: &future})
	if err != nil || len(keys) != 2 {
		t.Fatalf("unused since the future: %d keys, %v", len(keys), err)
	}
}
