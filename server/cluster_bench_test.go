package server_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/mockupstream"
)

// BenchmarkClusterChangeVisible measures how long a change made through one
// node of a three-node cluster takes to be enforced by all three gateways:
// each round enables or disables a key through the next node's admin API
// and polls every gateway until all answer accordingly. It reports the
// median, p99 and worst of b.N rounds (run it with -benchtime 100x).
//
//	go test -run '^$' -bench ClusterChangeVisible -benchtime 100x ./server/
func BenchmarkClusterChangeVisible(b *testing.B) {
	nodes := startCluster(b, 3)
	ctx := context.Background()
	up := httptest.NewServer(mockupstream.Handler())
	b.Cleanup(up.Close)
	if _, err := nodes[0].client.CreateAPI(ctx, keyward.APICreate{Name: "chat", OpenAICompatible: true,
		Stages: []keyward.Stage{{Name: "prod", UpstreamURL: up.URL}}}); err != nil {
		b.Fatal(err)
	}
	created, err := nodes[0].client.CreateKey(ctx, keyward.KeyCreate{Name: "k", StageKeys: []keyward.StageKey{{APIID: "chat", Stage: "prod"}}})
	if err != nil {
		b.Fatal(err)
	}
	var took []time.Duration
	enabled := true
	for i := 0; b.Loop(); i++ {
		enabled = !enabled
		want := 200
		if !enabled {
			want = 401
		}
		start := time.Now()
		if _, err := nodes[i%3].client.UpdateKey(ctx, created.Key.ID, keyward.KeyUpdate{Enabled: &enabled}); err != nil {
			b.Fatal(err)
		}
		for _, n := range nodes {
			for chat(b, n.srv.GatewayURL(), created.Value) != want {
				if time.Since(start) > 10*time.Second {
					b.Fatalf("round %d: not enforced within 10 s", i)
				}
			}
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	b.ReportMetric(ms(took[len(took)/2]), "p50-ms")
	b.ReportMetric(ms(took[len(took)*99/100]), "p99-ms")
	b.ReportMetric(ms(took[len(took)-1]), "max-ms")
}

// BenchmarkClusterCreateKeys creates b.N keys through the admin APIs of a
// three-node cluster at once (8 clients per node) and reports keys/s.
//
//	go test -run '^$' -bench ClusterCreateKeys -benchtime 3000x ./server/
func BenchmarkClusterCreateKeys(b *testing.B) {
	nodes := startCluster(b, 3)
	ctx := context.Background()
	work := make(chan int)
	errs := make(chan error, 24)
	var wg sync.WaitGroup
	for i := range 24 {
		n := nodes[i%3]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				if _, err := n.client.CreateKey(ctx, keyward.KeyCreate{Name: "bench"}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		select {
		case work <- i:
		case err := <-errs:
			b.Fatal(err)
		}
	}
	close(work)
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "keys/s")
}
