package sqlstore

import (
	"math/rand/v2"
	"testing"
)

// TestPrefixSetAgreesWithAMap: through several growths, with the prefix 0
// and with prefixes that collide on their low bits, the set answers as a
// Go map does for what was added and for what was not.
func TestPrefixSetAgreesWithAMap(t *testing.T) {
	var s prefixSet
	defer s.free()
	want := map[uint64]bool{}
	r := rand.New(rand.NewPCG(1, 2))
	add := func(p uint64) {
		s.add(p)
		want[p] = true
	}
	add(0)
	for i := range 20000 {
		add(r.Uint64())
		add(uint64(i) << 40) // same low bits
		if i%7 == 0 {
			add(uint64(i) << 40) // again: no second slot
		}
	}
	if s.n != len(want)-1 { // 0 is kept apart
		t.Errorf("slots used: %d, want %d", s.n, len(want)-1)
	}
	for p := range want {
		if !s.has(p) {
			t.Fatalf("has(%#x) = false after add", p)
		}
	}
	for range 20000 {
		if p := r.Uint64(); !want[p] && s.has(p) {
			t.Fatalf("has(%#x) = true, never added", p)
		}
	}
	if s.has(1 << 63) {
		t.Error("has(1<<63) = true, never added")
	}
}
