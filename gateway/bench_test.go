package gateway

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/changefeed"
	"github.com/keyward/keyward/keyvalue"
	"github.com/valyala/fasthttp"
)

// fakeSource serves a fixed snapshot, for in-process benchmarks and tests
// of the hot path without a store.
type fakeSource struct {
	snap *keyward.DataPlaneSnapshot
}

func (f *fakeSource) LoadDataPlane(_ context.Context, begin func(*keyward.DataPlaneSnapshot) (func(*keyward.APIKey) error, error)) error {
	head := *f.snap
	head.Keys = nil
	each, err := begin(&head)
	if err != nil {
		return err
	}
	for _, k := range f.snap.Keys {
		if err := each(k); err != nil {
			return err
		}
	}
	return nil
}
func (f *fakeSource) DataPlaneKeys(_ context.Context, ids []string) ([]*keyward.APIKey, error) {
	var out []*keyward.APIKey
	for _, id := range ids {
		for _, k := range f.snap.Keys {
			if k.ID == id {
				out = append(out, k)
				break
			}
		}
	}
	return out, nil
}
func (f *fakeSource) RecordUsage(context.Context, []keyward.UsageDay) error { return nil }
func (f *fakeSource) UsageSince(context.Context, string) ([]keyward.UsageDay, error) {
	return nil, nil
}
func (f *fakeSource) RecordAuthFailures(context.Context, []keyward.AuthFailureCount) error {
	return nil
}

// hotPathGateway is a gateway with one OpenAI-compatible API in front of
// upstreamURL and one key on a plan with a throttle, a quota and token
// limits: every counter a request can be charged.
func hotPathGateway(tb testing.TB, upstreamURL string) (*Gateway, string) {
	tb.Helper()
	hasher, err := keyvalue.NewHasher(make([]byte, 32))
	if err != nil {
		tb.Fatal(err)
	}
	value, err := keyvalue.Generate("kw")
	if err != nil {
		tb.Fatal(err)
	}
	d := hasher.Digest(value)
	snap := &keyward.DataPlaneSnapshot{
		APIs: []*keyward.API{{ID: "api_1", Name: "chat", OpenAICompatible: true,
			Stages: []keyward.Stage{{Name: "prod", UpstreamURL: upstreamURL}}}},
		Plans: []*keyward.UsagePlan{{ID: "plan_1", Name: "p",
			Throttle:  &keyward.Throttle{RateLimit: 1e6, BurstLimit: 1e6},
			Quota:     &keyward.Quota{Limit: 1 << 60, Period: keyward.PeriodMonth},
			Tokens:    &keyward.TokenLimits{PerMinute: 1 << 60, PerDay: 1 << 60},
			APIStages: []keyward.PlanStage{{APIID: "api_1", Stage: "prod"}}}},
		Keys: []*keyward.APIKey{{ID: "key_1", Enabled: true, PlanIDs: []string{"plan_1"},
			Scopes:      keyward.Scopes{Models: []string{"gpt-4o-*"}},
			Credentials: []keyward.Credential{{ID: "cred_1", KeyID: "key_1", Label: keyward.LabelCurrent, Digest: d[:]}}}},
	}
	g, err := New(context.Background(), Config{Source: &fakeSource{snap}, Changes: &changefeed.Local{}, Hasher: hasher})
	if err != nil {
		tb.Fatal(err)
	}
	return g, value
}

const benchBody = `{"model":"gpt-4o-mini","max_tokens":256,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write a haiku about API keys that rotate without downtime, and explain it in one sentence."}]}`

// BenchmarkAdmit is the in-process decision for one request: route, key
// extraction, checksum, HMAC, index lookup, state and scope checks, the
// strict parse of the JSON body for its model, and the atomic charge of
// throttle, quota and two token windows.
func BenchmarkAdmit(b *testing.B) {
	g, value := hotPathGateway(b, "http://127.0.0.1:1")
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/chat/prod/v1/chat/completions")
	ctx.Request.Header.Set("X-Api-Key", value)
	ctx.Request.Header.SetContentType("application/json")
	ctx.Request.SetBodyString(benchBody)
	t := g.table.Load()
	_, stage, rest, _ := splitPath(ctx.Path())
	st := t.apis["chat"].stage(stage)
	x := &exchange{st: st}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		x.now = time.Now()
		x.charge.Reset()
		x.charged = false
		if status, done := g.admit(&ctx, t, x, rest); done {
			b.Fatalf("refused: %d %s", status, ctx.Response.Body())
		}
	}
}

// BenchmarkServeJSON is a whole exchange through the handler: admit, the
// upstream round trip over loopback, usage parsing, metrics and usage
// recording.
func BenchmarkServeJSON(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	upBody := []byte(`{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Keys turn over, the ID stays: no caller notices."},"finish_reason":"stop"}],"usage":{"prompt_tokens":40,"completion_tokens":17,"total_tokens":57}}`)
	up := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(upBody)
	}}
	go up.Serve(ln)
	defer up.Shutdown()
	g, value := hotPathGateway(b, "http://"+ln.Addr().String())
	var ctx fasthttp.RequestCtx
	ctx.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod("POST")
		ctx.Request.SetRequestURI("/chat/prod/v1/chat/completions")
		ctx.Request.Header.Set("X-Api-Key", value)
		ctx.Request.Header.SetContentType("application/json")
		ctx.Request.SetBodyString(benchBody)
		g.serve(&ctx)
		if ctx.Response.StatusCode() != 200 {
			b.Fatalf("status %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
}
