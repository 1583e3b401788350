package limit

import (
	"fmt"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// TestPrune: a key that meets ever new scopes (plan changes, many routes)
// keeps only the counters that are not at rest.
func TestPrune(t *testing.T) {
	var l Local
	now := time.Date(2025, 3, 5, 10, 0, 0, 0, time.UTC)
	busy := Counter{Kind: Quota, Scope: "busy", Limit: 1000, Period: keyward.PeriodMonth, Cost: 1}
	for i := range 200 {
		now = now.Add(time.Second)
		var c Charge
		c.Key = "k1"
		c.Add(busy)
		c.Add(Counter{Kind: Throttle, Scope: fmt.Sprint("route-", i), Rate: 10, Burst: 10, Cost: 1})
		if d := l.ChargeAt(now, &c); !d.OK {
			t.Fatalf("charge %d refused: %+v", i, d)
		}
	}
	ks := l.keys.Load("k1")
	if n := len(ks.cs); n > pruneAt {
		t.Errorf("%d counters kept, want at most %d", n, pruneAt)
	}
	if ks.find(Quota, "busy") < 0 || ks.find(Throttle, "route-199") < 0 {
		t.Errorf("a counter in use was dropped")
	}
	if j := ks.find(Quota, "busy"); ks.cs[j].used != 200 {
		t.Errorf("busy quota used %d, want 200", ks.cs[j].used)
	}
}

// TestPruneKeepsActive: counters that are not at rest are never dropped,
// however many there are.
func TestPruneKeepsActive(t *testing.T) {
	var l Local
	now := time.Date(2025, 3, 5, 10, 0, 0, 0, time.UTC)
	for i := range 100 {
		var c Charge
		c.Key = "k1"
		c.Add(Counter{Kind: Throttle, Scope: fmt.Sprint("route-", i), Burst: 1, Cost: 1}) // never refills
		l.ChargeAt(now, &c)
	}
	if n := len(l.keys.Load("k1").cs); n != 100 {
		t.Errorf("%d counters kept, want 100", n)
	}
	for i := range 100 {
		var c Charge
		c.Key = "k1"
		c.Add(Counter{Kind: Throttle, Scope: fmt.Sprint("route-", i), Burst: 1, Cost: 1})
		if l.ChargeAt(now, &c).OK {
			t.Fatalf("route-%d: spent allowance admitted again", i)
		}
	}
}
