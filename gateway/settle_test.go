package gateway

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/changefeed"
	"github.com/keyward/keyward/limit"
	"github.com/keyward/keyward/mockupstream"
)

// countingLimiter is a limit.Local that counts what the gateway does with
// it: admitted charges, settles of a pending charge (each reservation must
// be settled exactly once) and settles of anything else (never).
type countingLimiter struct {
	limit.Limiter
	mu                       sync.Mutex
	admitted, settled, stray int
	reserved, tokens         int64 // the last admitted charge's token cost, the last settled amount
	charged                  int64 // the sum of settled amounts of charges with a token cost
}

func (c *countingLimiter) Charge(ctx context.Context, now time.Time, ch *limit.Charge) (limit.Decision, error) {
	d, err := c.Limiter.Charge(ctx, now, ch)
	if err == nil && d.OK {
		c.mu.Lock()
		c.admitted++
		c.reserved = 0
		for _, ct := range ch.Counters[:ch.N] {
			if ct.Kind == limit.TokensPerDay {
				c.reserved = ct.Cost
			}
		}
		c.mu.Unlock()
	}
	return d, err
}

func (c *countingLimiter) Settle(ctx context.Context, now time.Time, ch *limit.Charge, tokens int64) error {
	c.mu.Lock()
	if ch.Pending {
		c.settled++
		c.tokens = tokens
		if c.reserved > 0 {
			c.charged += tokens
		}
	} else {
		c.stray++
	}
	c.mu.Unlock()
	return c.Limiter.Settle(ctx, now, ch, tokens)
}

func (c *countingLimiter) state() (admitted, settled, stray int, reserved, tokens, charged int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.admitted, c.settled, c.stray, c.reserved, c.tokens, c.charged
}

// budgetGateway serves, on loopback, one OpenAI-compatible API in front
// of the upstream handler *h, for one key with a daily token budget.
func budgetGateway(t *testing.T, budget int64, h *atomic.Pointer[http.Handler], mod ...func(*Config, *httptest.Server)) (*Gateway, *countingLimiter, string, string) {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*h.Load()).ServeHTTP(w, r) }))
	t.Cleanup(up.Close)
	hasher := testHasher(t)
	value, cred := currentValue(t, hasher, "key_1", "cred_1")
	snap := &keyward.DataPlaneSnapshot{
		APIs: []*keyward.API{{ID: "api_1", Name: "chat", OpenAICompatible: true,
			Stages: []keyward.Stage{{Name: "prod", UpstreamURL: up.URL}}}},
		Plans: []*keyward.UsagePlan{{ID: "plan_1", Name: "p", Tokens: &keyward.TokenLimits{PerDay: budget},
			APIStages: []keyward.PlanStage{{APIID: "api_1", Stage: "prod"}}}},
		Keys: []*keyward.APIKey{{ID: "key_1", Enabled: true, PlanIDs: []string{"plan_1"}, Credentials: []keyward.Credential{cred}}},
	}
	cl := &countingLimiter{Limiter: limit.NewLocal(nil)}
	cfg := Config{Source: &fakeSource{snap}, Changes: &changefeed.Local{}, Hasher: hasher,
		Limiter: cl, UsageFlushInterval: time.Hour}
	for _, m := range mod {
		m(&cfg, up)
	}
	g, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go g.Serve(context.Background(), ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
	return g, cl, "http://" + ln.Addr().String() + "/chat/prod", value
}

// est is the documented estimate for n bytes: ceil(n/4).
func est(n int) int64 { return int64((n + 3) / 4) }

// Every path a token request can take settles its reservation exactly once,
// to the usage the upstream reported or, without one, to the documented
// estimate (never to zero); requests that use no tokens reserve none; and
// the limiter's budget ends exactly where the settled amounts put it.
func TestEveryPathSettlesOnce(t *testing.T) {
	const budget = 1 << 20
	var h atomic.Pointer[http.Handler]
	use := func(o mockupstream.Options) { hh := mockupstream.HandlerWith(o); h.Store(&hh) }
	use(mockupstream.Options{Usage: mockupstream.UsageAsked})
	g, cl, base, key := budgetGateway(t, budget, &h)

	const chat = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"one two three"}]}`
	const stream = `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"one two three"}]}`
	const streamAsked = `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"one two three"}]}`
	const embed = `{"model":"text-embedding-3-small","input":"three short words"}`

	send := func(method, path, body string, abortAfter int) (status int, got string, readErr error) {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("X-Api-Key", key)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if abortAfter > 0 {
			buf := make([]byte, 1)
			var b strings.Builder
			for strings.Count(b.String(), "\n\n") < abortAfter {
				if _, err := resp.Body.Read(buf); err != nil {
					t.Fatalf("stream ended before the abort: %v", err)
				}
				b.Write(buf)
			}
			return resp.StatusCode, b.String(), nil // Close drops the connection mid-stream
		}
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}

	var requests int
	var wantCharged int64
	check := func(name string, wantReserve bool, lo, hi int64) {
		t.Helper()
		requests++
		var admitted, settled, stray int
		var reserved, tokens int64
		if !eventually(3*time.Second, func() bool {
			admitted, settled, stray, reserved, tokens, _ = cl.state()
			return admitted == requests && settled == requests
		}) {
			t.Fatalf("%s: %d charges admitted, %d settled (want %d each)", name, admitted, settled, requests)
		}
		if stray != 0 {
			t.Fatalf("%s: %d settles of a charge not pending", name, stray)
		}
		if (reserved > 0) != wantReserve {
			t.Fatalf("%s: reserved %d tokens", name, reserved)
		}
		if tokens < lo || tokens > hi {
			t.Fatalf("%s: settled to %d tokens, want %d to %d", name, tokens, lo, hi)
		}
		var in, out int64
		for _, r := range g.usage.take() {
			in, out = in+r.TokensIn, out+r.TokensOut
		}
		if in+out != tokens {
			t.Fatalf("%s: recorded %d+%d tokens, charged %d", name, in, out, tokens)
		}
		if wantReserve {
			wantCharged += tokens
		}
		t.Logf("%s: reserved %d, settled to %d", name, reserved, tokens)
	}
	exact := func(name string, reserve bool, n int64) { check(name, reserve, n, n) }

	// JSON with usage: 3 prompt tokens, 7 completion tokens.
	if s, _, _ := send("POST", "/v1/chat/completions", chat, 0); s != 200 {
		t.Fatalf("chat: %d", s)
	}
	exact("JSON with usage", true, 10)

	// A stream the caller asked usage for: the usage chunk reaches it.
	s, got, err := send("POST", "/v1/chat/completions", streamAsked, 0)
	if s != 200 || err != nil || !strings.Contains(got, `"usage":{`) || !strings.HasSuffix(got, "data: [DONE]\n\n") {
		t.Fatalf("stream asking for usage: %d %v %q", s, err, got)
	}
	exact("SSE with usage, asked", true, 10)

	// A stream the caller asked no usage for: the gateway asked, the
	// upstream reported, and the chunk is taken out of the reply.
	s, got, err = send("POST", "/v1/chat/completions", stream, 0)
	if s != 200 || err != nil || strings.Contains(got, "usage") || strings.Count(got, "data: ") != 8 || !strings.HasSuffix(got, "data: [DONE]\n\n") {
		t.Fatalf("stream without usage asked: %d %v %q", s, err, got)
	}
	exact("SSE with usage, not asked", true, 10)

	// Embeddings with usage: prompt tokens only.
	if s, _, _ := send("POST", "/v1/embeddings", embed, 0); s != 200 {
		t.Fatalf("embeddings: %d", s)
	}
	exact("embeddings with usage", true, 3)

	// Model lists reserve nothing, however many.
	for range 20 {
		if s, _, _ := send("GET", "/v1/models", "", 0); s != 200 {
			t.Fatalf("models: %d", s)
		}
		// The plan has token limits only: nothing to charge at all.
		in, out := int64(0), int64(0)
		for _, r := range g.usage.take() {
			in, out = in+r.TokensIn, out+r.TokensOut
		}
		if admitted, settled, stray, _, _, _ := cl.state(); admitted != requests || settled != requests || stray != 0 || in+out != 0 {
			t.Fatalf("GET /v1/models: %d admitted, %d settled, %d stray, %d tokens recorded", admitted, settled, stray, in+out)
		}
	}

	// Replies without usage: the estimate from the prompt and the reply.
	use(mockupstream.Options{Usage: mockupstream.UsageNever})
	s, got, _ = send("POST", "/v1/chat/completions", chat, 0)
	if s != 200 {
		t.Fatalf("chat without usage: %d", s)
	}
	exact("JSON without usage", true, est(len(chat))+est(len(got)))
	s, got, _ = send("POST", "/v1/embeddings", embed, 0)
	if s != 200 {
		t.Fatalf("embeddings without usage: %d", s)
	}
	exact("embeddings without usage", true, est(len(embed))+est(len(got)))
	s, got, err = send("POST", "/v1/chat/completions", stream, 0)
	if s != 200 || err != nil || strings.Count(got, "data: ") != 8 {
		t.Fatalf("stream without a usage chunk: %d %v %q", s, err, got)
	}
	full := len(got)
	exact("SSE without a usage chunk", true, est(len(stream))+est(full))

	// A stream the upstream cuts after three events.
	use(mockupstream.Options{Usage: mockupstream.UsageAsked, CutAfter: 3})
	s, got, err = send("POST", "/v1/chat/completions", stream, 0)
	if s != 200 || err == nil || strings.Count(got, "data: ") != 3 {
		t.Fatalf("cut stream: %d %v %q", s, err, got)
	}
	exact("SSE cut by the upstream", true, est(len(stream))+est(len(got)))

	// A client that goes away after two events: at least what it got, at
	// most the whole stream.
	use(mockupstream.Options{Usage: mockupstream.UsageAsked, Pause: 50 * time.Millisecond})
	_, got, _ = send("POST", "/v1/chat/completions", stream, 2)
	check("SSE abandoned by the client", true, est(len(stream))+est(len(got)), est(len(stream))+est(full+1024))

	// An upstream failing with a 5xx after some bytes of its body.
	use(mockupstream.Options{FailStatus: 500})
	s, got, _ = send("POST", "/v1/chat/completions", chat, 0)
	if s != 500 || !strings.Contains(got, "on purpose") {
		t.Fatalf("failing upstream: %d %q", s, got)
	}
	exact("upstream 5xx after some bytes", true, est(len(chat))+est(len(got)))

	// The budget left is exactly the budget less what was settled: a
	// reservation one token larger is refused, one of that size admitted.
	_, _, _, _, _, charged := cl.state()
	if charged != wantCharged {
		t.Fatalf("charged %d, want %d", charged, wantCharged)
	}
	left := budget - charged
	use(mockupstream.Options{Usage: mockupstream.UsageAsked})
	if s, got, _ := send("POST", "/v1/chat/completions", reservingBody(left+1), 0); s != 429 {
		t.Fatalf("a reservation of the budget left plus one: %d %s", s, got)
	}
	if s, got, _ := send("POST", "/v1/chat/completions", reservingBody(left), 0); s != 200 {
		t.Fatalf("a reservation of the budget left: %d %s", s, got)
	}
	exact("the last of the budget", true, 7)
}

// reservingBody is a chat body whose reservation (max_tokens plus the
// body's length) is exactly total.
func reservingBody(total int64) string {
	for m := total; m >= 0; m-- {
		b := fmt.Sprintf(`{"model":"gpt-4o-mini","max_tokens":%d}`, m)
		if m+int64(len(b)) == total {
			return b
		}
	}
	panic(fmt.Sprint("no body reserves ", total))
}

// eventually polls cond every 5 ms for up to d.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}

// A request that never reached the upstream is refunded; one the upstream
// got but never answered keeps its whole reservation (the upstream may
// have worked on it until the timeout).
func TestUnansweredRequestsSettle(t *testing.T) {
	var h atomic.Pointer[http.Handler]
	var hang http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so that the server notices the gateway hanging up
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	})
	h.Store(&hang)
	var up *httptest.Server
	_, cl, base, key := budgetGateway(t, 1<<20, &h, func(c *Config, s *httptest.Server) {
		c.Timeout = 300 * time.Millisecond
		up = s
	})
	body := `{"model":"gpt-4o-mini","max_tokens":100}`
	post := func() int {
		req, _ := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("X-Api-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	want := int64(100 + len(body))
	for i, c := range []struct {
		name   string
		status int
		tokens int64
	}{{"no reply", 504, want}, {"upstream down", 502, 0}} {
		if i == 1 {
			up.CloseClientConnections()
			up.Close()
		}
		if s := post(); s != c.status {
			t.Fatalf("%s: %d", c.name, s)
		}
		if !eventually(3*time.Second, func() bool { _, settled, _, _, _, _ := cl.state(); return settled == i+1 }) {
			t.Fatalf("%s: not settled", c.name)
		}
		if admitted, _, stray, reserved, tokens, _ := cl.state(); admitted != i+1 || stray != 0 || reserved != want || tokens != c.tokens {
			t.Fatalf("%s: %d admitted, %d stray, reserved %d, settled to %d (want %d)", c.name, admitted, stray, reserved, tokens, c.tokens)
		}
	}
}
