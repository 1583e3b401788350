package keyvalue_test

import (
	"encoding/binary"
	"sync"
	"testing"

	"github.com/keyward/keyward/keyvalue"
)

func digestN(i int) keyvalue.Digest {
	var d keyvalue.Digest
	binary.BigEndian.PutUint64(d[:], uint64(i))
	return d
}

func TestIndexZeroValue(t *testing.T) {
	var ix keyvalue.Index[string]
	if _, ok := ix.Lookup(digestN(1)); ok {
		t.Fatal("empty index found an entry")
	}
	ix.Delete(digestN(1)) // must not panic on an empty index
	ix.Put(digestN(1), "a")
	ix.Put(digestN(1), "b")
	if v, ok := ix.Lookup(digestN(1)); !ok || v != "b" {
		t.Fatalf("Lookup = %q, %v; want the replaced value", v, ok)
	}
	if ix.Len() != 1 {
		t.Fatalf("Len = %d, want 1", ix.Len())
	}
	ix.Delete(digestN(1))
	if _, ok := ix.Lookup(digestN(1)); ok || ix.Len() != 0 {
		t.Fatal("entry survived Delete")
	}
}

// TestIndexConcurrent is meant for -race: readers run while writers add and
// remove entries, and every reader sees either nothing or the right value.
func TestIndexConcurrent(t *testing.T) {
	var ix keyvalue.Index[int]
	const n = 2000
	for i := range n / 2 {
		ix.Put(digestN(i), i)
	}
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := n / 2; i < n; i++ {
				if i%2 == w {
					ix.Put(digestN(i), i)
				}
			}
			for i := range n / 4 {
				if i%2 == w {
					ix.Delete(digestN(i))
				}
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for i := range n {
				if v, ok := ix.Lookup(digestN(i)); ok && v != i {
					t.Errorf("Lookup(%d) = %d", i, v)
					return
				}
			}
		})
	}
	wg.Wait()
	if got, want := ix.Len(), n-n/4; got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
	for i := n / 4; i < n; i++ {
		if v, ok := ix.Lookup(digestN(i)); !ok || v != i {
			t.Fatalf("entry %d missing after concurrent writes", i)
		}
	}
}
