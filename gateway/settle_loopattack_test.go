//go:build linux

package gateway

import (
	"bufio"
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

	"github.com/keyward/keyward/mockupstream"
)

// Many callers at once, on every path the loop and its hand-overs take
// (buffered, streamed, pipelined, handed over whole, timed out, cut,
// malformed, closing early, abandoned by the client): every admitted
// charge is settled exactly once, none twice, none never.
func TestLoopAttackEveryChargeSettlesOnceUnderLoad(t *testing.T) {
	mock := mockupstream.HandlerWith(mockupstream.Options{Usage: mockupstream.UsageAsked, Pause: 5 * time.Millisecond})
	var hh http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Mode") {
		case "hang":
			io.Copy(io.Discard, r.Body)
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
			return
		case "garbage":
			c, _, _ := w.(http.Hijacker).Hijack()
			io.WriteString(c, "SSH-2.0-nope\r\n\r\n")
			c.Close()
			return
		case "cut":
			c, _, _ := w.(http.Hijacker).Hijack()
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"id\":")
			c.Close()
			return
		case "extra":
			c, bw, _ := w.(http.Hijacker).Hijack()
			bw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			bw.Flush()
			time.Sleep(100 * time.Millisecond)
			c.Close()
			return
		case "close":
			w.Header().Set("Connection", "close")
		case "continue":
			w.WriteHeader(http.StatusContinue)
		case "nocontent":
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		mock.ServeHTTP(w, r)
	})
	var h atomic.Pointer[http.Handler]
	h.Store(&hh)
	_, cl, base, key := budgetGateway(t, 1<<40, &h, func(c *Config, _ *httptest.Server) { c.Timeout = 700 * time.Millisecond })
	addr := strings.TrimPrefix(base, "http://")
	addr = addr[:strings.Index(addr, "/")]

	const chat = `{"model":"gpt-4o-mini","max_tokens":50,"messages":[{"role":"user","content":"one two three"}]}`
	const stream = `{"model":"gpt-4o-mini","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"one two three"}]}`
	req := func(mode, body, proto, extra string) string {
		return fmt.Sprintf("POST /chat/prod/v1/chat/completions %s\r\nHost: gw\r\nX-Api-Key: %s\r\nX-Mode: %s\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s", proto, key, mode, extra, len(body), body)
	}
	var answered atomic.Int64
	// exchange writes raw on a new connection; n responses are read, then
	// the connection closed; n < 0: close after a pause without reading.
	exchange := func(raw string, n int) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		io.WriteString(c, raw)
		if n < 0 {
			time.Sleep(time.Duration(-n) * time.Millisecond)
			return
		}
		br := bufio.NewReader(c)
		for i := range n {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Errorf("%.60q: response %d: %v", raw, i+1, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			answered.Add(1)
		}
	}
	modes := []func(){
		func() { exchange(req("", chat, "HTTP/1.1", ""), 1) },
		func() { exchange(req("", stream, "HTTP/1.1", ""), 1) },
		func() {
			exchange(req("", chat, "HTTP/1.1", "")+req("", stream, "HTTP/1.1", "")+req("", chat, "HTTP/1.1", ""), 3)
		},
		func() { exchange(req("", chat, "HTTP/1.0", ""), 1) },
		func() { exchange(req("", chat, "HTTP/1.1", "Expect: 100-continue\r\n"), 2) }, // the 100, then the answer
		func() { exchange(req("hang", chat, "HTTP/1.1", ""), 1) },
		func() { exchange(req("hang", chat, "HTTP/1.1", ""), -50) },
		func() { exchange(req("", stream, "HTTP/1.1", ""), -20) },
		func() { exchange(req("garbage", chat, "HTTP/1.1", ""), 1) },
		func() { exchange(req("cut", chat, "HTTP/1.1", ""), 1) },
		func() { exchange(req("extra", chat, "HTTP/1.1", "")+req("", chat, "HTTP/1.1", ""), 2) },
		func() { exchange(req("close", chat, "HTTP/1.1", "")+req("close", chat, "HTTP/1.1", ""), 2) },
		func() { exchange(req("continue", chat, "HTTP/1.1", ""), 1) },
		func() { exchange(req("nocontent", chat, "HTTP/1.1", ""), 1) },
		func() { exchange(req("", chat, "HTTP/1.1", "")+req("", chat, "HTTP/1.1", "")[:40], -100) },
	}
	var wg sync.WaitGroup
	for i := range 8 * len(modes) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			modes[i%len(modes)]()
		}()
	}
	wg.Wait()
	var admitted, settled, stray int
	ok := eventually(10*time.Second, func() bool {
		admitted, settled, stray, _, _, _ = cl.state()
		return admitted == settled
	})
	if !ok || stray != 0 {
		t.Fatalf("%d charges admitted, %d settled, %d stray", admitted, settled, stray)
	}
	t.Logf("%d charges admitted and settled, %d responses read", admitted, answered.Load())
}
