package gateway

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/limit"
)

// downLimiter cannot decide: the shared limiter that lost its store and
// fails closed.
type downLimiter struct{ limit.Limiter }

func (downLimiter) Charge(context.Context, time.Time, *limit.Charge) (limit.Decision, error) {
	return limit.Decision{}, errors.New("redis: connection refused")
}

// keyDownLimiter cannot decide for one key, and charges the others.
type keyDownLimiter struct {
	limit.Limiter
	down string
}

func (l keyDownLimiter) Charge(ctx context.Context, now time.Time, c *limit.Charge) (limit.Decision, error) {
	if c.Key == l.down {
		return downLimiter{}.Charge(ctx, now, c)
	}
	return l.Limiter.Charge(ctx, now, c)
}

// A limiter that cannot decide refuses the request with 503 and
// Retry-After: 1 (the OpenAI SDK retries that shortly), in the API's error
// shape, without saying why to the client and without reaching the
// upstream: the request is not let through unmetered.
func TestLimiterErrorIs503(t *testing.T) {
	var upstreamCalls atomic.Int64
	var h atomic.Pointer[http.Handler]
	hh := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamCalls.Add(1)
		w.Write([]byte(`{}`))
	}))
	h.Store(&hh)
	_, _, base, key := budgetGateway(t, 1000, &h, func(c *Config, _ *httptest.Server) {
		c.Limiter = downLimiter{limit.NewLocal(nil)}
	})
	req, _ := http.NewRequest("POST", base+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("status %d Retry-After %q, want 503 and 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(body.String(), `"code":"limits_unavailable"`) || strings.Contains(body.String(), "redis") {
		t.Fatalf("body %s", body.String())
	}
	if n := upstreamCalls.Load(); n != 0 {
		t.Fatalf("the upstream was called %d times", n)
	}
}
