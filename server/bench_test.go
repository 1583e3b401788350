package server_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/internal/procio"
	"github.com/keyward/keyward/server"
)

// BenchmarkCreateKeyAdminAPI creates keys through the whole admin path:
// HTTP, token authentication, policy check, one SQLite transaction with the
// key, its credential and its audit record. Reported as keys/s.
func BenchmarkCreateKeyAdminAPI(b *testing.B) {
	r := startB(b)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	c := httpapi.NewClient(r.srv.AdminURL(), r.token, hc)
	ctx := context.Background()
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.CreateKey(ctx, keyward.KeyCreate{Name: "bench", Description: "benchmark key"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "keys/s")
}

func startB(b *testing.B) *running {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.Open(ctx, server.Config{DataDir: b.TempDir(), AdminAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0", LogLevel: "warn"}, nil)
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done; srv.Close() })
	r := &running{srv: srv}
	tok, err := readToken(srv)
	if err != nil {
		b.Fatal(err)
	}
	r.token = tok
	return r
}

// BenchmarkImportKeysAdminAPI imports keys through POST /v1/keys/import
// in batches of keyward.MaxImportRows, as `keyward keys import` sends
// them, one batch after another: b.N is the number of keys. "bound" binds
// every key to a stage and a plan, as bench/scale.sh does.
//
//	go test -run '^$' -bench ImportKeysAdminAPI -benchtime 100000x ./server/
func BenchmarkImportKeysAdminAPI(b *testing.B) {
	b.Run("bare", func(b *testing.B) { benchImport(b, false) })
	b.Run("bound", func(b *testing.B) { benchImport(b, true) })
}

func benchImport(b *testing.B, bound bool) {
	r := startB(b)
	c := httpapi.NewClient(r.srv.AdminURL(), r.token, nil)
	ctx := context.Background()
	var in keyward.KeyImport
	if bound {
		if _, err := c.CreateAPI(ctx, keyward.APICreate{Name: "chat", Stages: []keyward.Stage{{Name: "prod", UpstreamURL: "http://127.0.0.1:9"}}}); err != nil {
			b.Fatal(err)
		}
		if _, err := c.CreatePlan(ctx, keyward.PlanCreate{Name: "gold", APIStages: []keyward.PlanStage{{APIID: "chat", Stage: "prod"}}}); err != nil {
			b.Fatal(err)
		}
		in.StageKeys, in.PlanIDs = []keyward.StageKey{{APIID: "chat", Stage: "prod"}}, []string{"gold"}
	}
	wrote0 := procio.WriteBytes()
	start := time.Now()
	batch := make([]keyward.KeyImportRow, 0, keyward.MaxImportRows)
	sent := 0
	flush := func() {
		if len(batch) == 0 {
			return
		}
		in.Rows = batch
		if _, err := c.ImportKeys(ctx, in); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	for i := 0; b.Loop(); i++ {
		batch = append(batch, keyward.KeyImportRow{Line: i + 2, Name: "bulk", Value: fmt.Sprintf("sk-bench-import-%024d", i)})
		sent++
		if len(batch) == keyward.MaxImportRows {
			flush()
		}
	}
	flush()
	b.ReportMetric(float64(sent)/time.Since(start).Seconds(), "keys/s")
	if wrote0 >= 0 {
		b.ReportMetric(float64(procio.WriteBytes()-wrote0)/float64(sent), "disk-B/key")
	}
}
