package audit

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/keyward/keyward"
)

// maxProofHashes bounds a proof read from untrusted input: a tree of 2^62
// records needs at most 2·62.
const maxProofHashes = 128

// Proofs are checked with github.com/transparency-dev/merkle, an
// implementation independent of the one that builds them
// (golang.org/x/mod/sumdb/tlog), so that a bug in one shows against the
// other.

// CheckProof verifies an inclusion proof: the checkpoint is signed by cv's
// key, the record's hash is its event's leaf hash, and the proof leads from
// it to the checkpoint's root.
func CheckProof(p *keyward.AuditProof, cv *CheckpointVerifier) error {
	if p == nil || p.Record == nil || p.Checkpoint == nil {
		return errors.New("incomplete proof")
	}
	cp, err := cv.Open([]byte(p.Checkpoint.Note))
	if err != nil {
		return err
	}
	r := p.Record
	if r.Seq < 1 || r.Seq > cp.Size {
		return fmt.Errorf("record %d is outside the checkpoint's tree of %d records", r.Seq, cp.Size)
	}
	leaf := LeafHash(r.Event)
	if h, ok := parseHashHex(r.Hash); !ok || h != leaf {
		return fmt.Errorf("record %d: its hash does not match its event", r.Seq)
	}
	hashes, err := decodeHashes(p.Proof)
	if err != nil {
		return err
	}
	rootBytes, _ := hex.DecodeString(cp.Root)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(r.Seq-1), uint64(cp.Size), leaf[:], hashes, rootBytes); err != nil {
		return fmt.Errorf("record %d is not in the tree of checkpoint %d: %v", r.Seq, cp.Size, err)
	}
	return nil
}

// CheckConsistency verifies that the tree of old is a prefix of the tree of
// c.Checkpoint: both checkpoints are signed by cv's key and the proof holds.
func CheckConsistency(old []byte, c *keyward.AuditConsistency, cv *CheckpointVerifier) (from, to *keyward.AuditCheckpoint, err error) {
	if c == nil || c.Checkpoint == nil {
		return nil, nil, errors.New("incomplete consistency proof")
	}
	if from, err = cv.Open(old); err != nil {
		return nil, nil, fmt.Errorf("the older checkpoint: %w", err)
	}
	if to, err = cv.Open([]byte(c.Checkpoint.Note)); err != nil {
		return nil, nil, fmt.Errorf("the newer checkpoint: %w", err)
	}
	if c.From != from.Size {
		return nil, nil, fmt.Errorf("the proof is from size %d, the older checkpoint has %d", c.From, from.Size)
	}
	if to.Size < from.Size {
		return nil, nil, fmt.Errorf("the log shrank from %d to %d records", from.Size, to.Size)
	}
	hashes, err := decodeHashes(c.Proof)
	if err != nil {
		return nil, nil, err
	}
	r1, _ := hex.DecodeString(from.Root)
	r2, _ := hex.DecodeString(to.Root)
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(from.Size), uint64(to.Size), hashes, r1, r2); err != nil {
		return nil, nil, fmt.Errorf("the log of %d records is not a prefix of the log of %d: %v", from.Size, to.Size, err)
	}
	return from, to, nil
}

func decodeHashes(hs []string) ([][]byte, error) {
	if len(hs) > maxProofHashes {
		return nil, fmt.Errorf("proof of %d hashes (at most %d)", len(hs), maxProofHashes)
	}
	out := make([][]byte, len(hs))
	for i, s := range hs {
		h, ok := parseHashHex(s)
		if !ok {
			return nil, fmt.Errorf("proof hash %d is not 64 lowercase hex digits", i+1)
		}
		out[i] = append([]byte(nil), h[:]...)
	}
	return out, nil
}
