package audit

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/keyward/keyward"
)

// MaxLineBytes bounds one line of a JSONL export; VerifyJSONL reports a
// longer line as a bad record instead of reading it.
const MaxLineBytes = 1 << 20

// Line types of the JSONL export.
const (
	lineRecord     = "record"
	lineCheckpoint = "checkpoint"
)

// recordLine and checkpointLine are the export's lines: a "type" and the
// domain type's own JSON fields.
type recordLine struct {
	Type string `json:"type"`
	*keyward.AuditRecord
}

type checkpointLine struct {
	Type string `json:"type"`
	*keyward.AuditCheckpoint
}

// JSONLWriter writes records and checkpoints as JSONL lines. Each line is one
// Write call on the underlying writer. It is not safe for concurrent use.
type JSONLWriter struct {
	enc *json.Encoder
}

// NewJSONLWriter returns a JSONLWriter on w.
func NewJSONLWriter(w io.Writer) *JSONLWriter {
	enc := json.NewEncoder(w)
	// Keep the stored event bytes as they are: no "<" → "\u003c" rewriting.
	enc.SetEscapeHTML(false)
	return &JSONLWriter{enc: enc}
}

// WriteRecord writes a record line. The event is written as stored (encoding/
// json compacts it, which changes nothing in canonical bytes); an event that
// is not valid JSON is an error.
func (w *JSONLWriter) WriteRecord(r *keyward.AuditRecord) error {
	if r == nil {
		return errors.New("audit: nil record")
	}
	return w.enc.Encode(recordLine{Type: lineRecord, AuditRecord: r})
}

// WriteCheckpoint writes a checkpoint line.
func (w *JSONLWriter) WriteCheckpoint(c *keyward.AuditCheckpoint) error {
	if c == nil {
		return errors.New("audit: nil checkpoint")
	}
	return w.enc.Encode(checkpointLine{Type: lineCheckpoint, AuditCheckpoint: c})
}

// VerifyJSONL verifies an exported chain read from r, which must start at
// record 1 (see Verifier; trusted as in VerifyStore). r is untrusted input:
// a line longer than MaxLineBytes, a line that is not a JSON object of a known
// type with exactly the expected fields, or any chain problem ends
// verification with OK false, FirstBadSeq set to the record concerned (for an
// unreadable line, the record expected next) and a Reason naming the line.
// Empty lines are skipped. The error is only for failures to read r.
func VerifyJSONL(r io.Reader, trusted ed25519.PublicKey) (*keyward.AuditVerification, error) {
	v := NewVerifier(trusted)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes+1)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if !verifyLine(v, line, b) {
			return v.Result(), nil
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			v.fail(v.next(), "line %d: longer than %d bytes", line+1, MaxLineBytes)
			return v.Result(), nil
		}
		return nil, fmt.Errorf("audit: reading JSONL: %w", err)
	}
	return v.Result(), nil
}

// verifyLine feeds one line to v and reports whether the chain is still good.
func verifyLine(v *Verifier, line int, b []byte) bool {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return v.fail(v.next(), "line %d: malformed JSON", line)
	}
	switch head.Type {
	case lineRecord:
		rl := recordLine{AuditRecord: new(keyward.AuditRecord)}
		if err := decodeStrict(b, &rl); err != nil {
			return v.fail(v.next(), "line %d: malformed record", line)
		}
		rec := rl.AuditRecord
		var ev bytes.Buffer
		if err := json.Compact(&ev, rec.Event); err != nil {
			return v.fail(v.next(), "line %d: record %d has a malformed event", line, rec.Seq)
		}
		rec.Event = ev.Bytes()
		if !v.Record(rec) {
			v.reason = fmt.Sprintf("line %d: %s", line, v.reason)
			return false
		}
		return true
	case lineCheckpoint:
		cl := checkpointLine{AuditCheckpoint: new(keyward.AuditCheckpoint)}
		if err := decodeStrict(b, &cl); err != nil {
			return v.fail(v.next(), "line %d: malformed checkpoint", line)
		}
		if !v.Checkpoint(cl.AuditCheckpoint) {
			v.reason = fmt.Sprintf("line %d: %s", line, v.reason)
			return false
		}
		return true
	}
	return v.fail(v.next(), "line %d: unknown type %q", line, clipType(head.Type))
}

// decodeStrict decodes exactly one JSON value with no unknown fields.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}

// clipType shortens an untrusted type name for a Reason; %q escapes the rest.
func clipType(s string) string {
	const max = 32
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
