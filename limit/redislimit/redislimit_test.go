package redislimit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/testredis"
	"github.com/keyward/keyward/limit"
	"github.com/keyward/keyward/limit/limittest"
	"github.com/keyward/keyward/limit/redislimit"
)

// testRedis returns a client of the machine's Redis (testredis.MachineURL).
func testRedis(t testing.TB) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(testredis.MachineURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// prefix returns a key prefix of its own for one limiter (or one group of
// limiters that share counters), and deletes its keys at the end.
func prefix(t testing.TB, rdb *redis.Client) string {
	var b [6]byte
	rand.Read(b[:])
	p := "kwtest:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, p+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return p
}

func open(t testing.TB, rdb *redis.Client, opt redislimit.Options) *redislimit.Limiter {
	l := redislimit.New(context.Background(), rdb, opt)
	t.Cleanup(func() { l.Close() })
	return l
}

// The Redis limiter behaves as limit.Limiter documents, every charge in a
// script (time driven by the tests' now). The suite leaves reservations
// unsettled for simulated days, so they are kept longer than that here;
// their release is tested on its own.
func TestConformance(t *testing.T) {
	rdb := testRedis(t)
	limittest.Run(t, func(t *testing.T) limit.Limiter {
		return open(t, rdb, redislimit.Options{Prefix: prefix(t, rdb), CallerTime: true,
			ReservationTTL: 1000 * 24 * time.Hour})
	})
}

func TestConformanceLeased(t *testing.T) {
	rdb := testRedis(t)
	limittest.Run(t, func(t *testing.T) limit.Limiter {
		return open(t, rdb, redislimit.Options{Prefix: prefix(t, rdb), CallerTime: true,
			ReservationTTL: 1000 * 24 * time.Hour, MaxLease: 64, LeaseFor: time.Hour})
	})
}
