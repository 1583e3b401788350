package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
	"github.com/keyward/keyward/sqlite"
)

// seedKeys writes n keys with one credential each straight into the
// store of a data dir (no audit records: this measures loading, not
// creating).
func seedKeys(tb testing.TB, dir string, n int) {
	tb.Helper()
	ctx := context.Background()
	srv, err := server.Open(ctx, server.Config{DataDir: dir, AdminAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0", LogLevel: "error"}, io.Discard)
	if err != nil {
		tb.Fatal(err)
	}
	srv.Close()
	db, err := sqlite.Open(ctx, filepath.Join(dir, server.DatabaseFile))
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	const batch = 10_000
	for start := 0; start < n; start += batch {
		err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
			for i := start; i < min(start+batch, n); i++ {
				id := fmt.Sprintf("key_%020d", i)
				if err := tx.InsertKey(ctx, &keyward.APIKey{ID: id, Name: id, Enabled: true, CreatedAt: now, UpdatedAt: now}); err != nil {
					return err
				}
				var seed [8]byte
				binary.BigEndian.PutUint64(seed[:], uint64(i))
				d := sha256.Sum256(seed[:])
				if err := tx.InsertCredential(ctx, &keyward.Credential{ID: "cred_" + id[4:], KeyID: id, Label: keyward.LabelCurrent,
					Hint: "kw_…" + id[len(id)-4:], CreatedAt: now, Digest: d[:]}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkRestartToReady opens a server on a data dir holding
// $KEYWARD_BENCH_KEYS keys (default 20,000) until its gateway admits
// requests: what a restart costs. It reports the live heap after. With
// $KEYWARD_BENCH_DIR it opens that data dir instead (one bench/scale.sh
// kept with W=dir, for instance: W/data).
//
//	KEYWARD_BENCH_KEYS=100000 go test -run '^$' -bench RestartToReady -benchtime 3x ./server/
//	KEYWARD_BENCH_DIR=/tmp/kwscale/data go test -run '^$' -bench RestartToReady -benchtime 1x -cpu 1 ./server/
func BenchmarkRestartToReady(b *testing.B) {
	n := 20_000
	if s := os.Getenv("KEYWARD_BENCH_KEYS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	dir := os.Getenv("KEYWARD_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
		seedKeys(b, dir, n)
		b.ReportMetric(float64(n), "keys")
	}
	ctx := context.Background()
	var heap uint64
	for b.Loop() {
		srv, err := server.Open(ctx, server.Config{DataDir: dir, AdminAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0", LogLevel: "error"}, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = ms.HeapAlloc
		srv.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(heap)/1e6, "heapMB")
}
