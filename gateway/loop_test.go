//go:build linux

package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/gateway"
	"github.com/keyward/keyward/server"
)

// The event loop (loop_linux.go) serves the common requests itself and
// hands the rest to fasthttp; the whole gateway suite runs through it. These
// tests pin down which is which, and what the loop does on its own:
// pipelining, hand-overs mid-connection, shutdown.

func handoffs(t *testing.T, e *env) int64 {
	t.Helper()
	n, loop := gateway.LoopHandoffs(e.srv.Gateway())
	for deadline := time.Now().Add(5 * time.Second); !loop && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // Serve starts the loops on its own goroutine
		n, loop = gateway.LoopHandoffs(e.srv.Gateway())
	}
	if !loop {
		t.Fatal("the gateway does not serve its plain-HTTP listener with the event loop")
	}
	return n
}

// rawResponses writes raw on a new connection and reads n responses.
func rawResponses(t *testing.T, e *env, raw string, n int) []*http.Response {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(e.gw, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var out []*http.Response
	for i := range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i+1, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
		out = append(out, resp)
	}
	return out
}

func bodyOf(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

func TestLoopServesCommonRequestsItself(t *testing.T) {
	e := newEnv(t)
	a := e.api("chat", true)
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
	for range 5 {
		if r := e.call("POST", "/chat/prod/v1/chat/completions", value, chatBody); r.status != 200 || r.body != completion {
			t.Fatalf("POST: %d %q", r.status, r.body)
		}
		if r := e.call("GET", "/chat/prod/v1/files", value, ""); r.status != 200 {
			t.Fatalf("GET: %d %q", r.status, r.body)
		}
		if r := e.call("DELETE", "/chat/prod/v1/files/f1", value, ""); r.status != 200 {
			t.Fatalf("DELETE: %d %q", r.status, r.body)
		}
		if r := e.call("HEAD", "/chat/prod/v1/files", value, ""); r.status != 200 || r.body != "" {
			t.Fatalf("HEAD: %d %q", r.status, r.body)
		}
		if r := e.call("POST", "/chat/prod/v1/chat/completions", "kw_not-a-key-at-all-000000000000", chatBody); r.status != 401 {
			t.Fatalf("bad key: %d %q", r.status, r.body)
		}
		if r := e.call("GET", "/nowhere/prod/x", value, ""); r.status != 404 {
			t.Fatalf("no API: %d", r.status)
		}
	}
	if n := handoffs(t, e); n != 0 {
		t.Errorf("%d connections handed to fasthttp; the loop should have served them all", n)
	}
}

func TestLoopAnswersPipelinedRequestsInOrder(t *testing.T) {
	e := newEnv(t)
	a := e.api("chat", true)
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
	host := strings.TrimPrefix(e.gw, "http://")
	post := fmt.Sprintf("POST /chat/prod/v1/chat/completions HTTP/1.1\r\nHost: %s\r\nX-Api-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", host, value, len(chatBody), chatBody)
	missing := fmt.Sprintf("GET /nowhere/prod/x HTTP/1.1\r\nHost: %s\r\n\r\n", host)
	badKey := fmt.Sprintf("GET /chat/prod/v1/files HTTP/1.1\r\nHost: %s\r\nX-Api-Key: kw_nope\r\n\r\n", host)
	rs := rawResponses(t, e, post+missing+badKey+post, 4)
	want := []int{200, 404, 401, 200}
	for i, r := range rs {
		if r.StatusCode != want[i] {
			t.Errorf("response %d: %d, want %d", i+1, r.StatusCode, want[i])
		}
	}
	if b := bodyOf(rs[3]); b != completion {
		t.Errorf("the last response's body: %q", b)
	}
	if n := handoffs(t, e); n != 0 {
		t.Errorf("%d hand-overs for pipelined requests the loop takes", n)
	}
}

// What the loop does not take goes to fasthttp with the bytes read so
// far, and is answered as before.
func TestLoopHandsOverWhatItDoesNotTake(t *testing.T) {
	e := newEnv(t)
	a := e.api("chat", true)
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
	host := strings.TrimPrefix(e.gw, "http://")
	head := fmt.Sprintf("POST /chat/prod/v1/chat/completions %%s\r\nHost: %s\r\nX-Api-Key: %s\r\nContent-Type: application/json\r\n", host, value)
	cases := []struct {
		name, raw string
		status    int
	}{
		{"HTTP/1.0", fmt.Sprintf(head, "HTTP/1.0") + fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(chatBody), chatBody), 200},
		{"chunked body", fmt.Sprintf(head, "HTTP/1.1") + fmt.Sprintf("Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(chatBody), chatBody), 200},
		{"header over 16 KiB", fmt.Sprintf(head, "HTTP/1.1") + "X-Pad: " + strings.Repeat("p", 17<<10) + "\r\nContent-Length: 0\r\n\r\n", 431},
		{"garbage", "NOT HTTP AT ALL\r\n\r\n", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := handoffs(t, e)
			rs := rawResponses(t, e, tc.raw, 1)
			if rs[0].StatusCode != tc.status {
				t.Errorf("status %d, want %d (%q)", rs[0].StatusCode, tc.status, bodyOf(rs[0]))
			}
			if tc.status == 200 {
				if _, body := e.up.last(t); string(body) != chatBody {
					t.Errorf("upstream got body %q", body)
				}
			}
			if after := handoffs(t, e); after != before+1 {
				t.Errorf("hand-overs %d -> %d, want one", before, after)
			}
		})
	}
	t.Run("Expect: 100-continue", func(t *testing.T) {
		before := handoffs(t, e)
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, head, "HTTP/1.1")
		fmt.Fprintf(c, "Expect: 100-continue\r\nContent-Length: %d\r\n\r\n", len(chatBody))
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		if err != nil || !strings.Contains(line, "100 Continue") {
			t.Fatalf("first line %q %v", line, err)
		}
		br.ReadString('\n') // the blank line after it
		io.WriteString(c, chatBody)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 || bodyOf(resp) != completion {
			t.Fatalf("after 100: %v %v", resp, err)
		}
		if after := handoffs(t, e); after != before+1 {
			t.Errorf("hand-overs %d -> %d, want one", before, after)
		}
	})
}

// The loop relays streams itself: two pipelined streams are both
// answered whole on the one connection, with no hand-over.
func TestLoopRelaysStreamsAndTheConnectionGoesOn(t *testing.T) {
	e := newEnv(t)
	a := e.api("chat", true)
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
	sse := &sseUpstream{events: []string{"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n", "data: [DONE]\n\n"}}
	e.up.set(sse.ServeHTTP)
	host := strings.TrimPrefix(e.gw, "http://")
	stream := fmt.Sprintf("POST /chat/prod/v1/chat/completions HTTP/1.1\r\nHost: %s\r\nX-Api-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", host, value, len(chatBody), chatBody)
	rs := rawResponses(t, e, stream+stream, 2)
	for i, r := range rs {
		if b := bodyOf(r); r.StatusCode != 200 || !strings.Contains(b, "[DONE]") {
			t.Errorf("stream %d: %d %q", i+1, r.StatusCode, b)
		}
	}
	if n := handoffs(t, e); n != 0 {
		t.Errorf("%d hand-overs, want 0", n)
	}
}

// An upstream named by host name is dialed by fasthttp's side, and the
// connection stays there.
func TestLoopHandsOverUpstreamsByName(t *testing.T) {
	e := newEnv(t)
	port := e.up.url[strings.LastIndex(e.up.url, ":")+1:]
	a := e.api("chat", true, func(s *keyward.Stage) { s.UpstreamURL = "http://localhost:" + port })
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
	if r := e.call("POST", "/chat/prod/v1/chat/completions", value, chatBody); r.status != 200 || r.body != completion {
		t.Fatalf("%d %q", r.status, r.body)
	}
	if n := handoffs(t, e); n != 1 {
		t.Errorf("%d hand-overs, want 1", n)
	}
	// The client keeps the connection open and idle: Shutdown closes it
	// rather than wait for a request that does not come.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := e.srv.Gateway().Shutdown(ctx); err != nil {
		t.Errorf("Shutdown with a handed-over idle connection: %v", err)
	}
}

// Shutdown lets an exchange in flight on the loop finish, and closes the
// connection after it.
func TestLoopShutdownFinishesExchangesInFlight(t *testing.T) {
	e := newEnv(t)
	a := e.api("chat", true)
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
	arrived := make(chan struct{})
	var once sync.Once
	e.up.set(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived) })
		time.Sleep(300 * time.Millisecond)
		chatHandler(w, r)
	})
	type answer struct {
		status int
		close  bool
		body   string
		err    error
	}
	got := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("POST", e.gw+"/chat/prod/v1/chat/completions", strings.NewReader(chatBody))
		req.Header.Set("X-Api-Key", value)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- answer{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- answer{status: resp.StatusCode, close: resp.Close, body: string(b)}
	}()
	<-arrived
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- e.srv.Gateway().Shutdown(ctx) }()
	r := <-got
	if r.err != nil || r.status != 200 || r.body != completion || !r.close {
		t.Errorf("in flight at shutdown: %+v", r)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func TestGoroutinesSettingTurnsTheLoopOff(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = true })
	a := e.api("chat", true)
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
	if r := e.call("POST", "/chat/prod/v1/chat/completions", value, chatBody); r.status != 200 || r.body != completion {
		t.Fatalf("%d %q", r.status, r.body)
	}
	if _, loop := gateway.LoopHandoffs(e.srv.Gateway()); loop {
		t.Error("the event loop runs with GatewayGoroutines set")
	}
}

// An upstream that sends more than its Content-Length (here a second,
// unasked-for response) leaves its connection out of step: the loop does
// not reuse it, so the next caller gets its own answer, not those bytes.
func TestLoopDoesNotReuseAnUpstreamConnectionOutOfStep(t *testing.T) {
	e := newEnv(t)
	a := e.api("chat", true)
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
	var calls sync.WaitGroup
	calls.Add(1)
	first := true
	var mu sync.Mutex
	e.up.set(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		smuggle := first
		first = false
		mu.Unlock()
		if !smuggle {
			chatHandler(w, r)
			return
		}
		c, bw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		bw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}" +
			"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n\"evil!\"")
		bw.Flush()
		calls.Done()
		time.Sleep(time.Second) // keep the connection open meanwhile
		c.Close()
	})
	if r := e.call("POST", "/chat/prod/v1/chat/completions", value, chatBody); r.status != 200 || r.body != "{}" {
		t.Fatalf("first: %d %q", r.status, r.body)
	}
	calls.Wait()
	if r := e.call("POST", "/chat/prod/v1/chat/completions", value, chatBody); r.status != 200 || r.body != completion {
		t.Fatalf("the second caller got %d %q", r.status, r.body)
	}
}
