package prom_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/prom"
)

var _ httpapi.Metrics = (*prom.Metrics)(nil)

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestObserveRequest(t *testing.T) {
	m := prom.New()
	m.ObserveRequest("/v1/keys/{id}", "GET", 200, 3*time.Millisecond)
	m.ObserveRequest("/v1/keys/{id}", "GET", 204, 2*time.Second)
	m.ObserveRequest("/v1/keys/{id}", "GET", 404, time.Millisecond)
	m.ObserveRequest("unmatched", "OTHER", 999, time.Millisecond)
	body := scrape(t, m.Handler())
	for _, want := range []string{
		`keyward_admin_requests_total{method="GET",route="/v1/keys/{id}",status="2xx"} 2`,
		`keyward_admin_requests_total{method="GET",route="/v1/keys/{id}",status="4xx"} 1`,
		`keyward_admin_requests_total{method="OTHER",route="unmatched",status="other"} 1`,
		`keyward_admin_request_duration_seconds_count{method="GET",route="/v1/keys/{id}"} 3`,
		`keyward_admin_request_duration_seconds_bucket{method="GET",route="/v1/keys/{id}",le="0.005"} 2`,
		`keyward_admin_request_duration_seconds_bucket{method="GET",route="/v1/keys/{id}",le="+Inf"} 3`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s\n%s", want, body)
		}
	}
}

func TestOwnRegistry(t *testing.T) {
	m := prom.New()
	m.ObserveRequest("/healthz", "GET", 200, time.Millisecond)
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "keyward_") {
			t.Errorf("%s registered globally", mf.GetName())
		}
	}
	// Two instances do not collide, and Registry takes more collectors.
	prom.New()
	extra := prometheus.NewCounter(prometheus.CounterOpts{Name: "keyward_extra_total", Help: "x"})
	if err := m.Registry().Register(extra); err != nil {
		t.Fatal(err)
	}
	extra.Inc()
	if body := scrape(t, m.Handler()); !strings.Contains(body, "keyward_extra_total 1") {
		t.Errorf("extra collector not served:\n%s", body)
	}
}

// Through the real handler: labels are route templates, never the raw path
// or the IDs in it.
func TestAdminHandlerLabels(t *testing.T) {
	m := prom.New()
	h := httpapi.NewHandler(httpapi.Services{Auth: denyAll{}}, httpapi.Options{
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics:        m,
		MetricsHandler: m.Handler(),
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, p := range []string{"/v1/keys/key-SECRETID-1", "/v1/secrets/prod%2Fopenai/value", "/no/such/path-XYZ", "/healthz"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	body := scrape(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = "/metrics"
		h.ServeHTTP(w, r)
	}))
	for _, want := range []string{
		`keyward_admin_requests_total{method="GET",route="/v1/keys/{id}",status="4xx"} 1`,
		`keyward_admin_requests_total{method="GET",route="/v1/secrets/{name}/value",status="4xx"} 1`,
		`keyward_admin_requests_total{method="GET",route="unmatched",status="4xx"} 1`,
		`keyward_admin_requests_total{method="GET",route="/healthz",status="2xx"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s\n%s", want, body)
		}
	}
	for _, leak := range []string{"SECRETID", "openai", "XYZ"} {
		if strings.Contains(body, leak) {
			t.Errorf("raw path %q in labels", leak)
		}
	}
}

type denyAll struct{}

func (denyAll) Authenticate(ctx context.Context, token string) (*keyward.Principal, *keyward.AdminToken, error) {
	return nil, nil, keyward.Errorf(keyward.EUNAUTHORIZED, "no")
}
