//go:build linux

package gateway

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// An upstream that answers (without usage) before it has read the whole
// request still answered it: the reservation settles to the estimate
// ("never zero once the upstream may have acted on the request"), as it
// does on the goroutine server, not to nothing.
func TestLoopAttackEarlyAnswerIsNotFree(t *testing.T) {
	for _, stream := range []bool{false, true} {
		for _, goroutines := range []bool{true, false} {
			name := map[bool]string{true: "goroutines", false: "loop"}[goroutines] + map[bool]string{true: "/stream", false: "/buffered"}[stream]
			t.Run(name, func(t *testing.T) { earlyAnswerCharge(t, goroutines, stream) })
		}
	}
}

func earlyAnswerCharge(t *testing.T, goroutines, stream bool) {
	{
		{
			var hh http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rc := http.NewResponseController(w)
				rc.EnableFullDuplex()
				if stream {
					// The stream's header at once, its events (without
					// usage) once the body is read.
					w.Header().Set("Content-Type", "text/event-stream")
					w.WriteHeader(200)
					rc.Flush()
					time.Sleep(300 * time.Millisecond)
					io.Copy(io.Discard, r.Body)
					io.WriteString(w, "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n")
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Length", "21")
				w.WriteHeader(400)
				io.WriteString(w, `{"error":"too long!"}`)
				rc.Flush()
				time.Sleep(300 * time.Millisecond) // the gateway has the answer before the body is read
				io.Copy(io.Discard, r.Body)
			})
			var h atomic.Pointer[http.Handler]
			h.Store(&hh)
			_, cl, base, key := budgetGateway(t, 1<<40, &h, func(c *Config, _ *httptest.Server) {
				c.NoEventLoop = goroutines
				c.MaxBodyBytes = 32 << 20
				c.Timeout = 5 * time.Second
			})
			body := `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"` + strings.Repeat("x", 12<<20) + `"}]}`
			req, _ := http.NewRequest("POST", base+"/v1/chat/completions", bytes.NewReader([]byte(body)))
			req.Header.Set("X-Api-Key", key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !eventually(5*time.Second, func() bool { a, s, _, _, _, _ := cl.state(); return a == 1 && s == 1 }) {
				t.Fatal("not settled")
			}
			_, _, _, reserved, tokens, _ := cl.state()
			t.Logf("%d %q; reserved %d, settled to %d tokens", resp.StatusCode, got, reserved, tokens)
			if tokens == 0 {
				t.Errorf("an answered request settled to nothing (reserved %d)", reserved)
			}
		}
	}
}
