package limittest

import (
	"fmt"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/limit"
)

var atomicTests = []test{
	{"RefusalChargesNothing", testRefusalChargesNothing},
	{"LongestWaitReported", testLongestWait},
	{"SameCounterTwice", testSameCounterTwice},
	{"Invalid", testInvalid},
	{"Empty", func(h *harness) {
		_, d := h.charge(base, "k1")
		h.want("no counters", d, true, 0, 0, 0)
	}},
}

// testRefusalChargesNothing: whichever counter refuses, first, middle or
// last, no other counter is charged.
func testRefusalChargesNothing(h *harness) {
	cts := []limit.Counter{
		withCost(throttle(0, 10), 1),
		withCost(quota(10, keyward.PeriodMonth, 0), 1),
		withCost(tokens(limit.TokensPerMinute, 1000), 100),
		withCost(tokens(limit.TokensPerDay, 5000), 100),
	}
	for refusing := range cts {
		h.run(fmt.Sprintf("%v", cts[refusing].Kind), func(h *harness) {
			h.remaining(base, "k1", cts[refusing], 8192) // spend it all
			_, d := h.charge(base, "k1", cts...)
			if d.OK || d.Refused != cts[refusing].Kind || d.Index != refusing {
				h.t.Fatalf("got %+v, want refused by #%d", d, refusing)
			}
			for i, ct := range cts {
				want := map[limit.Kind]int64{limit.Throttle: 10, limit.Quota: 10, limit.TokensPerMinute: 1000, limit.TokensPerDay: 5000}[ct.Kind]
				if i == refusing {
					want = 0
				}
				if got := h.remaining(base, "k1", ct, 8192); got != want {
					h.t.Errorf("%v: %d left, want %d", ct.Kind, got, want)
				}
			}
		})
	}
}

// testLongestWait: when several counters refuse, the Decision names the one
// that refuses for longest, so that Retry-After is not too short.
func testLongestWait(h *harness) {
	th := withCost(throttle(10, 1), 1) // empty: refills in 100ms
	q := withCost(quota(1, keyward.PeriodDay, 0), 1)
	m := withCost(tokens(limit.TokensPerMinute, 10), 10)
	h.charge(base, "k1", th, q, m)

	_, d := h.charge(base, "k1", th, q, m)
	h.want("throttle, quota, minute", d, false, limit.Quota, 1, 14*time.Hour)
	_, d = h.charge(base, "k1", m, th)
	h.want("minute, throttle", d, false, limit.TokensPerMinute, 0, time.Minute)
	_, d = h.charge(base, "k1", th, withCost(m, 11))
	h.want("throttle, minute over its limit", d, false, limit.TokensPerMinute, 1, limit.Never)
	_, d = h.charge(base.Add(time.Minute), "k1", th, q, m)
	h.want("a minute later: quota alone", d, false, limit.Quota, 1, 14*time.Hour-time.Minute)
}

// testSameCounterTwice: a counter named twice in one Charge is charged
// twice, all or nothing.
func testSameCounterTwice(h *harness) {
	q := quota(3, keyward.PeriodDay, 0)
	_, d := h.charge(base, "k1", withCost(q, 2), withCost(q, 2))
	if d.OK {
		h.t.Fatalf("2+2 of 3 admitted")
	}
	_, d = h.charge(base, "k1", withCost(q, 1), withCost(q, 1))
	h.want("1+1 of 3", d, true, 0, 0, 0)
	if got := h.remaining(base, "k1", q, 8); got != 1 {
		h.t.Errorf("%d left, want 1", got)
	}
}

// testInvalid: counters that cannot be read fail closed and charge nothing.
func testInvalid(h *harness) {
	var c limit.Charge
	if c.Add(limit.Counter{Scope: "p1", Cost: 1}) {
		h.t.Errorf("Add accepted a counter without a Kind")
	}
	for i := range limit.MaxCounters {
		if !c.Add(limit.Counter{Kind: limit.Throttle, Scope: fmt.Sprint(i), Burst: 1, Cost: 1}) {
			h.t.Fatalf("Add #%d refused", i)
		}
	}
	if c.Add(limit.Counter{Kind: limit.Throttle, Scope: "one too many", Burst: 1, Cost: 1}) {
		h.t.Errorf("Add accepted counter #%d", limit.MaxCounters+1)
	}

	th := withCost(throttle(0, 1), 1)
	c = limit.Charge{Key: "k1", N: 2}
	c.Counters[0] = th
	c.Counters[1] = limit.Counter{Kind: 0, Scope: "p1", Cost: 1}
	h.want("zero Kind", h.do(base, &c), false, 0, 1, limit.Never)
	c.Counters[1].Kind = 99
	h.want("Kind 99", h.do(base, &c), false, 99, 1, limit.Never)
	_, d := h.charge(base, "k1", th, withCost(quota(10, "FORTNIGHT", 0), 1))
	h.want("unknown period", d, false, limit.Quota, 1, limit.Never)
	if got := h.remaining(base, "k1", th, 2); got != 1 {
		h.t.Errorf("throttle: %d left, want 1", got)
	}
}
