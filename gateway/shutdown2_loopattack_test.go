//go:build linux

package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/changefeed"
	"github.com/keyward/keyward/limit"
)

// Shutdown with exchanges of every kind in flight (buffered on the loop,
// streamed on a goroutine, pipelined, on handed-over connections) and
// idle connections of both sides: every exchange in flight completes,
// every charge is settled, Shutdown returns without waiting for the idle
// ones, and Serve returns.
func TestLoopAttackShutdownWithEverythingInFlight(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if strings.HasSuffix(r.URL.Path, "/stream") {
			w.Header().Set("Content-Type", "text/event-stream")
			for i := range 10 {
				fmt.Fprintf(w, "data: {\"n\":%d}\n\n", i)
				w.(http.Flusher).Flush()
				time.Sleep(80 * time.Millisecond)
			}
			io.WriteString(w, "data: [DONE]\n\n")
			return
		}
		if strings.HasSuffix(r.URL.Path, "/slow") {
			time.Sleep(600 * time.Millisecond)
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"usage":{"prompt_tokens":1,"completion_tokens":2}}`)
	}))
	defer up.Close()
	hasher := testHasher(t)
	value, cred := currentValue(t, hasher, "key_1", "cred_1")
	snap := &keyward.DataPlaneSnapshot{
		APIs: []*keyward.API{{ID: "api_1", Name: "chat", OpenAICompatible: true,
			Stages: []keyward.Stage{{Name: "prod", UpstreamURL: up.URL}}}},
		Plans: []*keyward.UsagePlan{{ID: "plan_1", Name: "p", Tokens: &keyward.TokenLimits{PerDay: 1 << 40},
			APIStages: []keyward.PlanStage{{APIID: "api_1", Stage: "prod"}}}},
		Keys: []*keyward.APIKey{{ID: "key_1", Enabled: true, PlanIDs: []string{"plan_1"}, Credentials: []keyward.Credential{cred}}},
	}
	cl := &countingLimiter{Limiter: limit.NewLocal(nil)}
	g, err := New(context.Background(), Config{Source: &fakeSource{snap}, Changes: &changefeed.Local{}, Hasher: hasher,
		Limiter: cl, UsageFlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- g.Serve(context.Background(), ln) }()
	addr := ln.Addr().String()
	for deadline := time.Now().Add(5 * time.Second); g.loops.Load() == nil && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if g.loops.Load() == nil {
		t.Fatal("no event loop")
	}
	req := func(path string) string {
		body := `{"model":"m","max_tokens":5}`
		return fmt.Sprintf("POST /chat/prod/v1/%s HTTP/1.1\r\nHost: gw\r\nX-Api-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path, value, len(body), body)
	}
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	readOne := func(br *bufio.Reader) (int, string, error) {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return 0, "", err
		}
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	// Idle connections: one the loop owns, one handed over after a stream.
	for _, p := range []string{"fast", "stream"} {
		c, br := dial()
		io.WriteString(c, req(p))
		if s, _, err := readOne(br); s != 200 || err != nil {
			t.Fatalf("%s before Shutdown: %d %v", p, s, err)
		}
	}
	// A request half sent.
	c, _ := dial()
	io.WriteString(c, req("fast")[:50])

	type result struct {
		what string
		err  error
	}
	results := make(chan result, 32)
	var wg sync.WaitGroup
	inFlight := func(what, raw string, want ...string) {
		c, br := dial()
		io.WriteString(c, raw)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, w := range want {
				s, b, err := readOne(br)
				if err == nil && (s != 200 || !strings.Contains(b, w)) {
					err = fmt.Errorf("%d %q", s, b)
				}
				results <- result{what, err}
			}
		}()
	}
	for range 4 {
		inFlight("buffered", req("slow"), "usage")
		inFlight("stream", req("stream"), "[DONE]")
	}
	inFlight("pipelined", req("slow")+req("fast"), "usage") // the second may go unanswered
	// A connection handed over (after a stream), now busy again.
	{
		c, br := dial()
		io.WriteString(c, req("stream"))
		if s, _, err := readOne(br); s != 200 || err != nil {
			t.Fatalf("stream: %d %v", s, err)
		}
		io.WriteString(c, req("slow"))
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, b, err := readOne(br)
			if err == nil && (s != 200 || !strings.Contains(b, "usage")) {
				err = fmt.Errorf("%d %q", s, b)
			}
			results <- result{"on a handed-over connection", err}
		}()
	}
	time.Sleep(200 * time.Millisecond) // every request has reached the gateway
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v after %v", err, time.Since(start))
	}
	took := time.Since(start)
	wg.Wait()
	close(results)
	for r := range results {
		if r.err != nil {
			t.Errorf("%s in flight at Shutdown: %v", r.what, r.err)
		}
	}
	if took > 5*time.Second {
		t.Errorf("Shutdown took %v", took)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("Serve has not returned 5 s after Shutdown")
	}
	admitted, settled, stray, _, _, _ := cl.state()
	if admitted != settled || stray != 0 {
		t.Errorf("%d admitted, %d settled, %d stray", admitted, settled, stray)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("the gateway still accepts connections after Shutdown")
	}
}
