package limittest

import (
	"fmt"
	"time"

	"github.com/keyward/keyward/limit"
)

// step is one request at base+at costing cost: admitted if ok, else
// refused with RetryAfter retry.
type step struct {
	at    time.Duration
	cost  int64
	ok    bool
	retry time.Duration
}

// runSteps charges ct with each step's cost and checks the outcomes.
func (h *harness) runSteps(ct limit.Counter, start time.Time, steps []step) {
	h.t.Helper()
	for i, s := range steps {
		ct.Cost = s.cost
		_, d := h.charge(start.Add(s.at), "k1", ct)
		h.want(fmt.Sprintf("step %d (+%v, cost %d)", i, s.at, s.cost), d, s.ok, ct.Kind, 0, s.retry)
	}
}

func throttle(rate float64, burst int64) limit.Counter {
	return limit.Counter{Kind: limit.Throttle, Scope: "p1", Rate: rate, Burst: burst}
}

var throttleCases = []struct {
	name  string
	ct    limit.Counter
	steps []step
}{
	{"StartsFull", throttle(1, 3), []step{
		{0, 1, true, 0}, {0, 1, true, 0}, {0, 1, true, 0},
		{0, 1, false, time.Second},
	}},
	{"RefillsAtRate", throttle(2, 2), []step{
		{0, 2, true, 0},
		{0, 1, false, 500 * time.Millisecond},
		{250 * time.Millisecond, 1, false, 250 * time.Millisecond},
		{500 * time.Millisecond, 1, true, 0},
		{500 * time.Millisecond, 1, false, 500 * time.Millisecond},
	}},
	{"RetryAfterCoversCost", throttle(10, 5), []step{
		{0, 5, true, 0},
		{0, 3, false, 300 * time.Millisecond},
		{100 * time.Millisecond, 3, false, 200 * time.Millisecond},
		{300 * time.Millisecond, 3, true, 0},
	}},
	{"RefillCappedAtBurst", throttle(100, 3), []step{
		{0, 3, true, 0},
		{time.Hour, 4, false, limit.Never}, // more than a full bucket
		{time.Hour, 3, true, 0},
		{time.Hour, 1, false, 10 * time.Millisecond},
	}},
	{"CostAboveBurstNever", throttle(1000, 2), []step{
		{0, 3, false, limit.Never},
		{0, 2, true, 0},
	}},
	{"ZeroRateIsFixedAllowance", throttle(0, 2), []step{
		{0, 1, true, 0},
		{time.Hour, 1, true, 0},
		{time.Hour, 1, false, limit.Never},
		{365 * 24 * time.Hour, 1, false, limit.Never},
	}},
	{"ZeroBurstRefusesAll", throttle(100, 0), []step{
		{0, 1, false, limit.Never},
		{time.Hour, 1, false, limit.Never},
	}},
	{"ZeroCostAlwaysPasses", throttle(1, 1), []step{
		{0, 1, true, 0},
		{0, 0, true, 0},
		{0, 1, false, time.Second},
	}},
	{"NegativeValuesReadAsZero", limit.Counter{Kind: limit.Throttle, Scope: "p1", Rate: -5, Burst: 1}, []step{
		{0, -3, true, 0}, // cost 0: takes nothing
		{0, 1, true, 0},
		{time.Hour, 1, false, limit.Never},
	}},
	{"TimeGoingBackDoesNotRefill", throttle(1, 1), []step{
		{10 * time.Second, 1, true, 0},
		{5 * time.Second, 1, false, time.Second + 5*time.Second}, // wait measured from the caller's now
		{10*time.Second + 500*time.Millisecond, 1, false, 500 * time.Millisecond},
		{11 * time.Second, 1, true, 0},
	}},
}

var throttleTests = []test{
	{"Cases", func(h *harness) {
		for _, tc := range throttleCases {
			h.run(tc.name, func(h *harness) { h.runSteps(tc.ct, base, tc.steps) })
		}
	}},
	{"LimitChangeKeepsBucket", testThrottleChange},
}

// testThrottleChange: a plan's new rate and burst apply from the next
// Charge, to the tokens already in the bucket.
func testThrottleChange(h *harness) {
	ct := throttle(0, 5)
	ct.Cost = 3
	_, d := h.charge(base, "k1", ct)
	h.want("take 3 of 5", d, true, 0, 0, 0)

	ct.Burst = 10 // a bigger bucket does not fill up at once
	ct.Cost = 3
	_, d = h.charge(base, "k1", ct)
	h.want("take 3 of the 2 left, burst now 10", d, false, limit.Throttle, 0, limit.Never)

	ct.Burst = 1 // a smaller one caps what is left
	if got := h.remaining(base, "k1", ct, 8); got != 1 {
		h.t.Errorf("after burst 10 -> 1: %d left, want 1", got)
	}

	ct.Rate, ct.Burst = 2, 4 // now it refills
	if got := h.remaining(base.Add(time.Second), "k1", ct, 8); got != 2 {
		h.t.Errorf("1s at rate 2 after empty: %d left, want 2", got)
	}
}
