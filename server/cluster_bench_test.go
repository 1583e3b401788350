package server_test

import (
	"context"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keyward/keyward"
	"github.com/keyward/keyward/mockupstream"
	"github.com/keyward/keyward/server"
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
// three-node cluster at once and reports keys/s: 16 clients per node, or
// KEYWARD_BENCH_CLIENTS in all.
//
// It measures a cluster that has been running, not one born a second ago:
// it first creates 3,000 keys and has PostgreSQL analyze the tables, as
// autovacuum does within its first minute. Before that, PostgreSQL has
// no statistics and plans the change feed's reads of the keys that
// changed as scans of every key, and keeps those plans (the nodes'
// statements are prepared) until the tables are analyzed.
//
//	go test -run '^$' -bench ClusterCreateKeys -benchtime 10000x ./server/
func BenchmarkClusterCreateKeys(b *testing.B) {
	url := clusterURL(b)
	nodes := startClusterWith(b, 3, server.Config{DatabaseURL: url})
	ctx := context.Background()
	clients := 48
	if s := os.Getenv("KEYWARD_BENCH_CLIENTS"); s != "" {
		var err error
		if clients, err = strconv.Atoi(s); err != nil || clients < 1 {
			b.Fatalf("KEYWARD_BENCH_CLIENTS=%q: want a number of clients", s)
		}
	}
	work := make(chan int)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for i := range clients {
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
	send := func(i int) {
		select {
		case work <- i:
		case err := <-errs:
			b.Fatal(err)
		}
	}
	for i := range 3000 {
		send(i)
	}
	analyze(b, url)
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		send(i)
	}
	close(work)
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "keys/s")
}

// analyze has PostgreSQL gather the statistics of the tables the cluster
// writes most, as autovacuum would.
func analyze(b *testing.B, url string) {
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "ANALYZE api_keys, credentials, plan_keys, audit_records"); err != nil {
		b.Fatal(err)
	}
}
