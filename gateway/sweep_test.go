package gateway

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/changefeed"
	"github.com/keyward/keyward/keyvalue"
	"github.com/keyward/keyward/limit"
)

// manualClock is a keyward.Clock that moves only when told.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *manualClock) advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// TestServingSweepsTheLimiter: while a gateway serves, its background loop
// sweeps the limiter at the gateway's clock, so keys that come, spend and go
// quiet do not pile up: batch after batch of new keys, the limiter never
// holds more than one batch.
func TestServingSweepsTheLimiter(t *testing.T) {
	hasher, err := keyvalue.NewHasher(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	clock := &manualClock{now: time.Date(2025, time.March, 5, 10, 0, 0, 0, time.UTC)}
	lim := limit.NewLocal(nil)
	g, err := New(context.Background(), Config{
		Source: &fakeSource{&keyward.DataPlaneSnapshot{}}, Changes: &changefeed.Local{}, Hasher: hasher,
		Limiter: lim, Clock: clock, SweepInterval: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- g.Serve(context.Background(), ln) }()

	th := limit.Counter{Kind: limit.Throttle, Scope: "plan_1", Rate: 1, Burst: 5, Cost: 1}
	const perBatch, batches = 100, 30
	peak := 0
	for b := range batches {
		for i := range perBatch {
			c := limit.Charge{Key: fmt.Sprintf("key_%d_%d", b, i)}
			c.Add(th)
			if !lim.ChargeAt(clock.Now(), &c).OK {
				t.Fatalf("batch %d key %d refused", b, i)
			}
		}
		peak = max(peak, lim.Len())
		clock.advance(time.Minute) // every bucket is full again: at rest
		if !waitUntil(func() bool { return lim.Len() == 0 }) {
			t.Fatalf("batch %d: %d keys still held a minute after their last charge", b, lim.Len())
		}
	}
	if peak > perBatch {
		t.Errorf("the limiter held %d keys at once, want at most one batch (%d)", peak, perBatch)
	}

	if err := g.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

// waitUntil polls cond until it holds or a generous deadline passes: it
// waits for the background loop, it measures nothing.
func waitUntil(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}
