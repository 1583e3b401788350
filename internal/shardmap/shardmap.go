// Package shardmap is a map from strings to pointers, sharded so that
// lookups of different keys rarely touch the same lock's cache line: a
// lookup is one read-locked map access and allocates nothing. The limiters
// keep their per-key state in one.
package shardmap

import (
	"hash/maphash"
	"sync"
)

// Map maps keys to *V. The zero Map is empty and ready to use.
type Map[V any] struct {
	shards [64]shard[V]
}

type shard[V any] struct {
	mu sync.RWMutex
	m  map[string]*V
	_  [64 - 24 - 8]byte // one shard per cache line
}

var seed = maphash.MakeSeed()

func (m *Map[V]) shard(key string) *shard[V] {
	return &m.shards[maphash.String(seed, key)%uint64(len(m.shards))]
}

// Load returns key's value, or nil.
func (m *Map[V]) Load(key string) *V {
	sh := m.shard(key)
	sh.mu.RLock()
	v := sh.m[key]
	sh.mu.RUnlock()
	return v
}

// LoadOrCreate returns key's value, storing a new(V) first if there is none.
func (m *Map[V]) LoadOrCreate(key string) *V {
	if v := m.Load(key); v != nil {
		return v
	}
	sh := m.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	v := sh.m[key]
	if v == nil {
		if sh.m == nil {
			sh.m = make(map[string]*V)
		}
		v = new(V)
		sh.m[key] = v
	}
	return v
}

// Remove removes key and returns the value it had, or nil.
func (m *Map[V]) Remove(key string) *V {
	sh := m.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	v := sh.m[key]
	delete(sh.m, key)
	return v
}

// RemoveIf removes every entry for which drop, called with its shard
// locked, returns true.
func (m *Map[V]) RemoveIf(drop func(key string, v *V) bool) {
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		for k, v := range sh.m {
			if drop(k, v) {
				delete(sh.m, k)
			}
		}
		sh.mu.Unlock()
	}
}

// Range calls fn for every entry, with its shard read-locked.
func (m *Map[V]) Range(fn func(key string, v *V)) {
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.RLock()
		for k, v := range sh.m {
			fn(k, v)
		}
		sh.mu.RUnlock()
	}
}

// Len returns the number of entries.
func (m *Map[V]) Len() int {
	n := 0
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
