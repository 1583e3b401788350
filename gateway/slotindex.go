package gateway

import "github.com/keyward/keyward/internal/offheap"

// slotIndex is an open-addressed hash table from a 64-bit hash to a record
// index: linear probing, backward-shift deletion (no tombstones, so probes
// for absent entries stay short however many come and go). Each 8-byte
// slot holds the upper half of its entry's hash, which also places it, and
// the index+1 (0: empty). Growing and deleting therefore never read the
// records, and a probe reads a record only when the hash halves match.
type slotIndex struct {
	slots offheap.Array[uint64] // a power of two long
	n     int
}

func slotOf(h uint64, idx uint32) uint64 { return h&^0xffffffff | (uint64(idx) + 1) }

func slotHome(s uint64, mask uint64) uint64 { return (s >> 32) & mask }

// probe calls match with the index of each entry whose hash has the same
// upper half as h, in probe order, until match returns true; it returns
// that entry's slot position.
func (x *slotIndex) probe(h uint64, match func(idx uint32) bool) (int, bool) {
	if x.slots.Len() == 0 {
		return 0, false
	}
	mask := uint64(x.slots.Len() - 1)
	tag := h &^ 0xffffffff
	for i := slotHome(h, mask); ; i = (i + 1) & mask {
		s := *x.slots.At(int(i))
		if s == 0 {
			return 0, false
		}
		if s&^0xffffffff == tag && match(uint32(s&0xffffffff)-1) {
			return int(i), true
		}
	}
}

// insert adds an entry, doubling the table first when it would be more
// than three quarters full.
func (x *slotIndex) insert(h uint64, idx uint32) {
	if (x.n+1)*4 > x.slots.Len()*3 {
		var old offheap.Array[uint64]
		old, x.slots = x.slots, offheap.Array[uint64]{}
		x.slots.Resize(max(old.Len()*2, 1024))
		for i := range old.Len() {
			if s := *old.At(i); s != 0 {
				x.place(s)
			}
		}
		old.Free()
	}
	x.place(slotOf(h, idx))
	x.n++
}

func (x *slotIndex) place(s uint64) {
	mask := uint64(x.slots.Len() - 1)
	for i := slotHome(s, mask); ; i = (i + 1) & mask {
		if p := x.slots.At(int(i)); *p == 0 {
			*p = s
			return
		}
	}
}

// set points the entry at slot position pos to another index (of the same
// hash).
func (x *slotIndex) set(pos int, h uint64, idx uint32) { *x.slots.At(pos) = slotOf(h, idx) }

// deleteAt removes the entry at slot position pos, shifting back the
// entries after it that may move.
func (x *slotIndex) deleteAt(pos int) {
	mask := uint64(x.slots.Len() - 1)
	i := uint64(pos)
	x.n--
	for j := i; ; {
		*x.slots.At(int(i)) = 0
		for {
			j = (j + 1) & mask
			s := *x.slots.At(int(j))
			if s == 0 {
				return
			}
			// The entry at j stays unless its home lies cyclically
			// outside (i, j].
			home := slotHome(s, mask)
			if i <= j {
				if i < home && home <= j {
					continue
				}
			} else if i < home || home <= j {
				continue
			}
			*x.slots.At(int(i)) = s
			i = j
			break
		}
	}
}

func (x *slotIndex) bytes() int { return x.slots.Bytes() }
