package gateway_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
)

// Faults of the upstream, of the client and of the request itself: none of
// them crashes the gateway or leaks a key. Every test ends with
// faultAftermath: the gateway still answers a normal request with 200 and
// its logs hold none of the key values (or upstream secrets) of the test.

// okUpstream is a second upstream that always answers 200, for the checks
// that the gateway still serves after a fault.
func okUpstream(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "healthy")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// faultEnv is an env with an API "health" in front of okUpstream, for
// faultAftermath.
func faultEnv(t *testing.T, mod ...func(*server.Config)) (*env, *keyward.API) {
	e := newEnv(t, mod...)
	u := okUpstream(t)
	health := e.api("health", false, func(s *keyward.Stage) { s.UpstreamURL = u })
	return e, health
}

// faultAftermath checks that the gateway still serves (key must be valid on
// the health API) and that the logs quote none of secrets.
func faultAftermath(t *testing.T, e *env, key string, secrets ...string) {
	t.Helper()
	if r := e.call("GET", "/health/prod/ping", key, ""); r.status != 200 || r.body != "healthy" {
		t.Errorf("after the fault the gateway answered %d %q", r.status, r.body)
	}
	logs := e.logs.String()
	for _, s := range append(secrets, key) {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("the logs hold a key or secret (%d bytes)", len(s))
		}
	}
}

func stageKeys(apis ...*keyward.API) []keyward.StageKey {
	var sk []keyward.StageKey
	for _, a := range apis {
		sk = append(sk, keyward.StageKey{APIID: a.ID, Stage: "prod"})
	}
	return sk
}

// closedAddr is a loopback address nobody listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestUpstreamDownIs502(t *testing.T) {
	e, health := faultEnv(t)
	down := e.api("down", false, func(s *keyward.Stage) { s.UpstreamURL = "http://" + closedAddr(t) + "/base" })
	chat := e.api("chatdown", true, func(s *keyward.Stage) { s.UpstreamURL = "http://" + closedAddr(t) })
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(down, chat, health)})

	for range 3 { // a failed dial leaves nothing half-open behind
		r := e.call("GET", "/down/prod/v1/models", value, "")
		if r.status != 502 || r.body != `{"message":"Bad Gateway"}` {
			t.Fatalf("got %d %q", r.status, r.body)
		}
		if strings.Contains(r.body, value) {
			t.Fatal("the reply echoes the key")
		}
	}
	r := e.call("POST", "/chatdown/prod/v1/chat/completions", value, chatBody)
	if r.status != 502 || r.body != `{"message":"Bad Gateway"}` {
		t.Fatalf("OpenAI-compatible: got %d %q", r.status, r.body)
	}
	faultAftermath(t, e, value)
}

func TestUpstreamSlowIs504(t *testing.T) {
	const timeout = 300 * time.Millisecond
	e, health := faultEnv(t, func(c *server.Config) { c.GatewayTimeout = timeout })
	cancelled := make(chan struct{}, 1)
	e.up.set(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
			chatHandler(w, r)
		case <-r.Context().Done():
			cancelled <- struct{}{}
		}
	})
	a := e.api("slow", false)
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a, health)})

	start := time.Now()
	r := e.call("GET", "/slow/prod/v1/models", value, "")
	took := time.Since(start)
	if r.status != 504 || r.body != `{"message":"Gateway Timeout"}` {
		t.Fatalf("got %d %q after %v", r.status, r.body, took)
	}
	if took < timeout || took > 1500*time.Millisecond {
		t.Errorf("504 after %v, want about %v", took, timeout)
	}
	if e.up.count() != 1 {
		t.Errorf("the upstream saw %d requests: a timed-out request was retried", e.up.count())
	}
	select {
	case <-cancelled:
	case <-time.After(3 * time.Second):
		t.Error("the upstream call was not cancelled after the timeout")
	}
	e.up.set(chatHandler)
	if r := e.call("GET", "/slow/prod/v1/models", value, ""); r.status != 200 {
		t.Errorf("a fast answer after the timeout: %d", r.status)
	}
	faultAftermath(t, e, value)
}

// An event stream that outlives the gateway's timeout is cut at the
// timeout ("whole upstream exchange, streams included"), and the upstream
// call is cancelled.
func TestStreamLongerThanTheTimeoutIsCut(t *testing.T) {
	const timeout = 500 * time.Millisecond
	e, health := faultEnv(t, func(c *server.Config) { c.GatewayTimeout = timeout })
	cancelled := make(chan struct{}, 1)
	e.up.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for i := 0; i < 100; i++ {
			fmt.Fprintf(w, "data: {\"n\":%d}\n\n", i)
			f.Flush()
			select {
			case <-time.After(50 * time.Millisecond):
			case <-r.Context().Done():
				cancelled <- struct{}{}
				return
			}
		}
	})
	a := e.api("chat", true)
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a, health)})
	start := time.Now()
	resp := e.openStream(nil, "/chat/prod/v1/chat/completions", value, streamBody)
	evs, _, err := readEvents(resp.Body, nil)
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != 200 || len(evs) == 0 {
		t.Fatalf("got %d with %d events", resp.StatusCode, len(evs))
	}
	if len(evs) >= 100 || took > 3*time.Second {
		t.Fatalf("the stream ran %v (%d events), past the %v timeout", took, len(evs), timeout)
	}
	if err == nil {
		t.Error("a stream cut at the timeout ended like a complete one")
	}
	select {
	case <-cancelled:
	case <-time.After(3 * time.Second):
		t.Error("the upstream call was not cancelled")
	}
	faultAftermath(t, e, value)
}

// hijacked answers with raw bytes written on the hijacked connection, then
// closes it: a response cut short.
func hijacked(raw ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, bw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		defer c.Close()
		for i, s := range raw {
			if i > 0 {
				time.Sleep(50 * time.Millisecond)
			}
			bw.WriteString(s)
			bw.Flush()
		}
	}
}

func chunk(s string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(s), s) }

func TestBrokenUpstreamResponses(t *testing.T) {
	e, health := faultEnv(t)
	a := e.api("chat", true)
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a, health)})
	ev1 := `data: {"choices":[{"delta":{"content":"a"}}]}` + "\n\n"
	ev2 := `data: {"choices":[{"delta":{"content":"b"}}]}` + "\n\n"

	t.Run("event stream cut mid-chunk", func(t *testing.T) {
		e.up.set(hijacked(
			"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"+chunk(ev1)+chunk(ev2),
			"40\r\ndata: {\"choices\":[{\"delta\":{\"content\":\"trunc",
		))
		resp := e.openStream(nil, "/chat/prod/v1/chat/completions", value, streamBody)
		defer resp.Body.Close()
		evs, raw, err := readEvents(resp.Body, nil)
		if resp.StatusCode != 200 || len(evs) < 2 || evs[0].text != ev1 || evs[1].text != ev2 {
			t.Fatalf("got %d %q", resp.StatusCode, raw)
		}
		if err == nil {
			t.Fatalf("a truncated stream reached the client as a complete one: %q", raw)
		}
		t.Logf("the client read %q, then %v", raw, err)
	})
	t.Run("event stream closed without the last chunk", func(t *testing.T) {
		e.up.set(hijacked("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(ev1)))
		resp := e.openStream(nil, "/chat/prod/v1/chat/completions", value, streamBody)
		defer resp.Body.Close()
		evs, raw, err := readEvents(resp.Body, nil)
		if resp.StatusCode != 200 || len(evs) != 1 || evs[0].text != ev1 || err == nil {
			t.Fatalf("got %d %q %v", resp.StatusCode, raw, err)
		}
	})
	t.Run("event stream with a bad chunk size", func(t *testing.T) {
		e.up.set(hijacked("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(ev1) + "zz\r\ngarbage\r\n0\r\n\r\n"))
		resp := e.openStream(nil, "/chat/prod/v1/chat/completions", value, streamBody)
		defer resp.Body.Close()
		evs, raw, err := readEvents(resp.Body, nil)
		if resp.StatusCode != 200 || len(evs) < 1 || evs[0].text != ev1 || err == nil || strings.Contains(raw, "garbage") {
			t.Fatalf("got %d %q %v", resp.StatusCode, raw, err)
		}
	})
	t.Run("sized body cut short", func(t *testing.T) {
		e.up.set(hijacked("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n" + completion[:40]))
		r := e.call("POST", "/chat/prod/v1/chat/completions", value, chatBody)
		if r.status != 502 || r.body != `{"message":"Bad Gateway"}` {
			t.Fatalf("got %d %q", r.status, r.body)
		}
	})
	t.Run("no response at all", func(t *testing.T) {
		e.up.set(hijacked(""))
		r := e.call("POST", "/chat/prod/v1/chat/completions", value, chatBody)
		if r.status != 502 || r.body != `{"message":"Bad Gateway"}` {
			t.Fatalf("got %d %q", r.status, r.body)
		}
	})
	t.Run("garbage status line", func(t *testing.T) {
		e.up.set(hijacked("SSH-2.0-OpenSSH_9.6\r\n\r\n"))
		r := e.call("POST", "/chat/prod/v1/chat/completions", value, chatBody)
		if r.status != 502 || r.body != `{"message":"Bad Gateway"}` {
			t.Fatalf("got %d %q", r.status, r.body)
		}
	})
	e.up.set(chatHandler)
	if r := e.call("POST", "/chat/prod/v1/chat/completions", value, chatBody); r.status != 200 || r.body != completion {
		t.Errorf("a normal request after the broken ones: %d %q", r.status, r.body)
	}
	faultAftermath(t, e, value)
}

// A client that goes away mid-stream cancels the upstream call.
func TestClientGoneMidStreamCancelsTheUpstream(t *testing.T) {
	e, health := faultEnv(t)
	cancelled := make(chan time.Time, 1)
	e.up.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		giveUp := time.After(10 * time.Second)
		for i := 0; ; i++ {
			fmt.Fprintf(w, "data: {\"n\":%d}\n\n", i)
			f.Flush()
			select {
			case <-r.Context().Done():
				cancelled <- time.Now()
				return
			case <-tick.C:
			case <-giveUp:
				return
			}
		}
	})
	a := e.api("chat", true)
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a, health)})

	for round := range 3 { // and again: nothing is left stuck
		tr := &http.Transport{}
		resp := e.openStream(&http.Client{Transport: tr}, "/chat/prod/v1/chat/completions", value, streamBody)
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if resp.StatusCode != 200 || err != nil || line != "data: {\"n\":0}\n" {
			t.Fatalf("round %d: %d %q %v", round, resp.StatusCode, line, err)
		}
		gone := time.Now()
		resp.Body.Close() // not read to the end: the transport closes the connection
		tr.CloseIdleConnections()
		select {
		case at := <-cancelled:
			t.Logf("round %d: the upstream saw the cancellation %v after the client left", round, at.Sub(gone))
		case <-time.After(3 * time.Second):
			t.Fatalf("round %d: the upstream call was not cancelled within 3 s of the client leaving", round)
		}
	}
	faultAftermath(t, e, value)
}

// bigBody is n pseudo-random bytes.
func bigBody(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// onlyReader hides the length of a reader, so that the body goes chunked.
type onlyReader struct{ io.Reader }

func TestLargeBodies(t *testing.T) {
	const size = 10 << 20
	body := bigBody(size)
	sum := sha256.Sum256(body)

	t.Run("over the default limit", func(t *testing.T) {
		e, health := faultEnv(t)
		a := e.api("plain", false)
		_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a, health)})

		// The declared length alone is refused, before any body is read.
		status, reply := rawStatus(t, e, fmt.Sprintf("POST /plain/prod/upload HTTP/1.1\r\nHost: gw\r\nX-Api-Key: %s\r\nContent-Length: %d\r\n\r\n", value, size))
		if status != 413 {
			t.Errorf("declared %d bytes: %d %q, want 413", size, status, reply)
		}
		if strings.Contains(reply, value) {
			t.Error("the reply echoes the key")
		}
		// Sent in full, sized and chunked: refused, or the connection is
		// closed while the client is still sending.
		for _, chunked := range []bool{false, true} {
			var rd io.Reader = bytes.NewReader(body)
			if chunked {
				rd = onlyReader{rd}
			}
			req, _ := http.NewRequest("POST", e.gw+"/plain/prod/upload", rd)
			req.Header.Set("X-Api-Key", value)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 413 {
					t.Errorf("chunked=%v: %d %q, want 413", chunked, resp.StatusCode, b)
				}
			} else {
				t.Logf("chunked=%v: the connection closed under the client: %v", chunked, err)
			}
		}
		if n := e.up.count(); n != 0 {
			t.Errorf("the upstream saw %d oversized requests", n)
		}
		faultAftermath(t, e, value)
	})

	t.Run("under a raised limit", func(t *testing.T) {
		e, health := faultEnv(t, func(c *server.Config) { c.GatewayMaxBody = 16 << 20 })
		a := e.api("plain", false)
		_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a, health)})
		for _, chunked := range []bool{false, true} {
			var rd io.Reader = bytes.NewReader(body)
			if chunked {
				rd = onlyReader{rd}
			}
			req, _ := http.NewRequest("POST", e.gw+"/plain/prod/upload", rd)
			req.Header.Set("X-Api-Key", value)
			req.Header.Set("Content-Type", "application/octet-stream")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("chunked=%v: %d", chunked, resp.StatusCode)
			}
			seen, got := e.up.last(t)
			if len(got) != size || sha256.Sum256(got) != sum {
				t.Fatalf("chunked=%v: the upstream got %d bytes that differ from the %d sent", chunked, len(got), size)
			}
			if seen.ContentLength != size || len(seen.TransferEncoding) != 0 {
				t.Errorf("chunked=%v: upstream Content-Length %d, Transfer-Encoding %v", chunked, seen.ContentLength, seen.TransferEncoding)
			}
		}
		faultAftermath(t, e, value)
	})
}

// captureUpstream is an upstream on a raw socket that records the bytes it
// receives and parses them strictly (net/http's ReadRequest), one request
// after another on each connection, answering each with 200 "ok".
type captureUpstream struct {
	url string
	ln  net.Listener

	mu    sync.Mutex
	raw   bytes.Buffer
	reqs  []*http.Request
	errs  []error
	conns []net.Conn
}

func newCaptureUpstream(t *testing.T) *captureUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &captureUpstream{url: "http://" + ln.Addr().String(), ln: ln}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.conns = append(c.conns, conn)
			c.mu.Unlock()
			go c.serve(conn)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, conn := range c.conns {
			conn.Close()
		}
	})
	return c
}

type captureWriter struct{ c *captureUpstream }

func (w captureWriter) Write(p []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	return w.c.raw.Write(p)
}

func (c *captureUpstream) serve(conn net.Conn) {
	defer conn.Close()
	br := bufio.NewReader(io.TeeReader(conn, captureWriter{c}))
	for {
		req, err := http.ReadRequest(br)
		if err == nil {
			var body []byte
			body, err = io.ReadAll(req.Body)
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "connection reset") {
				c.mu.Lock()
				c.errs = append(c.errs, err)
				c.mu.Unlock()
			}
			return
		}
		c.mu.Lock()
		c.reqs = append(c.reqs, req)
		c.mu.Unlock()
		if _, err := io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"); err != nil {
			return
		}
	}
}

// snapshot returns the requests seen, the parse errors and the raw bytes.
func (c *captureUpstream) snapshot() ([]*http.Request, []error, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*http.Request(nil), c.reqs...), append([]error(nil), c.errs...), c.raw.String()
}

// rawExchange writes raw to the gateway on a fresh connection, half-closes
// it, and reads every response until the gateway closes the connection.
func rawExchange(t *testing.T, e *env, raw string) (statuses []int, replies string) {
	t.Helper()
	u, _ := url.Parse(e.gw)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	go func() {
		io.WriteString(conn, raw)
		conn.(*net.TCPConn).CloseWrite()
	}()
	all, _ := io.ReadAll(conn)
	br := bufio.NewReader(bytes.NewReader(all))
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
	}
	return statuses, string(all)
}

// rawStatus sends raw without closing the connection and returns the first
// response's status.
func rawStatus(t *testing.T, e *env, raw string) (int, string) {
	t.Helper()
	u, _ := url.Parse(e.gw)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// checkUpstreamClean fails if the upstream could not parse what the
// gateway sent, or saw a header line smuggled in, a folded line, a
// caller's key or a request for the smuggled path.
func checkUpstreamClean(t *testing.T, c *captureUpstream, key string) {
	t.Helper()
	reqs, errs, raw := c.snapshot()
	for _, err := range errs {
		t.Errorf("the upstream could not parse what the gateway sent: %v", err)
	}
	for _, line := range strings.Split(raw, "\r\n") {
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			t.Errorf("a folded header line went upstream: %q", line)
		}
		if strings.HasPrefix(strings.ToLower(line), "x-injected") {
			t.Errorf("a smuggled header line went upstream: %q", line)
		}
	}
	if strings.Contains(raw, key) {
		t.Error("the caller's key went upstream")
	}
	for _, r := range reqs {
		if strings.Contains(r.URL.Path, "smuggled") {
			t.Errorf("a smuggled request reached the upstream: %s %s", r.Method, r.URL)
		}
		if r.Header.Get("X-Injected") != "" || r.Header.Get("X-Api-Key") != "" {
			t.Errorf("upstream headers %v", r.Header)
		}
		if len(r.TransferEncoding) > 0 && r.Header.Get("Content-Length") != "" {
			t.Errorf("both Content-Length and Transfer-Encoding went upstream: %v", r.Header)
		}
	}
}

// A secret value with CR or LF cannot be sent as a header: the stage
// answers 502 and nothing goes upstream.
func TestUpstreamSecretWithLineBreaksIsNotSent(t *testing.T) {
	e, health := faultEnv(t)
	cu := newCaptureUpstream(t)
	bad := []string{
		"sk-vendor\r\nX-Injected: smuggled",
		"sk-vendor\nX-Injected: smuggled",
		"sk-vendor\rX-Injected: smuggled",
		"sk-vendor\r\n\r\nGET /smuggled HTTP/1.1",
		"sk-vendor\x00tail",
	}
	var apis []*keyward.API
	for i, v := range bad {
		name := fmt.Sprintf("vendor/bad%d", i)
		must[*keyward.SecretVersionRef](t)(e.srv.Service().Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: name, Value: []byte(v)}))
		apis = append(apis, e.api(fmt.Sprintf("bad%d", i), i%2 == 0, func(s *keyward.Stage) { s.UpstreamURL = cu.url; s.UpstreamSecret = name }))
	}
	must[*keyward.SecretVersionRef](t)(e.srv.Service().Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: "vendor/good", Value: []byte("sk-vendor-good")}))
	good := e.api("good", false, func(s *keyward.Stage) { s.UpstreamURL = cu.url; s.UpstreamSecret = "vendor/good" })
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(append(apis, good, health)...)})

	for i := range bad {
		r := e.call("POST", fmt.Sprintf("/bad%d/prod/v1/chat/completions", i), value, chatBody)
		if r.status != 502 || r.body != `{"message":"Bad Gateway"}` {
			t.Errorf("secret %d: %d %q", i, r.status, r.body)
		}
	}
	if reqs, _, _ := cu.snapshot(); len(reqs) != 0 {
		t.Fatalf("the upstream saw %d requests without usable credentials", len(reqs))
	}
	// A secret rotated to a bad value stops the stage too.
	if r := e.call("GET", "/good/prod/v1/models", value, ""); r.status != 200 {
		t.Fatalf("good secret: %d", r.status)
	}
	must[*keyward.SecretVersionRef](t)(e.srv.Service().Secrets.PutSecretValue(e.admin, "vendor/good", keyward.SecretPut{Value: []byte("sk-rotated\r\nX-Injected: 1")}))
	e.sync()
	if r := e.call("GET", "/good/prod/v1/models", value, ""); r.status != 502 {
		t.Errorf("rotated to a value with CRLF: %d", r.status)
	}
	reqs, _, raw := cu.snapshot()
	if len(reqs) != 1 || reqs[0].Header.Get("Authorization") != "Bearer sk-vendor-good" {
		t.Errorf("the upstream saw %d requests; raw %q", len(reqs), raw)
	}
	checkUpstreamClean(t, cu, value)
	faultAftermath(t, e, value, append(bad, "sk-vendor-good", "sk-rotated")...)
}

// Keys with surrounding whitespace are trimmed; anything else around a key
// (text that looks like a header, encoded or bare line breaks, folding)
// makes it malformed, and no header line is ever injected upstream.
func TestClientHeaderInjection(t *testing.T) {
	e, health := faultEnv(t)
	cu := newCaptureUpstream(t)
	a := e.api("raw", false, func(s *keyward.Stage) { s.UpstreamURL = cu.url })
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a, health)})

	req := func(path string, headers ...string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: gw\r\n" + strings.Join(headers, "") + "Connection: close\r\n\r\n"
	}
	cases := []struct {
		name string
		raw  string
		want int // status; 0: no response at all
		up   int // requests the upstream sees
	}{
		{"spaces around the key", req("/raw/prod/v1/a", "X-Api-Key:  \t"+value+" \t \r\n"), 200, 1},
		{"bearer with tabs", req("/raw/prod/v1/a", "Authorization: bearer\t"+value+"\t\r\n"), 200, 1},
		{"header-looking text after the key", req("/raw/prod/v1/a", "X-Api-Key: "+value+" X-Injected: yes\r\n"), 403, 0},
		{"encoded CRLF after the key", req("/raw/prod/v1/a", "X-Api-Key: "+value+"%0d%0aX-Injected:%20yes\r\n"), 403, 0},
		{"bare CR after the key", req("/raw/prod/v1/a", "X-Api-Key: "+value+"\rX-Injected: yes\r\n"), 400, 0},
		{"NUL after the key", req("/raw/prod/v1/a", "X-Api-Key: "+value+"\x00X-Injected: yes\r\n"), 400, 0},
		{"folded x-api-key", req("/raw/prod/v1/a", "X-Api-Key: "+value+"\r\n X-Injected: yes\r\n"), 403, 0},
		{"folded bearer", req("/raw/prod/v1/a", "Authorization: Bearer "+value+"\r\n\tX-Injected: yes\r\n"), 403, 0},
		{"folded other header", req("/raw/prod/v1/a", "X-Api-Key: "+value+"\r\n", "X-Custom: a\r\n X-Injected: yes\r\n"), 200, 1},
		{"encoded CRLF in the path", req("/raw/prod/v1/a%0d%0aX-Injected:%20yes", "X-Api-Key: "+value+"\r\n"), 200, 1},
		{"encoded CRLF in the query", req("/raw/prod/v1/a?q=%0d%0aX-Injected:%20yes", "X-Api-Key: "+value+"\r\n"), 200, 1},
		{"encoded NUL and CRLFCRLF in the path", req("/raw/prod/v1/a%00%0d%0a%0d%0aGET%20/evil%20HTTP/1.1", "X-Api-Key: "+value+"\r\n"), 200, 1},
		{"raw space in the path", "GET /raw/prod/v1/a HTTP/1.1 X HTTP/1.1\r\nHost: gw\r\nX-Api-Key: " + value + "\r\nConnection: close\r\n\r\n", 400, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, _, _ := cu.snapshot()
			statuses, replies := rawExchange(t, e, c.raw)
			got := 0
			if len(statuses) > 0 {
				got = statuses[0]
			}
			if got != c.want || len(statuses) > 1 {
				t.Errorf("statuses %v, want [%d]; reply %q", statuses, c.want, replies)
			}
			if strings.Contains(replies, value) {
				t.Error("the reply echoes the key")
			}
			after, _, _ := cu.snapshot()
			if n := len(after) - len(before); n != c.up {
				t.Errorf("the upstream saw %d requests, want %d", n, c.up)
			}
			for _, r := range after[len(before):] {
				if !strings.HasPrefix(r.URL.Path, "/v1/a") {
					t.Errorf("upstream path %q", r.URL.Path)
				}
				t.Logf("upstream: %s %s %v", r.Method, r.RequestURI, r.Header)
			}
			checkUpstreamClean(t, cu, value)
		})
	}
	// The line breaks in the path reach the upstream encoded, as the
	// caller sent them, inside the request line.
	reqs, _, _ := cu.snapshot()
	var paths []string
	for _, r := range reqs {
		paths = append(paths, r.URL.Path)
	}
	if !strings.Contains(strings.Join(paths, "|"), "/v1/a\r\nX-Injected: yes") {
		t.Errorf("upstream paths %q", paths)
	}
	faultAftermath(t, e, value)
}

// Requests whose framing two parsers could read differently (request
// smuggling) are refused, or read one way with the upstream seeing exactly
// what the gateway admitted: never a second request the gateway did not
// check.
func TestRequestSmuggling(t *testing.T) {
	e, health := faultEnv(t)
	cu := newCaptureUpstream(t)
	a := e.api("raw", false, func(s *keyward.Stage) { s.UpstreamURL = cu.url })
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a, health)})

	smuggled := "GET /raw/prod/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n"
	head := "POST /raw/prod/v1/a HTTP/1.1\r\nHost: gw\r\nX-Api-Key: " + value + "\r\n"
	chunkedSmuggle := chunk(smuggled) + "0\r\n\r\n"
	cases := []struct {
		name string
		raw  string
		want []int // statuses the client gets, in order
		// body is what the upstream must receive as the body of the one
		// request it sees, when want has a 200 ("" for none).
		body string
	}{
		{"two different Content-Length", head + "Content-Length: 0\r\nContent-Length: " + strconv.Itoa(len(smuggled)) + "\r\n\r\n" + smuggled, []int{400}, ""},
		{"two equal Content-Length", head + "Content-Length: 0\r\nContent-Length: 0\r\n\r\n" + smuggled, []int{400}, ""},
		{"Content-Length list", head + "Content-Length: 0, " + strconv.Itoa(len(smuggled)) + "\r\n\r\n" + smuggled, []int{400}, ""},
		{"Content-Length with sign", head + "Content-Length: +0\r\n\r\n" + smuggled, []int{400}, ""},
		{"CL.TE", head + "Content-Length: " + strconv.Itoa(len("0\r\n\r\n"+smuggled)) + "\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, []int{200}, ""},
		{"TE.CL", head + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n" + chunkedSmuggle, []int{200}, smuggled},
		{"TE obfuscated", head + "Transfer-Encoding: xchunked\r\nContent-Length: 0\r\n\r\n" + smuggled, []int{400}, ""},
		{"TE list", head + "Transfer-Encoding: chunked, identity\r\nContent-Length: 0\r\n\r\n" + smuggled, []int{400}, ""},
		{"TE twice", head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\nContent-Length: 0\r\n\r\n" + smuggled, []int{400}, ""},
		{"TE with space before the colon", head + "Transfer-Encoding : chunked\r\nContent-Length: 0\r\n\r\n" + chunkedSmuggle, []int{400}, ""},
		// obs-fold is unfolded (RFC 9112 section 5.2 allows replacing it with
		// spaces): the gateway reads the framing one way, and re-frames it.
		{"TE folded", head + "Transfer-Encoding:\r\n chunked\r\nContent-Length: 0\r\n\r\n" + chunkedSmuggle, []int{200}, smuggled},
		{"CL folded", head + "Content-Length:\r\n " + strconv.Itoa(len(smuggled)) + "\r\n\r\n" + smuggled, []int{200}, smuggled},
		{"chunk size overflow", head + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff1\r\n" + smuggled + "\r\n0\r\n\r\n", []int{400}, ""},
		{"chunk extension with LF", head + "Transfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x", len(smuggled)) + ";x\nX\r\n" + smuggled + "\r\n0\r\n\r\n", []int{400}, ""},
		{"bare LF line endings", strings.ReplaceAll(head+"Content-Length: 0\r\n\r\n", "\r\n", "\n") + smuggled, []int{200, 403}, ""},
		{"pipelined, second without a key", head + "Content-Length: 0\r\n\r\n" + smuggled, []int{200, 403}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, _, _ := cu.snapshot()
			statuses, replies := rawExchange(t, e, c.raw)
			if fmt.Sprint(statuses) != fmt.Sprint(c.want) {
				t.Errorf("statuses %v, want %v; reply %q", statuses, c.want, replies)
			}
			if strings.Contains(replies, value) {
				t.Error("the reply echoes the key")
			}
			after, _, _ := cu.snapshot()
			oks := 0
			for _, s := range statuses {
				if s == 200 {
					oks++
				}
			}
			if n := len(after) - len(before); n != oks {
				t.Errorf("the upstream saw %d requests for %d answered 200", n, oks)
			}
			for _, r := range after[len(before):] {
				t.Logf("upstream: %s %s %v %d bytes", r.Method, r.RequestURI, r.Header, r.ContentLength)
				if r.URL.Path != "/v1/a" {
					t.Errorf("upstream path %q", r.URL.Path)
				}
				if b, _ := io.ReadAll(r.Body); string(b) != c.body {
					t.Errorf("the upstream got the body %q, want %q", b, c.body)
				}
			}
			checkUpstreamClean(t, cu, value)
		})
	}
	faultAftermath(t, e, value)
}
