//go:build !race

package gateway

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// The decision for an admitted request allocates nothing: key check,
// scopes, strict body parse and the charge of every counter. (Built
// without -race, whose instrumentation allocates.)
func TestAdmitNoAllocs(t *testing.T) {
	g, value := hotPathGateway(t, "http://127.0.0.1:1")
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/chat/prod/v1/chat/completions")
	ctx.Request.Header.Set("X-Api-Key", value)
	ctx.Request.Header.SetContentType("application/json")
	ctx.Request.SetBodyString(benchBody)
	tb := g.table.Load()
	_, stage, rest, _ := splitPath(ctx.Path())
	x := &exchange{st: tb.apis["chat"].stage(stage)}
	allocs := testing.AllocsPerRun(1000, func() {
		x.now = time.Now()
		x.charge.Reset()
		if status, done := g.admit(&ctx, tb, x, rest); done {
			t.Fatalf("refused: %d", status)
		}
	})
	if allocs != 0 {
		t.Fatalf("admit allocates %.1f times per request", allocs)
	}
}
