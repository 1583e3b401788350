package redislimit_test

// Attacks on the Redis limiter's promises (README "Limits across the
// cluster", limit.Limiter's contract). A test that fails exposes a bug: it
// asserts what was promised. The passing ones guard a promise that held.

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testredis"
	"github.com/keyward/keyward/limit"
	"github.com/keyward/keyward/limit/redislimit"
)

var bg = context.Background()

// callerTime opens a limiter on its own prefix that charges at the now it
// is given (leasing as asked).
func callerTime(t *testing.T, maxLease int64) *redislimit.Limiter {
	rdb := testRedis(t)
	return open(t, rdb, redislimit.Options{Prefix: prefix(t, rdb), CallerTime: true, MaxLease: maxLease,
		LeaseFor: time.Hour, ReservationTTL: 1000 * time.Hour})
}

// callerNodes opens n limiters on one prefix that charge at the now given.
func callerNodes(t *testing.T, n int, opt redislimit.Options) []*redislimit.Limiter {
	opt.CallerTime = true
	return nodes(t, n, opt)
}

func charge(t *testing.T, l *redislimit.Limiter, now time.Time, key string, cts ...limit.Counter) (*limit.Charge, limit.Decision) {
	t.Helper()
	c := &limit.Charge{Key: key}
	for _, ct := range cts {
		if !c.Add(ct) {
			t.Fatalf("Add(%+v) refused", ct)
		}
	}
	d, err := l.Charge(bg, now, c)
	if err != nil {
		t.Fatalf("Charge: %v", err)
	}
	return c, d
}

// drainAt charges ct until refused (at most max times) at now, and returns
// how many were admitted.
func drainAt(t *testing.T, l *redislimit.Limiter, now time.Time, key string, ct limit.Counter, max int) int {
	t.Helper()
	for n := 0; n < max; n++ {
		if _, d := charge(t, l, now, key, ct); !d.OK {
			return n
		}
	}
	return max
}

var day0 = time.Date(2030, 5, 17, 12, 0, 0, 0, time.UTC)

// ---------------------------------------------------------------------
// 1. A script error is not an outage: one key's odd plan must not switch
// the whole node to "Redis down" (refusing every key, or failing open on
// fresh in-memory counters), nor charge while reporting a failure.

// A throttle with a tiny positive Rate (the gateway accepts any rateLimit
// in (0, 1e6]) makes the charge script's PEXPIRE argument a number that Lua
// hands to Redis as "1e+18": Redis answers an error after the script has
// already written the bucket.
func TestAttackScriptErrorIsNotAnOutage(t *testing.T) {
	rdb := testRedis(t)
	l := open(t, rdb, redislimit.Options{Prefix: prefix(t, rdb), Unavailable: redislimit.FailClosed,
		ProbeEvery: time.Hour})
	odd := limit.Counter{Kind: limit.Throttle, Scope: "plan_odd", Rate: 1e-15, Burst: 1, Cost: 1}
	c := &limit.Charge{Key: "key_odd"}
	c.Add(odd)
	d, err := l.Charge(bg, time.Now(), c)
	t.Logf("odd plan: %+v, err %v, Available %v", d, err, l.Available())
	// Redis is up: another key with an ordinary quota must be decided.
	good := &limit.Charge{Key: "key_good"}
	good.Add(limit.Counter{Kind: limit.Quota, Scope: "plan_good", Limit: 10, Period: keyward.PeriodDay, Cost: 1})
	if d, err := l.Charge(bg, time.Now(), good); err != nil || !d.OK {
		t.Errorf("an innocent key on a healthy Redis: %+v, %v (want admitted): one key's plan took the node's limits down", d, err)
	}
	if !l.Available() {
		t.Error("Redis answered, yet the limiter says it is unavailable")
	}
	if err != nil {
		// A failed Charge charged nothing: the bucket must still hold its token.
		raw := testRedis(t)
		keys, _ := raw.Keys(bg, "*{key_odd}:1:plan_odd").Result()
		for _, k := range keys {
			if tk, _ := raw.HGet(bg, k, "tk").Result(); tk != "" && tk != "1" {
				t.Errorf("the charge failed (%v) but the bucket %s was charged: tk = %s", err, k, tk)
			}
		}
	}
}

// The same, failing open: the node answers from fresh in-memory counters,
// so a key whose quota is spent in Redis is admitted again (its share).
func TestAttackScriptErrorFailsOpenOverSpentQuota(t *testing.T) {
	rdb := testRedis(t)
	l := open(t, rdb, redislimit.Options{Prefix: prefix(t, rdb), Unavailable: redislimit.FailOpen,
		ProbeEvery: time.Hour})
	q := limit.Counter{Kind: limit.Quota, Scope: "plan_q", Limit: 5, Period: keyward.PeriodDay, Cost: 1}
	if n := drainAt(t, l, time.Now(), "key_victim", q, 100); n != 5 {
		t.Fatalf("quota of 5 admitted %d", n)
	}
	// Some other key (any tenant) charges a plan with a tiny rate.
	odd := &limit.Charge{Key: "key_attacker"}
	odd.Add(limit.Counter{Kind: limit.Throttle, Scope: "plan_odd", Rate: 1e-15, Burst: 1, Cost: 1})
	_, _ = l.Charge(bg, time.Now(), odd)
	if n := drainAt(t, l, time.Now(), "key_victim", q, 100); n != 0 {
		t.Errorf("a spent 5/DAY quota admitted %d more on a healthy Redis (Available=%v)", n, l.Available())
	}
}

// A token counter whose scope is another's plus ":r" lands on that one's
// reservation set (a sorted set): WRONGTYPE inside the script, and the node
// goes "down" for everyone.
func TestAttackScopeCollidesWithReservationSet(t *testing.T) {
	rdb := testRedis(t)
	l := open(t, rdb, redislimit.Options{Prefix: prefix(t, rdb), ProbeEvery: time.Hour})
	now := time.Now()
	_, d := charge(t, l, now, "key_a", limit.Counter{Kind: limit.TokensPerDay, Scope: "p", Limit: 1000, Cost: 10})
	if !d.OK {
		t.Fatalf("first: %+v", d)
	}
	c := &limit.Charge{Key: "key_a"}
	c.Add(limit.Counter{Kind: limit.TokensPerDay, Scope: "p:r", Limit: 1000, Cost: 10})
	d, err := l.Charge(bg, now, c)
	if err != nil || !d.OK {
		t.Errorf("scope \"p:r\" next to scope \"p\": %+v, %v (want admitted: distinct counters)", d, err)
	}
	if !l.Available() {
		t.Error("the limiter switched to unavailable with Redis up")
	}
}

// Distinct (key, scope) pairs never share a counter, whatever characters
// the scopes hold (they are length-prefixed in the key layout); a key ID
// with braces, which would break the hash tag, is refused with an error
// rather than charged somewhere else, and does not take the limiter down.
func TestAttackKeyAndScopeInjection(t *testing.T) {
	l := callerTime(t, 0)
	q := func(scope string) limit.Counter {
		return limit.Counter{Kind: limit.Quota, Scope: scope, Limit: 3, Period: keyward.PeriodDay, Cost: 1}
	}
	for _, scope := range []string{"x}:2:y", "x", "2:y", "x}:2", "y"} {
		if n := drainAt(t, l, day0, "a", q(scope), 10); n != 3 {
			t.Errorf("scope %q admitted %d of its own 3: it shares another scope's counter", scope, n)
		}
	}
	c := &limit.Charge{Key: "a}:2:x"}
	c.Add(q("y"))
	if d, err := l.Charge(bg, day0, c); err == nil || d.OK {
		t.Errorf("a key ID with braces was charged: %+v %v", d, err)
	}
	// Long and odd scopes work and stay apart.
	long := strings.Repeat("{}:", 20000)
	if n := drainAt(t, l, day0, "long", q(long), 10); n != 3 {
		t.Errorf("a 60 kB scope admitted %d of 3", n)
	}
	if !l.Available() {
		t.Error("odd keys took the limiter down")
	}
}

// ---------------------------------------------------------------------
// 2. Clocks. On Redis's clock the script refills buckets on TIME, but a
// window is the one the node computed on its own reading of that clock. A
// node whose reading lags rolls an ended window "forward" into itself with
// its use reset, on every charge.

// skewed returns a client whose TIME replies (what the heartbeat reads to
// set the node's clock) are shifted by skew; scripts still see Redis's TIME.
func skewed(t *testing.T, skew time.Duration) *redis.Client {
	rdb := testRedis(t)
	rdb.AddHook(timeSkew(skew))
	return rdb
}

type timeSkew time.Duration

func (timeSkew) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (timeSkew) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (s timeSkew) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			if tc, ok := c.(*redis.TimeCmd); ok && tc.Err() == nil {
				tc.SetVal(tc.Val().Add(time.Duration(s)))
			}
		}
		return err
	}
}

// Two nodes share a 1,000 tokens/minute budget. Node B reads Redis's clock
// 61 s late (exaggerated so that the test need not wait for a minute
// boundary: a lag of δ does the same in the first δ of every window, when
// the stored window has ended on Redis's clock but not on B's). B's first
// charge stores B's window, which has already ended on Redis's clock; each
// next charge of B then "rolls" it into that same ended window with its use
// reset to 0, so every charge passes. Node A's first charge then rolls to
// the current minute with use 0: nothing B admitted counts anywhere.
func TestAttackLaggingNodeResetsWindows(t *testing.T) {
	ra, rb := testRedis(t), skewed(t, -61*time.Second)
	p := prefix(t, ra)
	a := open(t, ra, redislimit.Options{Prefix: p})
	b := open(t, rb, redislimit.Options{Prefix: p})
	ct := limit.Counter{Kind: limit.TokensPerMinute, Scope: "plan", Limit: 1000, Cost: 400}
	var byB, byA int64
	for range 10 {
		c, d := charge(t, b, time.Now(), "key_skew", ct)
		if d.OK {
			byB += ct.Cost
			if err := b.Settle(bg, time.Now(), c, ct.Cost); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 10 {
		if _, d := charge(t, a, time.Now(), "key_skew", ct); d.OK {
			byA += ct.Cost
		}
	}
	t.Logf("lagging node admitted %d tokens, then the accurate node %d", byB, byA)
	// All 20 charges fall within a few ms: B's charges within at most two
	// of its minute windows, A's within at most two of Redis's.
	if byB > 2*ct.Limit || byA+byB > 3*ct.Limit {
		t.Errorf("a 1,000 tokens/minute budget admitted %d tokens on the lagging node and %d on the other, within a few ms", byB, byA)
	}
}

// The same with a quota and CallerTime: a node passes a now earlier than
// one already seen (the contract: it counts as that later time). Guard.
func TestAttackEarlierNowDoesNotReopenWindow(t *testing.T) {
	l := callerTime(t, 0)
	q := limit.Counter{Kind: limit.Quota, Scope: "p", Limit: 5, Period: keyward.PeriodDay, Cost: 1}
	mid := time.Date(2030, 5, 18, 0, 0, 0, 0, time.UTC)
	if n := drainAt(t, l, mid.Add(time.Second), "k", q, 10); n != 5 {
		t.Fatalf("new day admitted %d", n)
	}
	if n := drainAt(t, l, mid.Add(-time.Second), "k", q, 10); n != 0 {
		t.Errorf("a now before midnight, after the new day was seen, admitted %d more", n)
	}
}

// ---------------------------------------------------------------------
// 3. Leases. Leased units are outside the bucket, so the bucket's cap at
// Burst does not apply to them.

// A throttle of Burst 10: a request costing 11 can never pass (RetryAfter
// Never), as one shared bucket would say. With a unit leased before the
// bucket refilled, it passes.
func TestAttackLeasedCostAboveBurst(t *testing.T) {
	l := callerTime(t, 64)
	th := limit.Counter{Kind: limit.Throttle, Scope: "p", Rate: 1, Burst: 10, Cost: 1}
	if _, d := charge(t, l, day0, "k", th); !d.OK { // takes 1 + a lease of 1
		t.Fatalf("first: %+v", d)
	}
	big := th
	big.Cost = 11
	_, d := charge(t, l, day0.Add(time.Minute), "k", big) // the bucket is full again
	if d.OK || d.RetryAfter != limit.Never {
		t.Errorf("cost 11 on a Burst 10 throttle: %+v, want refused with RetryAfter Never", d)
	}
}

// One instant after a long rest: one shared bucket of Burst 64 admits 64
// requests. Nodes holding leases taken before the rest admit more.
func TestAttackLeasesEscapeTheBurstCap(t *testing.T) {
	ls := callerNodes(t, 3, redislimit.Options{MaxLease: 64, LeaseFor: time.Hour})
	th := limit.Counter{Kind: limit.Throttle, Scope: "p", Rate: 100, Burst: 64, Cost: 1}
	// warm up: three quick requests per node; each node then holds a
	// lease of 2 (1+1 taken, 1 spent, 1+2 taken)
	for i := range 9 {
		charge(t, ls[i%3], day0.Add(time.Duration(i)*time.Microsecond), "k", th)
	}
	at := day0.Add(time.Minute) // the bucket refilled to 64 long ago
	var admitted int
	for _, l := range ls {
		admitted += drainAt(t, l, at, "k", th, 1000)
	}
	if admitted > 64 {
		t.Errorf("at one instant, on a full bucket of Burst 64, the cluster admitted %d", admitted)
	}
}

// Many nodes race for the last units of a quota: never more than the
// limit, with costs of 1 and of 3; units stranded in leases too small for
// a request go back after LeaseFor, and then the limit is reached (less
// than one request's cost short). Guard.
func TestAttackManyNodesRaceForLastUnits(t *testing.T) {
	for _, cost := range []int64{1, 3} {
		ls := nodes(t, 10, redislimit.Options{MaxLease: 64, LeaseFor: 200 * time.Millisecond,
			RefuseLocally: 5 * time.Millisecond})
		ct := limit.Counter{Kind: limit.Quota, Scope: "plan", Limit: 100, Period: keyward.PeriodDay, Cost: cost}
		got := hammer(t, ls, "key_race", ct, 4, 700*time.Millisecond)
		if units := sum(got) * cost; units > 100 {
			t.Errorf("cost %d: admitted %v = %d units of a 100 quota", cost, got, units)
		}
		time.Sleep(600 * time.Millisecond) // leases go back
		again := hammer(t, ls, "key_race", ct, 4, 300*time.Millisecond)
		if units := (sum(got) + sum(again)) * cost; units > 100 || units < 100-cost+1 {
			t.Errorf("cost %d: admitted %v then %v = %d units of a 100 quota", cost, got, again, units)
		}
	}
}

// Plan edits while nodes hold leases: the limit lowered, then the period
// changed. After the edit no more than the new limit is used. Guard.
func TestAttackPlanEditWhileLeased(t *testing.T) {
	ls := callerNodes(t, 3, redislimit.Options{MaxLease: 64, LeaseFor: time.Hour})
	q := limit.Counter{Kind: limit.Quota, Scope: "p", Limit: 1000, Period: keyward.PeriodDay, Cost: 1}
	now := day0
	used := 0
	for i := range 90 { // leases grow on every node
		now = now.Add(time.Microsecond)
		if _, d := charge(t, ls[i%3], now, "k", q); d.OK {
			used++
		}
	}
	q.Limit = 120 // lowered: 30 left
	more := 0
	for i := range 300 {
		now = now.Add(time.Microsecond)
		if _, d := charge(t, ls[i%3], now, "k", q); d.OK {
			more++
		}
	}
	if used+more > 120 {
		t.Errorf("limit lowered to 120 after %d used: %d more admitted (total %d)", used, more, used+more)
	}
	// raise it again: exactly up to the new limit
	q.Limit = 200
	for i := range 300 {
		now = now.Add(time.Microsecond)
		if _, d := charge(t, ls[i%3], now, "k", q); d.OK {
			more++
		}
	}
	if used+more > 200 {
		t.Errorf("limit raised to 200: total %d admitted", used+more)
	}
}

// ---------------------------------------------------------------------
// 4. Numbers out of range.

// Costs, limits and bursts near 2^53 and 2^63, and odd rates, neither
// over-admit nor break the script. Guard.
func TestAttackHugeAndOddNumbers(t *testing.T) {
	l := callerTime(t, 64)
	now := day0
	for _, cost := range []int64{1 << 53, 1<<53 + 1, math.MaxInt64, math.MaxInt64 - 1} {
		for _, kind := range []limit.Kind{limit.Quota, limit.TokensPerDay, limit.TokensPerMinute} {
			ct := limit.Counter{Kind: kind, Scope: "p", Limit: 1000, Period: keyward.PeriodDay, Cost: cost}
			if _, d := charge(t, l, now, "k", ct); d.OK || d.RetryAfter != limit.Never {
				t.Errorf("%v cost %d on limit 1000: %+v, want refused Never", kind, cost, d)
			}
		}
		th := limit.Counter{Kind: limit.Throttle, Scope: "p", Rate: 10, Burst: 1000, Cost: cost}
		if _, d := charge(t, l, now, "k", th); d.OK || d.RetryAfter != limit.Never {
			t.Errorf("throttle cost %d on burst 1000: %+v, want refused Never", cost, d)
		}
	}
	// A settle reporting MaxInt64 tokens saturates: nothing more fits.
	tk := limit.Counter{Kind: limit.TokensPerDay, Scope: "t", Limit: math.MaxInt64, Cost: 10}
	c, d := charge(t, l, now, "k2", tk)
	if !d.OK {
		t.Fatalf("%+v", d)
	}
	if err := l.Settle(bg, now, c, math.MaxInt64); err != nil {
		t.Fatal(err)
	}
	tk.Limit = 1 << 40
	if _, d := charge(t, l, now, "k2", tk); d.OK {
		t.Error("after a settle of MaxInt64 tokens, a 2^40 budget still admits")
	}
	// Odd rates: NaN, -Inf and negative read as 0 (a fixed allowance);
	// +Inf refills at once; none breaks the script. (Tiny positive rates
	// do break it: TestAttackScriptErrorIsNotAnOutage.)
	for i, rate := range []float64{math.NaN(), math.Inf(-1), -5, math.Inf(1), 1e308, 1e-6} {
		th := limit.Counter{Kind: limit.Throttle, Scope: "r" + string(rune('a'+i)), Rate: rate, Burst: 3, Cost: 1}
		n := drainAt(t, l, now, "k3", th, 10)
		later := drainAt(t, l, now.Add(time.Hour), "k3", th, 10)
		t.Logf("rate %v: %d at once, %d an hour later", rate, n, later)
		if n != 3 {
			t.Errorf("rate %v burst 3: %d admitted at once, want 3", rate, n)
		}
		if !(rate > 0) && later != 0 {
			t.Errorf("rate %v (read as 0): %d more admitted an hour later", rate, later)
		}
	}
	if !l.Available() {
		t.Error("odd numbers took the limiter down")
	}
}

// ---------------------------------------------------------------------
// 5. Charges and settles.

// A Charge naming the same counter twice charges it twice, and never past
// its limit. Guard.
func TestAttackSameCounterTwice(t *testing.T) {
	for _, lease := range []int64{0, 64} {
		l := callerTime(t, lease)
		q := limit.Counter{Kind: limit.Quota, Scope: "p", Limit: 5, Period: keyward.PeriodDay, Cost: 1}
		n := 0
		for range 10 {
			if _, d := charge(t, l, day0, "k", q, q); d.OK {
				n++
			}
		}
		if n != 2 {
			t.Errorf("lease %d: a quota of 5 named twice per charge admitted %d charges (want 2: 4 units)", lease, n)
		}
		if _, d := charge(t, l, day0, "k", q); !d.OK {
			t.Errorf("lease %d: the fifth unit was lost", lease)
		}
		tk := limit.Counter{Kind: limit.TokensPerDay, Scope: "t", Limit: 1000, Cost: 400}
		c, d := charge(t, l, day0, "k", tk, tk)
		if !d.OK {
			t.Fatalf("two reservations of 400 on 1000: %+v", d)
		}
		if _, d := charge(t, l, day0, "k", tk); d.OK {
			t.Errorf("lease %d: 1200 reserved on a 1000 budget", lease)
		}
		if err := l.Settle(bg, day0, c, 100); err != nil {
			t.Fatal(err)
		}
		// each named counter is settled to 100: 200 used, 800 left
		c2, d := charge(t, l, day0, "k", limit.Counter{Kind: limit.TokensPerDay, Scope: "t", Limit: 1000, Cost: 800})
		if !d.OK {
			t.Errorf("lease %d: after settling to 2x100, 800 does not fit", lease)
		}
		_ = c2
		if _, d := charge(t, l, day0, "k", limit.Counter{Kind: limit.TokensPerDay, Scope: "t", Limit: 1000, Cost: 1}); d.OK {
			t.Errorf("lease %d: more than 1000 tokens reserved", lease)
		}
	}
}

// Settle twice (a copy of the Charge), settle with a forged Ticket, settle
// after Forget: none hands budget back that was not reserved. Guard.
func TestAttackSettleTwiceForgedAndAfterForget(t *testing.T) {
	l := callerTime(t, 0)
	tk := limit.Counter{Kind: limit.TokensPerDay, Scope: "t", Limit: 1000, Cost: 600}
	c, d := charge(t, l, day0, "k", tk)
	if !d.OK {
		t.Fatal(d)
	}
	cp := *c
	if err := l.Settle(bg, day0, c, 500); err != nil {
		t.Fatal(err)
	}
	if err := l.Settle(bg, day0, c, 0); err != nil { // not pending any more
		t.Fatal(err)
	}
	if err := l.Settle(bg, day0, &cp, 0); err != nil { // a copy still "pending"
		t.Fatal(err)
	}
	forged := cp
	forged.Pending = true
	for _, ticket := range []uint64{c.Ticket + 1, c.Ticket + 1000, 1 << 60} {
		forged.Ticket = ticket
		if err := l.Settle(bg, day0, &forged, 0); err != nil {
			t.Fatal(err)
		}
		forged.Pending = true
	}
	// 500 used: exactly 500 left.
	rest := tk
	rest.Cost = 501
	if _, d := charge(t, l, day0, "k", rest); d.OK {
		t.Error("settling twice or with forged tickets gave budget back: 501 fit after 500 used of 1000")
	}
	rest.Cost = 500
	c3, d := charge(t, l, day0, "k", rest)
	if !d.OK {
		t.Errorf("500 left does not take 500: %+v", d)
	}
	// Forget, then settle the live reservation: no error, nothing negative.
	l.Forget("k")
	if err := l.Settle(bg, day0, c3, 10); err != nil {
		t.Fatal(err)
	}
	if n := drainAt(t, l, day0, "k", limit.Counter{Kind: limit.TokensPerDay, Scope: "t", Limit: 1000, Cost: 100}, 100); n != 10 {
		t.Errorf("after Forget the key's budget is %d×100, want a fresh 10×100", n)
	}
}

// A reservation made in the last millisecond of a day and settled after
// midnight touches neither day's count; the new day has its whole budget.
// A lease taken before midnight is void after it. Guard.
func TestAttackMidnight(t *testing.T) {
	ls := callerNodes(t, 3, redislimit.Options{MaxLease: 64, LeaseFor: time.Hour, ReservationTTL: 100 * time.Hour})
	mid := time.Date(2030, 5, 18, 0, 0, 0, 0, time.UTC)
	before, after := mid.Add(-time.Millisecond), mid.Add(time.Millisecond)
	tk := limit.Counter{Kind: limit.TokensPerDay, Scope: "t", Limit: 1000, Cost: 900}
	c, d := charge(t, ls[0], before, "k", tk)
	if !d.OK {
		t.Fatal(d)
	}
	if err := ls[0].Settle(bg, after, c, 5000); err != nil {
		t.Fatal(err)
	}
	tk.Cost = 1000
	if _, d := charge(t, ls[1], after, "k", tk); !d.OK {
		t.Errorf("the new day's budget was touched by yesterday's settle: %+v", d)
	}
	q := limit.Counter{Kind: limit.Quota, Scope: "q", Limit: 50, Period: keyward.PeriodDay, Cost: 1}
	n := 0
	for i := range 200 { // leases grow just before midnight
		if _, d := charge(t, ls[i%3], before.Add(-time.Duration(200-i)*time.Microsecond), "k", q); d.OK {
			n++
		}
	}
	if n != 50 {
		t.Errorf("day before: %d of 50", n)
	}
	n = 0
	for i := range 200 {
		if _, d := charge(t, ls[i%3], after.Add(time.Duration(i)*time.Microsecond), "k", q); d.OK {
			n++
		}
	}
	if n != 50 {
		t.Errorf("day after: %d admitted, want exactly 50", n)
	}
}

// Forget while other goroutines charge on two nodes: nothing panics or
// errors, and the key's counters afterwards are never over their limit in
// one window beyond what the deletion itself reset. Guard (run -race).
func TestAttackForgetWhileCharging(t *testing.T) {
	ls := nodes(t, 2, redislimit.Options{MaxLease: 64})
	q := limit.Counter{Kind: limit.Quota, Scope: "p", Limit: 1_000_000, Period: keyward.PeriodDay, Cost: 1}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var errs atomic.Int64
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &limit.Charge{Key: "k"}
			for {
				select {
				case <-stop:
					return
				default:
				}
				c.Reset()
				c.Add(q)
				if _, err := ls[i%2].Charge(bg, time.Now(), c); err != nil {
					errs.Add(1)
				}
			}
		}()
	}
	for range 20 {
		time.Sleep(10 * time.Millisecond)
		ls[0].Forget("k")
	}
	close(stop)
	wg.Wait()
	if errs.Load() != 0 {
		t.Errorf("%d charges failed", errs.Load())
	}
}

// ---------------------------------------------------------------------
// 6. Redis down.

// Fail open gives each node limit/nodes. A node that started first saw
// only itself at its one heartbeat; killed within its first 2 s, Redis
// leaves it enforcing the whole limit, and the cluster admits far more than
// the limit.
func TestAttackFailOpenStaleNodeCount(t *testing.T) {
	r := testredis.Start(t, testredis.Options{})
	ls := make([]*redislimit.Limiter, 3)
	for i := range ls {
		rdb, err := redislimit.Connect(r.URL, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rdb.Close() })
		ls[i] = redislimit.New(bg, rdb, redislimit.Options{Unavailable: redislimit.FailOpen, ProbeEvery: time.Hour})
		t.Cleanup(func() { ls[i].Close() })
	}
	// A node sees the others at its next heartbeat (every 2 s); a node
	// that started less than that before Redis died cannot know them
	// (README: the first 2 s of a node are its blind spot).
	time.Sleep(2200 * time.Millisecond)
	r.Stop()
	q := limit.Counter{Kind: limit.Quota, Scope: "p", Limit: 30, Period: keyward.PeriodDay, Cost: 1}
	total := 0
	var seen []int64
	for _, l := range ls {
		seen = append(seen, l.Nodes())
		total += drainAt(t, l, time.Now(), "k", q, 100)
	}
	t.Logf("nodes seen %v, admitted %d", seen, total)
	if total > 30 {
		t.Errorf("three nodes failing open on a 30/DAY quota admitted %d (nodes seen: %v)", total, seen)
	}
}

// Fail closed: Redis killed with leases held. What a node admits after is
// at most what its leases held (metered: taken from Redis before), and
// then every charge says ErrUnavailable; none passes unmetered. Guard.
func TestAttackFailClosedWithLeasesHeld(t *testing.T) {
	r := testredis.Start(t, testredis.Options{})
	rdb, err := redislimit.Connect(r.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	l := redislimit.New(bg, rdb, redislimit.Options{MaxLease: 64, LeaseFor: time.Hour, ProbeEvery: time.Hour})
	t.Cleanup(func() { l.Close() })
	q := limit.Counter{Kind: limit.Quota, Scope: "p", Limit: 1000, Period: keyward.PeriodDay, Cost: 1}
	for range 50 {
		charge(t, l, time.Now(), "k", q)
	}
	r.Stop()
	admitted, failed := 0, 0
	for range 50 {
		c := &limit.Charge{Key: "k"}
		c.Add(q)
		d, err := l.Charge(bg, time.Now(), c)
		switch {
		case errors.Is(err, redislimit.ErrUnavailable):
			failed++
		case err == nil && d.OK:
			admitted++
		}
	}
	t.Logf("with Redis down: %d admitted (from leases), %d unavailable", admitted, failed)
	if admitted > 63 { // a lease is at most MaxLease-1 units
		t.Errorf("%d admitted with Redis down: more than a lease holds", admitted)
	}
	if failed == 0 {
		t.Error("never answered unavailable")
	}
}
