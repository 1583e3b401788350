package httpapi_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/httpapi"
)

// The test harness: a handler over the fake, served on 127.0.0.1, with its
// logs, metrics and auth failures captured.

// syncBuffer is a log sink safe to read while handlers write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// logLines returns the JSON log records written so far.
func (s *syncBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not one JSON record: %q", line)
		}
		out = append(out, m)
	}
	return out
}

// waitRecord waits for the access line of a request, by request ID. The
// line is written when the handler returns, which may be just after the
// client has the response.
func (s *syncBuffer) waitRecord(t *testing.T, requestID string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, r := range s.records(t) {
			if r["request_id"] == requestID && r["msg"] == "admin request" {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access line for request %s in:\n%s", requestID, s.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// env is one handler under test, served on 127.0.0.1.
type env struct {
	fake     *fake
	failures *authFailures
	logs     *syncBuffer
	metrics  *recordingMetrics
	srv      *httptest.Server
	client   *httpapi.Client
}

type recordingMetrics struct {
	mu  sync.Mutex
	obs []observation
}

type observation struct {
	Route, Method string
	Status        int
}

func (m *recordingMetrics) ObserveRequest(route, method string, status int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.obs = append(m.obs, observation{route, method, status})
}

func (m *recordingMetrics) all() []observation {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]observation(nil), m.obs...)
}

type envOption func(*httpapi.Options)

func withTrusted(prefixes ...string) envOption {
	return func(o *httpapi.Options) {
		for _, p := range prefixes {
			o.TrustedProxies = append(o.TrustedProxies, netip.MustParsePrefix(p))
		}
	}
}

func withMaxBody(n int64) envOption { return func(o *httpapi.Options) { o.MaxBodyBytes = n } }

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e := &env{fake: newFake(), failures: &authFailures{}, logs: &syncBuffer{}, metrics: &recordingMetrics{}}
	o := httpapi.Options{
		Logger:  slog.New(slog.NewJSONHandler(e.logs, nil)),
		Metrics: e.metrics,
	}
	for _, opt := range opts {
		opt(&o)
	}
	h := httpapi.NewHandler(e.services(), o)
	e.srv = httptest.NewServer(h) // listens on 127.0.0.1
	t.Cleanup(e.srv.Close)
	e.client = httpapi.NewClient(e.srv.URL, goodToken, e.srv.Client())
	return e
}

func (e *env) services() httpapi.Services {
	f := e.fake
	return httpapi.Services{
		Keys: f, Usage: f, APIs: f, Plans: f, Secrets: f, Principals: f, Policies: f, Audit: f,
		Rotations: f, Webhooks: f, Auth: f, AuthFailures: e.failures,
	}
}

// request sends a raw request with the good token unless header says
// otherwise; body may be nil.
func (e *env) request(t *testing.T, method, path string, body []byte, header http.Header) *http.Response {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+goodToken)
	for k, vs := range header {
		req.Header.Del(k)
		for _, v := range vs {
			if v != "" {
				req.Header.Add(k, v)
			}
		}
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// errorOf decodes an error answer.
func errorOf(t *testing.T, resp *http.Response) (code, message string, raw []byte) {
	t.Helper()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	var eb struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(buf.Bytes(), &eb); err != nil {
		t.Fatalf("error body is not JSON: %q", buf.String())
	}
	return eb.Error.Code, eb.Error.Message, buf.Bytes()
}
