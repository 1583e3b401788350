package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testredis"
	"github.com/keyward/keyward/mockupstream"
	"github.com/keyward/keyward/server"
)

// TestClusterSharesPlanLimitsThroughRedis: three nodes on one PostgreSQL
// and one Redis, a plan of 100 requests a DAY, requests spread over the
// three gateways at once. The cluster admits exactly 100, not 300 (what
// limits per node would give), refuses the rest with 429, and the key's
// usage, written by all three nodes, sums to 100.
func TestClusterSharesPlanLimitsThroughRedis(t *testing.T) {
	nodes := startClusterWith(t, 3, server.Config{RedisURL: testredis.MachineURL(t)})
	ctx := context.Background()
	up := httptest.NewServer(mockupstream.Handler())
	t.Cleanup(up.Close)
	if _, err := nodes[0].client.CreateAPI(ctx, keyward.APICreate{Name: "chat", OpenAICompatible: true,
		Stages: []keyward.Stage{{Name: "prod", UpstreamURL: up.URL}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[1].client.CreatePlan(ctx, keyward.PlanCreate{Name: "gold",
		Quota:     &keyward.Quota{Limit: 100, Period: keyward.PeriodDay},
		APIStages: []keyward.PlanStage{{APIID: "chat", Stage: "prod"}}}); err != nil {
		t.Fatal(err)
	}
	created, err := nodes[2].client.CreateKey(ctx, keyward.KeyCreate{Name: "k", PlanIDs: []string{"gold"},
		StageKeys: []keyward.StageKey{{APIID: "chat", Stage: "prod"}}})
	if err != nil {
		t.Fatal(err)
	}
	// Until every node knows the key; what the probes are admitted
	// counts against the plan too.
	var probes atomic.Int64
	for i, n := range nodes {
		eventually(t, fmt.Sprintf("node %d knows the key", i), func() bool {
			code := chat(t, n.srv.GatewayURL(), created.Value)
			if code == http.StatusOK {
				probes.Add(1)
			}
			return code != http.StatusUnauthorized
		})
	}
	var ok, limited, unavailable, other atomic.Int64
	var wg sync.WaitGroup
	for i := range 12 {
		gw := nodes[i%3].srv.GatewayURL()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 40 {
				switch chat(t, gw, created.Value) {
				case http.StatusOK:
					ok.Add(1)
				case http.StatusTooManyRequests:
					limited.Add(1)
				case http.StatusServiceUnavailable:
					// Redis slower than the limiter's call timeout
					// (a loaded CI machine): refused, never admitted.
					unavailable.Add(1)
				default:
					other.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := unavailable.Load(); n > 0 {
		t.Logf("%d answers were 503: Redis did not answer within the call timeout", n)
	}
	// The probes above may have been admitted too: count them in.
	if got := ok.Load() + probes.Load(); got != 100 {
		t.Errorf("the cluster admitted %d requests on a 100/DAY plan (%d through probes), want exactly 100", got, probes.Load())
	}
	if other.Load() != 0 {
		t.Errorf("%d answers were neither 200, 429 nor 503", other.Load())
	}
	// A throttle of rate R and burst B over the three gateways, hammered
	// together for T: at most B + R·T admitted (the 1% is the edges of T,
	// measured here rather than on Redis's clock), and most of it.
	const rate, burst = 100.0, 20
	if _, err := nodes[0].client.CreatePlan(ctx, keyward.PlanCreate{Name: "metered",
		Throttle:  &keyward.Throttle{RateLimit: rate, BurstLimit: burst},
		APIStages: []keyward.PlanStage{{APIID: "chat", Stage: "prod"}}}); err != nil {
		t.Fatal(err)
	}
	tk, err := nodes[1].client.CreateKey(ctx, keyward.KeyCreate{Name: "t", PlanIDs: []string{"metered"},
		StageKeys: []keyward.StageKey{{APIID: "chat", Stage: "prod"}}})
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		eventually(t, fmt.Sprintf("node %d knows the throttled key", i), func() bool {
			return chat(t, n.srv.GatewayURL(), tk.Value) != http.StatusUnauthorized
		})
	}
	time.Sleep(time.Duration(float64(burst)/rate*float64(time.Second)) + 100*time.Millisecond) // the bucket is full again
	var perNode [3]atomic.Int64
	start := time.Now()
	deadline := start.Add(2 * time.Second)
	for i := range 12 {
		gw := nodes[i%3].srv.GatewayURL()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if chat(t, gw, tk.Value) == http.StatusOK {
					perNode[i%3].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	total := perNode[0].Load() + perNode[1].Load() + perNode[2].Load()
	bound := burst + rate*elapsed.Seconds()
	t.Logf("throttle: admitted %d/%d/%d = %d in %v; B + R·T = %.0f", perNode[0].Load(), perNode[1].Load(), perNode[2].Load(),
		total, elapsed.Round(time.Millisecond), bound)
	if float64(total) > bound*1.01 {
		t.Errorf("the cluster admitted %d on a throttle of %v/s burst %d over %v: more than B + R·T = %.0f", total, rate, burst, elapsed, bound)
	}
	if float64(total) < bound*0.9 {
		t.Errorf("the cluster admitted %d, under 90%% of B + R·T = %.0f", total, bound)
	}

	// Each node records what it admitted; the report sums the nodes.
	now := time.Now().UTC()
	eventually(t, "usage summed over the nodes", func() bool {
		days, err := nodes[0].client.GetKeyUsage(ctx, created.Key.ID, now.AddDate(0, 0, -1), now.AddDate(0, 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, d := range days {
			n += d.Requests
		}
		return n == 100
	})
}
