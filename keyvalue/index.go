package keyvalue

import "sync"

// Index maps digests to whatever the gateway needs after a key checks out
// (key id, plan, principal). It is safe for concurrent use. The zero value
// is an empty index ready to use.
//
// It is a map under a RWMutex rather than a copy-on-write map behind an
// atomic pointer: lookups are a read lock plus a map probe either way, but
// copy-on-write makes each Put copy every entry, which hurts at 100k keys.
type Index[T any] struct {
	mu sync.RWMutex
	m  map[Digest]T
}

// Put adds or replaces the entry for d.
func (ix *Index[T]) Put(d Digest, v T) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.m == nil {
		ix.m = make(map[Digest]T)
	}
	ix.m[d] = v
}

// Delete removes the entry for d, if any.
func (ix *Index[T]) Delete(d Digest) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	delete(ix.m, d)
}

// Lookup returns the entry for d. Looking up by a map probe is not constant
// time, which is fine here: d is an HMAC output an attacker cannot steer
// without the pepper, so timing reveals nothing about stored keys.
func (ix *Index[T]) Lookup(d Digest) (T, bool) {
	ix.mu.RLock()
	v, ok := ix.m[d]
	ix.mu.RUnlock()
	return v, ok
}

// Len returns the number of entries.
func (ix *Index[T]) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.m)
}

// Replace removes the entries for remove and adds put, under one lock: a
// concurrent Lookup sees all of the change or none of it. Its cost is the
// size of the change, not of the index.
func (ix *Index[T]) Replace(remove []Digest, put map[Digest]T) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.m == nil {
		ix.m = make(map[Digest]T, len(put))
	}
	for _, d := range remove {
		delete(ix.m, d)
	}
	for d, v := range put {
		ix.m[d] = v
	}
}
