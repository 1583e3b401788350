package audit

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward"
)

// The JSONL export (and the JSONL/stdout sinks) hold one JSON object a line:
//
//	{"type":"key","verifierKey":"keyward/audit/…+…+…"}
//	{"type":"frontier","size":41,"hashes":["…",…]}
//	{"type":"record","seq":42,"hash":"…","event":{…}}
//	{"type":"checkpoint","size":42,"root":"…","time":"…","note":"…"}
//
// The key line names the signing key, for a reader with no key of its own
// (what it proves is then only that the file is consistent with itself). A
// frontier line starts a file that begins after record 1 (a sink enabled
// later): the compact range of the tree before its first record, which the
// next checkpoint vouches for. Records come in Seq order, and a checkpoint
// right after the last record it covers; an export ends with one.

// MaxLineBytes bounds one line; VerifyJSONL reports a longer line as bad
// instead of reading it.
const MaxLineBytes = 1 << 20

// Line types.
const (
	lineKey        = "key"
	lineFrontier   = "frontier"
	lineRecord     = "record"
	lineCheckpoint = "checkpoint"
)

type keyLine struct {
	Type        string `json:"type"`
	VerifierKey string `json:"verifierKey"`
}

type frontierLine struct {
	Type   string   `json:"type"`
	Size   int64    `json:"size"`
	Hashes []string `json:"hashes"`
}

type recordLine struct {
	Type  string          `json:"type"`
	Seq   int64           `json:"seq"`
	Hash  string          `json:"hash"`
	Event json.RawMessage `json:"event"`
}

type checkpointLine struct {
	Type string    `json:"type"`
	Size int64     `json:"size"`
	Root string    `json:"root"`
	Time time.Time `json:"time"`
	Note string    `json:"note"`
}

// JSONLWriter writes the lines. Each line is one Write call on the
// underlying writer. It is not safe for concurrent use.
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

// WriteKey writes the key line.
func (w *JSONLWriter) WriteKey(cv *CheckpointVerifier) error {
	return w.enc.Encode(keyLine{Type: lineKey, VerifierKey: cv.VerifierKey()})
}

// WriteFrontier writes the frontier line of a file whose first record will
// be size+1.
func (w *JSONLWriter) WriteFrontier(size int64, frontier [][]byte) error {
	hs := make([]string, len(frontier))
	for i, h := range frontier {
		hs[i] = hex.EncodeToString(h)
	}
	return w.enc.Encode(frontierLine{Type: lineFrontier, Size: size, Hashes: hs})
}

// WriteRecord writes a record line, the event as stored.
func (w *JSONLWriter) WriteRecord(r *keyward.AuditRecord) error {
	if r == nil {
		return errors.New("audit: nil record")
	}
	return w.enc.Encode(recordLine{Type: lineRecord, Seq: r.Seq, Hash: r.Hash, Event: r.Event})
}

// WriteCheckpoint writes a checkpoint line.
func (w *JSONLWriter) WriteCheckpoint(c *keyward.AuditCheckpoint) error {
	if c == nil {
		return errors.New("audit: nil checkpoint")
	}
	return w.enc.Encode(checkpointLine{Type: lineCheckpoint, Size: c.Size, Root: c.Root, Time: c.Time, Note: c.Note})
}

// FileOptions say how to read a file.
type FileOptions struct {
	// Pinned is the key the reader trusts. Nil: the file's own key line is
	// used, which proves only that the file is consistent with itself
	// (anyone can sign a file with a key of their own).
	Pinned *CheckpointVerifier
	// AllowTail accepts records after the last checkpoint (a live sink
	// file); they are reported as the tail, not verified. Without it they
	// fail verification: an export ends with a checkpoint, so a tail there
	// means checkpoints were removed.
	AllowTail bool
}

// VerifyJSONL verifies a JSONL file read from r. r is untrusted input: it is
// decoded strictly (unknown, duplicate or missing fields, a line longer than
// MaxLineBytes, an unknown type are all failures), and an event re-encoded by
// another tool is checked in its canonical form (Canonicalize). The result
// has OK false, FirstBadSeq and a Reason naming the line for any problem.
// The error is only for failures to read r.
func VerifyJSONL(r io.Reader, o FileOptions) (*keyward.AuditVerification, error) {
	f := &fileVerifier{o: o, cv: o.Pinned}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes+1)
	for sc.Scan() {
		f.line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if !f.feed(b) {
			return f.result(), nil
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			f.fail("line %d: longer than %d bytes", f.line+1, MaxLineBytes)
			return f.result(), nil
		}
		return nil, fmt.Errorf("audit: reading JSONL: %w", err)
	}
	res := f.result()
	if res.OK && res.TailRecords > 0 && !o.AllowTail {
		res.OK = false
		res.FirstBadSeq = res.Records + max(res.FirstSeq, 1) - res.TailRecords
		res.Reason = fmt.Sprintf("records %d-%d come after the last checkpoint: no signature covers them (an export ends with a checkpoint; checkpoints removed?)",
			res.FirstBadSeq, res.FirstBadSeq+res.TailRecords-1)
	}
	return res, nil
}

// fileVerifier reads lines into a Verifier, made at the first line that
// needs one (a key line may come first).
type fileVerifier struct {
	o    FileOptions
	cv   *CheckpointVerifier
	v    *Verifier
	line int
	// before the verifier exists
	failed bool
	reason string
}

func (f *fileVerifier) fail(format string, args ...any) bool {
	msg := fmt.Sprintf(format, args...)
	if f.v != nil {
		return f.v.fail(f.v.next, "%s", msg)
	}
	f.failed, f.reason = true, msg
	return false
}

func (f *fileVerifier) result() *keyward.AuditVerification {
	if f.v == nil {
		if f.failed {
			return &keyward.AuditVerification{Reason: f.reason}
		}
		return &keyward.AuditVerification{OK: true}
	}
	return f.v.Result()
}

// verifier returns the Verifier, making it on first use.
func (f *fileVerifier) verifier() (*Verifier, bool) {
	if f.v != nil {
		return f.v, true
	}
	if f.cv == nil {
		return nil, f.fail("line %d: no key line before it, and no key given to verify with", f.line)
	}
	f.v = NewVerifier(f.cv, nil, nil)
	return f.v, true
}

func (f *fileVerifier) feed(b []byte) bool {
	fields, err := topLevel(b)
	if err != nil {
		return f.fail("line %d: %v", f.line, err)
	}
	var typ string
	if err := json.Unmarshal(fields["type"], &typ); err != nil {
		return f.fail("line %d: no line type", f.line)
	}
	switch typ {
	case lineKey:
		var kl keyLine
		if err := decodeFields(fields, map[string]any{"type": &kl.Type, "verifierKey": &kl.VerifierKey}); err != nil {
			return f.fail("line %d: malformed key line: %v", f.line, err)
		}
		if f.v != nil {
			// A writer that restarted (stdout of a server, collected)
			// repeats its key line: it must be the same key.
			if f.o.Pinned == nil && strings.TrimSpace(kl.VerifierKey) != f.cv.VerifierKey() {
				return f.fail("line %d: a key line for another key", f.line)
			}
			return true
		}
		if f.o.Pinned == nil {
			cv, err := ParseVerifierKey(kl.VerifierKey)
			if err != nil {
				return f.fail("line %d: %v", f.line, err)
			}
			f.cv = cv
		}
		return true
	case lineFrontier:
		var fl frontierLine
		if err := decodeFields(fields, map[string]any{"type": &fl.Type, "size": &fl.Size, "hashes": &fl.Hashes}); err != nil {
			return f.fail("line %d: malformed frontier line: %v", f.line, err)
		}
		hs := make([][]byte, len(fl.Hashes))
		for i, s := range fl.Hashes {
			h, ok := parseHashHex(s)
			if !ok {
				return f.fail("line %d: frontier hash %d is not 64 lowercase hex digits", f.line, i+1)
			}
			hs[i] = h[:]
		}
		if f.v != nil {
			// A writer that restarted repeats its frontier: it must be
			// where the file is, or records were left out.
			if !f.v.At(fl.Size, hs) {
				return f.fail("line %d: a frontier line for record %d after record %d (records left out?)", f.line, fl.Size+1, f.v.next-1)
			}
			return true
		}
		v, ok := f.verifier()
		if !ok {
			return false
		}
		if err := v.StartAt(fl.Size, hs); err != nil {
			return f.fail("line %d: %v", f.line, err)
		}
		return true
	case lineRecord:
		var rl recordLine
		if err := decodeFields(fields, map[string]any{"type": &rl.Type, "seq": &rl.Seq, "hash": &rl.Hash, "event": &rl.Event}); err != nil {
			return f.fail("line %d: malformed record: %v", f.line, err)
		}
		v, ok := f.verifier()
		if !ok {
			return false
		}
		leaf, err := leafOf(rl.Event, rl.Hash)
		if err != nil {
			return f.fail("line %d: record %d has a malformed event: %v", f.line, rl.Seq, err)
		}
		if !v.Record(&keyward.AuditRecord{Seq: rl.Seq, Hash: rl.Hash, Event: rl.Event}, leaf) {
			v.reason = fmt.Sprintf("line %d: %s", f.line, v.reason)
			return false
		}
		return true
	case lineCheckpoint:
		var cl checkpointLine
		if err := decodeFields(fields, map[string]any{"type": &cl.Type, "size": &cl.Size, "root": &cl.Root, "time": &cl.Time, "note": &cl.Note}); err != nil {
			return f.fail("line %d: malformed checkpoint: %v", f.line, err)
		}
		v, ok := f.verifier()
		if !ok {
			return false
		}
		if !v.Checkpoint(&keyward.AuditCheckpoint{Size: cl.Size, Root: cl.Root, Time: cl.Time, Note: cl.Note}) {
			v.reason = fmt.Sprintf("line %d: %s", f.line, v.reason)
			return false
		}
		return true
	}
	return f.fail("line %d: unknown type %q", f.line, clipType(typ))
}

// topLevel splits a JSON object into its members, refusing a duplicate
// name, also one that differs only in case (encoding/json matches field
// names without regard to case, so "Seq" and "seq" would both land in Seq).
func topLevel(b []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("not UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	out := map[string]json.RawMessage{}
	folded := map[string]bool{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, errors.New("malformed JSON")
		}
		key := k.(string)
		if folded[strings.ToLower(key)] {
			return nil, fmt.Errorf("duplicate field %q", clipType(key))
		}
		folded[strings.ToLower(key)] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, errors.New("malformed JSON")
		}
		out[key] = raw
	}
	if _, err := dec.Token(); err != nil {
		return nil, errors.New("malformed JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return out, nil
}

// decodeFields decodes fields into the targets named by into: all present,
// nothing else.
func decodeFields(fields map[string]json.RawMessage, into map[string]any) error {
	for k := range fields {
		if _, ok := into[k]; !ok {
			return fmt.Errorf("unknown field %q", clipType(k))
		}
	}
	for name, target := range into {
		raw, ok := fields[name]
		if !ok {
			return fmt.Errorf("missing field %q", name)
		}
		if err := json.Unmarshal(raw, target); err != nil {
			return fmt.Errorf("field %q: %v", name, err)
		}
	}
	return nil
}

// clipType shortens an untrusted name for a Reason; %q escapes the rest.
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
