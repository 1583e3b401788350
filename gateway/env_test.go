package gateway_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
)

// env is a real keyward server (store, core, change feed, gateway) on
// loopback ports in a temp dir, plus an upstream the test controls.
type env struct {
	t     testing.TB
	srv   *server.Server
	admin context.Context // carries the bootstrap admin as caller
	gw    string          // gateway base URL
	logs  *syncBuffer
	up    *recordingUpstream
	stop  func()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// recordingUpstream remembers the requests it saw.
type recordingUpstream struct {
	mu      sync.Mutex
	seen    []*http.Request
	bodies  [][]byte
	handler http.HandlerFunc
	url     string
	server  *http.Server
}

func (u *recordingUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.seen = append(u.seen, r.Clone(context.Background()))
	u.bodies = append(u.bodies, b)
	h := u.handler
	u.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(b))
	h(w, r)
}

func (u *recordingUpstream) last(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		t.Fatal("the upstream saw no request")
	}
	return u.seen[len(u.seen)-1], u.bodies[len(u.bodies)-1]
}

func (u *recordingUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.seen)
}

func (u *recordingUpstream) set(h http.HandlerFunc) {
	u.mu.Lock()
	u.handler = h
	u.mu.Unlock()
}

const completion = `{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":5,"total_tokens":12}}`

func chatHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, completion)
}

func newEnv(t testing.TB, mod ...func(*server.Config)) *env {
	t.Helper()
	up := &recordingUpstream{handler: chatHandler}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up.url = "http://" + ln.Addr().String()
	up.server = &http.Server{Handler: up}
	go up.server.Serve(ln)
	t.Cleanup(func() { up.server.Close() })

	cfg := server.Config{DataDir: t.TempDir(), AdminAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0", LogLevel: "debug"}
	for _, m := range mod {
		m(&cfg)
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.Open(ctx, cfg, logs)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	e := &env{t: t, srv: srv, gw: srv.GatewayURL(), logs: logs, up: up}
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			<-done
			srv.Close()
		})
	}
	t.Cleanup(e.stop)
	tok, err := os.ReadFile(filepath.Join(cfg.DataDir, server.BootstrapTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	p, at, err := srv.Service().Access.Authenticate(ctx, strings.TrimSpace(string(tok)))
	if err != nil {
		t.Fatal(err)
	}
	e.admin = keyward.WithCaller(context.Background(), keyward.Caller{Principal: p, TokenID: at.ID, SourceIP: "127.0.0.1"})
	return e
}

func must[T any](t testing.TB) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// api creates an API with one stage "prod" in front of the test upstream.
func (e *env) api(name string, openai bool, st ...func(*keyward.Stage)) *keyward.API {
	s := keyward.Stage{Name: "prod", UpstreamURL: e.up.url}
	for _, f := range st {
		f(&s)
	}
	return must[*keyward.API](e.t)(e.srv.Service().APIs.CreateAPI(e.admin, keyward.APICreate{Name: name, OpenAICompatible: openai, Stages: []keyward.Stage{s}}))
}

func (e *env) plan(in keyward.PlanCreate) *keyward.UsagePlan {
	return must[*keyward.UsagePlan](e.t)(e.srv.Service().Plans.CreatePlan(e.admin, in))
}

func (e *env) key(in keyward.KeyCreate) (*keyward.APIKey, string) {
	if in.Name == "" {
		in.Name = "k" + strings.ReplaceAll(e.t.Name(), "/", "-")
	}
	ck := must[*keyward.CreatedKey](e.t)(e.srv.Service().Keys.CreateKey(e.admin, in))
	e.sync()
	return ck.Key, ck.Value
}

// sync makes the gateway current without waiting for the feed; tests of
// the feed itself do not call it.
func (e *env) sync() {
	e.t.Helper()
	if err := e.srv.Gateway().Reload(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

type result struct {
	status int
	header http.Header
	body   string
}

// call sends one request to the gateway, with a JSON Content-Type when
// it has a body.
func (e *env) call(method, path, key, body string, hdr ...string) result {
	e.t.Helper()
	return e.callCT(method, path, key, body, "application/json", hdr...)
}

// callCT is call with the Content-Type given ("" for none).
func (e *env) callCT(method, path, key, body, ct string, hdr ...string) result {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.gw+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-Api-Key", key)
	}
	if body != "" && ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, resp.Header, string(b)}
}

// eventually polls cond every 10 ms for up to d.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}
