package webhook_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/webhook"
	"github.com/keyward/keyward/webhook/webhooktest"
)

func TestPostSigned(t *testing.T) {
	recv := webhooktest.NewReceiver(t, secret)
	recv.SetClock(fixedClock(t0))
	headers := map[string]string{
		webhook.HeaderEvent:    "key.rotated",
		webhook.HeaderDelivery: "dlv_1",
		// None of these may replace what Post sets.
		webhook.HeaderSignature: "t=1700000000,v1=" + strings.Repeat("0", 64),
		"Content-Type":          "text/plain",
		"User-Agent":            "forged",
	}
	status, err := webhook.Post(context.Background(), nil, recv.URL()+"/hook", secret, headers, payload, t0)
	if err != nil || status != http.StatusOK {
		t.Fatalf("Post = %d, %v; want 200, nil", status, err)
	}
	ev := recv.Events()
	if len(ev) != 1 {
		t.Fatalf("receiver has %d events, want 1", len(ev))
	}
	e := ev[0]
	if e.Type != "key.rotated" || e.DeliveryID != "dlv_1" || string(e.Body) != string(payload) {
		t.Errorf("event = %q %q %q", e.Type, e.DeliveryID, e.Body)
	}
	if got := e.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	if got := e.Header.Get("User-Agent"); got != webhook.UserAgent {
		t.Errorf("User-Agent = %q", got)
	}
	if got := e.Header.Get(webhook.HeaderSignature); got != webhook.Sign(secret, t0, payload) {
		t.Errorf("signature = %q", got)
	}
}

func TestPostNon2xx(t *testing.T) {
	recv := webhooktest.NewReceiver(t, secret)
	recv.SetClock(fixedClock(t0))
	recv.FailNext(1, http.StatusServiceUnavailable)
	status, err := webhook.Post(context.Background(), nil, recv.URL(), secret, nil, payload, t0)
	if status != http.StatusServiceUnavailable || keyward.ErrorCode(err) != keyward.EUNAVAILABLE {
		t.Fatalf("Post = %d, %v; want 503, unavailable", status, err)
	}
	if n := len(recv.Events()); n != 0 {
		t.Errorf("receiver recorded %d events for a failed request", n)
	}
}

func TestPostDoesNotFollowRedirects(t *testing.T) {
	var followed atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/from", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/to", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/to", func(w http.ResponseWriter, r *http.Request) { followed.Add(1) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	// A client that would follow redirects: Post must not.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
	status, err := webhook.Post(context.Background(), client, srv.URL+"/from", secret, nil, payload, t0)
	if status != http.StatusTemporaryRedirect || keyward.ErrorCode(err) != keyward.EUNAVAILABLE {
		t.Fatalf("Post = %d, %v; want 307, unavailable", status, err)
	}
	if n := followed.Load(); n != 0 {
		t.Fatalf("redirect followed %d times", n)
	}
	if client.CheckRedirect == nil {
		t.Fatal("Post changed the caller's client")
	}
}

// TestPostReadsAtMost64KiB answers with an endless body: Post must return,
// having read no more than 64 KiB of it.
func TestPostReadsAtMost64KiB(t *testing.T) {
	body := &endless{}
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Body: body, Header: http.Header{}, Request: r}, nil
	})}
	status, err := webhook.Post(context.Background(), client, "https://hooks.example/x", secret, nil, payload, t0)
	if status != http.StatusOK || err != nil {
		t.Fatalf("Post = %d, %v; want 200, nil", status, err)
	}
	if n := body.read.Load(); n > 64<<10 {
		t.Errorf("read %d bytes of the answer, want at most %d", n, 64<<10)
	}
	if !body.closed.Load() {
		t.Error("answer body not closed")
	}
}

// TestPostErrorsAreSafe checks, for every way Post fails, the code and that
// the message holds neither the secret nor anything of the URL.
func TestPostErrorsAreSafe(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	hang := hangServer(t)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "bad signature "+r.Header.Get(webhook.HeaderSignature)+" for "+r.URL.String())
	}))
	t.Cleanup(echo.Close)
	withCreds := func(base string) string {
		return strings.Replace(base, "http://", "http://user:hunter2@", 1) + "/hook?token=tok_s3cr3t"
	}

	tests := []struct {
		name    string
		url     string
		secret  []byte
		timeout time.Duration
		want    string
	}{
		{name: "connection refused", url: withCreds(closedURL), want: keyward.EUNAVAILABLE},
		{name: "timeout", url: withCreds(hang.URL), timeout: 50 * time.Millisecond, want: keyward.EUNAVAILABLE},
		{name: "error status with an echoing body", url: withCreds(echo.URL), want: keyward.EUNAVAILABLE},
		{name: "unknown host", url: "http://user:hunter2@nonexistent.invalid/hook?token=tok_s3cr3t", timeout: 5 * time.Second, want: keyward.EUNAVAILABLE},
		{name: "not http", url: "ftp://user:hunter2@host/hook?token=tok_s3cr3t", want: keyward.EINVALID},
		{name: "relative", url: "/hook?token=tok_s3cr3t", want: keyward.EINVALID},
		{name: "unparsable", url: "http://[::1/hook?token=tok_s3cr3t", want: keyward.EINVALID},
		{name: "empty secret", url: withCreds(echo.URL), secret: []byte{}, want: keyward.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			sec := secret
			if tt.secret != nil {
				sec = tt.secret
			}
			_, err := webhook.Post(ctx, nil, tt.url, sec, nil, payload, t0)
			if code := keyward.ErrorCode(err); code != tt.want {
				t.Fatalf("Post: %v (code %q), want code %q", err, code, tt.want)
			}
			t.Logf("%v", err)
			assertSafe(t, err.Error())
		})
	}
}

// assertSafe fails the test if msg holds the test secret, its MAC, or the
// credentials and token put in test URLs.
func assertSafe(t *testing.T, msg string) {
	t.Helper()
	mac := strings.TrimPrefix(webhook.Sign(secret, t0, payload), "t=1700000000,v1=")
	for _, s := range []string{string(secret), mac, "hunter2", "tok_s3cr3t"} {
		if strings.Contains(msg, s) {
			t.Errorf("message %q contains %q", msg, s)
		}
	}
}

// hangServer answers no request until the client goes away or the test
// ends.
func hangServer(t *testing.T) *httptest.Server {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices a closed connection only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) }) // runs first
	return srv
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// endless is a response body that never ends, counting what is read.
type endless struct {
	read   atomic.Int64
	closed atomic.Bool
}

func (e *endless) Read(p []byte) (int, error) {
	clear(p)
	e.read.Add(int64(len(p)))
	return len(p), nil
}

func (e *endless) Close() error {
	e.closed.Store(true)
	return nil
}

// fixedClock is a keyward.Clock that always tells t.
type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }
