package audit

import (
	"context"
	"math/bits"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/keyward/keyward"
)

// treeReader reads the tree's stored hashes from a store transaction, first
// from pending: the hashes of a batch being integrated, not yet written.
type treeReader struct {
	ctx     context.Context
	tx      keyward.AuditStore
	pending map[int64]tlog.Hash
}

func (r *treeReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var need []int64
	var at []int
	for i, ix := range indexes {
		if h, ok := r.pending[ix]; ok {
			out[i] = h
			continue
		}
		need, at = append(need, ix), append(at, i)
	}
	if len(need) == 0 {
		return out, nil
	}
	got, err := r.tx.ReadAuditHashes(r.ctx, need)
	if err != nil {
		return nil, err
	}
	if len(got) != len(need) {
		return nil, keyward.Errorf(keyward.EINTERNAL, "audit store returned %d tree hashes for %d", len(got), len(need))
	}
	for j, b := range got {
		if len(b) != len(tlog.Hash{}) {
			return nil, keyward.Errorf(keyward.EINTERNAL, "audit store returned a tree hash of %d bytes", len(b))
		}
		copy(out[at[j]][:], b)
	}
	return out, nil
}

// integrate stores the tree hashes of records first..first+len(leaves)-1
// (Seq numbers), whose leaf hashes are leaves; the tree must hold exactly
// first-1 records before.
func integrate(ctx context.Context, tx keyward.AuditStore, first int64, leaves []tlog.Hash) error {
	r := &treeReader{ctx: ctx, tx: tx, pending: map[int64]tlog.Hash{}}
	start := tlog.StoredHashIndex(0, first-1)
	var all [][]byte
	for i, leaf := range leaves {
		n := first - 1 + int64(i)
		hs, err := tlog.StoredHashesForRecordHash(n, leaf, r)
		if err != nil {
			return err
		}
		ix := tlog.StoredHashIndex(0, n)
		for j, h := range hs {
			r.pending[ix+int64(j)] = h
			all = append(all, h[:])
		}
	}
	return tx.WriteAuditHashes(ctx, start, all)
}

// TreeHash returns the root of the tree of tx's first size records.
func TreeHash(ctx context.Context, tx keyward.AuditStore, size int64) (tlog.Hash, error) {
	return tlog.TreeHash(size, &treeReader{ctx: ctx, tx: tx})
}

// proveRecord returns the inclusion proof of record seq in the tree of size.
func proveRecord(ctx context.Context, tx keyward.AuditStore, size, seq int64) (tlog.RecordProof, error) {
	return tlog.ProveRecord(size, seq-1, &treeReader{ctx: ctx, tx: tx})
}

// proveTree returns the proof that the tree of size from is a prefix of the
// tree of size to.
func proveTree(ctx context.Context, tx keyward.AuditStore, to, from int64) (tlog.TreeProof, error) {
	return tlog.ProveTree(to, from, &treeReader{ctx: ctx, tx: tx})
}

// Frontier returns the compact range of the tree of size: the roots of its
// perfect subtrees, largest (leftmost) first, as a verifier that starts
// after record size needs them.
func Frontier(ctx context.Context, tx keyward.AuditStore, size int64) ([][]byte, error) {
	var idx []int64
	var pos int64
	for level := 62; level >= 0; level-- {
		if size&(1<<level) != 0 {
			idx = append(idx, tlog.StoredHashIndex(level, pos>>level))
			pos += 1 << level
		}
	}
	if len(idx) == 0 {
		return nil, nil
	}
	hs, err := (&treeReader{ctx: ctx, tx: tx}).ReadHashes(idx)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = append([]byte(nil), hs[i][:]...)
	}
	return out, nil
}

// frontierLen is how many hashes the frontier of a tree of size has.
func frontierLen(size int64) int { return bits.OnesCount64(uint64(size)) }
