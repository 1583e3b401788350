package cli

// This file is the only one that knows the audit package's JSONL codec.

import (
	"crypto/ed25519"
	"io"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
)

// jsonlWriter writes an audit export, one JSON object a line.
type jsonlWriter interface {
	WriteRecord(*keyward.AuditRecord) error
	WriteCheckpoint(*keyward.AuditCheckpoint) error
}

func newJSONLWriter(w io.Writer) jsonlWriter { return audit.NewJSONLWriter(w) }

// verifyJSONL checks an exported chain; trusted, when set, is the only key
// whose checkpoint signatures are accepted.
func verifyJSONL(r io.Reader, trusted ed25519.PublicKey) (*keyward.AuditVerification, error) {
	return audit.VerifyJSONL(r, trusted)
}
