// Package limittest is the behavioural conformance suite of limit.Limiter.
// Every implementation runs it (the in-memory limit.Local always, a shared
// one such as Redis wherever it is reachable), so that the gateway can rely
// on one behaviour whichever limiter it is given.
//
// The suite checks what limit.go documents: which requests pass, which
// counter refuses and its RetryAfter, all-or-nothing charging, exact limits
// under concurrency, and Settle. Time is only ever the now argument; no test
// sleeps. It does not test History, which only an in-memory limiter needs.
package limittest

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/limit"
)

// Run runs the suite. open must return a fresh, empty limiter on each call.
func Run(t *testing.T, open func(t *testing.T) limit.Limiter) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Throttle", throttleTests},
		{"Windows", windowTests},
		{"Settle", settleTests},
		{"Atomic", atomicTests},
		{"Concurrent", concurrentTests},
		{"Property", propertyTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(&harness{t: t, l: open(t), open: open})
				})
			}
		})
	}
}

type test struct {
	name string
	run  func(h *harness)
}

// base is the time the tests start at: a Wednesday, mid-morning, mid-month.
var base = time.Date(2025, time.March, 5, 10, 0, 0, 0, time.UTC)

// harness charges the limiter under test and reports failures to t.
type harness struct {
	t    *testing.T
	l    limit.Limiter
	open func(t *testing.T) limit.Limiter
}

// run runs fn as a subtest with a fresh limiter.
func (h *harness) run(name string, fn func(h *harness)) {
	h.t.Helper()
	h.t.Run(name, func(t *testing.T) {
		fn(&harness{t: t, l: h.open(t), open: h.open})
	})
}

// do charges c at now through the Limiter interface; an error fails the
// test (Errorf: do may run on other goroutines) and reads as a refusal.
func (h *harness) do(now time.Time, c *limit.Charge) limit.Decision {
	d, err := h.l.Charge(context.Background(), now, c)
	if err != nil {
		h.t.Errorf("Charge: %v", err)
		return limit.Decision{}
	}
	return d
}

// settle settles c at now; an error fails the test.
func (h *harness) settle(now time.Time, c *limit.Charge, tokens int64) {
	if err := h.l.Settle(context.Background(), now, c, tokens); err != nil {
		h.t.Errorf("Settle: %v", err)
	}
}

// newCharge returns a Charge of key with counters cts.
func newCharge(t testing.TB, key string, cts ...limit.Counter) *limit.Charge {
	t.Helper()
	c := &limit.Charge{Key: key}
	for _, ct := range cts {
		if !c.Add(ct) {
			t.Fatalf("Add(%+v) = false", ct)
		}
	}
	return c
}

// charge charges key's counters cts at now.
func (h *harness) charge(now time.Time, key string, cts ...limit.Counter) (*limit.Charge, limit.Decision) {
	h.t.Helper()
	c := newCharge(h.t, key, cts...)
	return c, h.do(now, c)
}

// want checks that d admitted the request, or refused it on counter index
// (and so of Kind kind) with RetryAfter retry.
func (h *harness) want(what string, d limit.Decision, ok bool, kind limit.Kind, index int, retry time.Duration) {
	h.t.Helper()
	if ok {
		if !d.OK {
			h.t.Errorf("%s: refused (%v #%d, retry %v), want admitted", what, d.Refused, d.Index, d.RetryAfter)
		}
		return
	}
	if d.OK {
		h.t.Errorf("%s: admitted, want refused by %v", what, kind)
		return
	}
	if d.Refused != kind || d.Index != index || d.RetryAfter != retry {
		h.t.Errorf("%s: refused by %v #%d, retry %v; want %v #%d, retry %v",
			what, d.Refused, d.Index, d.RetryAfter, kind, index, retry)
	}
}

// drain charges ct with cost 1 at now until it refuses and returns how many
// it admitted, at most max.
func (h *harness) drain(now time.Time, key string, ct limit.Counter, max int) int {
	h.t.Helper()
	ct.Cost = 1
	for n := 0; n < max; n++ {
		if _, d := h.charge(now, key, ct); !d.OK {
			return n
		}
	}
	return max
}

// remaining reports how much of ct's window or bucket is left at now, by
// charging it: it finds the largest cost admitted (charging it), by
// halving, up to max.
func (h *harness) remaining(now time.Time, key string, ct limit.Counter, max int64) int64 {
	h.t.Helper()
	var got int64
	for step := max; step > 0; step /= 2 {
		for {
			ct.Cost = step
			if _, d := h.charge(now, key, ct); !d.OK {
				break
			}
			got += step
		}
	}
	return got
}
