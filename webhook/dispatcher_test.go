package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/webhook"
)

func TestDeliveredFirstTry(t *testing.T) {
	h := newHarness(t, nil)
	want := h.addDelivery("dlv_1", "wh_1")

	h.pass(t, 1)

	d := h.store.delivery("dlv_1")
	if d.State != keyward.DeliveryDelivered {
		t.Fatalf("state = %s, want DELIVERED", d.State)
	}
	if len(d.Attempts) != 1 || d.Attempts[0].StatusCode != http.StatusOK ||
		d.Attempts[0].Error != "" || !d.Attempts[0].At.Equal(t0) {
		t.Fatalf("attempts = %+v, want one 200 at t0", d.Attempts)
	}
	ev := h.recv.Events()
	if len(ev) != 1 {
		t.Fatalf("receiver has %d events, want 1", len(ev))
	}
	if ev[0].Type != keyward.EventKeyRotated || ev[0].DeliveryID != "dlv_1" || !bytes.Equal(ev[0].Body, want.Payload) {
		t.Errorf("event = %q %q %s", ev[0].Type, ev[0].DeliveryID, ev[0].Body)
	}
	if got := h.onAttempt(); !slices.Equal(got, []string{"key.rotated:true"}) {
		t.Errorf("OnAttempt calls = %v", got)
	}

	h.pass(t, 0) // nothing left
	if n := h.recv.Requests(); n != 1 {
		t.Errorf("receiver got %d requests, want 1", n)
	}
}

func TestRetriedThenDelivered(t *testing.T) {
	h := newHarness(t, func(c *webhook.Config) {
		c.Backoff = func(n int) time.Duration { return time.Duration(n) * time.Minute }
	})
	h.addDelivery("dlv_1", "wh_1")
	h.recv.FailNext(2, http.StatusInternalServerError)

	h.pass(t, 1)
	d := h.store.delivery("dlv_1")
	if d.State != keyward.DeliveryPending || !slices.Equal(statuses(d), []int{500}) || d.Attempts[0].Error == "" {
		t.Fatalf("after the first attempt: %s %+v", d.State, d.Attempts)
	}
	if !d.NextAttemptAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("NextAttemptAt = %v, want t0+Backoff(1)", d.NextAttemptAt)
	}
	h.pass(t, 0) // not due yet

	h.clock.Advance(time.Minute)
	h.pass(t, 1)
	d = h.store.delivery("dlv_1")
	if !slices.Equal(statuses(d), []int{500, 500}) || !d.NextAttemptAt.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("after the second attempt: %v, next %v", statuses(d), d.NextAttemptAt)
	}

	h.clock.Advance(2 * time.Minute)
	h.pass(t, 1)
	d = h.store.delivery("dlv_1")
	if d.State != keyward.DeliveryDelivered || !slices.Equal(statuses(d), []int{500, 500, 200}) {
		t.Fatalf("after the third attempt: %s %v", d.State, statuses(d))
	}
	if n := len(h.recv.Events()); n != 1 {
		t.Errorf("receiver accepted %d events, want 1", n)
	}
	if got := h.onAttempt(); !slices.Equal(got, []string{"key.rotated:false", "key.rotated:false", "key.rotated:true"}) {
		t.Errorf("OnAttempt calls = %v", got)
	}
}

func TestFailedAfterMaxAttempts(t *testing.T) {
	h := newHarness(t, func(c *webhook.Config) { c.MaxAttempts = 3 })
	h.addDelivery("dlv_1", "wh_1")
	h.recv.FailNext(100, http.StatusServiceUnavailable)

	for range 3 {
		h.pass(t, 1)
	}
	h.pass(t, 0)

	d := h.store.delivery("dlv_1")
	if d.State != keyward.DeliveryFailed || !slices.Equal(statuses(d), []int{503, 503, 503}) {
		t.Fatalf("delivery: %s %v, want FAILED after 3 × 503", d.State, statuses(d))
	}
	if n := h.recv.Requests(); n != 3 {
		t.Errorf("receiver got %d requests, want 3", n)
	}
}

func TestWebhookDeletedFails(t *testing.T) {
	h := newHarness(t, nil)
	h.addDelivery("dlv_1", "wh_gone")

	h.pass(t, 1)

	d := h.store.delivery("dlv_1")
	if d.State != keyward.DeliveryFailed {
		t.Fatalf("state = %s, want FAILED", d.State)
	}
	if len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 0 || d.Attempts[0].Error == "" {
		t.Errorf("attempts = %+v, want one giving the reason", d.Attempts)
	}
	if n := h.recv.Requests(); n != 0 {
		t.Errorf("receiver got %d requests", n)
	}
	if got := h.onAttempt(); len(got) != 0 {
		t.Errorf("OnAttempt calls = %v, want none (nothing was sent)", got)
	}
}

// TestDeletedDuringAttempt removes the delivery (as DeleteWebhook does)
// while it is being sent: the outcome is dropped without an error.
func TestDeletedDuringAttempt(t *testing.T) {
	var h *harness
	h = newHarness(t, func(c *webhook.Config) {
		c.Secret = func(ctx context.Context, w *keyward.Webhook) ([]byte, error) {
			h.store.deleteDelivery("dlv_1")
			return []byte(h.secret), nil
		}
	})
	h.addDelivery("dlv_1", "wh_1")

	h.pass(t, 1)
	if n := len(h.recv.Events()); n != 1 {
		t.Errorf("receiver accepted %d events, want 1", n)
	}
	if d := h.store.delivery("dlv_1"); d != nil {
		t.Errorf("deleted delivery came back: %+v", d)
	}
}

// TestSecretNeverRecorded fails deliveries every way there is and checks
// that no recorded error, and no log line, holds the signing secret, a MAC,
// or the credentials of an endpoint URL.
func TestSecretNeverRecorded(t *testing.T) {
	var h *harness
	h = newHarness(t, func(c *webhook.Config) {
		c.MaxAttempts = 1
		c.Timeout = 100 * time.Millisecond
		c.Secret = func(ctx context.Context, w *keyward.Webhook) ([]byte, error) {
			if w.ID == "wh_nosecret" {
				return nil, errors.New("kms: key disabled")
			}
			return []byte(h.secret), nil
		}
	})
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "bad signature %s with %s", r.Header.Get(webhook.HeaderSignature), h.secret)
	}))
	t.Cleanup(echo.Close)
	redirect := httptest.NewServer(http.RedirectHandler("/elsewhere?secret="+h.secret, http.StatusFound))
	t.Cleanup(redirect.Close)
	hang := hangServer(t)
	creds := func(u string) string {
		return strings.Replace(u, "http://", "http://user:hunter2@", 1) + "/hook?token=tok_s3cr3t"
	}
	for id, url := range map[string]string{
		"wh_refused":  creds(closed.URL),
		"wh_echo":     creds(echo.URL),
		"wh_redirect": creds(redirect.URL),
		"wh_hang":     creds(hang.URL),
		"wh_invalid":  "ftp://user:hunter2@host/?token=tok_s3cr3t",
		"wh_nosecret": creds(h.recv.URL()),
	} {
		h.addWebhook(id, url)
		h.addDelivery("dlv_"+id, id)
	}

	h.pass(t, 6)

	for _, d := range h.store.all() {
		if d.State != keyward.DeliveryFailed || len(d.Attempts) != 1 {
			t.Errorf("%s: %s with %d attempts, want FAILED after 1", d.ID, d.State, len(d.Attempts))
			continue
		}
		msg := d.Attempts[0].Error
		t.Logf("%s: %d %q", d.ID, d.Attempts[0].StatusCode, msg)
		if msg == "" {
			t.Errorf("%s: no error recorded", d.ID)
		}
		assertNoSecret(t, h, d.ID+" error", msg)
		if strings.Contains(msg, "kms") {
			t.Errorf("%s: the core's error reached the record: %q", d.ID, msg)
		}
	}
	assertNoSecret(t, h, "logs", h.logs.String())
}

func assertNoSecret(t *testing.T, h *harness, what, s string) {
	t.Helper()
	for _, bad := range []string{h.secret, strings.TrimPrefix(h.secret, webhook.SecretPrefix), "hunter2", "tok_s3cr3t", "v1="} {
		if strings.Contains(s, bad) {
			t.Errorf("%s holds %q: %q", what, bad, s)
		}
	}
}

// TestShutdownMidAttempt cancels a pass while a request is in flight: the
// attempt is not recorded, and the delivery stays PENDING.
func TestShutdownMidAttempt(t *testing.T) {
	arrived, stop := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // so that the closed connection is noticed
		close(arrived)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) })
	h := newHarness(t, nil)
	h.addWebhook("wh_slow", srv.URL)
	h.addDelivery("dlv_1", "wh_slow")

	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		n   int
		err error
	}
	done := make(chan result)
	go func() {
		n, err := h.disp.DeliverDue(ctx)
		done <- result{n, err}
	}()
	<-arrived
	cancel()
	r := <-done
	if !errors.Is(r.err, context.Canceled) || r.n != 0 {
		t.Fatalf("DeliverDue = %d, %v; want 0, context.Canceled", r.n, r.err)
	}
	d := h.store.delivery("dlv_1")
	if d.State != keyward.DeliveryPending || len(d.Attempts) != 0 || !d.NextAttemptAt.After(t0) {
		t.Errorf("delivery = %s, %d attempts, next %v; want PENDING, none, claimed past t0", d.State, len(d.Attempts), d.NextAttemptAt)
	}
	if got := h.onAttempt(); len(got) != 0 {
		t.Errorf("OnAttempt calls = %v, want none", got)
	}
}

// TestBatches queues more deliveries than one pass takes.
func TestBatches(t *testing.T) {
	h := newHarness(t, nil)
	total := webhook.BatchSize + 8
	for i := range total {
		h.addDelivery(fmt.Sprintf("dlv_%02d", i), "wh_1")
	}
	h.pass(t, webhook.BatchSize)
	h.pass(t, 8)
	h.pass(t, 0)
	assertDeliveredOnce(t, h, total)
}

// TestTwoDispatchers runs two dispatchers on one store at once: the claim
// makes each delivery go out once.
func TestTwoDispatchers(t *testing.T) {
	h := newHarness(t, nil)
	other, err := webhook.NewDispatcher(webhook.Config{
		Store:  h.store,
		Secret: func(context.Context, *keyward.Webhook) ([]byte, error) { return []byte(h.secret), nil },
		Clock:  h.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	const total = 20
	for i := range total {
		h.addDelivery(fmt.Sprintf("dlv_%02d", i), "wh_1")
	}
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i, d := range []*webhook.Dispatcher{h.disp, other} {
		wg.Go(func() {
			n, err := d.DeliverDue(context.Background())
			if err != nil {
				t.Errorf("DeliverDue: %v", err)
			}
			counts[i] = n
		})
	}
	wg.Wait()
	if counts[0]+counts[1] != total {
		t.Errorf("dispatchers handled %v deliveries, want %d in all", counts, total)
	}
	assertDeliveredOnce(t, h, total)
}

func assertDeliveredOnce(t *testing.T, h *harness, total int) {
	t.Helper()
	seen := map[string]int{}
	for _, e := range h.recv.Events() {
		seen[e.DeliveryID]++
	}
	if len(seen) != total || h.recv.Requests() != total {
		t.Errorf("receiver: %d distinct deliveries in %d requests, want %d", len(seen), h.recv.Requests(), total)
	}
	for _, d := range h.store.all() {
		if d.State != keyward.DeliveryDelivered || len(d.Attempts) != 1 || seen[d.ID] != 1 {
			t.Errorf("%s: %s, %d attempts, received %d times", d.ID, d.State, len(d.Attempts), seen[d.ID])
		}
	}
}

// TestRunKick starts Run with an hour-long poll: only Kick can make it
// send a delivery queued after its first pass.
func TestRunKick(t *testing.T) {
	firstPass := make(chan struct{})
	var once sync.Once
	h := newHarness(t, func(c *webhook.Config) { c.Poll = time.Hour })
	h.store.onDue = func() { once.Do(func() { close(firstPass) }) }

	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		h.disp.Run(ctx)
		close(stopped)
	}()
	<-firstPass
	h.addDelivery("dlv_1", "wh_1") // waits for the first pass's read to end
	h.disp.Kick()

	ev := h.recv.WaitEvents(1, 10*time.Second)
	if ev[0].DeliveryID != "dlv_1" {
		t.Errorf("event for %q", ev[0].DeliveryID)
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
}

func TestKickNeverBlocks(t *testing.T) {
	h := newHarness(t, nil)
	for range 100 {
		h.disp.Kick() // no Run: a blocking Kick would hang here
	}
}

func TestConfig(t *testing.T) {
	store := newFakeStore()
	secretFn := func(context.Context, *keyward.Webhook) ([]byte, error) { return nil, nil }
	bad := map[string]webhook.Config{
		"no store":          {Secret: secretFn},
		"no secret":         {Store: store},
		"negative attempts": {Store: store, Secret: secretFn, MaxAttempts: -1},
		"negative poll":     {Store: store, Secret: secretFn, Poll: -time.Second},
		"negative timeout":  {Store: store, Secret: secretFn, Timeout: -time.Second},
	}
	for name, c := range bad {
		if _, err := webhook.NewDispatcher(c); err == nil {
			t.Errorf("%s: NewDispatcher accepted it", name)
		}
	}

	minimal := webhook.Config{Store: store, Secret: secretFn}
	if err := minimal.Validate(); err == nil {
		t.Error("Validate accepted a config Defaults has not filled")
	}
	if minimal.Client != nil || minimal.MaxAttempts != 0 {
		t.Error("Validate changed the config")
	}
	filled := minimal.Defaults()
	if err := filled.Validate(); err != nil {
		t.Fatalf("Validate(Defaults()) = %v", err)
	}
	if filled.MaxAttempts != webhook.DefaultMaxAttempts || filled.Poll != webhook.DefaultPoll ||
		filled.Timeout != webhook.DefaultTimeout || filled.Client == nil || filled.Clock == nil ||
		filled.Backoff == nil || filled.Logger == nil {
		t.Errorf("Defaults left fields unset: %+v", filled)
	}
	if _, err := webhook.NewDispatcher(minimal); err != nil {
		t.Errorf("NewDispatcher(minimal) = %v", err)
	}
}

func TestDefaultBackoff(t *testing.T) {
	for n := -1; n <= 100; n++ {
		base := time.Hour
		if k := max(n, 1) - 1; k < 12 {
			base = min(time.Second<<k, time.Hour)
		}
		for range 20 {
			d := webhook.DefaultBackoff(n)
			if d > base || d < base-base/5 {
				t.Fatalf("DefaultBackoff(%d) = %v, want within 20%% below %v", n, d, base)
			}
		}
	}
}
