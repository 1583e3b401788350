package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testpg"
	"github.com/keyward/keyward/server"
)

// TestClusterSurvivesAPostgresCrashDuringWrites: two nodes on a
// PostgreSQL of the test's own (fsync on), clients creating keys through
// both; PostgreSQL is crashed (pg_ctl -m immediate: no checkpoint, every
// connection cut) in the middle and started again. Writes fail while it is
// down (503), never hang; the nodes recover by themselves; every create
// that was acknowledged is there afterwards, and the audit log verifies.
func TestClusterSurvivesAPostgresCrashDuringWrites(t *testing.T) {
	pg := testpg.Start(t, testpg.Options{})
	nodes := startClusterWith(t, 2, server.Config{DatabaseURL: pg.URL("disable") + "&connect_timeout=2"})
	ctx := context.Background()

	var mu sync.Mutex
	var acked []string
	failed := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		n := nodes[w%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				k, err := n.client.CreateKey(cctx, keyward.KeyCreate{Name: fmt.Sprintf("w%d-%d", w, i)})
				cancel()
				mu.Lock()
				if err == nil {
					acked = append(acked, k.Key.ID)
				} else {
					failed++
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	pg.Crash()
	time.Sleep(1500 * time.Millisecond)
	pg.Start()
	time.Sleep(2 * time.Second) // writes resume
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d creates acknowledged, %d failed while PostgreSQL was down", len(acked), failed)
	if failed == 0 {
		t.Fatal("no write failed: PostgreSQL was not down under the load")
	}
	eventually(t, "writes work again on both nodes", func() bool {
		for _, n := range nodes {
			if _, err := n.client.CreateKey(ctx, keyward.KeyCreate{Name: "after"}); err != nil {
				return false
			}
		}
		return true
	})
	for _, id := range acked {
		if _, err := nodes[1].client.GetKey(ctx, id); err != nil {
			t.Errorf("acknowledged key %s: %v", id, err)
		}
	}
	v, err := nodes[0].client.VerifyAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK || v.Records < int64(len(acked)) {
		t.Fatalf("audit verification after the crash: %+v", v)
	}
}
