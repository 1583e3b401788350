package core

import (
	"context"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
)

// ListAudit returns audit records. Reading the trail is itself audited.
func (s *Audit) ListAudit(ctx context.Context, f keyward.AuditFilter) ([]*keyward.AuditRecord, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	var out []*keyward.AuditRecord
	params := map[string]any{"afterSeq": f.AfterSeq, "beforeSeq": f.BeforeSeq, "eventName": f.EventName, "principalId": f.PrincipalID,
		"since": f.Since, "until": f.Until, "descending": f.Descending, "limit": f.Limit}
	err := s.run(ctx, call{action: keyward.ActionAuditRead, resource: keyward.AuditARN, params: params},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			var err error
			out, err = tx.ListAudit(ctx, f)
			return err
		})
	return out, err
}

// ListCheckpoints returns signed checkpoints of the chain head.
func (s *Audit) ListCheckpoints(ctx context.Context, afterSeq int64, limit int) ([]*keyward.AuditCheckpoint, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	var out []*keyward.AuditCheckpoint
	err := s.run(ctx, call{action: keyward.ActionAuditRead, resource: keyward.AuditARN, params: map[string]any{"afterSeq": afterSeq, "checkpoints": true}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			var err error
			out, err = tx.ListCheckpoints(ctx, afterSeq, limit)
			return err
		})
	return out, err
}

// VerifyAudit walks the whole chain in the store and checks every hash and
// every checkpoint signature against the server's key.
func (s *Audit) VerifyAudit(ctx context.Context) (*keyward.AuditVerification, error) {
	var out *keyward.AuditVerification
	verify := func(ctx context.Context) error {
		var err error
		out, err = audit.VerifyStore(ctx, s.store, s.signer.PublicKey())
		return err
	}
	err := s.run(ctx, call{action: keyward.ActionAuditVerify, resource: keyward.AuditARN, params: map[string]any{}, prepare: verify},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			o.respond("ok", out.OK, "records", out.Records, "firstBadSeq", out.FirstBadSeq)
			return nil
		})
	return out, err
}

// Checkpoint signs the chain head when it moved since the last checkpoint.
// The server calls it on a timer and on shutdown. With sinks (JSONL file,
// stdout) it signs the last record they received, so that the checkpoint
// sits right after its record in every copy of the trail; at shutdown, with
// no call in flight, that is the head.
func (s *Audit) Checkpoint(ctx context.Context) error {
	now := s.clock.Now()
	delivered := s.sinks.signDelivered(context.WithoutCancel(ctx), func(seq int64, hash string) *keyward.AuditCheckpoint {
		return s.signer.Checkpoint(seq, hash, now)
	})
	return s.writeUnaudited(ctx, "audit checkpoint", func(ctx context.Context, tx keyward.Tx) error {
		cp := delivered
		if cp == nil {
			seq, hash, err := tx.AuditHead(ctx)
			if err != nil || seq == 0 {
				return err
			}
			cp = s.signer.Checkpoint(seq, hash, now)
		}
		have, err := tx.ListCheckpoints(ctx, cp.Seq-1, 1)
		if err != nil || (len(have) > 0 && have[0].Seq == cp.Seq) {
			return err // this record is signed already
		}
		return tx.InsertCheckpoint(ctx, cp)
	})
}
