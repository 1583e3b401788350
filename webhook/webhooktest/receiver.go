// Package webhooktest provides a webhook receiver for tests: an HTTP server
// on the loopback interface that checks the signature of every request as
// an endpoint's owner would, records the events it accepts, and can be told
// to fail requests so that tests exercise retries.
package webhooktest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/webhook"
)

// maxBody bounds the body the receiver reads.
const maxBody = 1 << 20

// Event is one request the receiver accepted.
type Event struct {
	Type       string // Keyward-Event
	DeliveryID string // Keyward-Delivery
	Body       []byte
	Header     http.Header
}

// Receiver is a webhook endpoint for tests. It answers 200 to a request it
// accepts. Every request must be a POST
// whose Keyward-Signature verifies under the receiver's secret at the
// receiver's clock; any other request is answered 401 (405 for another
// method), recorded as rejected and, unless AllowRejections was called,
// fails the test. Its methods are safe for concurrent use.
type Receiver struct {
	t   testing.TB
	srv *httptest.Server

	mu          sync.Mutex
	secret      []byte
	clock       keyward.Clock
	allowReject bool
	failLeft    int
	failStatus  int
	requests    int
	events      []Event
	rejected    []string
	changed     chan struct{} // closed and replaced when events grows
}

// NewReceiver starts a receiver on 127.0.0.1 that verifies with secret; it
// is closed when the test ends. It uses the wall clock until SetClock. A nil
// secret, for an endpoint whose secret is known only once it is registered,
// rejects every request until SetSecret.
func NewReceiver(t testing.TB, secret []byte) *Receiver {
	t.Helper()
	r := &Receiver{
		t:       t,
		secret:  slices.Clone(secret),
		clock:   keyward.SystemClock{},
		changed: make(chan struct{}),
	}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// URL is the receiver's base URL; it accepts any path.
func (r *Receiver) URL() string { return r.srv.URL }

// SetSecret replaces the secret requests are verified with.
func (r *Receiver) SetSecret(secret []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = slices.Clone(secret)
}

// SetClock makes the receiver check timestamps against c, for tests whose
// sender signs with a fake clock.
func (r *Receiver) SetClock(c keyward.Clock) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clock = c
}

// AllowRejections lets requests with a bad signature be recorded (see
// Rejected) without failing the test.
func (r *Receiver) AllowRejections() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.allowReject = true
}

// FailNext makes the next n requests with a valid signature be answered
// with status instead of 200, and not recorded as events.
func (r *Receiver) FailNext(n, status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failLeft, r.failStatus = n, status
}

// Requests returns how many requests reached the receiver, accepted,
// failed on purpose or rejected.
func (r *Receiver) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// Events returns the events accepted so far, in order of arrival.
func (r *Receiver) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Rejected returns why each rejected request was rejected.
func (r *Receiver) Rejected() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.rejected)
}

// WaitEvents waits until at least n events were accepted and returns them
// all; it fails the test if that takes longer than timeout. Call it from
// the test's goroutine.
func (r *Receiver) WaitEvents(n int, timeout time.Duration) []Event {
	r.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		if len(r.events) >= n {
			ev := slices.Clone(r.events)
			r.mu.Unlock()
			return ev
		}
		changed, got := r.changed, len(r.events)
		r.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			r.t.Fatalf("webhooktest: %d events after %v, want %d", got, timeout, n)
			return nil
		}
	}
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, maxBody))

	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	switch {
	case req.Method != http.MethodPost:
		r.reject(w, http.StatusMethodNotAllowed, "method "+req.Method)
		return
	case err != nil:
		r.reject(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	sig := req.Header.Get(webhook.HeaderSignature)
	if err := webhook.Verify(sig, r.secret, body, r.clock.Now(), webhook.DefaultTolerance); err != nil {
		r.reject(w, http.StatusUnauthorized, err.Error())
		return
	}
	if r.failLeft > 0 {
		r.failLeft--
		w.WriteHeader(r.failStatus)
		return
	}
	r.events = append(r.events, Event{
		Type:       req.Header.Get(webhook.HeaderEvent),
		DeliveryID: req.Header.Get(webhook.HeaderDelivery),
		Body:       body,
		Header:     req.Header.Clone(),
	})
	close(r.changed)
	r.changed = make(chan struct{})
	w.WriteHeader(http.StatusOK)
}

// reject records a refused request; r.mu is held.
func (r *Receiver) reject(w http.ResponseWriter, status int, reason string) {
	r.rejected = append(r.rejected, reason)
	if !r.allowReject {
		// Errorf, not Fatalf: this runs on the server's goroutine.
		r.t.Errorf("webhooktest: rejected request: %s", reason)
	}
	http.Error(w, fmt.Sprintf("rejected: %s", reason), status)
}
