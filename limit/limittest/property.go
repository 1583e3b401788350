package limittest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/limit"
)

var propertyTests = []test{
	{"RandomRequests", testRandomRequests},
}

// testRandomRequests charges random subsets of a plan's counters at random
// times, settling some token reservations at once, some later and some
// never, and checks each Decision against a model: a window admits exactly
// while its use plus the cost fits its limit, and a throttle never admits
// more over any interval [a, b] than its burst plus rate·(b-a).
func testRandomRequests(h *harness) {
	rng := rand.New(rand.NewPCG(7, 11))
	pool := []limit.Counter{
		throttle(5, 10), throttle(0.5, 3),
		quota(40, keyward.PeriodDay, 0),
		quota(100, keyward.PeriodWeek, 2),
		quota(300, keyward.PeriodMonth, 9),
		tokens(limit.TokensPerMinute, 500),
		tokens(limit.TokensPerDay, 3000),
	}
	for i := range pool {
		pool[i].Scope = fmt.Sprint("c", i) // the quotas would be one counter otherwise
	}
	type window struct {
		start, end time.Time
		used       int64
	}
	type event struct {
		at   time.Time
		cost int64
	}
	windows := make([]window, len(pool)) // model of each windowed counter
	events := make([][]event, len(pool)) // admitted costs of each throttle
	type pendingSettle struct {
		c      *limit.Charge
		picks  []int
		starts []time.Time
		actual int64
	}
	var pending []pendingSettle

	settle := func(now time.Time, s pendingSettle) {
		h.settle(now, s.c, s.actual)
		for i, p := range s.picks {
			w := &windows[p]
			if ct := s.c.Counters[i]; ct.Kind != limit.TokensPerMinute && ct.Kind != limit.TokensPerDay ||
				!w.start.Equal(s.starts[i]) || !now.Before(w.end) {
				continue
			}
			w.used = max(w.used+s.actual-s.c.Counters[i].Cost, 0)
		}
	}

	now := base
	for step := range 5000 {
		switch r := rng.IntN(100); {
		case r < 40: // same instant
		case r < 97:
			now = now.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
		default:
			now = now.Add(time.Duration(rng.IntN(60)) * time.Hour)
		}
		if len(pending) > 0 && rng.IntN(5) == 0 {
			settle(now, pending[0])
			pending = pending[1:]
		}

		picks := rng.Perm(len(pool))[:1+rng.IntN(4)]
		c := &limit.Charge{Key: "k1"}
		starts := make([]time.Time, len(picks))
		modelOK := true
		for i, p := range picks {
			ct := pool[p]
			switch ct.Kind {
			case limit.Throttle:
				ct.Cost = []int64{0, 1, 1, 1, 1, 1, 1, 1, 1, 2}[rng.IntN(10)]
			case limit.Quota:
				ct.Cost = 1
			default:
				ct.Cost = rng.Int64N(400)
				if rng.IntN(20) == 0 {
					ct.Cost = 600 // over the minute's limit
				}
			}
			c.Add(ct)
			if ct.Kind == limit.Throttle {
				continue
			}
			start, end, _ := limit.Window(ct, now)
			if w := &windows[p]; !w.start.Equal(start) {
				*w = window{start: start, end: end}
			}
			starts[i] = start
			if ct.Cost > 0 && windows[p].used+ct.Cost > ct.Limit { // a Cost of 0 always passes
				modelOK = false
			}
		}

		d := h.do(now, c)
		switch {
		case d.OK && !modelOK:
			h.t.Fatalf("step %d at %v: admitted over a window's limit: %+v", step, now, c.Counters[:c.N])
		case !d.OK && modelOK && d.Refused != limit.Throttle:
			h.t.Fatalf("step %d at %v: refused by %v with room left", step, now, d.Refused)
		case !d.OK && d.Refused != limit.Throttle:
			ct := c.Counters[d.Index]
			want := windows[picks[d.Index]].end.Sub(now)
			if ct.Cost > ct.Limit {
				want = limit.Never
			}
			if d.RetryAfter != want {
				h.t.Fatalf("step %d: %v refused with RetryAfter %v, want %v", step, d.Refused, d.RetryAfter, want)
			}
		case !d.OK:
			continue
		}
		if !d.OK {
			continue
		}

		hasTokens := false
		for i, p := range picks {
			ct := c.Counters[i]
			if ct.Kind != limit.Throttle {
				windows[p].used += ct.Cost
				hasTokens = hasTokens || ct.Kind != limit.Quota
				continue
			}
			events[p] = append(events[p], event{now, ct.Cost})
			var sum int64
			for j := len(events[p]) - 1; j >= 0; j-- {
				sum += events[p][j].cost
				if bound := float64(ct.Burst) + ct.Rate*now.Sub(events[p][j].at).Seconds(); float64(sum) > bound+1e-6 {
					h.t.Fatalf("step %d: throttle %s admitted %d since %v, bound %.3f", step, ct.Scope, sum, events[p][j].at, bound)
				}
			}
		}
		if hasTokens {
			s := pendingSettle{c: c, picks: picks, starts: starts, actual: rng.Int64N(500)}
			switch rng.IntN(3) {
			case 0:
				settle(now, s)
			case 1:
				pending = append(pending, s)
			}
		}
	}
}
