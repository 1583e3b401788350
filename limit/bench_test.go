package limit_test

import (
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/limit"
)

// benchCharge returns what the gateway charges for an LLM request under a
// plan with a throttle, a monthly quota and tokens per minute; the limits
// are high enough that every request passes.
func benchCharge(key string) limit.Charge {
	c := limit.Charge{Key: key}
	c.Add(limit.Counter{Kind: limit.Throttle, Scope: "plan-1|api-1/prod", Rate: 1e9, Burst: 1e9, Cost: 1})
	c.Add(limit.Counter{Kind: limit.Quota, Scope: "plan-1", Limit: math.MaxInt64 / 2, Period: keyward.PeriodMonth, Cost: 1})
	c.Add(limit.Counter{Kind: limit.TokensPerMinute, Scope: "plan-1", Limit: math.MaxInt64 / 2, Cost: 4096})
	return c
}

// BenchmarkCharge charges one key's three counters, time advancing 1µs a
// request.
func BenchmarkCharge(b *testing.B) {
	l := limit.NewLocal(nil)
	c := benchCharge("key-1")
	now := base
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Microsecond)
		l.ChargeAt(now, &c)
	}
}

// BenchmarkChargeSettle adds Settle, as for every LLM request.
func BenchmarkChargeSettle(b *testing.B) {
	l := limit.NewLocal(nil)
	c := benchCharge("key-1")
	now := base
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Microsecond)
		l.ChargeAt(now, &c)
		l.SettleAt(now, &c, 500)
	}
}

// BenchmarkChargeParallel charges 10,000 keys from every CPU at once.
func BenchmarkChargeParallel(b *testing.B) {
	const keys = 10_000
	l := limit.NewLocal(nil)
	for k := range keys {
		c := benchCharge(fmt.Sprintf("key-%d", k))
		l.ChargeAt(base, &c)
	}
	var worker atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := int(worker.Add(1))
		cs := make([]limit.Charge, 64) // each worker its own Charges
		for i := range cs {
			cs[i] = benchCharge(fmt.Sprintf("key-%d", (w*7919+i*131)%keys))
		}
		now := base
		for i := 0; pb.Next(); i++ {
			now = now.Add(time.Microsecond)
			l.ChargeAt(now, &cs[i%len(cs)])
		}
	})
}

// BenchmarkChargeContended charges one key from every CPU at once: the
// worst case, a single caller's burst.
func BenchmarkChargeContended(b *testing.B) {
	l := limit.NewLocal(nil)
	c := benchCharge("key-1")
	l.ChargeAt(base, &c)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c := benchCharge("key-1")
		for pb.Next() {
			l.ChargeAt(base, &c)
		}
	})
}
