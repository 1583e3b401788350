//go:build linux

package gateway_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
)

// An upstream that sends more than its response's framing (a second,
// unasked-for response right behind it, sized or chunked): the connection
// is out of step and must not carry the next exchange, on either server
// and whichever side (loop or goroutines) ends up with it. The next
// request goes over a connection fasthttp serves (handed over after a
// stream, or any connection with the goroutine server).
func TestLoopAttackOutOfStepUpstreamConnections(t *testing.T) {
	const evil = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n\"evil!\""
	cases := []struct{ name, method, first string }{
		{"sized", "POST", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}" + evil},
		{"chunked", "POST", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n" + evil},
		{"event stream", "POST", "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("data: [DONE]\n\n") + "0\r\n\r\n" + evil},
		{"HEAD answered with a body", "HEAD", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n" + evil},
		{"204 with a body", "POST", "HTTP/1.1 204 No Content\r\n\r\n" + evil},
		// The body ends 16 KiB to the byte after the header: a reader that
		// fills 16 KiB at a time stops right at its end, the surplus not
		// yet read.
		{"chunked, 16 KiB to the byte", "POST", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"3ff3\r\n" + strings.Repeat("x", 0x3ff3) + "\r\n0\r\n\r\n" + evil},
	}
	for _, goroutines := range []bool{true, false} {
		for _, tc := range cases {
			t.Run(map[bool]string{true: "goroutines", false: "loop"}[goroutines]+"/"+tc.name, func(t *testing.T) {
				e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines })
				a := e.api("chat", true)
				_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
				var mu sync.Mutex
				first := true
				written := make(chan struct{})
				e.up.set(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					smuggle := first
					first = false
					mu.Unlock()
					if !smuggle {
						chatHandler(w, r)
						return
					}
					c, bw, _ := w.(http.Hijacker).Hijack()
					bw.WriteString(tc.first)
					bw.Flush()
					close(written)
					time.Sleep(2 * time.Second) // keep the connection open meanwhile
					c.Close()
				})
				// One client connection for both requests, so that after a
				// stream the second goes through fasthttp's side.
				client := &http.Client{Transport: &http.Transport{}}
				do := func(method string) (int, string) {
					r := e.callWith(client, method, "/chat/prod/v1/chat/completions", value, chatBody)
					return r.status, r.body
				}
				s, b := do(tc.method)
				t.Logf("first: %d %q", s, b)
				<-written
				if s, b := do("POST"); s != 200 || b != completion {
					t.Fatalf("the second caller got %d %q", s, b)
				}
			})
		}
	}
}

// callWith is env.call on the client given.
func (e *env) callWith(client *http.Client, method, path, key, body string) result {
	e.t.Helper()
	var rd io.Reader
	if method != "HEAD" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.gw+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("X-Api-Key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, resp.Header, string(b)}
}
