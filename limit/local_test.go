package limit_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/limit"
	"github.com/keyward/keyward/limit/limittest"
)

func TestLocal(t *testing.T) {
	limittest.Run(t, func(t *testing.T) limit.Limiter { return limit.NewLocal(nil) })
}

func TestLocalZeroValue(t *testing.T) {
	limittest.Run(t, func(t *testing.T) limit.Limiter { return new(limit.Local) })
}

// base is a Wednesday, 10:00 UTC.
var base = time.Date(2025, time.March, 5, 10, 0, 0, 0, time.UTC)

func charge(l *limit.Local, now time.Time, key string, cts ...limit.Counter) limit.Decision {
	c := limit.Charge{Key: key}
	for _, ct := range cts {
		c.Add(ct)
	}
	return l.ChargeAt(now, &c)
}

// admitted charges ct at now until it refuses, up to max times, and returns
// how many it admitted.
func admitted(l *limit.Local, now time.Time, key string, ct limit.Counter, max int) int {
	for n := range max {
		if !charge(l, now, key, ct).OK {
			return n
		}
	}
	return max
}

type historyCall struct {
	key      string
	kind     limit.Kind
	from, to time.Time
}

func TestHistory(t *testing.T) {
	var mu sync.Mutex
	var calls []historyCall
	used := map[limit.Kind]int64{limit.Quota: 7, limit.TokensPerDay: 920}
	l := limit.NewLocal(func(key string, kind limit.Kind, from, to time.Time) int64 {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, historyCall{key, kind, from, to})
		return used[kind]
	})
	q := limit.Counter{Kind: limit.Quota, Scope: "p1", Limit: 10, Period: keyward.PeriodWeek, Offset: 1, Cost: 1}
	tm := limit.Counter{Kind: limit.TokensPerMinute, Scope: "p1", Limit: 100, Cost: 100}
	td := limit.Counter{Kind: limit.TokensPerDay, Scope: "p1", Limit: 1000, Cost: 50}
	th := limit.Counter{Kind: limit.Throttle, Scope: "p1", Rate: 1, Burst: 100, Cost: 1}

	if got := admitted(l, base, "k1", q, 10); got != 3 {
		t.Errorf("quota 10 with 7 used before: admitted %d, want 3", got)
	}
	if d := charge(l, base, "k1", th, tm, td); !d.OK {
		t.Errorf("tokens 100/min, 50 of 80 left today: refused by %v", d.Refused)
	}
	if d := charge(l, base, "k1", td); d.OK {
		t.Errorf("tokens per day: admitted 50 more with 30 left")
	}
	monday := time.Date(2025, time.March, 3, 0, 0, 0, 0, time.UTC)
	today := time.Date(2025, time.March, 5, 0, 0, 0, 0, time.UTC)
	want := []historyCall{
		{"k1", limit.Quota, monday, monday.AddDate(0, 0, 7)},
		{"k1", limit.TokensPerDay, today, today.AddDate(0, 0, 1)},
	}
	if len(calls) != len(want) {
		t.Fatalf("History called %d times: %v, want %v", len(calls), calls, want)
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Errorf("History call %d: %v, want %v", i, calls[i], want[i])
		}
	}

	// Windows that begin while the process runs start at zero, without
	// asking History.
	if got := admitted(l, monday.AddDate(0, 0, 7), "k1", q, 20); got != 10 {
		t.Errorf("next week: admitted %d, want 10", got)
	}
	if len(calls) != 2 {
		t.Errorf("History called again for a new window: %v", calls[2:])
	}
	// Other keys ask for themselves.
	if got := admitted(l, base, "k2", q, 10); got != 3 {
		t.Errorf("k2: admitted %d, want 3", got)
	}
	if len(calls) != 3 || calls[2].key != "k2" {
		t.Errorf("History calls %v, want a third for k2", calls)
	}
}

func TestHistoryOverLimit(t *testing.T) {
	l := limit.NewLocal(func(string, limit.Kind, time.Time, time.Time) int64 { return 1 << 40 })
	q := limit.Counter{Kind: limit.Quota, Scope: "p1", Limit: 10, Period: keyward.PeriodDay, Cost: 1}
	d := charge(l, base, "k1", q)
	if d.OK || d.RetryAfter != 14*time.Hour {
		t.Errorf("got %+v, want refused until midnight", d)
	}
}

func TestHistoryNegative(t *testing.T) {
	l := limit.NewLocal(func(string, limit.Kind, time.Time, time.Time) int64 { return -5 })
	q := limit.Counter{Kind: limit.Quota, Scope: "p1", Limit: 10, Period: keyward.PeriodDay, Cost: 1}
	if got := admitted(l, base, "k1", q, 20); got != 10 {
		t.Errorf("admitted %d, want 10", got)
	}
}

// TestPeriodChange pins Local's choice where Limiter leaves it open: a
// quota whose window definition changes keeps what was used if it was used
// within the new window, else starts at zero.
func TestPeriodChange(t *testing.T) {
	l := limit.NewLocal(nil)
	q := limit.Counter{Kind: limit.Quota, Scope: "p1", Limit: 10, Period: keyward.PeriodDay, Cost: 1}
	admitted(l, base, "k1", q, 4)
	q.Period = keyward.PeriodMonth // 1 March on: contains today
	if got := admitted(l, base, "k1", q, 20); got != 6 {
		t.Errorf("day -> month: admitted %d, want 6", got)
	}
	q.Period, q.Offset = keyward.PeriodWeek, 3 // from Wednesday 5 March: after 1 March
	if got := admitted(l, base, "k1", q, 20); got != 10 {
		t.Errorf("month -> week from today: admitted %d, want 10", got)
	}
}

func TestSweep(t *testing.T) {
	l := limit.NewLocal(nil)
	th := limit.Counter{Kind: limit.Throttle, Scope: "p1", Rate: 1, Burst: 2, Cost: 1}
	q := limit.Counter{Kind: limit.Quota, Scope: "p1", Limit: 2, Period: keyward.PeriodDay, Cost: 1}
	charge(l, base, "idle", th, q)
	charge(l, base, "throttled", th)
	charge(l, base, "quota", q)
	if n := l.Sweep(base); n != 0 {
		t.Errorf("Sweep right away dropped %d keys", n)
	}
	// After 1s buckets are full again; the day's quota is still in use.
	if n := l.Sweep(base.Add(time.Second)); n != 1 {
		t.Errorf("Sweep after 1s dropped %d keys, want 1 (throttled)", n)
	}
	if n := l.Sweep(base.Add(14 * time.Hour)); n != 2 {
		t.Errorf("Sweep tomorrow dropped %d keys, want 2", n)
	}
	if got := admitted(l, base.Add(14*time.Hour), "quota", q, 5); got != 2 {
		t.Errorf("swept key: admitted %d, want 2", got)
	}
}

// TestSweepConcurrent sweeps and forgets while keys are charged: limits stay
// exact for the keys not forgotten.
func TestSweepConcurrent(t *testing.T) {
	l := limit.NewLocal(nil)
	th := limit.Counter{Kind: limit.Throttle, Scope: "p1", Burst: 500, Cost: 1}
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				l.Sweep(base)
				l.Forget("gone")
			}
		}
	})
	var chargers sync.WaitGroup
	for range 8 {
		chargers.Go(func() {
			n := 0
			for range 200 {
				if charge(l, base, "k1", th).OK {
					n++
				}
				charge(l, base, "gone", th)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	chargers.Wait()
	close(stop)
	wg.Wait()
	if total != 500 {
		t.Errorf("admitted %d, want exactly 500", total)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[limit.Kind]string{
		limit.Throttle: "throttle", limit.Quota: "quota",
		limit.TokensPerMinute: "tokens_minute", limit.TokensPerDay: "tokens_day",
		0: "invalid", 200: "invalid",
	} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}

func TestChargeReset(t *testing.T) {
	var c limit.Charge
	c.Key = "k1"
	c.Add(limit.Counter{Kind: limit.Quota, Scope: "p1", Limit: 1, Period: keyward.PeriodDay, Cost: 1})
	l := limit.NewLocal(nil)
	if !l.ChargeAt(base, &c).OK || !c.Pending {
		t.Fatalf("first charge refused or not pending")
	}
	c.Reset()
	if c.N != 0 || c.Pending || c.Key != "k1" {
		t.Errorf("after Reset: N %d, Pending %v, Key %q", c.N, c.Pending, c.Key)
	}
}

// TestSweepKeepsMemoryFlatUnderKeyChurn: keys come, spend a little and go
// quiet, a new batch every minute of simulated time for two days. Swept
// between batches, Local holds at most the keys whose counters are still in
// use (this minute's batch, plus, for quotas, today's), not every key ever
// seen.
func TestSweepKeepsMemoryFlatUnderKeyChurn(t *testing.T) {
	l := limit.NewLocal(nil)
	th := limit.Counter{Kind: limit.Throttle, Scope: "p1", Rate: 1, Burst: 5, Cost: 1}
	tpm := limit.Counter{Kind: limit.TokensPerMinute, Scope: "p1", Limit: 1000, Cost: 10}
	const perBatch, batches = 50, 2 * 24 * 60
	now, peak := base, 0
	for b := range batches {
		for i := range perBatch {
			if !charge(l, now, fmt.Sprintf("key-%d-%d", b, i), th, tpm).OK {
				t.Fatalf("batch %d key %d refused", b, i)
			}
		}
		peak = max(peak, l.Len())
		now = now.Add(time.Minute)
		l.Sweep(now)
		if n := l.Len(); n != 0 {
			t.Fatalf("after batch %d and a minute at rest, %d keys kept, want 0", b, n)
		}
	}
	if peak != perBatch {
		t.Errorf("peak %d keys, want %d (one batch)", peak, perBatch)
	}

	// Quota keys stay while their day's window is open, and go with it.
	q := limit.Counter{Kind: limit.Quota, Scope: "p1", Limit: 100, Period: keyward.PeriodDay, Cost: 1}
	day := time.Date(2025, time.March, 6, 0, 0, 0, 0, time.UTC)
	for h := range 48 {
		now = day.Add(time.Duration(h) * time.Hour)
		for i := range perBatch {
			charge(l, now, fmt.Sprintf("q-%d-%d", h, i), q)
		}
		l.Sweep(now.Add(time.Hour))
		want := perBatch * (h%24 + 1) // today's keys
		if h%24 == 23 {
			want = 0 // swept at midnight: the day's window has ended
		}
		if n := l.Len(); n != want {
			t.Fatalf("hour %d: %d keys kept, want %d", h, n, want)
		}
	}
}
