package redislimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"github.com/keyward/keyward/limit"
)

// lease is the slice of one throttle or quota counter this node holds.
type lease struct {
	kind  limit.Kind
	scope string

	held   int64 // units taken from Redis and not spent yet
	start  int64 // the window they were taken in (ns; 0 for a throttle)
	until  int64 // ns: unspent units go back to Redis after this
	want   int64 // extra units to ask for at the next refill
	filled int64 // ns: the last refill, to size the next one

	// Redis refused this counter until blocked (ns): requests are refused
	// here until then without asking again (at most LeaseFor later).
	blocked int64
}

// usable reports whether l can pay cost at t for the window starting at
// start.
func (ls *lease) usable(t, start, cost int64) bool {
	return ls.held >= cost && t < ls.until && (ls.kind == limit.Throttle || ls.start == start)
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

// leaseMap maps key IDs to their leases, sharded so that lookups of
// different keys rarely share a lock; a lookup allocates nothing.
type leaseMap struct{ shards [64]leaseShard }

type leaseShard struct {
	mu sync.RWMutex
	m  map[string]*keyLeases
}

var leaseSeed = maphash.MakeSeed()

func (lm *leaseMap) shard(key string) *leaseShard {
	return &lm.shards[maphash.String(leaseSeed, key)%uint64(len(lm.shards))]
}

func (lm *leaseMap) loadOrCreate(key string) *keyLeases {
	sh := lm.shard(key)
	sh.mu.RLock()
	kl := sh.m[key]
	sh.mu.RUnlock()
	if kl != nil {
		return kl
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if kl = sh.m[key]; kl == nil {
		if sh.m == nil {
			sh.m = map[string]*keyLeases{}
		}
		kl = &keyLeases{}
		sh.m[key] = kl
	}
	return kl
}

func (lm *leaseMap) remove(key string) *keyLeases {
	sh := lm.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	kl := sh.m[key]
	delete(sh.m, key)
	return kl
}

func (lm *leaseMap) each(fn func(key string, kl *keyLeases)) {
	for i := range lm.shards {
		sh := &lm.shards[i]
		sh.mu.RLock()
		for k, kl := range sh.m {
			fn(k, kl)
		}
		sh.mu.RUnlock()
	}
}

// lockLeases returns key's leases, locked.
func (l *Limiter) lockLeases(key string) *keyLeases {
	for {
		kl := l.leases.loadOrCreate(key)
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
		at[i] = kl.find(ct.Kind, ct.Scope)
		if ls := &kl.ls[at[i]]; ls.blocked > t && ct.Cost > 0 {
			return limit.Decision{Refused: ct.Kind, Index: i, RetryAfter: time.Duration(ls.blocked - t)}, nil
		}
	}
	var local [limit.MaxCounters]bool
	var taken [limit.MaxCounters]int64
	need := false
	for i := range n {
		cost := exact(c.Counters[i].Cost)
		if at[i] >= 0 {
			if ls := &kl.ls[at[i]]; ls.usable(t, win[i][0], cost) {
				ls.held -= cost
				local[i], taken[i] = true, cost
				continue
			}
		}
		need = true
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
			if local[i] {
				kl.ls[at[i]].held += taken[i]
			}
		}
	}
	var took [limit.MaxCounters]int64
	d, err := l.chargeRemote(ctx, t, c, n, win, func(i int) int64 {
		switch {
		case local[i]:
			return -1
		case at[i] < 0:
			return 0
		}
		return kl.ls[at[i]].want
	}, &took)
	if err != nil {
		restore()
		return d, err
	}
	if !d.OK {
		restore()
		if i := d.Index; at[i] >= 0 && d.RetryAfter > 0 {
			kl.ls[at[i]].blocked = t + int64(min(d.RetryAfter, l.opt.LeaseFor))
		}
		return d, nil
	}
	for i := range n {
		if at[i] < 0 {
			continue
		}
		ls := &kl.ls[at[i]]
		if local[i] {
			c.Windows[i] = ls.start
			continue
		}
		if ls.kind == limit.Quota && ls.start != c.Windows[i] {
			ls.held = 0 // a lease of an ended window is void
		}
		ls.held += took[i] - exact(c.Counters[i].Cost)
		ls.start = c.Windows[i]
		ls.until = t + int64(l.opt.LeaseFor)
		ls.blocked = 0
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

// returnLeases gives back the unspent units of leases that expired by t
// (every lease for t = MaxInt64).
func (l *Limiter) returnLeases(ctx context.Context, t int64) {
	type back struct {
		key   string
		ct    limit.Counter
		held  int64
		start int64
	}
	var backs []back
	l.leases.each(func(key string, kl *keyLeases) {
		kl.mu.Lock()
		for j := range kl.ls {
			ls := &kl.ls[j]
			if ls.held > 0 && t >= ls.until {
				backs = append(backs, back{key, limit.Counter{Kind: ls.kind, Scope: ls.scope}, ls.held, ls.start})
				ls.held = 0
			}
		}
		kl.mu.Unlock()
	})
	for _, b := range backs {
		if _, err := l.call(ctx, "return", returnScript, []string{l.counterKey(b.key, &b.ct)},
			int(b.ct.Kind), b.held, b.start/1000); err != nil {
			return // lost: the counter only admits less, never more
		}
	}
}
