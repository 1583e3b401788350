package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/limit"
)

// usageRecorder counts requests and tokens per key and UTC day in memory;
// the gateway writes the counts to the store every second or so. A crash
// loses at most that last interval.
type usageRecorder struct {
	mu sync.Mutex
	m  map[usageKey]*keyward.UsageDay
}

type usageKey struct {
	key string
	day int64 // days since the epoch, UTC
}

func newUsageRecorder() *usageRecorder {
	return &usageRecorder{m: map[usageKey]*keyward.UsageDay{}}
}

func (u *usageRecorder) add(keyID string, now time.Time, requests, in, out int64) {
	k := usageKey{keyID, now.Unix() / 86400}
	u.mu.Lock()
	d := u.m[k]
	if d == nil {
		d = &keyward.UsageDay{KeyID: keyID, Day: now.UTC().Format(keyward.DayFormat)}
		u.m[k] = d
	}
	// Saturating: an upstream reports any counts it likes.
	d.Requests = limit.AddSat(d.Requests, requests)
	d.TokensIn = limit.AddSat(d.TokensIn, in)
	d.TokensOut = limit.AddSat(d.TokensOut, out)
	if now.After(d.LastUsed) {
		d.LastUsed = now
	}
	u.mu.Unlock()
}

// take returns the counts so far and starts again from zero.
func (u *usageRecorder) take() []keyward.UsageDay {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.m) == 0 {
		return nil
	}
	rows := make([]keyward.UsageDay, 0, len(u.m))
	for _, d := range u.m {
		rows = append(rows, *d)
	}
	clear(u.m)
	return rows
}

// putBack returns rows that could not be written, to be tried again.
func (u *usageRecorder) putBack(rows []keyward.UsageDay) {
	for _, r := range rows {
		day, err := time.Parse(keyward.DayFormat, r.Day)
		if err != nil {
			continue
		}
		if r.LastUsed.IsZero() || r.LastUsed.Unix()/86400 != day.Unix()/86400 {
			r.LastUsed = day
		}
		u.add(r.KeyID, r.LastUsed, r.Requests, r.TokensIn, r.TokensOut)
	}
}

// history is the usage recorded before this process started, so that a
// restart does not hand every key a fresh quota or token budget.
type history struct {
	byKey map[string][]keyward.UsageDay
}

// historyDays covers the longest quota window (a month) and then some.
const historyDays = 32

func loadHistory(ctx context.Context, src keyward.DataPlaneSource, now time.Time) (*history, error) {
	from := now.UTC().AddDate(0, 0, -historyDays).Format(keyward.DayFormat)
	rows, err := src.UsageSince(ctx, from)
	if err != nil {
		return nil, err
	}
	h := &history{byKey: map[string][]keyward.UsageDay{}}
	for _, r := range rows {
		h.byKey[r.KeyID] = append(h.byKey[r.KeyID], r)
	}
	return h, nil
}

// lookup sums what key used in [from, to): requests for quotas, tokens
// for token budgets. Windows shorter than a day (tokens per minute) start
// from zero.
func (h *history) lookup(key string, kind limit.Kind, from, to time.Time) int64 {
	if kind == limit.TokensPerMinute || kind == limit.Throttle {
		return 0
	}
	lo, hi := from.UTC().Format(keyward.DayFormat), to.UTC().Format(keyward.DayFormat)
	var n int64
	for _, r := range h.byKey[key] {
		if r.Day < lo || r.Day >= hi {
			continue
		}
		if kind == limit.Quota {
			n = limit.AddSat(n, r.Requests)
		} else {
			n = limit.AddSat(n, limit.AddSat(r.TokensIn, r.TokensOut))
		}
	}
	return n
}

// failureCounter aggregates refused requests per source, reason and API
// for the audit trail: one record per window, not one per bad request, so
// a flood of garbage keys cannot flood the chain.
type failureCounter struct {
	mu sync.Mutex
	m  map[failureKey]int64
}

type failureKey struct{ source, reason, api string }

// maxFailureSources bounds memory under a spray of source addresses; the
// excess is counted under source "other".
const maxFailureSources = 10000

func (f *failureCounter) add(source, reason, api string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[failureKey]int64{}
	}
	k := failureKey{source, reason, api}
	if _, ok := f.m[k]; !ok && len(f.m) >= maxFailureSources {
		k.source = "other"
	}
	f.m[k]++
}

func (f *failureCounter) take() []keyward.AuthFailureCount {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]keyward.AuthFailureCount, 0, len(f.m))
	for k, n := range f.m {
		out = append(out, keyward.AuthFailureCount{SourceIP: k.source, Reason: k.reason, API: k.api, Count: n})
	}
	clear(f.m)
	return out
}
