package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"

	"github.com/keyward/keyward"
)

// pageSize is how many records or checkpoints one store call returns.
const pageSize = 1000

// errStop ends a walk early without an error.
var errStop = errors.New("stop")

// walk pages through the records and checkpoints of tx in Seq order, calling
// onRecord and onCheckpoint so that a checkpoint comes after the record it
// covers (and any checkpoint without a record comes where that record would
// be). One page of each is in memory at a time.
func walk(ctx context.Context, tx keyward.AuditStore,
	onRecord func(*keyward.AuditRecord) error, onCheckpoint func(*keyward.AuditCheckpoint) error) error {

	cps := &cpPager{ctx: ctx, tx: tx}
	var after int64
	for {
		recs, err := tx.ListAudit(ctx, keyward.AuditFilter{AfterSeq: after, Limit: pageSize})
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			// Checkpoints before this record: they are for records that
			// are missing, or out of order. Let the consumer judge.
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

// emitThrough passes on every checkpoint with Seq <= seq.
func (p *cpPager) emitThrough(seq int64, fn func(*keyward.AuditCheckpoint) error) error {
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
			if page[len(page)-1].Seq <= p.after {
				return keyward.Errorf(keyward.EINTERNAL, "audit store returned checkpoints out of order")
			}
			p.buf, p.after = page, page[len(page)-1].Seq
		}
		if p.buf[0].Seq > seq {
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

// VerifyStore verifies the whole audit chain of s and its checkpoints (see
// Verifier), with checkpoint signatures checked against trusted (nil: self-
// asserted, see VerifyCheckpoint). It reads inside one View transaction, so
// it sees a consistent snapshot even while records are being appended; the
// store's View must give snapshot isolation for that. Do not call it from
// inside another transaction of s (a store with one connection would wait
// for itself); use VerifyTx there. It returns an error only when the store
// fails; a broken chain is a result with OK false.
func VerifyStore(ctx context.Context, s Viewer, trusted ed25519.PublicKey) (*keyward.AuditVerification, error) {
	var res *keyward.AuditVerification
	err := s.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		var err error
		res, err = VerifyTx(ctx, tx, trusted)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// VerifyTx is VerifyStore within a transaction the caller already holds.
func VerifyTx(ctx context.Context, tx keyward.AuditStore, trusted ed25519.PublicKey) (*keyward.AuditVerification, error) {
	v := NewVerifier(trusted)
	err := walk(ctx, tx,
		func(r *keyward.AuditRecord) error {
			if !v.Record(r) {
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

// Export writes the audit chain of s and its checkpoints to w in the JSONL
// format, each checkpoint after the record it covers, from one View
// transaction. It does not verify: export a damaged chain and VerifyJSONL
// will say where it is damaged.
func Export(ctx context.Context, s keyward.Store, w io.Writer) error {
	jw := NewJSONLWriter(w)
	return s.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		return walk(ctx, tx, jw.WriteRecord, jw.WriteCheckpoint)
	})
}
