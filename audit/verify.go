package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/keyward/keyward"
)

// maxPending bounds the checkpoints a Verifier holds while waiting for their
// records. Well-formed input has none waiting (a checkpoint follows its
// record), so only hostile input reaches the bound.
const maxPending = 1024

// Verifier checks an audit chain fed to it record by record, in order, with
// checkpoints fed alongside; it keeps only the head of the chain and the
// checkpoints still waiting for their record, so a chain of any length is
// checked in constant memory.
//
// For each record it checks, in this order: Seq is the next expected number;
// PrevHash is the previous record's Hash ("" before the first record); Hash
// equals Link(PrevHash, Event); Event is a JSON object that decodes as a
// keyward.AuditEvent. For each checkpoint: it is well formed and its
// signature verifies (against the trusted key, or else against the first
// checkpoint's own key, see VerifyCheckpoint), and the record with the
// checkpoint's Seq has exactly the checkpoint's Hash. A checkpoint may be fed
// before its record (it then waits) or right after it, but not after a later
// record. A checkpoint still waiting at the end covers records that are gone.
//
// The first problem stops verification; Result names it. A Verifier is not
// safe for concurrent use.
type Verifier struct {
	trusted ed25519.PublicKey
	pinned  ed25519.PublicKey // with no trusted key: the first checkpoint's key

	first       int64  // first Seq expected
	lastSeq     int64  // Seq of the last good record (first-1 before any)
	lastHash    string // its Hash
	records     int64
	checkpoints int
	lastCP      int64 // Seq of the last checkpoint that matched (first-1 if none)

	pending []*keyward.AuditCheckpoint // ordered by Seq, all > lastSeq

	failed bool
	badSeq int64
	reason string
}

// NewVerifier returns a Verifier for a whole chain, starting at Seq 1 with
// the genesis PrevHash "". With trusted nil, checkpoints are self-asserted
// (see VerifyCheckpoint) and must all carry the same key.
func NewVerifier(trusted ed25519.PublicKey) *Verifier {
	return NewVerifierAt(1, "", trusted)
}

// NewVerifierAt returns a Verifier for the part of a chain that starts at
// record first (at least 1), whose previous record has hash prevHash.
// Checkpoints for records before first-1 are ignored; a checkpoint at first-1
// is checked against prevHash, which authenticates the starting point.
func NewVerifierAt(first int64, prevHash string, trusted ed25519.PublicKey) *Verifier {
	first = max(first, 1)
	v := &Verifier{trusted: trusted, first: first, lastSeq: first - 1, lastHash: prevHash, lastCP: first - 1}
	if prevHash != "" && !validHash(prevHash) {
		v.fail(first, "starting prevHash is malformed")
	}
	return v
}

// Failed reports whether a problem was found; Record and Checkpoint then do
// nothing.
func (v *Verifier) Failed() bool { return v.failed }

// next is the Seq of the next expected record.
func (v *Verifier) next() int64 { return v.lastSeq + 1 }

func (v *Verifier) fail(seq int64, format string, args ...any) bool {
	if !v.failed {
		v.failed, v.badSeq, v.reason = true, seq, fmt.Sprintf(format, args...)
	}
	return false
}

// Record checks the next record and reports whether the chain is still good.
func (v *Verifier) Record(r *keyward.AuditRecord) bool {
	if v.failed {
		return false
	}
	want := v.next()
	switch {
	case r == nil:
		return v.fail(want, "record %d missing", want)
	case r.Seq > want:
		return v.fail(want, "sequence gap: expected %d, got %d", want, r.Seq)
	case r.Seq < want:
		bad := r.Seq
		if bad < v.first {
			bad = want
		}
		return v.fail(bad, "sequence out of order: expected %d, got %d", want, r.Seq)
	case r.PrevHash != v.lastHash:
		if v.lastSeq == 0 {
			return v.fail(r.Seq, "prevHash of record 1 is not the genesis value \"\"")
		}
		return v.fail(r.Seq, "prevHash does not link to record %d", v.lastSeq)
	case r.Hash != Link(r.PrevHash, r.Event):
		return v.fail(r.Seq, "hash mismatch")
	case !isEvent(r.Event):
		return v.fail(r.Seq, "event does not parse")
	}
	v.lastSeq, v.lastHash = r.Seq, r.Hash
	v.records++
	for len(v.pending) > 0 && v.pending[0].Seq == r.Seq {
		c := v.pending[0]
		v.pending = v.pending[1:]
		if !v.check(c) {
			return false
		}
	}
	return true
}

// isEvent reports whether b is a JSON object that decodes as an AuditEvent.
func isEvent(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	var ev keyward.AuditEvent
	return json.Unmarshal(b, &ev) == nil
}

// Checkpoint takes a checkpoint: it is checked now if its record was the
// last one fed, or when its record comes. It reports whether the chain is
// still good.
func (v *Verifier) Checkpoint(c *keyward.AuditCheckpoint) bool {
	switch {
	case v.failed:
		return false
	case c == nil:
		return v.fail(v.next(), "checkpoint missing")
	case c.Seq < v.first-1 && v.first > 1:
		return true // before the verified range
	case c.Seq < 1:
		return v.fail(v.next(), "checkpoint %d malformed", c.Seq)
	case c.Seq == v.lastSeq:
		return v.check(c)
	case c.Seq < v.lastSeq:
		return v.fail(c.Seq, "checkpoint %d out of order (after record %d)", c.Seq, v.lastSeq)
	}
	if len(v.pending) >= maxPending {
		return v.fail(v.next(), "more than %d checkpoints ahead of the records", maxPending)
	}
	i, _ := slices.BinarySearchFunc(v.pending, c.Seq, func(p *keyward.AuditCheckpoint, seq int64) int {
		return cmpInt(p.Seq, seq)
	})
	v.pending = slices.Insert(v.pending, i, c)
	return true
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// check verifies a checkpoint at the last record.
func (v *Verifier) check(c *keyward.AuditCheckpoint) bool {
	err := VerifyCheckpoint(c, v.trusted)
	switch {
	case errors.Is(err, ErrUntrustedKey):
		return v.fail(c.Seq, "checkpoint %d signed by untrusted key %s", c.Seq, KeyID(c.PublicKey))
	case errors.Is(err, ErrBadSignature):
		return v.fail(c.Seq, "checkpoint %d signature invalid", c.Seq)
	case err != nil:
		return v.fail(c.Seq, "checkpoint %d malformed", c.Seq)
	}
	if v.trusted == nil {
		if v.pinned == nil {
			v.pinned = ed25519.PublicKey(bytes.Clone(c.PublicKey))
		} else if !bytes.Equal(v.pinned, c.PublicKey) {
			return v.fail(c.Seq, "checkpoint %d signed by key %s, earlier checkpoints by %s", c.Seq, KeyID(c.PublicKey), KeyID(v.pinned))
		}
	}
	if c.Hash != v.lastHash {
		// The chain links up to here but disagrees with a signed head: it
		// was rewritten somewhere after the last good checkpoint.
		return v.fail(v.lastCP+1, "record %d does not match checkpoint %d (records %d-%d rewritten?)",
			c.Seq, c.Seq, v.lastCP+1, c.Seq)
	}
	v.lastCP = c.Seq
	v.checkpoints++
	return true
}

// Result returns the outcome so far, treating the input as complete: a
// checkpoint still waiting for its record means records were removed from the
// tail. Records and Checkpoints count those verified good.
func (v *Verifier) Result() *keyward.AuditVerification {
	res := &keyward.AuditVerification{Records: v.records, Checkpoints: v.checkpoints}
	switch {
	case v.failed:
		res.FirstBadSeq, res.Reason = v.badSeq, v.reason
	case len(v.pending) > 0:
		res.FirstBadSeq = v.next()
		res.Reason = fmt.Sprintf("checkpoint %d beyond last record %d (tail removed?)", v.pending[0].Seq, v.lastSeq)
	default:
		res.OK = true
	}
	return res
}
