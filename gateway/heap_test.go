package gateway

import (
	"runtime"
	"testing"

	"github.com/keyward/keyward/changefeed"
)

// heapPerKey is the memory a gateway of n keys takes per key: the live
// heap, plus all that its key table has mapped outside the heap
// (capacity, not only what is touched: an upper bound).
func heapPerKey(t *testing.T, n int) float64 {
	t.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	g, src, _ := manyKeysGateway(t, n, &changefeed.Local{})
	src.snap = nil // the snapshot is the store's, not the gateway's
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(g)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)+int64(g.keys.bytes())) / float64(n)
}

// maxHeapPerKey guards the gateway's memory per key: 677 bytes before keys
// configured alike shared their access map and plan rules, 349 after, 317
// with times as Unix nanoseconds, 195 with the key table's fixed-size
// records outside the heap (of which about 100 are the records
// themselves and the rest room to grow). A million keys must fit the
// server in 300 MB, store cache included.
const maxHeapPerKey = 230

// TestHeapPerKey measures the live heap of a table of 50,000 keys (each
// with one credential, on one plan) and fails above maxHeapPerKey, so that
// a regression shows in CI without a timed test.
func TestHeapPerKey(t *testing.T) {
	got := heapPerKey(t, 50_000)
	t.Logf("heap per key at 50,000 keys: %.0f bytes", got)
	if got > maxHeapPerKey {
		t.Errorf("the gateway holds %.0f bytes per key, more than %d", got, maxHeapPerKey)
	}
}
