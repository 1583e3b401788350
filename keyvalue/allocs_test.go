//go:build !race

// Allocation checks are built only without -race: under the race detector
// sync.Pool drops items on purpose, so the pooled HMAC allocates. CI runs
// this file in its own non-race step (.ci/run).

package keyvalue_test

import (
	"testing"

	"github.com/keyward/keyward/keyvalue"
)

func TestVerifyNoAllocs(t *testing.T) {
	h := newHasher(t, katPepper)
	var ix keyvalue.Index[int]
	ix.Put(h.Digest(katValue), 7)
	v := keyvalue.Verifier[int]{Hasher: h, Index: &ix}
	for _, value := range []string{katValue, katValue[:40] + "0", "sk-live-4f9a0c2e7b1d8e3f6a5c", "x"} {
		v.Verify(value)
		if n := testing.AllocsPerRun(500, func() { v.Verify(value) }); n != 0 {
			t.Errorf("Verify(%q) allocates %.1f times", value, n)
		}
	}
	if n := testing.AllocsPerRun(500, func() { keyvalue.Check(katValue) }); n != 0 {
		t.Errorf("Check allocates %.1f times", n)
	}
}

func TestDigestNoAllocs(t *testing.T) {
	h := newHasher(t, katPepper)
	h.Digest(katValue) // warm the pool
	if n := testing.AllocsPerRun(1000, func() { h.Digest(katValue) }); n != 0 {
		t.Fatalf("Digest allocates %.1f times per call", n)
	}
}
