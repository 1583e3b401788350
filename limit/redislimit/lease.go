package redislimit

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/keyward/keyward/limit"
)

// lease is the slice of one throttle or quota counter this node holds.
type lease struct {
	kind  limit.Kind
	scope string
	def   def // the limits it was taken under

	held  int64 // units taken from Redis and not spent yet
	start int64 // the window they were taken in (ns; 0 for a throttle)
	// until (ns): unspent units go back to Redis after this, and a
	// throttle's are not spent after it (Redis counts them as this node's
	// for twice as long, then lets its bucket refill into their place).
	until  int64
	want   int64 // extra units to ask for at the next refill
	filled int64 // ns: the last refill, to size the next one

	// Redis refused cost blockedCost or more until blockedUntil (ns);
	// with Options.RefuseLocally, such requests are refused here without
	// asking again until recheck.
	blockedCost           int64
	blockedUntil, recheck int64
}

// def is what a counter's limits were when a lease was taken: a plan edit
// voids the lease (its units go back) so that the new limits apply at once.
type def struct {
	rate         float64
	burst, limit int64
	period       string
	offset       int
}

func defOf(ct *limit.Counter) def {
	return def{ct.Rate, ct.Burst, ct.Limit, string(ct.Period), ct.Offset}
}

// spendable is what of l's units can pay at t for the window starting at
// start.
func (ls *lease) spendable(start int64) int64 {
	if ls.kind == limit.Quota && ls.start != start {
		return 0 // taken in a window that has ended
	}
	return ls.held
}

// keyLeases holds one key's leases.
type keyLeases struct {
	mu   sync.Mutex
	dead bool // dropped by Forget: look the key up again
	ls   []lease
}

func (kl *keyLeases) find(kind limit.Kind, scope string) int {
	for j := range kl.ls {
		if kl.ls[j].kind == kind && kl.ls[j].scope == scope {
			return j
		}
	}
	kl.ls = append(kl.ls, lease{kind: kind, scope: scope, want: 1})
	return len(kl.ls) - 1
}

// lockLeases returns key's leases, locked.
func (l *Limiter) lockLeases(key string) *keyLeases {
	for {
		kl := l.leases.LoadOrCreate(key)
		kl.mu.Lock()
		if !kl.dead {
			return kl
		}
		kl.mu.Unlock()
	}
}

func leasable(k limit.Kind) bool { return k == limit.Throttle || k == limit.Quota }

// chargeLeased charges c from this node's leases where they suffice and
// from Redis for the rest (refilling the leases on the way), all or
// nothing. kl is locked.
func (l *Limiter) chargeLeased(ctx context.Context, t int64, c *limit.Charge, n int,
	win *[limit.MaxCounters][2]int64, kl *keyLeases) (limit.Decision, error) {
	var at [limit.MaxCounters]int // lease of each counter, -1: none
	for i := range n {
		at[i] = -1
		ct := &c.Counters[i]
		if !leasable(ct.Kind) {
			continue
		}
		// What no counter can ever admit is refused before a lease pays
		// part of it.
		if cost := exact(ct.Cost); (ct.Kind == limit.Throttle && cost > exact(ct.Burst)) ||
			(ct.Kind == limit.Quota && cost > exact(ct.Limit)) {
			return limit.Decision{Refused: ct.Kind, Index: i, RetryAfter: limit.Never}, nil
		}
		at[i] = kl.find(ct.Kind, ct.Scope)
		ls := &kl.ls[at[i]]
		if d := defOf(ct); d != ls.def {
			l.giveBack(ctx, t, c.Key, ls)
			ls.def, ls.want, ls.blockedUntil, ls.recheck = d, 1, 0, 0
		}
		cost := exact(ct.Cost)
		if t < ls.recheck && cost > 0 && cost >= ls.blockedCost && ls.spendable(win[i][0]) < cost {
			return limit.Decision{Refused: ct.Kind, Index: i, RetryAfter: time.Duration(max(ls.blockedUntil-t, 1))}, nil
		}
	}
	var paid [limit.MaxCounters]int64
	need := false
	for i := range n {
		cost := exact(c.Counters[i].Cost)
		if at[i] < 0 {
			need = true
			continue
		}
		ls := &kl.ls[at[i]]
		if ls.kind == limit.Quota && ls.start != win[i][0] {
			ls.held = 0 // a lease of an ended window is void
		}
		if ls.kind == limit.Throttle && t >= ls.until && ls.held > 0 {
			l.giveBack(ctx, t, c.Key, ls) // Redis may count them as its bucket's again soon
		}
		paid[i] = min(ls.held, cost)
		ls.held -= paid[i]
		need = need || paid[i] < cost
	}
	if !need {
		for i := range n {
			c.Windows[i] = win[i][0]
		}
		c.Pending = true
		return limit.Decision{OK: true}, nil
	}
	restore := func() {
		for i := range n {
			if at[i] >= 0 {
				kl.ls[at[i]].held += paid[i]
			}
		}
	}
	var got [limit.MaxCounters]granted
	d, err := l.chargeRemote(ctx, t, c, n, win, func(i int) (int64, int64, int64) {
		switch {
		case at[i] < 0:
			return 0, 0, 0
		case paid[i] == exact(c.Counters[i].Cost) && paid[i] > 0:
			return -1, 0, 0
		}
		ls := &kl.ls[at[i]]
		return paid[i], ls.want, ls.held
	}, &got)
	if err != nil {
		restore()
		return d, err
	}
	if !d.OK {
		restore()
		if i := d.Index; at[i] >= 0 && l.opt.RefuseLocally > 0 && d.RetryAfter > 0 {
			ls := &kl.ls[at[i]]
			ls.blockedCost = exact(c.Counters[i].Cost)
			ls.blockedUntil = t + int64(min(d.RetryAfter, time.Duration(math.MaxInt64-t)))
			ls.recheck = t + int64(min(d.RetryAfter, l.opt.RefuseLocally))
		}
		return d, nil
	}
	for i := range n {
		if at[i] < 0 {
			continue
		}
		ls := &kl.ls[at[i]]
		cost := exact(c.Counters[i].Cost)
		if paid[i] == cost && paid[i] > 0 {
			c.Windows[i] = win[i][0]
			continue // not sent
		}
		ls.held += got[i].took - (cost - paid[i])
		ls.start = c.Windows[i]
		ls.until = t + int64(l.opt.LeaseFor)
		ls.recheck = 0
		if ls.filled != 0 {
			switch el := t - ls.filled; {
			case el < int64(l.opt.LeaseFor/4):
				ls.want = min(max(2*ls.want, 1), l.opt.MaxLease-1)
			case el > int64(l.opt.LeaseFor):
				ls.want /= 2
			}
		}
		ls.filled = t
	}
	return d, nil
}

// giveBack returns what ls holds to Redis at once (a plan edit voided it).
func (l *Limiter) giveBack(ctx context.Context, t int64, key string, ls *lease) {
	if ls.held <= 0 {
		return
	}
	ct := limit.Counter{Kind: ls.kind, Scope: ls.scope}
	_, _ = l.call(ctx, "return", returnScript, []string{l.counterKey(key, &ct)}, int(ls.kind), ls.held, ls.start/1000, l.node)
	ls.held = 0
}

// returnLeases gives back the unspent units of leases that expired by t
// (every lease with all).
func (l *Limiter) returnLeases(ctx context.Context, t int64, all bool) {
	type back struct {
		key   string
		ct    limit.Counter
		held  int64
		start int64
	}
	var backs []back
	l.leases.Range(func(key string, kl *keyLeases) {
		kl.mu.Lock()
		for j := range kl.ls {
			ls := &kl.ls[j]
			if ls.held > 0 && (all || t >= ls.until) {
				backs = append(backs, back{key, limit.Counter{Kind: ls.kind, Scope: ls.scope}, ls.held, ls.start})
				ls.held = 0
			}
		}
		kl.mu.Unlock()
	})
	for _, b := range backs {
		if _, err := l.call(ctx, "return", returnScript, []string{l.counterKey(b.key, &b.ct)},
			int(b.ct.Kind), b.held, b.start/1000, l.node); err != nil {
			return // lost: the counter only admits less, never more
		}
	}
}

// Sweep drops the leases of keys that hold nothing and are not refusing
// locally at now, so that memory follows the keys in use; it returns how
// many keys it dropped. The gateway calls it every minute, as it does
// limit.Local's (whose counters back a node failing open; swept too).
func (l *Limiter) Sweep(now time.Time) int {
	t := l.now(now)
	dropped := 0
	l.leases.RemoveIf(func(_ string, kl *keyLeases) bool {
		kl.mu.Lock()
		defer kl.mu.Unlock()
		for j := range kl.ls {
			if ls := &kl.ls[j]; ls.held > 0 || t < ls.recheck {
				return false
			}
		}
		kl.dead = true
		dropped++
		return true
	})
	return dropped + l.fallback.Sweep(now)
}
