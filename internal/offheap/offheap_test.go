package offheap

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

type rec struct {
	a int64
	b [32]byte
	c uint32
}

func TestArrayGrowsAndKeepsValues(t *testing.T) {
	var a Array[rec]
	defer a.Free()
	for i := range 100_000 {
		if got := a.Append(rec{a: int64(i), b: [32]byte{byte(i)}, c: uint32(i * 3)}); got != i {
			t.Fatalf("Append returned %d, want %d", got, i)
		}
	}
	for i := range 100_000 {
		if r := a.At(i); r.a != int64(i) || r.b[0] != byte(i) || r.c != uint32(i*3) {
			t.Fatalf("element %d is %+v", i, *r)
		}
	}
	a.Resize(10)
	a.Resize(20)
	if r := a.At(15); *r != (rec{}) {
		t.Fatalf("a re-grown element is not zero: %+v", *r)
	}
	if a.Bytes() < 20*40 {
		t.Fatalf("Bytes %d", a.Bytes())
	}
}

func TestArrayRefusesPointers(t *testing.T) {
	for _, f := range []func(){
		func() { var a Array[string]; a.Append("x") },
		func() { var a Array[struct{ p *int }]; a.Resize(1) },
		func() { var a Array[[2][]byte]; a.Resize(1) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "pointers") {
					t.Errorf("want a panic about pointers, got %v", r)
				}
			}()
			f()
		}()
	}
}

// The arena's strings survive collections and later puts, across chunks.
func TestArenaStringsStay(t *testing.T) {
	var a Arena
	refs := make([]Ref, 0, 200_000)
	kept := make([]string, 0, 200_000)
	for i := range 200_000 {
		r := a.Put(fmt.Sprintf("key_%020d", i))
		refs = append(refs, r)
		if i%1000 == 0 {
			kept = append(kept, a.String(r))
		}
	}
	runtime.GC()
	if len(a.chunks) < 2 {
		t.Fatalf("200,000 strings fit in %d chunk", len(a.chunks))
	}
	for i, r := range refs {
		if got, want := a.String(r), fmt.Sprintf("key_%020d", i); got != want {
			t.Fatalf("ref %d is %q, want %q", i, got, want)
		}
	}
	for j, s := range kept {
		if want := fmt.Sprintf("key_%020d", j*1000); s != want {
			t.Fatalf("kept string %q, want %q", s, want)
		}
	}
	if a.String(a.Put("")) != "" {
		t.Fatal("empty string")
	}
}

// Records outside the heap do not count towards it.
func TestArrayIsNotOnTheHeap(t *testing.T) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var a Array[rec]
	defer a.Free()
	a.Resize(1_000_000)
	for i := range 1_000_000 {
		a.At(i).a = int64(i)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 1<<20 {
		t.Fatalf("the heap grew %d bytes for an off-heap array of %d", grew, a.Bytes())
	}
}
