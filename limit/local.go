package limit

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/shardmap"
)

// Local is a Limiter that keeps counters in this process's memory, for a
// single gateway node. The zero Local is ready to use, without History.
//
// Each key's counters live in one small slice behind one mutex, found in a
// sharded map: a Charge is one read-locked map lookup, one lock of the key
// and a linear scan over the key's few counters, and allocates only when a
// key or counter is first seen. Counters of a key that are at rest (a full bucket,
// a window that has ended) are indistinguishable from new ones: they are
// dropped when a key collects many of them, and Sweep drops keys made only
// of them, so that memory follows the keys and limits in use.
//
// Where Limiter leaves a choice: when a quota's Period or Offset changes,
// Local keeps what was used if the new window contains the start of the old
// one (so it was used within the new window), and starts at zero otherwise.
type Local struct {
	history History
	keys    shardmap.Map[keyState]
}

var _ Limiter = (*Local)(nil)

// NewLocal returns a Local that asks history, which may be nil, what keys
// used before the process started.
func NewLocal(history History) *Local {
	return &Local{history: history}
}

// pruneAt is how many counters a key collects before those at rest are
// dropped.
const pruneAt = 2 * MaxCounters

// keyState holds one key's counters.
type keyState struct {
	mu      sync.Mutex
	dead    bool // removed from Local.keys: lock the current state instead
	cs      []counter
	pruneAt int // prune when len(cs) reaches this (0 = pruneAt)
}

// counter is the state of one counter of a key. A Throttle uses tokens,
// last, rate and burst; the windowed kinds use period, offset, start, end
// and used.
type counter struct {
	kind  Kind
	scope string

	tokens float64 // in the bucket at last
	last   int64   // Unix ns
	rate   float64 // per second, as last charged
	burst  float64 // as last charged

	period     keyward.QuotaPeriod // Quota: the definition start and end
	offset     int                 // were computed for
	start, end int64               // current window, Unix ns
	used       int64               // in the current window
}

// Charge implements Limiter. It never fails.
func (l *Local) Charge(_ context.Context, now time.Time, c *Charge) (Decision, error) {
	return l.ChargeAt(now, c), nil
}

// Settle implements Limiter. It never fails.
func (l *Local) Settle(_ context.Context, now time.Time, c *Charge, tokens int64) error {
	l.SettleAt(now, c, tokens)
	return nil
}

// ChargeAt is Charge without a context or an error, which Local never
// needs.
func (l *Local) ChargeAt(now time.Time, c *Charge) Decision {
	c.Pending = false
	n := min(max(c.N, 0), MaxCounters)
	for i := range n {
		if !c.Counters[i].Kind.valid() {
			return Decision{Refused: c.Counters[i].Kind, Index: i, RetryAfter: Never}
		}
	}
	if n == 0 {
		c.Pending = true
		return Decision{OK: true}
	}
	t := clampNow(now.UnixNano())
	ks := l.lock(c.Key)
	defer ks.mu.Unlock()
	if len(ks.cs) >= max(ks.pruneAt, pruneAt) {
		ks.prune(t)
	}

	// Bring every counter up to date: refill buckets, roll windows.
	var at [MaxCounters]int // index in ks.cs of each counter of c
	for i := range n {
		ct := &c.Counters[i]
		j := ks.find(ct.Kind, ct.Scope)
		if j < 0 {
			j = len(ks.cs)
			ks.cs = append(ks.cs, l.newCounter(c.Key, ct, t))
		}
		at[i] = j
		if !ks.cs[j].advance(ct, t) {
			return Decision{Refused: ct.Kind, Index: i, RetryAfter: Never}
		}
	}

	// Take each cost in turn (a counter named twice is charged twice);
	// on the first refusal, give back what was taken.
	var tokens [MaxCounters]float64
	var used [MaxCounters]int64
	for i := range n {
		ct, s := &c.Counters[i], &ks.cs[at[i]]
		cost := max(ct.Cost, 0)
		if !s.admits(ct, cost) {
			for k := i - 1; k >= 0; k-- {
				ks.cs[at[k]].tokens, ks.cs[at[k]].used = tokens[k], used[k]
			}
			return ks.refusal(c, &at, i, n, t)
		}
		tokens[i], used[i] = s.tokens, s.used
		s.take(cost)
	}
	for i := range n {
		c.Windows[i] = ks.cs[at[i]].start
	}
	c.Pending = true
	return Decision{OK: true}
}

// refusal describes the refusal of c, whose counter first refuses: the
// counter among first and those after it that refuses for longest. Counters
// before first admitted c's costs, so they would not keep it waiting.
func (ks *keyState) refusal(c *Charge, at *[MaxCounters]int, first, n int, t int64) Decision {
	d := Decision{Refused: c.Counters[first].Kind, Index: first}
	for i := first; i < n; i++ {
		ct, s := &c.Counters[i], &ks.cs[at[i]]
		cost := max(ct.Cost, 0)
		// first refused c, if only because an earlier counter of c
		// named the same counter; the others may admit c on their own.
		if i > first && s.admits(ct, cost) {
			continue
		}
		if w := s.wait(ct, cost, t); w > d.RetryAfter {
			d.Refused, d.Index, d.RetryAfter = ct.Kind, i, w
		}
	}
	return d
}

// SettleAt is Settle without a context or an error.
func (l *Local) SettleAt(now time.Time, c *Charge, tokens int64) {
	if !c.Pending {
		return
	}
	c.Pending = false
	if !c.hasTokens() {
		return // nothing to correct: skip the lookup and the lock
	}
	ks := l.keys.Load(c.Key)
	if ks == nil {
		return
	}
	t := clampNow(now.UnixNano())
	tokens = max(tokens, 0)
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.dead {
		return
	}
	for i := range min(max(c.N, 0), MaxCounters) {
		ct := &c.Counters[i]
		if !ct.Kind.tokens() {
			continue
		}
		j := ks.find(ct.Kind, ct.Scope)
		if j < 0 {
			continue
		}
		s := &ks.cs[j]
		if s.start != c.Windows[i] || t >= s.end {
			continue // the window it was charged in is over
		}
		if d := tokens - max(ct.Cost, 0); d >= 0 {
			s.used = AddSat(s.used, d)
		} else {
			s.used = max(s.used+d, 0)
		}
	}
}

// Forget implements Limiter.
func (l *Local) Forget(key string) {
	ks := l.keys.Remove(key)
	if ks == nil {
		return
	}
	ks.mu.Lock()
	ks.dead = true
	ks.mu.Unlock()
}

// Sweep drops the keys whose counters are all at rest at now, that is
// indistinguishable from new ones, and returns how many it dropped. A
// gateway may call it every few minutes to bound memory to the keys in use.
// A dropped key's quota and token-per-day counters consult History again if
// the key comes back.
func (l *Local) Sweep(now time.Time) int {
	t := clampNow(now.UnixNano())
	dropped := 0
	l.keys.RemoveIf(func(_ string, ks *keyState) bool {
		ks.mu.Lock()
		defer ks.mu.Unlock()
		if ks.atRest(t) {
			ks.dead = true
			dropped++
			return true
		}
		return false
	})
	return dropped
}

// Len returns how many keys Local holds state for: what Sweep keeps
// bounded by the keys in use.
func (l *Local) Len() int { return l.keys.Len() }

// lock returns the locked state of key, creating it if needed.
func (l *Local) lock(key string) *keyState {
	for {
		ks := l.keys.LoadOrCreate(key)
		ks.mu.Lock()
		if !ks.dead {
			return ks
		}
		ks.mu.Unlock() // dropped meanwhile by Forget or Sweep
	}
}

// newCounter returns the state of a counter first seen at t: a full bucket,
// or the current window with what History says was used in it.
func (l *Local) newCounter(key string, ct *Counter, t int64) counter {
	s := counter{kind: ct.Kind, scope: ct.Scope}
	switch {
	case ct.Kind == Throttle:
		s.rate, s.burst = rates(ct)
		s.tokens, s.last = s.burst, t
	case ct.Kind.windowed():
		s.period, s.offset = ct.Period, ct.Offset
		var ok bool
		if s.start, s.end, ok = window(ct, t); ok && ct.Kind != TokensPerMinute && l.history != nil {
			s.used = max(l.history(key, ct.Kind, time.Unix(0, s.start).UTC(), time.Unix(0, s.end).UTC()), 0)
		}
	}
	return s
}

// find returns the index of the counter (kind, scope) in ks.cs, or -1.
func (ks *keyState) find(kind Kind, scope string) int {
	for j := range ks.cs {
		if ks.cs[j].kind == kind && ks.cs[j].scope == scope {
			return j
		}
	}
	return -1
}

// prune drops the counters at rest at t.
func (ks *keyState) prune(t int64) {
	kept := ks.cs[:0]
	for _, s := range ks.cs {
		if !s.atRest(t) {
			kept = append(kept, s)
		}
	}
	clear(ks.cs[len(kept):]) // release dropped scopes
	ks.cs = kept
	ks.pruneAt = 2 * len(kept)
}

// atRest reports whether every counter of ks is at rest at t.
func (ks *keyState) atRest(t int64) bool {
	for j := range ks.cs {
		if !ks.cs[j].atRest(t) {
			return false
		}
	}
	return true
}

// atRest reports whether s, left alone until t, would be indistinguishable
// from a new counter: a full bucket, or a window that has ended.
func (s *counter) atRest(t int64) bool {
	if s.kind == Throttle {
		return s.tokens >= s.burst || (t > s.last && s.tokens+s.rate*float64(subSat(t, s.last))/1e9 >= s.burst)
	}
	return t >= s.end
}

// rates returns a throttle's rate and burst, read as documented on Counter.
func rates(ct *Counter) (rate, burst float64) {
	if ct.Rate > 0 { // false for NaN
		rate = ct.Rate
	}
	return rate, float64(max(ct.Burst, 0))
}

// advance brings s up to date at t with ct's current limits: it refills a
// bucket or moves to the window containing t. It reports false if ct has no
// window (a Quota with an unknown Period).
func (s *counter) advance(ct *Counter, t int64) bool {
	if s.kind == Throttle {
		s.rate, s.burst = rates(ct)
		if t > s.last {
			s.tokens += s.rate * float64(subSat(t, s.last)) / 1e9
			s.last = t
		}
		s.tokens = min(s.tokens, s.burst)
		return true
	}
	if s.kind == Quota && (ct.Period != s.period || ct.Offset != s.offset) {
		// The plan changed its window: keep what was used if it was
		// used within the new window.
		start, end, ok := window(ct, t)
		if !ok {
			s.start, s.end = 0, 0
			return false
		}
		if s.start < start || s.start >= end {
			s.used = 0
		}
		s.period, s.offset, s.start, s.end = ct.Period, ct.Offset, start, end
		return true
	}
	if t < s.end {
		return true // t before start counts as start: windows never go back
	}
	start, end, ok := window(ct, t)
	if !ok {
		return false
	}
	s.start, s.end, s.used = start, end, 0
	return true
}

// admits reports whether s, brought up to date, has room for cost.
func (s *counter) admits(ct *Counter, cost int64) bool {
	if cost == 0 {
		return true
	}
	if s.kind == Throttle {
		return s.tokens >= float64(cost)
	}
	return cost <= max(ct.Limit, 0)-s.used
}

// take charges cost to s, which admits it.
func (s *counter) take(cost int64) {
	if s.kind == Throttle {
		s.tokens -= float64(cost)
	} else {
		s.used = AddSat(s.used, cost)
	}
}

// wait returns how long after t s could admit cost, which it refuses now.
func (s *counter) wait(ct *Counter, cost int64, t int64) time.Duration {
	if s.kind == Throttle {
		if float64(cost) > s.burst || s.rate == 0 {
			return Never
		}
		// Tokens arrive from s.last on, which a late t may precede.
		ns := math.Ceil((float64(cost)-s.tokens)*1e9/s.rate) + float64(max(subSat(s.last, t), 0))
		if ns >= math.MaxInt64 {
			return Never
		}
		return time.Duration(max(ns, 1))
	}
	if cost > max(ct.Limit, 0) {
		return Never
	}
	return time.Duration(max(subSat(s.end, t), 0))
}

// hasTokens reports whether c holds a token-window counter.
func (c *Charge) hasTokens() bool {
	for i := range min(max(c.N, 0), MaxCounters) {
		if c.Counters[i].Kind.tokens() {
			return true
		}
	}
	return false
}
