package limit

import (
	"hash/maphash"
	"sync"
)

// keyMap maps key IDs to their states. It is sharded so that lookups of
// different keys rarely touch the same lock's cache line; a lookup is one
// read-locked map access. The zero keyMap is empty and ready to use.
type keyMap struct {
	shards [64]keyShard
}

type keyShard struct {
	mu sync.RWMutex
	m  map[string]*keyState
	_  [64 - 24 - 8]byte // one shard per cache line
}

var keySeed = maphash.MakeSeed()

func (km *keyMap) shard(key string) *keyShard {
	return &km.shards[maphash.String(keySeed, key)%uint64(len(km.shards))]
}

// load returns key's state, or nil.
func (km *keyMap) load(key string) *keyState {
	sh := km.shard(key)
	sh.mu.RLock()
	ks := sh.m[key]
	sh.mu.RUnlock()
	return ks
}

// loadOrCreate returns key's state, creating it if needed.
func (km *keyMap) loadOrCreate(key string) *keyState {
	sh := km.shard(key)
	sh.mu.RLock()
	ks := sh.m[key]
	sh.mu.RUnlock()
	if ks != nil {
		return ks
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if ks = sh.m[key]; ks == nil {
		if sh.m == nil {
			sh.m = make(map[string]*keyState)
		}
		ks = &keyState{}
		sh.m[key] = ks
	}
	return ks
}

// remove removes key and returns the state it had, or nil.
func (km *keyMap) remove(key string) *keyState {
	sh := km.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ks := sh.m[key]
	delete(sh.m, key)
	return ks
}

// removeIf removes every key for which drop, called with the shard locked,
// returns true.
func (km *keyMap) removeIf(drop func(ks *keyState) bool) {
	for i := range km.shards {
		sh := &km.shards[i]
		sh.mu.Lock()
		for k, ks := range sh.m {
			if drop(ks) {
				delete(sh.m, k)
			}
		}
		sh.mu.Unlock()
	}
}

// len returns the number of keys.
func (km *keyMap) len() int {
	n := 0
	for i := range km.shards {
		sh := &km.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
