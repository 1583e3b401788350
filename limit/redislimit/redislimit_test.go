package redislimit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/limit"
	"github.com/keyward/keyward/limit/limittest"
	"github.com/keyward/keyward/limit/redislimit"
)

// testRedis returns a client of the machine's Redis (KEYWARD_TEST_REDIS_URL,
// default redis://127.0.0.1:6379/0). Without one the test is skipped, and
// fails under CI=true.
func testRedis(t testing.TB) *redis.Client {
	t.Helper()
	url := os.Getenv("KEYWARD_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at %s: %v (.ci/run starts it)", url, err)
		}
		t.Skipf("no Redis at %s: %v", url, err)
	}
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
