package limittest

import (
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/limit"
)

func quota(limitN int64, period keyward.QuotaPeriod, offset int) limit.Counter {
	return limit.Counter{Kind: limit.Quota, Scope: "p1", Limit: limitN, Period: period, Offset: offset}
}

func tokens(kind limit.Kind, limitN int64) limit.Counter {
	return limit.Counter{Kind: kind, Scope: "p1", Limit: limitN}
}

const (
	day  = 24 * time.Hour
	week = 7 * day
)

// Steps are relative to base, Wednesday 2025-03-05 10:00 UTC.
var windowCases = []struct {
	name  string
	ct    limit.Counter
	steps []step
}{
	{"DayUntilMidnight", quota(2, keyward.PeriodDay, 0), []step{
		{0, 1, true, 0}, {0, 1, true, 0},
		{0, 1, false, 14 * time.Hour},
		{14*time.Hour - 1, 1, false, 1},
		{14 * time.Hour, 1, true, 0}, {14 * time.Hour, 1, true, 0},
		{14 * time.Hour, 1, false, day},
	}},
	{"DayIgnoresOffset", quota(1, keyward.PeriodDay, 3), []step{
		{0, 1, true, 0}, {0, 1, false, 14 * time.Hour}, {14 * time.Hour, 1, true, 0},
	}},
	{"WeekFromSunday", quota(1, keyward.PeriodWeek, 0), []step{
		{0, 1, true, 0},
		{0, 1, false, 3*day + 14*time.Hour}, // until Sunday 9 March
		{3*day + 14*time.Hour, 1, true, 0},
		{3*day + 14*time.Hour, 1, false, week},
	}},
	{"WeekFromWednesday", quota(1, keyward.PeriodWeek, 3), []step{
		{0, 1, true, 0},
		{0, 1, false, week - 10*time.Hour},
		{-10*time.Hour - 1 + week, 1, false, 1},
		{week - 10*time.Hour, 1, true, 0},
	}},
	{"WeekFromThursday", quota(1, keyward.PeriodWeek, 4), []step{
		{0, 1, true, 0}, {0, 1, false, 14 * time.Hour}, {14 * time.Hour, 1, true, 0},
	}},
	{"WeekOffsetModulo7", quota(1, keyward.PeriodWeek, -3), []step{ // Thursday
		{0, 1, true, 0}, {0, 1, false, 14 * time.Hour}, {14 * time.Hour, 1, true, 0},
	}},
	{"MonthFromFirst", quota(1, keyward.PeriodMonth, 0), []step{
		{0, 1, true, 0},
		{0, 1, false, 26*day + 14*time.Hour}, // until 1 April
		{26*day + 14*time.Hour, 1, true, 0},
		{26*day + 14*time.Hour, 1, false, 30 * day}, // April has 30 days
	}},
	{"MonthFromFifth", quota(1, keyward.PeriodMonth, 4), []step{
		{0, 1, true, 0},
		{0, 1, false, 31*day - 10*time.Hour}, // until 5 April
	}},
	{"MonthFromSixth", quota(1, keyward.PeriodMonth, 5), []step{
		{0, 1, true, 0}, {0, 1, false, 14 * time.Hour}, {14 * time.Hour, 1, true, 0},
	}},
	{"MonthOffsetClampedTo27", quota(1, keyward.PeriodMonth, 40), []step{ // from the 28th
		{0, 1, true, 0}, {0, 1, false, 22*day + 14*time.Hour},
	}},
	{"QuotaCostAboveLimitNever", quota(1, keyward.PeriodDay, 0), []step{
		{0, 2, false, limit.Never}, {0, 1, true, 0},
	}},
	{"QuotaZeroRefusesAll", quota(0, keyward.PeriodDay, 0), []step{
		{0, 1, false, limit.Never}, {week, 1, false, limit.Never},
	}},
	{"QuotaUnknownPeriodNever", quota(100, "YEAR", 0), []step{
		{0, 1, false, limit.Never}, {week, 1, false, limit.Never},
	}},
	{"QuotaNoPeriodNever", quota(100, "", 0), []step{
		{0, 1, false, limit.Never},
	}},
	{"TokensPerMinute", tokens(limit.TokensPerMinute, 100), []step{
		{0, 60, true, 0},
		{30 * time.Second, 50, false, 30 * time.Second},
		{30 * time.Second, 40, true, 0},
		{59 * time.Second, 1, false, time.Second},
		{time.Minute, 100, true, 0},
		{time.Minute, 101, false, limit.Never},
	}},
	{"TokensPerDay", tokens(limit.TokensPerDay, 1000), []step{
		{0, 1000, true, 0},
		{time.Hour, 1, false, 13 * time.Hour},
		{14 * time.Hour, 1000, true, 0},
	}},
	{"TimeGoingBackStaysInWindow", tokens(limit.TokensPerMinute, 10), []step{
		{61 * time.Second, 10, true, 0},                // the 10:01 window
		{59 * time.Second, 1, false, 61 * time.Second}, // still 10:01, which ends at 10:02
		{2 * time.Minute, 10, true, 0},
	}},
}

var windowTests = []test{
	{"Cases", func(h *harness) {
		for _, tc := range windowCases {
			h.run(tc.name, func(h *harness) { h.runSteps(tc.ct, base, tc.steps) })
		}
	}},
	{"LimitChangeKeepsUsed", testWindowLimitChange},
	{"Identity", testIdentity},
	{"Forget", testForget},
}

// testWindowLimitChange: a plan's new limit applies from the next Charge,
// to what was already used in the window.
func testWindowLimitChange(h *harness) {
	q := quota(5, keyward.PeriodDay, 0)
	if got := h.drain(base, "k1", q, 3); got != 3 {
		h.t.Fatalf("admitted %d of 3", got)
	}
	q.Limit = 4
	if got := h.drain(base, "k1", q, 10); got != 1 {
		h.t.Errorf("limit 5 -> 4 after 3 used: admitted %d more, want 1", got)
	}
	q.Limit = 2
	q.Cost = 1
	_, d := h.charge(base, "k1", q)
	h.want("limit 4 -> 2 after 4 used", d, false, limit.Quota, 0, 14*time.Hour)
	q.Limit = 10
	if got := h.drain(base, "k1", q, 10); got != 6 {
		h.t.Errorf("limit 2 -> 10 after 4 used: admitted %d more, want 6", got)
	}
}

// testIdentity: a counter is its key, Kind and Scope; the limit values are
// not part of it.
func testIdentity(h *harness) {
	q := quota(2, keyward.PeriodDay, 0)
	if got := h.drain(base, "k1", q, 5); got != 2 {
		h.t.Fatalf("admitted %d of 2", got)
	}
	other := q
	other.Scope = "p2"
	if got := h.drain(base, "k1", other, 5); got != 2 {
		h.t.Errorf("another scope: admitted %d, want 2", got)
	}
	if got := h.drain(base, "k2", q, 5); got != 2 {
		h.t.Errorf("another key: admitted %d, want 2", got)
	}
	tok := tokens(limit.TokensPerDay, 2)
	if got := h.drain(base, "k1", tok, 5); got != 2 {
		h.t.Errorf("another kind, same scope: admitted %d, want 2", got)
	}
	th := throttle(0, 2)
	th.Scope = q.Scope
	if got := h.drain(base, "k1", th, 5); got != 2 {
		h.t.Errorf("a throttle, same scope: admitted %d, want 2", got)
	}
}

// testForget: a forgotten key starts afresh; other keys are untouched.
func testForget(h *harness) {
	q := quota(2, keyward.PeriodDay, 0)
	th := throttle(0, 2)
	for _, k := range []string{"k1", "k2"} {
		if _, d := h.charge(base, k, withCost(q, 2), withCost(th, 2)); !d.OK {
			h.t.Fatalf("%s: refused", k)
		}
	}
	h.l.Forget("k1")
	h.l.Forget("never-seen")
	if _, d := h.charge(base, "k1", withCost(q, 2), withCost(th, 2)); !d.OK {
		h.t.Errorf("forgotten key: refused by %v", d.Refused)
	}
	_, d := h.charge(base, "k2", withCost(q, 1))
	h.want("other key after Forget", d, false, limit.Quota, 0, 14*time.Hour)
}

func withCost(ct limit.Counter, cost int64) limit.Counter {
	ct.Cost = cost
	return ct
}
