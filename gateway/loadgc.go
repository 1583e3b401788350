package gateway

import (
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// A full load reads about a kilobyte per key that dies at once (rows
// scanned into keys, handed to the key table, dropped), while the heap
// that survives stays a few megabytes: the key table lives off the Go
// heap. At the default GOGC=100 the collector then runs every few
// megabytes, some 500 times for a million keys, and took 12% of a
// restart. During a load the collector is paced to let loadGCHeadroom of
// garbage pile up (at most maxLoadGCPercent of the live heap), then put
// back: a process whose heap is large already keeps its pacing, and a
// setting above ours (GOGC, or GOGC=off) is left alone.
const (
	loadGCHeadroom   = 64 << 20
	maxLoadGCPercent = 800
)

// gcPacer is the process's collector setting, shared by every gateway in
// it (tests run several): the first load to start relaxes it, the last to
// end puts back what was there.
type gcPacer struct {
	mu      sync.Mutex
	loads   int
	base    int  // the setting before the first load
	changed bool // base was replaced (and is put back)
	// set and liveHeap are debug.SetGCPercent and the live heap's size,
	// replaced in tests.
	set      func(int) int
	liveHeap func() uint64
}

var loadGC = &gcPacer{set: debug.SetGCPercent, liveHeap: liveHeapBytes}

// relax paces the collector for a load until the returned func is called.
func (p *gcPacer) relax() (restore func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.loads == 0 {
		pct := maxLoadGCPercent
		if live := p.liveHeap(); live > 0 {
			pct = int(min(uint64(maxLoadGCPercent), loadGCHeadroom*100/live))
		}
		p.base = p.set(pct)
		p.changed = p.base >= 0 && p.base < pct
		if !p.changed {
			p.set(p.base)
		}
	}
	p.loads++
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.loads--; p.loads == 0 && p.changed {
				p.set(p.base)
				p.changed = false
			}
		})
	}
}

func liveHeapBytes() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
