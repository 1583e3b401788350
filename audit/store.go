package audit

import (
	"context"
	"errors"

	"github.com/keyward/keyward"
)

// pageSize is how many records or checkpoints one store call returns.
const pageSize = 1000

// errStop ends a walk early without an error.
var errStop = errors.New("stop")

// walk pages through the records and checkpoints of tx in order, calling
// onRecord and onCheckpoint so that a checkpoint comes right after the last
// record it covers (and any checkpoint beyond the last record at the end).
// One page of each is in memory at a time.
func walk(ctx context.Context, tx keyward.AuditStore, after int64,
	onRecord func(*keyward.AuditRecord) error, onCheckpoint func(*keyward.AuditCheckpoint) error) error {

	cps := &cpPager{ctx: ctx, tx: tx, after: after}
	if err := cps.emitThrough(after, onCheckpoint); err != nil {
		return err
	}
	for {
		recs, err := tx.ListAudit(ctx, keyward.AuditFilter{AfterSeq: after, Limit: pageSize})
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			if err := cps.emitThrough(r.Seq-1, onCheckpoint); err != nil {
				return err
			}
			if err := onRecord(r); err != nil {
				return err
			}
			if err := cps.emitThrough(r.Seq, onCheckpoint); err != nil {
				return err
			}
		}
		last := recs[len(recs)-1].Seq
		if last <= after {
			return keyward.Errorf(keyward.EINTERNAL, "audit store returned records out of order")
		}
		after = last
	}
	return cps.emitThrough(1<<63-1, onCheckpoint)
}

// cpPager reads checkpoints page by page.
type cpPager struct {
	ctx   context.Context
	tx    keyward.AuditStore
	buf   []*keyward.AuditCheckpoint
	after int64
	done  bool
}

// emitThrough passes on every checkpoint with Size <= size.
func (p *cpPager) emitThrough(size int64, fn func(*keyward.AuditCheckpoint) error) error {
	for {
		if len(p.buf) == 0 {
			if p.done {
				return nil
			}
			page, err := p.tx.ListCheckpoints(p.ctx, p.after, pageSize)
			if err != nil {
				return err
			}
			if len(page) == 0 {
				p.done = true
				return nil
			}
			if page[len(page)-1].Size <= p.after {
				return keyward.Errorf(keyward.EINTERNAL, "audit store returned checkpoints out of order")
			}
			p.buf, p.after = page, page[len(page)-1].Size
		}
		if p.buf[0].Size > size {
			return nil
		}
		c := p.buf[0]
		p.buf = p.buf[1:]
		if err := fn(c); err != nil {
			return err
		}
	}
}

// Viewer is the read side of a keyward.Store: verifying needs no more.
type Viewer interface {
	View(ctx context.Context, fn func(ctx context.Context, tx keyward.Tx) error) error
}

// VerifyStore verifies the whole log of s: every record against its hash and
// tag, every checkpoint's signature, every checkpoint's root against the
// records, and the witness checkpoint w (nil: none) as one more checkpoint
// that must be matched. It reads inside one View transaction, so it sees a
// consistent snapshot while records are appended (the store's View must
// give snapshot isolation). It returns an error only when the store fails;
// a tampered log is a result with OK false.
func (l *Log) VerifyStore(ctx context.Context, s Viewer, w *keyward.AuditCheckpoint) (*keyward.AuditVerification, error) {
	var res *keyward.AuditVerification
	err := s.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		var err error
		res, err = l.VerifyTx(ctx, tx, w)
		return err
	})
	return res, err
}

// VerifyTx is VerifyStore within a transaction the caller already holds.
func (l *Log) VerifyTx(ctx context.Context, tx keyward.AuditStore, w *keyward.AuditCheckpoint) (*keyward.AuditVerification, error) {
	legacy, err := legacyOf(ctx, tx)
	if err != nil {
		return nil, err
	}
	v := NewVerifier(l.signer.cv, l.tail, legacy)
	if w != nil && !v.Witness(w) {
		return v.Result(), nil
	}
	if w != nil {
		// The witness reproduces its root from the records alone; the
		// store must still hold a checkpoint as large, or checkpoints were
		// removed.
		latest, err := tx.LatestCheckpoint(ctx)
		if err != nil {
			return nil, err
		}
		if latest == nil || latest.Size < w.Size {
			v.fail(0, "the store's checkpoints end before the witness checkpoint at %d (checkpoints removed)", w.Size)
			return v.Result(), nil
		}
	}
	err = walk(ctx, tx, 0,
		func(r *keyward.AuditRecord) error {
			if !v.Record(r, LeafHash(r.Event)) {
				return errStop
			}
			return nil
		},
		func(c *keyward.AuditCheckpoint) error {
			if !v.Checkpoint(c) {
				return errStop
			}
			return nil
		})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	return v.Result(), nil
}
