// Package audit builds and verifies keyward's tamper-evident audit trail.
//
// # The chain
//
// Every audited call becomes a keyward.AuditEvent. Its canonical bytes
// (Canonical) are what the store keeps in AuditRecord.Event, and what is
// hashed. Records are numbered from 1 and chained:
//
//	Hash(1) = hex SHA-256( 32 zero bytes           ‖ canonical(event 1) )
//	Hash(n) = hex SHA-256( hex-decoded Hash(n-1)   ‖ canonical(event n) )
//
// (Link). The previous hash enters as its 32 raw bytes, so the split between
// the two parts is fixed and unambiguous; the canonical bytes are a JSON
// object, so they always start with '{'. Checkpoint messages (below) start
// with "keyward-audit-checkpoint/v1\n" and are signed, never chained, so a
// record hash and a checkpoint signature can never stand in for each other.
//
// Changing, removing, inserting or reordering a record breaks the chain at
// that point, unless the attacker also recomputes every later hash. That is
// what checkpoints are for: at intervals the server signs the head of the
// chain (Seq and Hash) with its Ed25519 key (Signer). Verification against
// the server's public key then also detects a rewritten chain, and a
// checkpoint whose record is gone reveals a truncated tail.
//
// What verification cannot detect: changes after the last checkpoint made by
// someone who recomputes the hashes (including appending forged records or
// dropping the newest ones), and deleted checkpoints (the result's
// Checkpoints count shows how many were checked). Checkpoint often, and
// compare the verified head with what the server reports.
//
// # Secrets
//
// Secret material never enters an event: the core replaces values with
// Marker(HMAC-SHA256(pepper, value)) before building it (see Redact), so that
// two events about the same value can be correlated without revealing it.
//
// # Export
//
// The JSONL export (JSONLWriter, VerifyJSONL) holds one JSON object per line:
//
//	{"type":"record","seq":1,"prevHash":"","hash":"…","event":{…}}
//	{"type":"checkpoint","seq":1,"hash":"…","time":"…","keyId":"…","publicKey":"…","signature":"…"}
//
// Record lines appear in Seq order; a checkpoint line follows the record it
// covers. The event is written byte for byte as stored; a verifier compacts
// it (json.Compact, the identity on canonical bytes) before hashing, so
// whitespace changes are harmless and anything else is detected.
//
// Sinks (JSONLSink, WriterSink) receive records after their transaction
// commits, for a SIEM; the store remains the source of truth.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/keyward/keyward"
)

// MarkerPrefix starts every value marker.
const MarkerPrefix = "hmac-sha256:"

// Canonical returns the canonical bytes of ev: encoding/json's Marshal of the
// event with EventTime converted to UTC. Struct fields come in declaration
// order and map keys sorted, so equal events give equal bytes. These bytes are
// stored in AuditRecord.Event and hashed; verification hashes the stored bytes
// as they are and never re-canonicalizes, so a later change of Go's encoder
// cannot invalidate old records.
//
// For an event decoded from JSON, Canonical is stable: decoding its output and
// canonicalizing again gives the same bytes. (A Go value may not round-trip,
// e.g. an int64 beyond 2^53 in RequestParameters decodes as a float64; the
// chain still verifies, because the stored bytes are what is hashed.)
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

// Link returns the hash of a record: lowercase hex SHA-256 over the 32 bytes
// that prevHash encodes (32 zero bytes when prevHash is "", the genesis),
// followed by the canonical event bytes. It returns "" when prevHash is not ""
// or 64 lowercase hex digits; no record hash is "", so such a link never
// verifies.
func Link(prevHash string, canonical []byte) string {
	var prev [sha256.Size]byte
	if prevHash != "" {
		if !validHash(prevHash) {
			return ""
		}
		hex.Decode(prev[:], []byte(prevHash))
	}
	h := sha256.New()
	h.Write(prev[:])
	h.Write(canonical)
	return hex.EncodeToString(h.Sum(nil))
}

// validHash reports whether s is 64 lowercase hex digits.
func validHash(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// NewRecord returns the record with sequence number seq chaining ev after a
// record whose hash is prevHash ("" for the first record). EINVALID for seq < 1,
// a malformed prevHash, or a nil event; an event that cannot be encoded is an
// internal error.
func NewRecord(seq int64, prevHash string, ev *keyward.AuditEvent) (*keyward.AuditRecord, error) {
	if seq < 1 {
		return nil, keyward.Errorf(keyward.EINVALID, "audit: record sequence must be at least 1")
	}
	if prevHash != "" && !validHash(prevHash) {
		return nil, keyward.Errorf(keyward.EINVALID, "audit: previous hash is not 64 lowercase hex digits")
	}
	if ev == nil {
		return nil, keyward.Errorf(keyward.EINVALID, "audit: no event")
	}
	b, err := Canonical(ev)
	if err != nil {
		return nil, err
	}
	return &keyward.AuditRecord{Seq: seq, PrevHash: prevHash, Hash: Link(prevHash, b), Event: b}, nil
}

// Append chains ev after the head of tx's audit chain and stores it. Call it
// inside the transaction that makes the change it records, so that the change
// and its record commit together (and a failure to audit fails the change).
// Errors are the store's, or NewRecord's.
func Append(ctx context.Context, tx keyward.AuditStore, ev *keyward.AuditEvent) (*keyward.AuditRecord, error) {
	seq, hash, err := tx.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	r, err := NewRecord(seq+1, hash, ev)
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
