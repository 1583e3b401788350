package gateway

import (
	"math/rand/v2"
	"testing"

	"github.com/keyward/keyward/keyvalue"
)

// slotIndex against a map, with hashes crowded onto a few homes near the
// end of the table (so clusters wrap around) and many sharing a tag.
func TestAttackSlotIndexClustered(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 7))
		var x slotIndex
		model := map[uint32]uint64{} // idx -> hash
		live := []uint32{}
		next := uint32(0)
		hashOf := func() uint64 {
			// upper half: one of a few values, homes near 1023 of 1024 and
			// equal tags; lower half random.
			up := uint64(1020+r.IntN(6)) | uint64(r.IntN(3))<<10
			if r.IntN(4) == 0 {
				up = uint64(r.Uint32())
			}
			return up<<32 | uint64(r.Uint32())
		}
		check := func(step int) {
			if x.n != len(model) {
				t.Fatalf("seed %d step %d: n %d model %d", seed, step, x.n, len(model))
			}
			for idx, h := range model {
				if _, ok := x.probe(h, func(i uint32) bool { return i == idx }); !ok {
					t.Fatalf("seed %d step %d: idx %d lost", seed, step, idx)
				}
			}
		}
		for step := range 4000 {
			if len(live) == 0 || r.IntN(3) > 0 {
				h := hashOf()
				x.insert(h, next)
				model[next] = h
				live = append(live, next)
				next++
			} else {
				j := r.IntN(len(live))
				idx := live[j]
				live[j] = live[len(live)-1]
				live = live[:len(live)-1]
				pos, ok := x.probe(model[idx], func(i uint32) bool { return i == idx })
				if !ok {
					t.Fatalf("seed %d step %d: idx %d not found", seed, step, idx)
				}
				x.deleteAt(pos)
				delete(model, idx)
			}
			if step%97 == 0 {
				check(step)
			}
		}
		check(-1)
	}
}

// Digests equal in their first 8 bytes (same home and tag) are told apart.
func TestAttackKeyTableSameTagDigests(t *testing.T) {
	kt := newKeyTable()
	mk := func(i int) keyvalue.Digest {
		d := testDigest(i)
		copy(d[:8], []byte{1, 2, 3, 4, 5, 6, 7, 8})
		return d
	}
	for i := range 50 {
		k := testKey(i)
		d := mk(i)
		k.Credentials = append(k.Credentials, testKey(0, 0).Credentials[0])
		k.Credentials[0].Digest = d[:]
		kt.put(k, 0, nopKey{})
	}
	for i := 0; i < 50; i += 3 {
		kt.remove(testKey(i).ID)
	}
	for i := range 50 {
		d := mk(i)
		var v keyView
		ok := kt.lookup(&d, &v)
		if ok != (i%3 != 0) || (ok && v.id != testKey(i).ID) {
			t.Fatalf("digest %d: found %v as %q", i, ok, v.id)
		}
	}
}
