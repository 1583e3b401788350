package limittest

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/limit"
)

var concurrentTests = []test{
	{"ExactQuota", func(h *harness) {
		q := withCost(quota(1000, keyward.PeriodDay, 0), 1)
		if got := h.race(16, 200, "k1", q); got != 1000 {
			h.t.Errorf("admitted %d, want exactly 1000", got)
		}
	}},
	{"ExactThrottle", func(h *harness) {
		th := withCost(throttle(0, 777), 1)
		if got := h.race(16, 100, "k1", th); got != 777 {
			h.t.Errorf("admitted %d, want exactly 777", got)
		}
	}},
	{"ExactTokens", func(h *harness) {
		m := withCost(tokens(limit.TokensPerMinute, 10_000), 7)
		if got := h.race(16, 200, "k1", m); got != 10_000/7 {
			h.t.Errorf("admitted %d, want exactly %d", got, 10_000/7)
		}
	}},
	{"ExactCombined", testConcurrentCombined},
	{"ExactPerKey", testConcurrentPerKey},
	{"ChargeAndSettle", testConcurrentSettle},
}

// race charges cts for key from goroutines goroutines, attempts times each,
// all at base, and returns how many charges were admitted.
func (h *harness) race(goroutines, attempts int, key string, cts ...limit.Counter) int {
	h.t.Helper()
	return h.hammer(newCharge(h.t, key, cts...), goroutines, attempts)
}

// hammer charges copies of c from goroutines goroutines, attempts times
// each, all at base, and returns how many charges were admitted. It may run
// in any goroutine.
func (h *harness) hammer(c *limit.Charge, goroutines, attempts int) int {
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			c := *c
			for range attempts {
				if h.do(base, &c).OK {
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(admitted.Load())
}

// testConcurrentCombined: under contention the tightest counter decides,
// and the others are charged for exactly the admitted requests.
func testConcurrentCombined(h *harness) {
	th := withCost(throttle(0, 300), 1)
	q := withCost(quota(150, keyward.PeriodMonth, 2), 1)
	m := withCost(tokens(limit.TokensPerMinute, 1000), 7)
	quotaOnly := withCost(q, 1)
	var wg sync.WaitGroup
	var both, alone atomic.Int64
	combined, single := newCharge(h.t, "k1", th, q, m), newCharge(h.t, "k1", quotaOnly)
	wg.Go(func() { both.Add(int64(h.hammer(combined, 12, 100))) })
	wg.Go(func() { alone.Add(int64(h.hammer(single, 4, 10))) })
	wg.Wait()
	n, a := both.Load(), alone.Load()
	if n+a != 150 || n > 1000/7 {
		h.t.Fatalf("admitted %d combined + %d quota-only, want 150 in all and at most %d combined", n, a, 1000/7)
	}
	for _, want := range []struct {
		ct   limit.Counter
		left int64
	}{{th, 300 - n}, {q, 0}, {m, 1000 - 7*n}} {
		if got := h.remaining(base, "k1", want.ct, 1024); got != want.left {
			h.t.Errorf("%v: %d left, want %d", want.ct.Kind, got, want.left)
		}
	}
}

// testConcurrentPerKey: keys charged side by side each get their own
// limit, exactly.
func testConcurrentPerKey(h *harness) {
	q := withCost(quota(50, keyward.PeriodWeek, 1), 1)
	counts := make([]atomic.Int64, 20)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			var cs [20]limit.Charge
			for k := range cs {
				cs[k].Key = fmt.Sprintf("key-%d", k)
				cs[k].Add(q)
			}
			for i := range 200 {
				k := (g + i) % len(cs)
				if h.do(base, &cs[k]).OK {
					counts[k].Add(1)
				}
			}
		})
	}
	wg.Wait()
	for k := range counts {
		if got := counts[k].Load(); got != 50 {
			h.t.Errorf("key-%d: admitted %d, want exactly 50", k, got)
		}
	}
}

// testConcurrentSettle: reservations settled while others charge leave the
// window at exactly what was used.
func testConcurrentSettle(h *harness) {
	m := withCost(tokens(limit.TokensPerMinute, 10_000), 100)
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			c := limit.Charge{Key: "k1"}
			c.Add(m)
			for range 500 {
				if h.do(base, &c).OK {
					admitted.Add(1)
					h.settle(base, &c, 40)
				}
			}
		})
	}
	wg.Wait()
	n := admitted.Load()
	if n*40 > 10_000 || n < 10_000/100 {
		h.t.Fatalf("admitted %d reservations of 100, each using 40, in 10000", n)
	}
	if got := h.remaining(base, "k1", m, 16384); got != 10_000-40*n {
		h.t.Errorf("%d left, want %d", got, 10_000-40*n)
	}
}
