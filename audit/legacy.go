package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/keyward/keyward"
)

// The hash chain that came before the tree: Hash(n) = hex SHA-256(raw
// Hash(n-1), 32 zero bytes for the first ‖ event), with checkpoints that
// signed "keyward-audit-checkpoint/v1\n<seq>\n<hash>\n<RFC 3339 time>". A
// store that holds such a chain is upgraded once (Upgrade): the chain is
// verified against its own checkpoints, and every record is carried into the
// tree as it is.

// LegacyRecord is a record of the old chain.
type LegacyRecord struct {
	Seq      int64
	PrevHash string
	Hash     string
	Event    []byte
}

// LegacyCheckpoint is a checkpoint of the old chain.
type LegacyCheckpoint struct {
	Seq       int64
	Hash      string
	Time      time.Time
	PublicKey []byte
	Signature []byte
}

// LegacyChain is implemented by a store that may hold an old chain.
type LegacyChain interface {
	LegacyStore
	// LegacyPending reports whether an old chain waits to be carried over.
	LegacyPending(ctx context.Context) (bool, error)
	ListLegacyRecords(ctx context.Context, afterSeq int64, limit int) ([]*LegacyRecord, error)
	ListLegacyCheckpoints(ctx context.Context, afterSeq int64, limit int) ([]*LegacyCheckpoint, error)
	// SetLeafHashes sets the hash of records first, first+1, ... to the
	// given leaf hashes (lowercase hex).
	SetLeafHashes(ctx context.Context, first int64, hashes []string) error
	// FinishLegacy records what was carried over; LegacyPending is false
	// from then on.
	FinishLegacy(ctx context.Context, l *Legacy) error
}

// UpgradeResult says what an upgrade found.
type UpgradeResult struct {
	Legacy       *Legacy
	Checkpoints  int    // old checkpoints that verified
	Broken       string // why the old chain failed verification, "" when it did not
	BrokenAt     int64
	OldHead      string // the old chain's last hash
	OldHeadCheck int64  // the last old checkpoint that matched
}

// Upgrade carries the old chain of tx into the tree: it verifies the chain
// against its checkpoints signed by pub (checkpoints by any other key are
// not trusted), sets every record's hash to its leaf hash, and records what
// no old checkpoint vouched for as unverified. It returns nil, nil when
// nothing waits. The caller then appends a record saying so and checkpoints.
func Upgrade(ctx context.Context, tx keyward.AuditStore, pub ed25519.PublicKey) (*UpgradeResult, error) {
	lc, ok := tx.(LegacyChain)
	if !ok {
		return nil, nil
	}
	pending, err := lc.LegacyPending(ctx)
	if err != nil || !pending {
		return nil, err
	}
	cps, err := allLegacyCheckpoints(ctx, lc)
	if err != nil {
		return nil, err
	}
	res := &UpgradeResult{}
	var after int64
	prev := ""
	for {
		recs, err := lc.ListLegacyRecords(ctx, after, pageSize)
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			break
		}
		hashes := make([]string, 0, len(recs))
		for _, r := range recs {
			if res.Broken == "" {
				switch {
				case r.Seq != after+1:
					res.Broken, res.BrokenAt = fmt.Sprintf("record %d missing", after+1), after+1
				case r.PrevHash != prev:
					res.Broken, res.BrokenAt = "prevHash does not link to the record before", r.Seq
				case r.Hash != legacyLink(prev, r.Event):
					res.Broken, res.BrokenAt = "hash mismatch", r.Seq
				}
			}
			if res.Broken == "" {
				for _, c := range cps[r.Seq] {
					if bytes.Equal(c.PublicKey, pub) && c.Hash == r.Hash &&
						ed25519.Verify(pub, legacyMessage(c.Seq, c.Hash, c.Time), c.Signature) {
						res.OldHeadCheck = r.Seq
						res.Checkpoints++
					}
				}
			}
			if r.Seq != after+1 && res.BrokenAt == 0 {
				res.BrokenAt = after + 1
			}
			prev, after = r.Hash, r.Seq
			hashes = append(hashes, hashHex(LeafHash(r.Event)))
		}
		if err := lc.SetLeafHashes(ctx, recs[0].Seq, hashes); err != nil {
			return nil, err
		}
	}
	res.OldHead = prev
	l := &Legacy{Through: after}
	if res.OldHeadCheck < after {
		l.Unverified = &keyward.SeqRange{First: res.OldHeadCheck + 1, Last: after}
	}
	res.Legacy = l
	return res, lc.FinishLegacy(ctx, l)
}

func allLegacyCheckpoints(ctx context.Context, lc LegacyChain) (map[int64][]*LegacyCheckpoint, error) {
	out := map[int64][]*LegacyCheckpoint{}
	var after int64
	for {
		page, err := lc.ListLegacyCheckpoints(ctx, after, pageSize)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			return out, nil
		}
		for _, c := range page {
			out[c.Seq] = append(out[c.Seq], c)
		}
		if page[len(page)-1].Seq <= after {
			return out, nil
		}
		after = page[len(page)-1].Seq
	}
}

// legacyLink is the old chain's hash of a record.
func legacyLink(prevHash string, event []byte) string {
	var prev [sha256.Size]byte
	if prevHash != "" {
		h, ok := parseHashHex(prevHash)
		if !ok {
			return ""
		}
		prev = h
	}
	h := sha256.New()
	h.Write(prev[:])
	h.Write(event)
	return hex.EncodeToString(h.Sum(nil))
}

// legacyMessage is what an old checkpoint signed.
func legacyMessage(seq int64, hash string, t time.Time) []byte {
	return []byte("keyward-audit-checkpoint/v1\n" + strconv.FormatInt(seq, 10) + "\n" + hash + "\n" + t.UTC().Format(time.RFC3339Nano))
}
