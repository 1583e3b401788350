package gateway

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// fakeGC stands in for the runtime's collector setting and live heap.
type fakeGC struct {
	pct  int
	live uint64
	sets []int // every setting made, in order
}

func (f *fakeGC) pacer() *gcPacer {
	return &gcPacer{
		get:      func() int { return f.pct },
		set:      func(p int) int { old := f.pct; f.pct = p; f.sets = append(f.sets, p); return old },
		liveHeap: func() uint64 { return f.live },
	}
}

func TestALoadRelaxesTheCollectorAndPutsItBack(t *testing.T) {
	f := &fakeGC{pct: 100, live: 4 << 20} // 64 MiB over 4 MiB is 1600%, capped
	p := f.pacer()
	restore := p.relax()
	if f.pct != maxLoadGCPercent {
		t.Fatalf("during the load GOGC is %d, want %d", f.pct, maxLoadGCPercent)
	}
	restore()
	if f.pct != 100 {
		t.Fatalf("after the load GOGC is %d, want 100 back", f.pct)
	}
	restore() // a second call changes nothing
	if f.pct != 100 || len(f.sets) != 2 {
		t.Fatalf("a second restore: GOGC %d after settings %v", f.pct, f.sets)
	}
}

func TestOverlappingLoadsPutBackTheSettingBeforeTheFirst(t *testing.T) {
	f := &fakeGC{pct: 100, live: 1 << 20}
	p := f.pacer()
	a := p.relax()
	b := p.relax()
	a() // the first to start ends first: the second still loads
	if f.pct != maxLoadGCPercent {
		t.Fatalf("with a load still running GOGC is %d", f.pct)
	}
	b()
	if f.pct != 100 {
		t.Fatalf("after both loads GOGC is %d, want 100", f.pct)
	}
}

func TestALargeHeapKeepsItsPacing(t *testing.T) {
	// 256 MiB live: 64 MiB of headroom is 25%, below the default; the
	// setting is not touched at all.
	f := &fakeGC{pct: 100, live: 256 << 20}
	restore := f.pacer().relax()
	restore()
	if f.pct != 100 || len(f.sets) != 0 {
		t.Fatalf("a load over a large heap set GOGC %v", f.sets)
	}
}

// The setting is read, not set and set back: in between, a collection
// could run under a setting the operator did not choose (the review's
// reproduction caught one under GOGC=off).
func TestTheOperatorsSettingIsNeverTouchedWhenHigherOrOff(t *testing.T) {
	for _, set := range []int{-1, maxLoadGCPercent, 2000} {
		f := &fakeGC{pct: set, live: 2 << 20}
		p := f.pacer()
		restore := p.relax()
		p.adjust()
		restore()
		if f.pct != set || len(f.sets) != 0 {
			t.Fatalf("GOGC=%d: a load made the settings %v", set, f.sets)
		}
	}
}

// What a load keeps (per-key metric series, for one) grows the live heap
// as it goes; the percentage shrinks with it so the garbage allowed stays
// near the headroom, down to the operator's setting.
func TestTheHeadroomFollowsAGrowingLiveHeap(t *testing.T) {
	f := &fakeGC{pct: 100, live: 2 << 20}
	p := f.pacer()
	restore := p.relax()
	if f.pct != maxLoadGCPercent {
		t.Fatalf("at 2 MiB live GOGC is %d", f.pct)
	}
	f.live = 32 << 20
	p.adjust()
	if f.pct != 200 { // 64 MiB over 32 MiB
		t.Fatalf("at 32 MiB live GOGC is %d, want 200", f.pct)
	}
	f.live = 1 << 30
	p.adjust()
	if f.pct != 100 {
		t.Fatalf("at 1 GiB live GOGC is %d, want the operator's 100 back", f.pct)
	}
	f.live = 2 << 20 // a collection freed much: stays put back
	p.adjust()
	restore()
	if f.pct != 100 {
		t.Fatalf("after the load GOGC is %d", f.pct)
	}
	if want := []int{maxLoadGCPercent, 200, 100}; len(f.sets) != len(want) || f.sets[0] != want[0] || f.sets[1] != want[1] || f.sets[2] != want[2] {
		t.Fatalf("settings %v, want %v", f.sets, want)
	}
}

func TestTheRuntimesSettingAndLiveHeapAreRead(t *testing.T) {
	old := debug.SetGCPercent(250)
	defer debug.SetGCPercent(old)
	if got := gcPercent(); got != 250 {
		t.Fatalf("GOGC read as %d, want 250", got)
	}
	debug.SetGCPercent(-1)
	if got := gcPercent(); got != -1 {
		t.Fatalf("GOGC=off read as %d, want -1", got)
	}
	debug.SetGCPercent(old)
	keep := make([]byte, 8<<20)
	runtime.GC()
	if live := liveHeapBytes(); live < 8<<20 {
		t.Fatalf("live heap read as %d bytes with 8 MiB held", live)
	}
	runtime.KeepAlive(keep)
}
