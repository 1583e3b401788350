package offheap

import "unsafe"

// arenaChunk is the size of each of an Arena's mappings.
const arenaChunk = 1 << 20

// Arena stores short strings outside the Go heap, append-only: a string it
// returned stays valid and unchanged for the life of the process (its
// memory is never unmapped or reused), so callers may keep it, as map keys
// for instance. What is stored for a string that is later dropped stays
// until the process ends; the arena suits strings that rarely go away.
// The zero value is ready; it is not safe for concurrent use.
type Arena struct {
	chunks [][]byte // each of arenaChunk bytes, filled from the start
	used   int      // bytes used in the last chunk
}

// Ref names a string in an Arena: its chunk, offset and length, packed
// into 8 bytes without pointers.
type Ref uint64

// Put copies s into the arena (up to 65,535 bytes) and returns its Ref.
func (a *Arena) Put(s string) Ref {
	if len(s) > 0xffff {
		panic("offheap: arena string too long")
	}
	if len(a.chunks) == 0 || a.used+len(s) > arenaChunk {
		a.chunks = append(a.chunks, mapAnon(arenaChunk))
		a.used = 0
	}
	c := len(a.chunks) - 1
	copy(a.chunks[c][a.used:], s)
	r := Ref(uint64(c)<<36 | uint64(a.used)<<16 | uint64(len(s)))
	a.used += len(s)
	return r
}

// String returns the string r names, without copying.
func (a *Arena) String(r Ref) string {
	c, off, n := int(r>>36), int(r>>16)&(1<<20-1), int(r&0xffff)
	if n == 0 {
		return ""
	}
	return unsafe.String(&a.chunks[c][off], n)
}

// Bytes returns how many bytes the arena has mapped.
func (a *Arena) Bytes() int { return len(a.chunks) * arenaChunk }
