package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testredis"
	"github.com/keyward/keyward/limit/redislimit"
	"github.com/keyward/keyward/mockupstream"
	"github.com/keyward/keyward/server"
)

// TestRedisOutageThroughTheGateway: a node on a password-protected Redis,
// failing closed. With Redis killed, a key on a plan is refused with 503
// and Retry-After: 1 (never let through unmetered); once Redis is back the
// gateway admits it again within 5 s, by itself. The Redis password is in
// no log line, and Redis holds no key value.
func TestRedisOutageThroughTheGateway(t *testing.T) {
	const password = "redis-pw-Zq81vXk2"
	rd := testredis.Start(t, testredis.Options{Password: password})
	r := start(t, server.Config{RedisURL: rd.URL, LimitsUnavailable: "closed"})
	ctx := context.Background()
	up := httptest.NewServer(mockupstream.Handler())
	t.Cleanup(up.Close)
	if _, err := r.client.CreateAPI(ctx, keyward.APICreate{Name: "chat", OpenAICompatible: true,
		Stages: []keyward.Stage{{Name: "prod", UpstreamURL: up.URL}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.client.CreatePlan(ctx, keyward.PlanCreate{Name: "gold",
		Throttle:  &keyward.Throttle{RateLimit: 1000, BurstLimit: 1000},
		APIStages: []keyward.PlanStage{{APIID: "chat", Stage: "prod"}}}); err != nil {
		t.Fatal(err)
	}
	k, err := r.client.CreateKey(ctx, keyward.KeyCreate{Name: "k", PlanIDs: []string{"gold"},
		StageKeys: []keyward.StageKey{{APIID: "chat", Stage: "prod"}}})
	if err != nil {
		t.Fatal(err)
	}
	gw := r.srv.GatewayURL()
	eventually(t, "the key admitted", func() bool { return chat(t, gw, k.Value) == http.StatusOK })

	// Redis holds counters by key ID, never a value.
	rdb, err := redislimit.Connect(rd.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	rdb.Close()
	if err != nil || len(keys) == 0 {
		t.Fatalf("Redis keys %v %v", keys, err)
	}
	for _, name := range keys {
		if strings.Contains(name, k.Value) || !strings.HasPrefix(name, "keyward:limits:") {
			t.Errorf("Redis key %q", name)
		}
	}

	rd.Stop()
	eventually(t, "503 with Retry-After while Redis is down", func() bool {
		code, retry := chatRetryAfter(t, gw, k.Value)
		return code == http.StatusServiceUnavailable && retry == "1"
	})
	rd.Start()
	back := time.Now()
	for chat(t, gw, k.Value) != http.StatusOK {
		if time.Since(back) > 5*time.Second {
			t.Fatal("not admitting 5 s after Redis came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("admitting again %v after Redis came back", time.Since(back).Round(time.Millisecond))
	m := scrape(t, r.srv.AdminURL())
	for _, want := range []string{`keyward_limits_mode{mode="redis"} 1`, `keyward_limits_mode{mode="refusing"} 0`,
		`keyward_limits_redis_seconds_count{op="charge"}`, `limit="unavailable",stage="prod"}`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, `keyward_limits_redis_errors_total{op="charge"} 0`) {
		t.Error("no charge error counted during the outage")
	}
	if strings.Contains(m, `limit="unavailable",stage="prod"} 0`) {
		t.Error("no 503 counted during the outage")
	}
	if strings.Contains(r.logs.String(), password) {
		t.Error("a log line holds the Redis password")
	}
	if !strings.Contains(r.logs.String(), "redis unreachable") {
		t.Errorf("the outage was not logged: %s", r.logs.String())
	}
}

func chatRetryAfter(t *testing.T, gatewayURL, value string) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, gatewayURL+"/chat/prod/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+value)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}
