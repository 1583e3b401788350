package webhook_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/webhook"
	"github.com/keyward/keyward/webhook/webhooktest"
)

// harness is a dispatcher over a fake store and a fake clock, with one
// receiver ("wh_1") registered. Backoff is 0 unless a test sets it, so that
// a failed delivery is due again at once.
type harness struct {
	store  *fakeStore
	clock  *fakeClock
	recv   *webhooktest.Receiver
	disp   *webhook.Dispatcher
	secret string
	logs   *syncBuffer

	mu       sync.Mutex
	attempts []string // "type:ok" from OnAttempt
}

func newHarness(t *testing.T, configure func(*webhook.Config)) *harness {
	t.Helper()
	s, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{store: newFakeStore(), clock: &fakeClock{t: t0}, secret: s, logs: &syncBuffer{}}
	h.recv = webhooktest.NewReceiver(t, []byte(s))
	h.recv.SetClock(h.clock)
	h.addWebhook("wh_1", h.recv.URL()+"/hook")
	c := webhook.Config{
		Store: h.store,
		Secret: func(ctx context.Context, w *keyward.Webhook) ([]byte, error) {
			return []byte(h.secret), nil
		},
		Clock:   h.clock,
		Backoff: func(int) time.Duration { return 0 },
		Logger:  slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnAttempt: func(eventType string, ok bool) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.attempts = append(h.attempts, fmt.Sprintf("%s:%t", eventType, ok))
		},
	}
	if configure != nil {
		configure(&c)
	}
	h.disp, err = webhook.NewDispatcher(c)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) addWebhook(id, url string) {
	h.store.putWebhook(&keyward.Webhook{ID: id, Kind: keyward.WebhookNotify, URL: url, CreatedAt: t0})
}

// addDelivery queues an event for webhookID, due now.
func (h *harness) addDelivery(id, webhookID string) *keyward.Delivery {
	d := &keyward.Delivery{
		ID: id, WebhookID: webhookID, EventID: "evt_" + id, EventType: keyward.EventKeyRotated,
		Payload:       []byte(`{"id":"evt_` + id + `","type":"key.rotated","data":{"keyId":"k1"}}`),
		State:         keyward.DeliveryPending,
		NextAttemptAt: h.clock.Now(), CreatedAt: h.clock.Now(), UpdatedAt: h.clock.Now(),
	}
	h.store.putDelivery(d)
	return d
}

// pass runs DeliverDue and checks how many deliveries it handled.
func (h *harness) pass(t *testing.T, want int) {
	t.Helper()
	n, err := h.disp.DeliverDue(context.Background())
	if err != nil {
		t.Fatalf("DeliverDue: %v", err)
	}
	if n != want {
		t.Fatalf("DeliverDue handled %d deliveries, want %d", n, want)
	}
}

func (h *harness) onAttempt() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.attempts...)
}

// statuses lists the status codes of d's attempts.
func statuses(d *keyward.Delivery) []int {
	var s []int
	for _, a := range d.Attempts {
		s = append(s, a.StatusCode)
	}
	return s
}

// fakeClock is a keyward.Clock moved by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
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
