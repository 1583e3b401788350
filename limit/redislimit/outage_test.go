package redislimit_test

import (
	"context"
	"errors"
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

// outageNodes starts a Redis of the test's own and three limiters on it.
func outageNodes(t *testing.T, mode redislimit.Mode) (*testredis.Server, []*redislimit.Limiter) {
	r := testredis.Start(t, testredis.Options{})
	ls := make([]*redislimit.Limiter, 3)
	for i := range ls {
		rdb, err := redislimit.Connect(r.URL, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rdb.Close() })
		ls[i] = redislimit.New(context.Background(), rdb, redislimit.Options{MaxLease: 16, Unavailable: mode,
			ProbeEvery: 200 * time.Millisecond})
		t.Cleanup(func() { ls[i].Close() })
	}
	for _, l := range ls {
		if !l.Available() || l.Nodes() < 1 {
			t.Fatalf("limiter not on Redis at start")
		}
	}
	return r, ls
}

// load charges one quota on every node until stop, and counts per node
// what was admitted, refused and failed.
type load struct {
	admitted, refused, failed [3]atomic.Int64
	stop                      chan struct{}
	wg                        sync.WaitGroup
}

func startLoad(t *testing.T, ls []*redislimit.Limiter, ct limit.Counter) *load {
	ld := &load{stop: make(chan struct{})}
	for i, l := range ls {
		ld.wg.Add(1)
		go func() {
			defer ld.wg.Done()
			for {
				select {
				case <-ld.stop:
					return
				default:
				}
				c := &limit.Charge{Key: "key_outage"}
				c.Add(ct)
				d, err := l.Charge(context.Background(), time.Now(), c)
				switch {
				case errors.Is(err, redislimit.ErrUnavailable):
					ld.failed[i].Add(1)
				case err != nil:
					t.Errorf("node %d: unexpected error %v", i, err)
					return
				case d.OK:
					ld.admitted[i].Add(1)
				default:
					ld.refused[i].Add(1)
				}
				time.Sleep(200 * time.Microsecond)
			}
		}()
	}
	return ld
}

func (ld *load) end() { close(ld.stop); ld.wg.Wait() }

func waitAvailable(t *testing.T, ls []*redislimit.Limiter, within time.Duration) time.Duration {
	start := time.Now()
	for time.Since(start) < within {
		ok := true
		for _, l := range ls {
			ok = ok && l.Available()
		}
		if ok {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("limiters not back on Redis within %v", within)
	return 0
}

// Failing closed: Redis killed under load, every node refuses with
// ErrUnavailable (the gateway's 503) at once, never admits unmetered, and
// is back on Redis within 5 s of Redis coming back.
func TestRedisDownFailsClosed(t *testing.T) {
	r, ls := outageNodes(t, redislimit.FailClosed)
	ct := limit.Counter{Kind: limit.Throttle, Scope: "plan", Rate: 1e6, Burst: 1e6, Cost: 1}
	ld := startLoad(t, ls, ct)
	time.Sleep(200 * time.Millisecond)
	r.Stop()
	time.Sleep(300 * time.Millisecond) // every node notices
	before := [3]int64{}
	for i := range 3 {
		before[i] = ld.admitted[i].Load()
	}
	time.Sleep(300 * time.Millisecond)
	for i := range 3 {
		if got := ld.admitted[i].Load(); got != before[i] {
			t.Errorf("node %d admitted %d requests with Redis down, failing closed", i, got-before[i])
		}
		if ld.failed[i].Load() == 0 {
			t.Errorf("node %d never answered unavailable", i)
		}
	}
	r.Start()
	took := waitAvailable(t, ls, 5*time.Second)
	time.Sleep(100 * time.Millisecond)
	after := ld.admitted[0].Load()
	time.Sleep(200 * time.Millisecond)
	ld.end()
	if ld.admitted[0].Load() == after {
		t.Error("node 0 admits nothing after Redis came back")
	}
	t.Logf("back on Redis %v after it restarted", took)
}

// Failing open: with Redis killed, each node enforces its share of the
// limit (the limit divided by the three nodes it last saw), so the
// cluster admits the limit, not three times it; back on Redis within 5 s.
func TestRedisDownFailsOpenWithAShare(t *testing.T) {
	r, ls := outageNodes(t, redislimit.FailOpen)
	for _, l := range ls {
		if l.Nodes() < 3 {
			// the last node's first heartbeat saw all three; the first
			// ones see them at their next beat
			time.Sleep(2100 * time.Millisecond)
			break
		}
	}
	for i, l := range ls {
		if l.Nodes() != 3 {
			t.Fatalf("node %d sees %d nodes", i, l.Nodes())
		}
	}
	r.Stop()
	ct := limit.Counter{Kind: limit.Quota, Scope: "plan", Limit: 30, Period: keyward.PeriodDay, Cost: 1}
	ld := startLoad(t, ls, ct)
	time.Sleep(500 * time.Millisecond)
	ld.end()
	for i := range 3 {
		if got := ld.admitted[i].Load(); got != 10 {
			t.Errorf("node %d admitted %d with Redis down, want its share 30/3 = 10", i, got)
		}
		if ld.failed[i].Load() != 0 {
			t.Errorf("node %d failed %d requests, failing open", i, ld.failed[i].Load())
		}
	}
	r.Start()
	t.Logf("back on Redis %v after it restarted", waitAvailable(t, ls, 5*time.Second))
}

// rediss:// with the CA file that signed the server's certificate works;
// without it the certificate is not trusted, and a CA file on a plain
// redis:// URL is refused rather than ignored.
func TestRedisOverTLS(t *testing.T) {
	r := testredis.Start(t, testredis.Options{TLS: true})
	rdb, err := redislimit.Connect(r.URL, r.CA)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if err := redislimit.Ping(rdb, 2*time.Second); err != nil {
		t.Fatalf("rediss with the CA: %v", err)
	}
	l := redislimit.New(context.Background(), rdb, redislimit.Options{})
	defer l.Close()
	c := &limit.Charge{Key: "k"}
	c.Add(limit.Counter{Kind: limit.Quota, Scope: "p", Limit: 1, Period: keyward.PeriodDay, Cost: 1})
	if d, err := l.Charge(context.Background(), time.Now(), c); err != nil || !d.OK {
		t.Fatalf("charge over TLS: %+v %v", d, err)
	}
	untrusted, err := redislimit.Connect(r.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	defer untrusted.Close()
	if err := redislimit.Ping(untrusted, 2*time.Second); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("rediss without the CA: %v, want a certificate error", err)
	}
	if _, err := redislimit.Connect(strings.Replace(r.URL, "rediss://", "redis://", 1), r.CA); err == nil {
		t.Fatal("a CA file with a redis:// URL was accepted")
	}
	if _, err := redislimit.Connect(r.URL+"?skip_verify=true", ""); err == nil {
		t.Fatal("a rediss:// URL that skips verification was accepted")
	}
	var _ *redis.Client = rdb
}
