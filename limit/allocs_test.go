//go:build !race

// Allocation checks are built only without -race, which allocates on its
// own account. CI runs them in their own non-race step (.ci/run).

package limit_test

import (
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/limit"
)

func TestChargeNoAllocs(t *testing.T) {
	l := limit.NewLocal(func(string, limit.Kind, time.Time, time.Time) int64 { return 0 })
	c := benchCharge("key-1")
	now := base
	l.ChargeAt(now, &c) // create the key's state
	if n := testing.AllocsPerRun(1000, func() {
		now = now.Add(time.Millisecond)
		l.ChargeAt(now, &c)
		l.SettleAt(now, &c, 100)
	}); n != 0 {
		t.Errorf("Charge and Settle allocate %.1f times", n)
	}

	// Refusals and window changes allocate nothing either.
	tight := limit.Charge{Key: "key-1"}
	tight.Add(limit.Counter{Kind: limit.Throttle, Scope: "tight", Rate: 1, Burst: 1, Cost: 1})
	tight.Add(limit.Counter{Kind: limit.Quota, Scope: "tight", Limit: 3, Period: keyward.PeriodMonth, Offset: 2, Cost: 1})
	l.ChargeAt(now, &tight)
	if n := testing.AllocsPerRun(1000, func() {
		now = now.Add(10 * time.Minute)
		l.ChargeAt(now, &tight)
	}); n != 0 {
		t.Errorf("Charge across windows allocates %.1f times", n)
	}
}
