// Package audit keeps keyward's audit trail as a transparency log.
//
// # The log
//
// Every audited call becomes a keyward.AuditEvent. Its canonical bytes
// (Canonical) are a record of the log, numbered from 1 (Seq), and a leaf of
// a Merkle tree in the shape of RFC 6962 (and RFC 9162, Certificate
// Transparency): the record's hash is the leaf hash SHA-256(0x00 ‖ bytes),
// an interior node is SHA-256(0x01 ‖ left ‖ right), and the tree of the
// first n records has one root hash. The store keeps the tree's hashes in the
// layout of golang.org/x/mod/sumdb/tlog (the Go checksum database's), so an
// inclusion proof for one record, or a consistency proof that a tree of size
// m is a prefix of the tree of size n, costs O(log n) reads.
//
// # Checkpoints
//
// A checkpoint is a signed tree head: the tree size and root, in the C2SP
// tlog-checkpoint format, signed as a C2SP signed note with the server's
// Ed25519 key (Signer):
//
//	keyward/audit/<key id>
//	<size>
//	<base64 root>
//	keyward-time <RFC 3339 UTC, seconds>
//
//	— keyward/audit/<key id> <base64 signature>
//
// The server writes one at least every checkpoint interval, every N records
// and at shutdown (Log.Checkpoint). Before it signs, it checks every record
// since the last checkpoint against its hash and tag (below), so it never
// signs records someone slipped into the database.
//
// # Who can rewrite what
//
// The threat is someone who can write the database (and exported files) but
// not the data dir's other files nor the keyring. Against them:
//
//   - The signing key is not in the database, so they cannot sign a tree of
//     their own; a record changed, removed, inserted or reordered below a
//     checkpoint no longer reproduces its root.
//   - The latest checkpoint is also kept outside the database, in the
//     witness file (Witness) and in the JSONL/stdout sinks. Deleting
//     checkpoints, or records they cover, shows against the witness.
//   - Records after the last checkpoint (the tail) carry a tag, an HMAC of
//     (seq, leaf hash) under the tail key, another data-dir file the
//     database never holds (TailKey). A tail record changed, inserted or
//     reordered has a bad tag. Removing the newest tail records cannot be
//     detected: checkpoint often, and read "tail" as "not yet verified".
//
// # Secrets
//
// Secret material never enters an event: the core replaces values with
// Marker(HMAC-SHA256(pepper, value)) before building it (see Redact), so that
// two events about the same value can be correlated without revealing it.
package audit

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/keyward/keyward"
)

// MarkerPrefix starts every value marker.
const MarkerPrefix = "hmac-sha256:"

// Canonical returns the canonical bytes of ev: encoding/json's Marshal of the
// event with EventTime converted to UTC. Struct fields come in declaration
// order and map keys sorted, so equal events give equal bytes. These bytes are
// stored in AuditRecord.Event and hashed; verification hashes the stored bytes
// as they are and never re-canonicalizes from a Go value, so a later change of
// the event type cannot invalidate old records. (Canonicalize, for files
// re-encoded by other tools, works on the bytes alone.)
//
// The error (an unencodable value such as NaN, or a year outside 0-9999) is
// not a *keyward.Error: it is a bug in the caller, internal by nature.
func Canonical(ev *keyward.AuditEvent) ([]byte, error) {
	if ev == nil {
		return nil, fmt.Errorf("audit: nil event")
	}
	e := *ev
	e.EventTime = ev.EventTime.UTC()
	b, err := json.Marshal(&e)
	if err != nil {
		return nil, fmt.Errorf("audit: encoding event: %w", err)
	}
	return b, nil
}

// LeafHash returns the RFC 6962 leaf hash of a record's event bytes.
func LeafHash(event []byte) tlog.Hash { return tlog.RecordHash(event) }

// hashHex is the lowercase hex of h, as records and checkpoints show it.
func hashHex(h tlog.Hash) string { return hex.EncodeToString(h[:]) }

// parseHashHex reads 64 lowercase hex digits.
func parseHashHex(s string) (tlog.Hash, bool) {
	var h tlog.Hash
	if len(s) != 2*len(h) {
		return h, false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return h, false
		}
	}
	hex.Decode(h[:], []byte(s))
	return h, true
}

// NewRecord returns record seq for ev, tagged with tail. EINVALID for
// seq < 1 or a nil event; an event that cannot be encoded is an internal
// error.
func NewRecord(seq int64, ev *keyward.AuditEvent, tail *TailKey) (*keyward.AuditRecord, error) {
	if seq < 1 {
		return nil, keyward.Errorf(keyward.EINVALID, "audit: record sequence must be at least 1")
	}
	if ev == nil {
		return nil, keyward.Errorf(keyward.EINVALID, "audit: no event")
	}
	b, err := Canonical(ev)
	if err != nil {
		return nil, err
	}
	leaf := LeafHash(b)
	return &keyward.AuditRecord{Seq: seq, Hash: hashHex(leaf), Event: b, Tag: tail.Tag(seq, leaf)}, nil
}

// Append adds ev as the next record of tx's log, tagged with tail. Call it
// inside the transaction that makes the change it records, so that the change
// and its record commit together (and a failure to audit fails the change).
// Errors are the store's, or NewRecord's.
func Append(ctx context.Context, tx keyward.AuditStore, ev *keyward.AuditEvent, tail *TailKey) (*keyward.AuditRecord, error) {
	seq, err := tx.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	r, err := NewRecord(seq+1, ev, tail)
	if err != nil {
		return nil, err
	}
	if err := tx.AppendAudit(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// Marker returns the text that stands for a secret value in an event:
// "hmac-sha256:" and the lowercase hex of mac, which the caller computes as
// HMAC-SHA256(server pepper, value).
func Marker(mac []byte) string {
	return MarkerPrefix + hex.EncodeToString(mac)
}

// Redact replaces, in params, the value of each of keys that is present by
// Marker(mac(value)). A string value is MACed as its bytes, a []byte as is,
// anything else as its JSON encoding (or, if it has none, replaced by the
// marker of nothing). Only top-level keys are looked at; matching is exact.
// mac is the caller's HMAC-SHA256 under the server pepper.
func Redact(params map[string]any, mac func(value []byte) []byte, keys ...string) {
	for _, k := range keys {
		v, ok := params[k]
		if !ok {
			continue
		}
		var b []byte
		switch v := v.(type) {
		case string:
			b = []byte(v)
		case []byte:
			b = v
		default:
			b, _ = json.Marshal(v)
		}
		params[k] = Marker(mac(b))
	}
}
