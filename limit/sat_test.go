package limit_test

import (
	"math"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/limit"
)

func TestAddSat(t *testing.T) {
	for _, c := range []struct{ a, b, want int64 }{
		{0, 0, 0}, {1, 2, 3}, {-5, 3, 3}, {3, -5, 3}, {math.MinInt64, math.MinInt64, 0},
		{math.MaxInt64, 1, math.MaxInt64}, {math.MaxInt64, math.MaxInt64, math.MaxInt64},
		{1 << 62, 1 << 62, math.MaxInt64}, {1<<62 - 1, 1 << 62, math.MaxInt64},
	} {
		if got := limit.AddSat(c.a, c.b); got != c.want {
			t.Errorf("AddSat(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// extremes are the costs, limits and settled amounts a caller or an
// upstream could push at the limiter.
var extremes = []int64{0, 1, 1 << 31, 1 << 53, 1 << 62, math.MaxInt64 - 1, math.MaxInt64, -1, math.MinInt64}

// No cost, limit or settled amount makes a token window's use wrap
// negative (which would read as an empty window): once a window has been
// charged or settled to its limit or beyond, a cost of 1 is refused.
func TestTokenWindowNeverWraps(t *testing.T) {
	for _, limitV := range extremes {
		for _, cost := range extremes {
			for _, settled := range extremes {
				l := limit.NewLocal(nil)
				ct := limit.Counter{Kind: limit.TokensPerDay, Scope: "p", Limit: limitV, Cost: cost}
				c := limit.Charge{Key: "k"}
				c.Add(ct)
				d := l.ChargeAt(base, &c)
				if d.RetryAfter < 0 {
					t.Fatalf("limit %d cost %d: RetryAfter %v", limitV, cost, d.RetryAfter)
				}
				if cost > 0 && d.OK && cost > limitV {
					t.Fatalf("limit %d admitted cost %d", limitV, cost)
				}
				if !d.OK {
					continue
				}
				l.SettleAt(base, &c, settled)
				used := max(settled, 0)
				one := limit.Counter{Kind: limit.TokensPerDay, Scope: "p", Limit: limitV, Cost: 1}
				got := charge(l, base, "k", one).OK
				// What remains is limit - used, with used the settled amount.
				want := limitV > 0 && used < limitV
				if got != want {
					t.Fatalf("limit %d, cost %d settled to %d: a further token admitted %v, want %v", limitV, cost, settled, got, want)
				}
			}
		}
	}
}

// Charges at the ends of time.Time's Unix-nanosecond range neither panic
// nor admit more than a window's limit, and their waits are not negative.
func TestExtremeTimes(t *testing.T) {
	times := []time.Time{
		time.Unix(0, math.MaxInt64), time.Unix(0, math.MinInt64), time.Unix(1<<62, 0), time.Unix(-1<<62, 0),
		time.Date(2262, 4, 11, 23, 47, 16, 0, time.UTC), time.Date(1677, 9, 21, 0, 12, 44, 0, time.UTC),
	}
	kinds := []limit.Counter{
		{Kind: limit.TokensPerMinute, Scope: "m", Limit: 10, Cost: 4},
		{Kind: limit.TokensPerDay, Scope: "d", Limit: 10, Cost: 4},
		{Kind: limit.Quota, Scope: "w", Limit: 10, Cost: 4, Period: keyward.PeriodWeek, Offset: 3},
		{Kind: limit.Quota, Scope: "mo", Limit: 10, Cost: 4, Period: keyward.PeriodMonth, Offset: 27},
		{Kind: limit.Throttle, Scope: "t", Rate: 1, Burst: 10, Cost: 4},
	}
	for _, now := range times {
		for _, ct := range kinds {
			l := limit.NewLocal(nil)
			n := 0
			for range 5 {
				d := charge(l, now, "k", ct)
				if d.RetryAfter < 0 {
					t.Fatalf("%v %v: RetryAfter %v", now, ct.Kind, d.RetryAfter)
				}
				if d.OK {
					n++
				}
			}
			if n != 2 {
				t.Fatalf("%v %v: admitted %d charges of 4 under a limit of 10", now, ct.Kind, n)
			}
			if _, _, ok := limit.Window(ct, now); ok != (ct.Kind != limit.Throttle) {
				t.Fatalf("%v %v: Window ok %v", now, ct.Kind, ok)
			}
		}
	}
}
