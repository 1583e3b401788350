package gateway

import (
	"runtime"
	"testing"
)

// fakeGC stands in for the runtime's collector setting.
type fakeGC struct{ pct int }

func (f *fakeGC) pacer(live uint64) *gcPacer {
	return &gcPacer{
		set:      func(p int) int { old := f.pct; f.pct = p; return old },
		liveHeap: func() uint64 { return live },
	}
}

func TestALoadRelaxesTheCollectorAndPutsItBack(t *testing.T) {
	f := &fakeGC{pct: 100}
	p := f.pacer(4 << 20) // 4 MiB live: 64 MiB of headroom is 1600%, capped
	restore := p.relax()
	if f.pct != maxLoadGCPercent {
		t.Fatalf("during the load GOGC is %d, want %d", f.pct, maxLoadGCPercent)
	}
	restore()
	if f.pct != 100 {
		t.Fatalf("after the load GOGC is %d, want 100 back", f.pct)
	}
	restore() // a second call changes nothing
	if f.pct != 100 {
		t.Fatalf("a second restore set GOGC to %d", f.pct)
	}
}

func TestOverlappingLoadsPutBackTheSettingBeforeTheFirst(t *testing.T) {
	f := &fakeGC{pct: 100}
	p := f.pacer(1 << 20)
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
	// setting is left as it was.
	f := &fakeGC{pct: 100}
	p := f.pacer(256 << 20)
	restore := p.relax()
	if f.pct != 100 {
		t.Fatalf("GOGC is %d during the load of a large heap, want 100", f.pct)
	}
	restore()
	if f.pct != 100 {
		t.Fatalf("GOGC is %d after", f.pct)
	}
}

func TestTheOperatorsSettingWinsWhenHigherOrOff(t *testing.T) {
	for _, set := range []int{-1, 2000} { // GOGC=off, GOGC=2000
		f := &fakeGC{pct: set}
		p := f.pacer(2 << 20)
		restore := p.relax()
		if f.pct != set {
			t.Fatalf("GOGC=%d became %d during a load", set, f.pct)
		}
		restore()
		if f.pct != set {
			t.Fatalf("GOGC=%d became %d after a load", set, f.pct)
		}
	}
}

func TestTheLiveHeapIsRead(t *testing.T) {
	keep := make([]byte, 8<<20)
	runtime.GC()
	if live := liveHeapBytes(); live < 8<<20 {
		t.Fatalf("live heap read as %d bytes with 8 MiB held", live)
	}
	runtime.KeepAlive(keep)
}
