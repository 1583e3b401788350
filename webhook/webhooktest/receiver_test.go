package webhooktest_test

import (
	"bytes"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/webhook"
	"github.com/keyward/keyward/webhook/webhooktest"
)

var secret = []byte("whsec_receiver_test")

// post sends body to url signed with sec at the wall clock, and returns
// the status (0 after reporting an error: it may run on any goroutine).
func post(t *testing.T, url string, sec []byte, id, body string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return 0
	}
	req.Header.Set(webhook.HeaderSignature, webhook.Sign(sec, time.Now(), []byte(body)))
	req.Header.Set(webhook.HeaderEvent, "key.rotated")
	req.Header.Set(webhook.HeaderDelivery, id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestReceiverRecordsEvents(t *testing.T) {
	r := webhooktest.NewReceiver(t, secret)
	if !strings.HasPrefix(r.URL(), "http://127.0.0.1:") {
		t.Errorf("URL = %q, want loopback", r.URL())
	}
	if got := post(t, r.URL(), secret, "dlv_1", `{"a":1}`); got != http.StatusOK {
		t.Fatalf("status %d, want 200", got)
	}
	ev := r.Events()
	if len(ev) != 1 || ev[0].Type != "key.rotated" || ev[0].DeliveryID != "dlv_1" || !bytes.Equal(ev[0].Body, []byte(`{"a":1}`)) {
		t.Fatalf("events = %+v", ev)
	}
}

func TestReceiverFailNext(t *testing.T) {
	r := webhooktest.NewReceiver(t, secret)
	r.FailNext(2, http.StatusBadGateway)
	var got []int
	for i := range 3 {
		got = append(got, post(t, r.URL(), secret, fmt.Sprint(i), "{}"))
	}
	if fmt.Sprint(got) != "[502 502 200]" {
		t.Fatalf("statuses = %v, want [502 502 200]", got)
	}
	if len(r.Events()) != 1 || r.Requests() != 3 {
		t.Fatalf("%d events in %d requests, want 1 in 3", len(r.Events()), r.Requests())
	}
}

func TestReceiverRejectsBadSignatures(t *testing.T) {
	r := webhooktest.NewReceiver(t, secret)
	r.AllowRejections()
	if got := post(t, r.URL(), []byte("whsec_wrong"), "dlv_1", "{}"); got != http.StatusUnauthorized {
		t.Errorf("wrong secret: status %d, want 401", got)
	}
	resp, err := http.Get(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", resp.StatusCode)
	}
	if len(r.Rejected()) != 2 || len(r.Events()) != 0 {
		t.Fatalf("rejected %v, events %d; want 2 rejected, none accepted", r.Rejected(), len(r.Events()))
	}
}

// TestReceiverSetSecret starts a receiver before its secret is known, as
// when the endpoint must exist to be registered.
func TestReceiverSetSecret(t *testing.T) {
	r := webhooktest.NewReceiver(t, nil)
	r.AllowRejections()
	if got := post(t, r.URL(), secret, "dlv_1", "{}"); got != http.StatusUnauthorized {
		t.Errorf("before SetSecret: status %d, want 401", got)
	}
	r.SetSecret(secret)
	if got := post(t, r.URL(), secret, "dlv_2", "{}"); got != http.StatusOK {
		t.Errorf("after SetSecret: status %d, want 200", got)
	}
	if ev := r.Events(); len(ev) != 1 || ev[0].DeliveryID != "dlv_2" {
		t.Errorf("events = %+v, want dlv_2 only", ev)
	}
}

// TestReceiverFailsTheTest checks that, by default, a bad signature fails
// the test that owns the receiver.
func TestReceiverFailsTheTest(t *testing.T) {
	tb := &recordingTB{TB: t}
	r := webhooktest.NewReceiver(tb, secret)
	post(t, r.URL(), []byte("whsec_wrong"), "dlv_1", "{}")
	if len(tb.errors()) != 1 {
		t.Fatalf("errors reported: %q, want one", tb.errors())
	}
}

func TestReceiverWaitEvents(t *testing.T) {
	r := webhooktest.NewReceiver(t, secret)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { post(t, r.URL(), secret, fmt.Sprint(i), "{}") })
	}
	if ev := r.WaitEvents(3, 10*time.Second); len(ev) != 3 {
		t.Fatalf("WaitEvents returned %d events", len(ev))
	}
	wg.Wait()

	tb := &recordingTB{TB: t}
	r2 := webhooktest.NewReceiver(tb, secret)
	done := make(chan struct{})
	go func() { // Fatalf ends the goroutine it runs on, as in a test
		defer close(done)
		r2.WaitEvents(1, time.Millisecond)
	}()
	<-done
	if n := len(tb.fatalErrors()); n != 1 {
		t.Fatalf("WaitEvents on an idle receiver: %d fatal errors, want 1", n)
	}
}

// recordingTB records Errorf and Fatalf calls instead of failing.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errs   []string
	fatals []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recordingTB) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatals = append(r.fatals, fmt.Sprintf(format, args...))
	r.mu.Unlock()
	runtime.Goexit() // as testing does
}

func (r *recordingTB) errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

func (r *recordingTB) fatalErrors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.fatals...)
}
