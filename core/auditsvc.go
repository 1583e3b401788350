package core

import (
	"context"

	"github.com/keyward/keyward"
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

// ListCheckpoints returns signed checkpoints, by size.
func (s *Audit) ListCheckpoints(ctx context.Context, afterSize int64, limit int) ([]*keyward.AuditCheckpoint, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	var out []*keyward.AuditCheckpoint
	err := s.run(ctx, call{action: keyward.ActionAuditRead, resource: keyward.AuditARN, params: map[string]any{"afterSize": afterSize, "checkpoints": true}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			var err error
			out, err = tx.ListCheckpoints(ctx, afterSize, limit)
			return err
		})
	return out, err
}

// VerifyAudit verifies the whole log in the store: every record against its
// hash and tag, every checkpoint's signature and root, and the witness.
func (s *Audit) VerifyAudit(ctx context.Context) (*keyward.AuditVerification, error) {
	var out *keyward.AuditVerification
	verify := func(ctx context.Context) error {
		var err error
		out, err = s.verify(ctx)
		return err
	}
	err := s.run(ctx, call{action: keyward.ActionAuditVerify, resource: keyward.AuditARN, params: map[string]any{}, prepare: verify},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			o.respond("ok", out.OK, "records", out.Records, "verified", out.Verified, "firstBadSeq", out.FirstBadSeq)
			return nil
		})
	return out, err
}

// checkpointAt returns the checkpoint of size (0: the latest).
func checkpointAt(ctx context.Context, tx keyward.Tx, size int64) (*keyward.AuditCheckpoint, error) {
	if size == 0 {
		c, err := tx.LatestCheckpoint(ctx)
		if err == nil && c == nil {
			err = keyward.Errorf(keyward.ENOTFOUND, "no audit checkpoint yet")
		}
		return c, err
	}
	cs, err := tx.ListCheckpoints(ctx, size-1, 1)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 || cs[0].Size != size {
		return nil, keyward.Errorf(keyward.ENOTFOUND, "no audit checkpoint of size %d", size)
	}
	return cs[0], nil
}

// ProveRecord returns the inclusion proof of record seq in the tree of the
// checkpoint at size (0: the latest).
func (s *Audit) ProveRecord(ctx context.Context, seq, size int64) (*keyward.AuditProof, error) {
	var out *keyward.AuditProof
	err := s.run(ctx, call{action: keyward.ActionAuditRead, resource: keyward.AuditARN, params: map[string]any{"proveSeq": seq, "size": size}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			if seq < 1 || size < 0 {
				return keyward.Errorf(keyward.EINVALID, "seq must be at least 1 and size at least 0")
			}
			c, err := checkpointAt(ctx, tx, size)
			if err != nil {
				return err
			}
			out, err = s.alog.ProveRecord(ctx, tx, c, seq)
			return err
		})
	return out, err
}

// ProveConsistency returns the proof that the tree of size from is a prefix
// of the tree of the checkpoint at size to (0: the latest).
func (s *Audit) ProveConsistency(ctx context.Context, from, to int64) (*keyward.AuditConsistency, error) {
	var out *keyward.AuditConsistency
	err := s.run(ctx, call{action: keyward.ActionAuditRead, resource: keyward.AuditARN, params: map[string]any{"consistencyFrom": from, "to": to}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			if from < 1 || to < 0 {
				return keyward.Errorf(keyward.EINVALID, "from must be at least 1 and to at least 0")
			}
			c, err := checkpointAt(ctx, tx, to)
			if err != nil {
				return err
			}
			out, err = s.alog.ProveConsistency(ctx, tx, c, from)
			return err
		})
	return out, err
}

// PublicKey returns the checkpoint signing key as a signed-note verifier
// key. It is public: anyone allowed to read the trail may have it.
func (s *Audit) PublicKey(ctx context.Context) (string, error) {
	var out string
	err := s.run(ctx, call{action: keyward.ActionAuditRead, resource: keyward.AuditARN, params: map[string]any{"publicKey": true}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			out = s.signer.Verifier().VerifierKey()
			return nil
		})
	return out, err
}
