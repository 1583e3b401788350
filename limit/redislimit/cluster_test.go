package redislimit_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/limit"
	"github.com/keyward/keyward/limit/redislimit"
)

// nodes opens n limiters that share one prefix, as n gateway nodes share
// one Redis, with leasing on and on Redis's clock.
func nodes(t *testing.T, n int, opt redislimit.Options) []*redislimit.Limiter {
	rdb := testRedis(t)
	opt.Prefix = prefix(t, rdb)
	ls := make([]*redislimit.Limiter, n)
	for i := range ls {
		ls[i] = open(t, rdb, opt)
	}
	return ls
}

// hammer charges ct on every node from workers goroutines each, until
// stop, and returns what each node admitted.
func hammer(t *testing.T, ls []*redislimit.Limiter, key string, ct limit.Counter, workers int, d time.Duration) []int64 {
	admitted := make([]atomic.Int64, len(ls))
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i, l := range ls {
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := limit.Charge{Key: key}
				for time.Now().Before(deadline) {
					c.Reset()
					c.Add(ct)
					dec, err := l.Charge(context.Background(), time.Now(), &c)
					if err != nil {
						t.Error(err)
						return
					}
					if dec.OK {
						admitted[i].Add(1)
					}
				}
			}()
		}
	}
	wg.Wait()
	out := make([]int64, len(ls))
	for i := range out {
		out[i] = admitted[i].Load()
	}
	return out
}

func sum(xs []int64) (s int64) {
	for _, x := range xs {
		s += x
	}
	return s
}

// Three nodes hammering one throttle together admit no more than one
// bucket would, B + R·T, and at least 95% of it; equally loaded nodes each
// get a fair share. The attack: three replicas that would each grant the
// whole rate (3x) if limits were per node.
func TestThreeNodesShareAThrottle(t *testing.T) {
	const rate, burst = 400.0, 40
	const T = 3 * time.Second
	ls := nodes(t, 3, redislimit.Options{MaxLease: 64, RefuseLocally: 20 * time.Millisecond})
	ct := limit.Counter{Kind: limit.Throttle, Scope: "plan", Rate: rate, Burst: burst, Cost: 1}
	start := time.Now()
	got := hammer(t, ls, "key_throttle", ct, 4, T)
	elapsed := time.Since(start)
	total := sum(got)
	bound := float64(burst) + rate*elapsed.Seconds()
	t.Logf("admitted %v = %d over %v; bound B+R·T = %.0f (%.1f%%)", got, total, elapsed.Round(time.Millisecond), bound, 100*float64(total)/bound)
	if float64(total) > bound*1.01 {
		t.Errorf("admitted %d, more than B + R·T = %.0f (+1%%)", total, bound)
	}
	if float64(total) < bound*0.95 {
		t.Errorf("admitted %d, under 95%% of B + R·T = %.0f", total, bound)
	}
	for i, n := range got {
		if fair := float64(total) / 3; float64(n) < fair*0.7 {
			t.Errorf("node %d admitted %d, under 70%% of a fair share (%.0f): starved", i, n, fair)
		}
	}
}

// A 100 per DAY quota over three nodes admits exactly 100, however the
// requests fall on the nodes.
func TestThreeNodesShareAQuota(t *testing.T) {
	ls := nodes(t, 3, redislimit.Options{MaxLease: 64, RefuseLocally: 20 * time.Millisecond})
	ct := limit.Counter{Kind: limit.Quota, Scope: "plan", Limit: 100, Period: keyward.PeriodDay, Cost: 1}
	got := hammer(t, ls, "key_quota", ct, 4, time.Second)
	if total := sum(got); total != 100 {
		t.Errorf("admitted %v = %d, want exactly 100", got, total)
	}
}

// A 10,000 tokens a day budget charged by concurrent streaming requests
// on three nodes (each reserving its worst case, settling later to what it
// used) is never exceeded by more than one request's reservation.
func TestThreeNodesShareATokenBudget(t *testing.T) {
	const budget, reserve = 10_000, 700
	ls := nodes(t, 3, redislimit.Options{MaxLease: 64})
	var used atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(1500 * time.Millisecond)
	for i := range 12 {
		l := ls[i%3]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; time.Now().Before(deadline); n++ {
				c := &limit.Charge{Key: "key_tokens"}
				c.Add(limit.Counter{Kind: limit.TokensPerDay, Scope: "plan", Limit: budget, Cost: reserve})
				d, err := l.Charge(context.Background(), time.Now(), c)
				if err != nil {
					t.Error(err)
					return
				}
				if !d.OK {
					time.Sleep(time.Millisecond)
					continue
				}
				time.Sleep(5 * time.Millisecond) // the stream
				actual := int64(100 + (i*37+n*91)%600)
				used.Add(actual)
				if err := l.Settle(context.Background(), time.Now(), c, actual); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("used %d of %d", used.Load(), budget)
	if u := used.Load(); u > budget+reserve {
		t.Errorf("used %d tokens of a %d budget: more than one reservation (%d) over", u, budget, reserve)
	}
	if u := used.Load(); u < budget-2*reserve {
		t.Errorf("used %d tokens of a %d budget: the budget was not spent", u, budget)
	}
}

// A reservation held by a node that died before settling is released
// when its TTL runs out, and not before.
func TestDeadNodesReservationIsReleased(t *testing.T) {
	ls := nodes(t, 2, redislimit.Options{ReservationTTL: 700 * time.Millisecond})
	ct := limit.Counter{Kind: limit.TokensPerDay, Scope: "plan", Limit: 10_000, Cost: 9_000}
	c := &limit.Charge{Key: "key_dead"}
	c.Add(ct)
	if d, err := ls[0].Charge(context.Background(), time.Now(), c); err != nil || !d.OK {
		t.Fatalf("first reservation: %+v %v", d, err)
	}
	// ls[0] dies without settling.
	ask := func() bool {
		c := &limit.Charge{Key: "key_dead"}
		ct := ct
		ct.Cost = 5_000
		c.Add(ct)
		d, err := ls[1].Charge(context.Background(), time.Now(), c)
		if err != nil {
			t.Fatal(err)
		}
		return d.OK
	}
	if ask() {
		t.Fatal("the dead node's reservation was released at once")
	}
	time.Sleep(time.Second)
	if !ask() {
		t.Fatal("the dead node's reservation was not released after its TTL")
	}
}

// Sweep drops the state of keys whose leases hold nothing, and keeps the
// keys that still hold some: a node's memory follows the keys in use.
func TestSweepDropsIdleKeys(t *testing.T) {
	l := nodes(t, 1, redislimit.Options{MaxLease: 64, LeaseFor: time.Hour})[0]
	q := limit.Counter{Kind: limit.Quota, Scope: "plan", Limit: 1000, Period: keyward.PeriodDay, Cost: 1}
	charge := func(key string) {
		c := &limit.Charge{Key: key}
		c.Add(q)
		if d, err := l.Charge(context.Background(), time.Now(), c); err != nil || !d.OK {
			t.Fatalf("%s: %+v %v", key, d, err)
		}
	}
	for i := range 5 {
		charge(fmt.Sprint("key_", i)) // takes 1 and leases 1 more
	}
	if n := l.Sweep(time.Now()); n != 0 {
		t.Fatalf("swept %d keys that hold leases", n)
	}
	for i := range 3 {
		charge(fmt.Sprint("key_", i)) // spends the lease
	}
	if n := l.Sweep(time.Now()); n != 3 {
		t.Fatalf("swept %d keys, want the 3 whose leases are spent", n)
	}
	charge("key_0") // a swept key comes back as new
}
