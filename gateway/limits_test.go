package gateway_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
)

// Keys on one plan each have their own counters: one key spending its
// throttle leaves the others theirs.
func TestKeysOnAPlanHaveTheirOwnCounters(t *testing.T) {
	e := newEnv(t)
	a := e.api("plain", false)
	p := e.plan(keyward.PlanCreate{Name: "shared", Throttle: &keyward.Throttle{RateLimit: 0.001, BurstLimit: 2},
		APIStages: []keyward.PlanStage{{APIID: a.ID, Stage: "prod"}}})
	_, one := e.key(keyward.KeyCreate{Name: "one", PlanIDs: []string{p.ID}})
	_, two := e.key(keyward.KeyCreate{Name: "two", PlanIDs: []string{p.ID}})
	var codes []int
	for _, v := range []string{one, one, one, two, two, two} {
		codes = append(codes, e.call("GET", "/plain/prod/x", v, "").status)
	}
	if fmt.Sprint(codes) != "[200 200 429 200 200 429]" {
		t.Fatalf("codes %v", codes)
	}
}

// A quota is not handed out afresh by a restart: the gateway seeds its
// counters from the usage recorded before.
func TestQuotaSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	up := newEnv(t).up // only its upstream is used
	start := func() (*server.Server, context.Context, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		srv, err := server.Open(ctx, server.Config{DataDir: dir, AdminAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0", LogLevel: "error"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		return srv, ctx, func() { cancel(); <-done; srv.Close() }
	}
	srv, _, stop := start()
	tok, _ := os.ReadFile(filepath.Join(dir, server.BootstrapTokenFile))
	p, at, err := srv.Service().Access.Authenticate(context.Background(), strings.TrimSpace(string(tok)))
	if err != nil {
		t.Fatal(err)
	}
	admin := keyward.WithCaller(context.Background(), keyward.Caller{Principal: p, TokenID: at.ID})
	svc := srv.Service()
	a := must[*keyward.API](t)(svc.APIs.CreateAPI(admin, keyward.APICreate{Name: "plain", Stages: []keyward.Stage{{Name: "prod", UpstreamURL: up.url}}}))
	pl := must[*keyward.UsagePlan](t)(svc.Plans.CreatePlan(admin, keyward.PlanCreate{Name: "q", Quota: &keyward.Quota{Limit: 3, Period: keyward.PeriodMonth},
		APIStages: []keyward.PlanStage{{APIID: a.ID, Stage: "prod"}}}))
	ck := must[*keyward.CreatedKey](t)(svc.Keys.CreateKey(admin, keyward.KeyCreate{Name: "k", PlanIDs: []string{pl.ID}}))
	if err := srv.Gateway().Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, gw: srv.GatewayURL()}
	for i := range 2 {
		if r := e.call("GET", "/plain/prod/x", ck.Value, ""); r.status != 200 {
			t.Fatalf("call %d: %d", i, r.status)
		}
	}
	stop() // writes the usage counted so far

	srv, _, stop = start()
	defer stop()
	e.gw = srv.GatewayURL()
	var codes []int
	for range 2 {
		codes = append(codes, e.call("GET", "/plain/prod/x", ck.Value, "").status)
	}
	if fmt.Sprint(codes) != "[200 429]" {
		t.Fatalf("after the restart: %v (the quota of 3 had 2 used)", codes)
	}
}

// Fail closed when a key's plans add up to more counters than one atomic
// charge holds.
func TestTooManyLimitsFailsClosed(t *testing.T) {
	e := newEnv(t)
	a := e.api("chat", true)
	var ids []string
	for i := range 3 {
		p := e.plan(keyward.PlanCreate{Name: fmt.Sprintf("p%d", i), Throttle: &keyward.Throttle{RateLimit: 100, BurstLimit: 100},
			Quota: &keyward.Quota{Limit: 100, Period: keyward.PeriodDay}, Tokens: &keyward.TokenLimits{PerMinute: 1e6, PerDay: 1e7},
			APIStages: []keyward.PlanStage{{APIID: a.ID, Stage: "prod"}}})
		ids = append(ids, p.ID)
	}
	_, v := e.key(keyward.KeyCreate{PlanIDs: ids})
	if r := e.call("POST", "/chat/prod/v1/chat/completions", v, chatBody); r.status != 403 {
		t.Fatalf("12 counters: %d %s", r.status, r.body)
	}
	if e.up.count() != 0 {
		t.Fatal("the request reached the upstream with limits unenforced")
	}
}

// The token reservation reads max_tokens from a JSON body sent without a
// Content-Type (upstreams parse it anyway); a request that can never fit
// the budget gets no Retry-After to loop on; a model-scoped key must
// declare JSON; compressed responses are not asked for.
func TestReservationAndScopeEdges(t *testing.T) {
	e := newEnv(t)
	a := e.api("chat", true)
	p := e.plan(keyward.PlanCreate{Name: "tpm", Tokens: &keyward.TokenLimits{PerMinute: 5000, DefaultMaxTokens: 100},
		APIStages: []keyward.PlanStage{{APIID: a.ID, Stage: "prod"}}})
	_, v := e.key(keyward.KeyCreate{Name: "budget", PlanIDs: []string{p.ID}})
	big := `{"model":"m","max_tokens":100000}`
	for _, ct := range []string{"application/json", ""} {
		r := e.callCT("POST", "/chat/prod/v1/chat/completions", v, big, ct)
		if r.status != 429 {
			t.Fatalf("Content-Type %q: %d, the reservation ignored max_tokens", ct, r.status)
		}
		if ra := r.header.Get("Retry-After"); ra != "" {
			t.Fatalf("Retry-After %q for a request that can never fit", ra)
		}
	}
	if r := e.call("POST", "/chat/prod/v1/chat/completions", v, `{"model":"m","max_tokens":10}`); r.status != 200 {
		t.Fatalf("small request: %d", r.status)
	}
	if seen, _ := e.up.last(t); seen.Header.Get("Accept-Encoding") != "identity" {
		t.Fatalf("Accept-Encoding upstream %q", seen.Header.Get("Accept-Encoding"))
	}
	_, scoped := e.key(keyward.KeyCreate{Name: "scoped", StageKeys: []keyward.StageKey{{APIID: a.ID, Stage: "prod"}},
		Scopes: keyward.Scopes{Models: []string{"gpt-4o-mini"}}})
	form := `{"model":"gpt-4o-mini","x":"&model=gpt-5&"}`
	if r := e.callCT("POST", "/chat/prod/v1/chat/completions", scoped, form, "application/x-www-form-urlencoded"); r.status != 400 {
		t.Fatalf("form-typed body for a scoped key: %d", r.status)
	}
	plain := e.api("plain", false)
	_, scoped2 := e.key(keyward.KeyCreate{Name: "scoped2", StageKeys: []keyward.StageKey{{APIID: plain.ID, Stage: "prod"}},
		Scopes: keyward.Scopes{Models: []string{"gpt-4o-mini"}}})
	if r := e.call("GET", "/plain/prod/v1/x?model=gpt-5", scoped2, ""); r.status != 400 {
		t.Fatalf("model in the query on a plain API: %d", r.status)
	}
}

// Headers that claim where a request came from reach the upstream only
// from a trusted proxy.
func TestProxyClaimsAreDroppedFromUntrustedPeers(t *testing.T) {
	e := newEnv(t)
	a := e.api("plain", false)
	_, v := e.key(keyward.KeyCreate{StageKeys: []keyward.StageKey{{APIID: a.ID, Stage: "prod"}}})
	e.call("GET", "/plain/prod/x", v, "", "Forwarded", "for=1.2.3.4", "X-Real-IP", "1.2.3.4", "X-Forwarded-For", "1.2.3.4")
	seen, _ := e.up.last(t)
	if seen.Header.Get("Forwarded") != "" || seen.Header.Get("X-Real-Ip") != "" || seen.Header.Get("X-Forwarded-For") != "127.0.0.1" {
		t.Fatalf("upstream headers %v", seen.Header)
	}
}

// From a trusted proxy the upstream gets the whole X-Forwarded-For chain,
// every header line of it in order, with the proxy appended: the chain
// clientip.Resolve judged, not only its first line.
func TestForwardedForChainFromTrustedProxy(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	a := e.api("plain", false)
	_, v := e.key(keyward.KeyCreate{StageKeys: []keyward.StageKey{{APIID: a.ID, Stage: "prod"}}})
	e.call("GET", "/plain/prod/x", v, "", "X-Forwarded-For", "198.51.100.7", "X-Forwarded-For", "203.0.113.9, 10.0.0.1")
	seen, _ := e.up.last(t)
	if got, want := seen.Header.Values("X-Forwarded-For"), "198.51.100.7, 203.0.113.9, 10.0.0.1, 127.0.0.1"; len(got) != 1 || got[0] != want {
		t.Fatalf("X-Forwarded-For upstream = %q, want [%q]", got, want)
	}
}
