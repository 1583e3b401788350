package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/keyward/keyward"
)

// TamperError says the store's log does not match what vouches for it: a
// signed checkpoint, the witness or a tail tag. Seq is the first record
// concerned, when known.
type TamperError struct {
	Seq    int64
	Reason string
}

func (e *TamperError) Error() string {
	if e.Seq > 0 {
		return fmt.Sprintf("audit log tampered with at record %d: %s", e.Seq, e.Reason)
	}
	return "audit log tampered with: " + e.Reason
}

func tampered(seq int64, format string, args ...any) error {
	return &TamperError{Seq: seq, Reason: fmt.Sprintf(format, args...)}
}

// IsTampered reports whether err is (or wraps) a TamperError.
func IsTampered(err error) bool {
	var te *TamperError
	return errors.As(err, &te)
}

// Legacy describes the records carried over from the hash chain that came
// before the tree: records 1..Through have no tag, and those in Unverified
// were not covered by a signed checkpoint of that chain.
type Legacy struct {
	Through    int64
	Unverified *keyward.SeqRange
}

// LegacyStore is implemented by stores that may hold a carried-over chain
// (SQLite deployments older than the tree).
type LegacyStore interface {
	// AuditLegacy returns what was carried over; nil when nothing was.
	AuditLegacy(ctx context.Context) (*Legacy, error)
}

func legacyOf(ctx context.Context, tx keyward.AuditStore) (*Legacy, error) {
	if ls, ok := tx.(LegacyStore); ok {
		l, err := ls.AuditLegacy(ctx)
		if err != nil || l != nil {
			return l, err
		}
	}
	return &Legacy{}, nil
}

// Log is the server's side of the audit log: it tags what it appends,
// signs checkpoints, and checks the store against its witness.
type Log struct {
	signer *Signer
	tail   *TailKey
}

// NewLog returns the log of the server holding signer and tail.
func NewLog(signer *Signer, tail *TailKey) *Log { return &Log{signer: signer, tail: tail} }

// Signer returns the checkpoint signer.
func (l *Log) Signer() *Signer { return l.signer }

// Append adds ev as the next record of tx's log.
func (l *Log) Append(ctx context.Context, tx keyward.AuditStore, ev *keyward.AuditEvent) (*keyward.AuditRecord, error) {
	return Append(ctx, tx, ev, l.tail)
}

// Tail is what the records after the last checkpoint are.
type Tail struct {
	Records int64
	Since   time.Time // the oldest tail record's event time (zero when none)
}

// Checkpoint integrates the records after the latest checkpoint into the
// tree and signs the new head at now. Each record is checked first: its hash
// must be its event's leaf hash and its tag the tail key's (records of a
// carried-over chain have none), so that the server never signs what it did
// not write; a mismatch is a *TamperError and nothing is signed. It returns
// nil, nil when no record came since the latest checkpoint. Call it inside a
// write transaction.
func (l *Log) Checkpoint(ctx context.Context, tx keyward.AuditStore, now time.Time) (*keyward.AuditCheckpoint, error) {
	latest, err := tx.LatestCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	var size int64
	if latest != nil {
		size = latest.Size
	}
	head, err := tx.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	if head < size {
		return nil, tampered(head+1, "the latest checkpoint covers %d records, the store holds %d", size, head)
	}
	if head == size {
		return nil, nil
	}
	legacy, err := legacyOf(ctx, tx)
	if err != nil {
		return nil, err
	}
	err = l.eachTail(ctx, tx, size, head, legacy, func(first int64, leaves []tlog.Hash) error {
		return integrate(ctx, tx, first, leaves)
	})
	if err != nil {
		return nil, err
	}
	root, err := TreeHash(ctx, tx, head)
	if err != nil {
		return nil, err
	}
	cp, err := l.signer.Sign(head, root, now)
	if err != nil {
		return nil, err
	}
	if err := tx.InsertCheckpoint(ctx, cp); err != nil {
		return nil, err
	}
	return cp, nil
}

// eachTail reads records after..head page by page, checks each one's hash
// and tag, and hands the leaf hashes of each page to fn (which may be nil).
func (l *Log) eachTail(ctx context.Context, tx keyward.AuditStore, after, head int64, legacy *Legacy,
	fn func(first int64, leaves []tlog.Hash) error) error {
	next := after + 1
	for next <= head {
		recs, err := tx.ListAudit(ctx, keyward.AuditFilter{AfterSeq: next - 1, Limit: pageSize})
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return tampered(next, "record %d is missing (the store reports %d records)", next, head)
		}
		leaves := make([]tlog.Hash, 0, len(recs))
		first := next
		for _, r := range recs {
			if r.Seq > head {
				break
			}
			if r.Seq != next {
				return tampered(next, "record %d is missing", next)
			}
			leaf := LeafHash(r.Event)
			if h, ok := parseHashHex(r.Hash); !ok || h != leaf {
				return tampered(r.Seq, "the record's hash does not match its event")
			}
			switch {
			case r.Tag == nil && r.Seq <= legacy.Through:
			case r.Tag == nil:
				return tampered(r.Seq, "the record has no tag")
			case !l.tail.Check(r.Seq, leaf, r.Tag):
				return tampered(r.Seq, "the record's tag does not match (written without the tail key)")
			}
			leaves = append(leaves, leaf)
			next++
		}
		if fn != nil {
			if err := fn(first, leaves); err != nil {
				return err
			}
		}
	}
	return nil
}

// CheckWitness checks tx's log against the witness checkpoint w (nil: no
// witness yet) and returns the tail. Its cost is O(log n) hash reads plus
// the records after the latest checkpoint, not the whole log:
//
//   - the store holds at least w.Size records, and a checkpoint at least as
//     large as w (else records or checkpoints were removed);
//   - the stored tree hashes reproduce w's root (else records covered by w
//     were rewritten, hashes and all);
//   - the latest stored checkpoint is signed by the server's key and the
//     stored hashes reproduce its root;
//   - every record after it has its leaf hash and a good tag.
//
// Whether each covered record's event still matches its leaf hash is what
// the full verification (VerifyStore) adds. Problems are *TamperError.
func (l *Log) CheckWitness(ctx context.Context, tx keyward.AuditStore, w *keyward.AuditCheckpoint) (*Tail, error) {
	head, err := tx.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	latest, err := tx.LatestCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	if w != nil {
		switch {
		case head < w.Size:
			return nil, tampered(head+1, "the witness checkpoint covers %d records, the store holds %d (records removed)", w.Size, head)
		case latest == nil || latest.Size < w.Size:
			return nil, tampered(0, "the store's checkpoints end before the witness checkpoint at %d (checkpoints removed)", w.Size)
		}
		if err := l.checkRoot(ctx, tx, w); err != nil {
			return nil, err
		}
	}
	var size int64
	if latest != nil {
		if _, err := l.signer.cv.Open([]byte(latest.Note)); err != nil {
			return nil, tampered(latest.Size, "the latest checkpoint does not verify: %v", err)
		}
		if err := l.checkRoot(ctx, tx, latest); err != nil {
			return nil, err
		}
		size = latest.Size
		if head < size {
			return nil, tampered(head+1, "the latest checkpoint covers %d records, the store holds %d (records removed)", size, head)
		}
	}
	legacy, err := legacyOf(ctx, tx)
	if err != nil {
		return nil, err
	}
	tail := &Tail{Records: head - size}
	if tail.Records > 0 {
		recs, err := tx.ListAudit(ctx, keyward.AuditFilter{AfterSeq: size, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(recs) > 0 {
			tail.Since = eventTime(recs[0].Event)
		}
	}
	return tail, l.eachTail(ctx, tx, size, head, legacy, nil)
}

// checkRoot checks that the stored hashes reproduce c's root.
func (l *Log) checkRoot(ctx context.Context, tx keyward.AuditStore, c *keyward.AuditCheckpoint) error {
	want, ok := root(c)
	if !ok {
		return tampered(0, "checkpoint %d has a malformed root", c.Size)
	}
	got, err := TreeHash(ctx, tx, c.Size)
	if err != nil {
		if keyward.ErrorCode(err) == keyward.ENOTFOUND {
			return tampered(0, "tree hashes under checkpoint %d are missing", c.Size)
		}
		return err
	}
	if got != want {
		return tampered(0, "the stored tree does not reproduce the root of checkpoint %d (records under it rewritten)", c.Size)
	}
	return nil
}

// Open verifies a checkpoint note against the server's key.
func (l *Log) Open(n []byte) (*keyward.AuditCheckpoint, error) { return l.signer.cv.Open(n) }

// ProveRecord returns the proof that record seq is in the tree of the
// checkpoint c. The proof is checked before it is returned, so a store whose
// tree hashes were rewritten gives a TamperError, not a bad proof.
func (l *Log) ProveRecord(ctx context.Context, tx keyward.AuditStore, c *keyward.AuditCheckpoint, seq int64) (*keyward.AuditProof, error) {
	if seq < 1 || seq > c.Size {
		return nil, keyward.Errorf(keyward.EINVALID, "record %d is not in the tree of checkpoint %d (records 1-%d)", seq, c.Size, c.Size)
	}
	recs, err := tx.ListAudit(ctx, keyward.AuditFilter{AfterSeq: seq - 1, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 || recs[0].Seq != seq {
		return nil, tampered(seq, "record %d is missing", seq)
	}
	p, err := proveRecord(ctx, tx, c.Size, seq)
	if err != nil {
		return nil, err
	}
	out := &keyward.AuditProof{Record: recs[0], Proof: hexHashes(p), Checkpoint: c}
	if err := CheckProof(out, l.signer.cv); err != nil {
		return nil, tampered(seq, "%v", err)
	}
	return out, nil
}

// ProveConsistency returns the proof that the tree of size from is a prefix
// of the tree of checkpoint c.
func (l *Log) ProveConsistency(ctx context.Context, tx keyward.AuditStore, c *keyward.AuditCheckpoint, from int64) (*keyward.AuditConsistency, error) {
	if from < 1 || from > c.Size {
		return nil, keyward.Errorf(keyward.EINVALID, "size %d is not between 1 and the checkpoint's size %d", from, c.Size)
	}
	p, err := proveTree(ctx, tx, c.Size, from)
	if err != nil {
		return nil, err
	}
	return &keyward.AuditConsistency{From: from, Proof: hexHashes(p), Checkpoint: c}, nil
}

func hexHashes(hs []tlog.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = hashHex(h)
	}
	return out
}
