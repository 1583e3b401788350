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
// restart. During a load the collector is paced to let about
// loadGCHeadroom of garbage pile up (at most maxLoadGCPercent of the live
// heap), re-sized as the live heap grows (per-key metric series live on
// the heap), then put back: a process whose heap is large keeps its
// pacing, and a setting above ours (GOGC, or GOGC=off) is never touched.
// A setting changed by other code while a load runs is overwritten when
// the load ends.
const (
	loadGCHeadroom   = 64 << 20
	maxLoadGCPercent = 800
)

// gcPacer is the process's collector setting, shared by every gateway in
// it (tests run several): the first load to start relaxes it, the last to
// end puts back what was there.
type gcPacer struct {
	mu    sync.Mutex
	loads int
	base  int // the setting before the first load
	cur   int // the setting now, while changed
	// changed: the setting was raised from base (and is put back).
	changed bool
	// get, set and liveHeap read the setting, set it (debug.SetGCPercent)
	// and read the live heap's size; replaced in tests.
	get      func() int
	set      func(int) int
	liveHeap func() uint64
}

var loadGC = &gcPacer{get: gcPercent, set: debug.SetGCPercent, liveHeap: liveHeapBytes}

// relax paces the collector for a load until the returned func is called.
func (p *gcPacer) relax() (restore func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.loads == 0 {
		p.base = p.get()
		p.changed = false
		p.pace()
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

// adjust re-sizes the setting of a running load to the live heap now:
// called as a load goes, so the garbage allowed stays near loadGCHeadroom
// when what the load keeps grows.
func (p *gcPacer) adjust() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.loads > 0 && p.changed {
		p.pace()
	}
}

// pace sets the percentage that lets loadGCHeadroom of garbage pile up
// over the live heap, never below base (GOGC=off counts as above all) and
// only when it differs from what is set. Called with p.mu held.
func (p *gcPacer) pace() {
	if p.base < 0 {
		return
	}
	want := maxLoadGCPercent
	if live := p.liveHeap(); live > 0 {
		want = int(min(uint64(maxLoadGCPercent), loadGCHeadroom*100/live))
	}
	switch {
	case want <= p.base:
		if p.changed {
			p.set(p.base)
			p.changed = false
		}
	case !p.changed || want != p.cur:
		p.set(want)
		p.cur, p.changed = want, true
	}
}

func gcPercent() int {
	return int(int64(runtimeMetric("/gc/gogc:percent", 100))) // GOGC=off reads as -1
}

func liveHeapBytes() uint64 { return runtimeMetric("/gc/heap/live:bytes", 0) }

// runtimeMetric reads one of the runtime's uint64 metrics, or def where
// this Go has no such metric.
func runtimeMetric(name string, def uint64) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return def
	}
	return s[0].Value.Uint64()
}
