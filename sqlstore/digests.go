package sqlstore

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/keyward/keyward/internal/offheap"
)

// Unique key values without a unique index (SQLite).
//
// No two credentials may share a digest: two keys with one value would make
// the gateway's answer depend on which it found. PostgreSQL keeps a UNIQUE
// constraint on credentials.digest (several nodes write). On SQLite that
// index was nearly all an import wrote: digests are HMACs, uniformly
// random, so a batch of a thousand keys landed on a thousand different
// leaf pages of it, each written to the WAL and then into the database:
// an import wrote 11.3 KB per key at a million keys with it, 1.6 KB
// without (bench/README.md).
//
// SQLite has one writer, in this process (the database file is locked to
// it: sqlite/lock_unix.go), so the check can live here instead. A
// DigestSet holds the first 8 bytes of every committed digest, a superset
// of them in fact; a digest whose prefix is not in it, nor among those the
// transaction under way inserted, cannot be in the table. A prefix found
// there is confirmed or refuted by reading the table inside the write
// transaction, where nothing else can insert. The set only ever errs
// toward a read: a prefix left by a deleted key, or shared by two
// digests, costs one scan of the credentials table, never a wrong answer.
//
// For the reads to stay rare the set follows the transactions: what a
// transaction inserts joins it when the transaction commits, and what a
// call rolled back to its savepoint (batch.go) or a transaction rolled
// back inserted never does. Otherwise a batch that failed on its last row
// would leave 999 prefixes behind, and importing it again, fixed, would
// scan the table 999 times.
type DigestSet struct {
	mu    sync.Mutex
	built bool
	set   prefixSet
	// writer is the write transaction under way: begun, and neither
	// committed nor rolled back as far as the set was told.
	writer *txDigests
	scans  atomic.Int64
}

// NewDigestSet returns an empty set, filled from the table by the first
// write transaction that inserts a credential.
func NewDigestSet() *DigestSet { return &DigestSet{} }

// Scans is how many times a prefix found in the set sent a check to the
// table.
func (s *DigestSet) Scans() int64 { return s.scans.Load() }

// txDigests is what one write transaction inserted, with a mark per open
// savepoint. nil (no DigestSet: PostgreSQL) does nothing.
type txDigests struct {
	set   *DigestSet
	added []uint64
	count map[uint64]int
	marks []int
	// built: this transaction built the set, with depth savepoints open.
	// The table it read may lack credentials the transaction deleted
	// before: if that is rolled back, so must the set be.
	built bool
	depth int
}

// discard forgets the set; the next check builds it again. Under s.mu.
func (s *DigestSet) discard() {
	s.set.free()
	s.set, s.built = prefixSet{}, false
}

// begin starts the record of a write transaction. The store has one
// writer, so one is under way at a time. If the one before inserted
// credentials and was never said to have committed or rolled back, the set
// cannot know whether they are in the table (nor, if it built the set,
// whether what it read stayed), and is built again from it:
// a path that forgot to tell costs a scan, never a duplicate.
func (s *DigestSet) begin() *txDigests {
	if s == nil {
		return nil
	}
	d := &txDigests{set: s, count: map[uint64]int{}}
	s.mu.Lock()
	if w := s.writer; w != nil && (len(w.added) > 0 || w.built) {
		s.discard()
	}
	s.writer = d
	s.mu.Unlock()
	return d
}

func prefixOf(digest []byte) uint64 {
	var b [8]byte
	copy(b[:], digest)
	return binary.BigEndian.Uint64(b[:])
}

// mayExist reports whether digest may already be a credential's: the
// set is built (from the table, in t) if it was not yet.
func (d *txDigests) mayExist(ctx context.Context, t *tx, digest []byte) (bool, error) {
	p := prefixOf(digest)
	if d.count[p] > 0 {
		return true, nil
	}
	s := d.set
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.built {
		// Inside the write transaction: nothing else can write meanwhile,
		// and the read sees what this transaction did so far. That is
		// right if it commits; if it, or the savepoint the read ran in,
		// is rolled back, credentials it deleted are back, missing from
		// the set, so the set is thrown away with it (end, rollbackTo).
		var set prefixSet
		var b []byte
		if err := t.each(ctx, qAllDigests, nil, []any{&b}, func() { set.add(prefixOf(b)) }); err != nil {
			set.free()
			return false, err
		}
		s.set, s.built = set, true
		d.built, d.depth = true, len(d.marks)
	}
	return s.set.has(p), nil
}

// scanned counts a check that had to read the table.
func (d *txDigests) scanned() { d.set.scans.Add(1) }

// add records digest as inserted by this transaction.
func (d *txDigests) add(digest []byte) {
	if d == nil {
		return
	}
	p := prefixOf(digest)
	d.added = append(d.added, p)
	d.count[p]++
}

// savepoint marks what a SAVEPOINT would roll back to.
func (d *txDigests) savepoint() {
	if d != nil {
		d.marks = append(d.marks, len(d.added))
	}
}

// rollbackTo forgets what was inserted since the newest savepoint, which
// stays open (as ROLLBACK TO leaves it).
func (d *txDigests) rollbackTo() {
	if d == nil || len(d.marks) == 0 {
		return
	}
	m := d.marks[len(d.marks)-1]
	if d.built && len(d.marks)-1 < d.depth { // built after that savepoint
		d.set.mu.Lock()
		if d.set.writer == d {
			d.set.discard()
		}
		d.set.mu.Unlock()
		d.built = false
	}
	for _, p := range d.added[m:] {
		if d.count[p]--; d.count[p] == 0 {
			delete(d.count, p)
		}
	}
	d.added = d.added[:m]
}

// release closes the newest savepoint, keeping what it holds.
func (d *txDigests) release() {
	if d != nil && len(d.marks) > 0 {
		d.marks = d.marks[:len(d.marks)-1]
	}
}

// committed merges what the transaction inserted into the set.
func (d *txDigests) committed() { d.end(true) }

// rolledBack forgets what the transaction inserted.
func (d *txDigests) rolledBack() { d.end(false) }

func (d *txDigests) end(committed bool) {
	if d == nil {
		return
	}
	s := d.set
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writer != d {
		return // ended already, or a later transaction began: begin decided
	}
	s.writer = nil
	if !committed && d.built {
		s.discard()
		return
	}
	if committed && s.built { // not built: it will be, from the table that holds them now
		for _, p := range d.added {
			s.set.add(p)
		}
	}
}

// prefixSet is a set of uint64 by open addressing: 8 bytes a slot, at
// most three quarters full, so 16 MB at a million keys where a Go map
// would take twice that. The slots are outside the Go heap
// (internal/offheap), so the collector neither scans them nor lets the heap
// grow by as much again before collecting. 0 marks an empty slot; the
// prefix 0 is kept apart.
type prefixSet struct {
	slots offheap.Array[uint64]
	n     int
	zero  bool
}

func (s *prefixSet) has(p uint64) bool {
	if p == 0 {
		return s.zero
	}
	if s.slots.Len() == 0 {
		return false
	}
	mask := uint64(s.slots.Len() - 1)
	for i := mix(p) & mask; ; i = (i + 1) & mask {
		switch *s.slots.At(int(i)) {
		case p:
			return true
		case 0:
			return false
		}
	}
}

func (s *prefixSet) add(p uint64) {
	if p == 0 {
		s.zero = true
		return
	}
	if (s.n+1)*4 > s.slots.Len()*3 {
		s.grow()
	}
	mask := uint64(s.slots.Len() - 1)
	for i := mix(p) & mask; ; i = (i + 1) & mask {
		switch slot := s.slots.At(int(i)); *slot {
		case p:
			return
		case 0:
			*slot = p
			s.n++
			return
		}
	}
}

func (s *prefixSet) grow() {
	old := s.slots
	s.slots, s.n = offheap.Array[uint64]{}, 0
	s.slots.Resize(max(1024, 2*old.Len()))
	for i := range old.Len() {
		if p := *old.At(i); p != 0 {
			s.add(p)
		}
	}
	old.Free()
}

// free returns the slots' memory.
func (s *prefixSet) free() { s.slots.Free() }

// mix spreads p over the slots. Digests are uniform already, but tests
// and a key's digest under a known pepper need not be.
func mix(p uint64) uint64 {
	p ^= p >> 33
	p *= 0xff51afd7ed558ccd
	p ^= p >> 33
	return p
}
