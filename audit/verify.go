package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/keyward/keyward"
)

// maxPending bounds the checkpoints a Verifier holds while waiting for their
// records. Well-formed input has none waiting (a checkpoint follows its
// record), so only hostile input reaches the bound.
const maxPending = 1024

var rangeFactory = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// Verifier checks a log fed to it record by record, in order, with
// checkpoints fed alongside. It keeps the compact range of the tree (one
// hash per set bit of its size) and the checkpoints waiting for their
// record, so a log of any length is checked in constant memory.
//
// For each record: Seq is the next expected number, Hash is the leaf hash of
// the event, and with a tail key the tag matches. For each checkpoint: it is
// signed by the verifier's key, and when its record has been fed, the tree
// of that size has exactly its root. A checkpoint may come before its record
// (it then waits) or right after it, not after a later record; one still
// waiting at the end covers records that are gone.
//
// The first problem stops verification; Result names it. A Verifier is not
// safe for concurrent use.
type Verifier struct {
	cv     *CheckpointVerifier
	tail   *TailKey // nil: tags are not checked (a file has none)
	legacy *Legacy

	rng         *compact.Range
	first       int64 // the first Seq expected
	next        int64 // the next Seq expected
	records     int64
	checkpoints int
	last        *keyward.AuditCheckpoint // the last checkpoint that matched
	tailSince   time.Time                // event time of the record after it

	pending []*keyward.AuditCheckpoint // ordered by Size, all >= next
	witness int64                      // the witness's size: checked like a checkpoint, not counted as one more

	failed bool
	badSeq int64
	reason string
}

// NewVerifier returns a Verifier for a whole log, from record 1, trusting
// checkpoints signed by cv's key. With tail set, every record's tag is
// checked too (records 1..legacy.Through of a carried-over chain have none).
func NewVerifier(cv *CheckpointVerifier, tail *TailKey, legacy *Legacy) *Verifier {
	if legacy == nil {
		legacy = &Legacy{}
	}
	return &Verifier{cv: cv, tail: tail, legacy: legacy, rng: rangeFactory.NewEmptyRange(0), first: 1, next: 1}
}

// StartAt makes v verify a log that starts after record size, whose tree of
// size records has the compact range frontier (see Frontier). Call it before
// feeding anything. A checkpoint signed later vouches for the frontier too:
// a wrong one cannot reproduce a signed root.
func (v *Verifier) StartAt(size int64, frontier [][]byte) error {
	if v.records > 0 || v.checkpoints > 0 || size < 0 {
		return errors.New("audit: StartAt after the first record")
	}
	if len(frontier) != frontierLen(size) {
		return fmt.Errorf("a tree of %d records has %d frontier hashes, not %d", size, frontierLen(size), len(frontier))
	}
	for _, h := range frontier {
		if len(h) != len(tlog.Hash{}) {
			return errors.New("a frontier hash is not 32 bytes")
		}
	}
	rng, err := rangeFactory.NewRange(0, uint64(size), frontier)
	if err != nil {
		return err
	}
	v.rng, v.first, v.next = rng, size+1, size+1
	return nil
}

// At reports whether v has verified exactly the first size records and its
// tree has the compact range frontier.
func (v *Verifier) At(size int64, frontier [][]byte) bool {
	if v.next-1 != size {
		return false
	}
	have := v.rng.Hashes()
	if len(have) != len(frontier) {
		return false
	}
	for i := range have {
		if !bytes.Equal(have[i], frontier[i]) {
			return false
		}
	}
	return true
}

// Failed reports whether a problem was found; Record and Checkpoint then do
// nothing.
func (v *Verifier) Failed() bool { return v.failed }

func (v *Verifier) fail(seq int64, format string, args ...any) bool {
	if !v.failed {
		v.failed, v.badSeq, v.reason = true, seq, fmt.Sprintf(format, args...)
	}
	return false
}

// Record checks the next record, whose event's leaf hash the caller computed
// (LeafHash, or leafOf for re-encoded input), and reports whether the log is
// still good.
func (v *Verifier) Record(r *keyward.AuditRecord, leaf tlog.Hash) bool {
	if v.failed {
		return false
	}
	want := v.next
	switch {
	case r == nil:
		return v.fail(want, "record %d missing", want)
	case r.Seq > want:
		return v.fail(want, "record %d missing (next is %d)", want, r.Seq)
	case r.Seq < want:
		return v.fail(max(r.Seq, v.first), "record %d out of order (expected %d)", r.Seq, want)
	}
	if h, ok := parseHashHex(r.Hash); !ok || h != leaf {
		return v.fail(r.Seq, "record %d: its hash does not match its event", r.Seq)
	}
	if v.tail != nil {
		switch {
		case r.Tag == nil && r.Seq <= v.legacy.Through:
		case r.Tag == nil:
			return v.fail(r.Seq, "record %d has no tag", r.Seq)
		case !v.tail.Check(r.Seq, leaf, r.Tag):
			return v.fail(r.Seq, "record %d: its tag does not match (not written with the tail key)", r.Seq)
		}
	}
	l := leaf
	if err := v.rng.Append(l[:], nil); err != nil {
		return v.fail(r.Seq, "record %d: %v", r.Seq, err)
	}
	if v.tailSince.IsZero() {
		v.tailSince = eventTime(r.Event)
	}
	v.next++
	v.records++
	for len(v.pending) > 0 && v.pending[0].Size == r.Seq {
		c := v.pending[0]
		v.pending = v.pending[1:]
		if !v.check(c) {
			return false
		}
	}
	return true
}

// eventTime reads an event's time, zero when it has none.
func eventTime(event []byte) time.Time {
	var e struct {
		EventTime time.Time `json:"eventTime"`
	}
	_ = json.Unmarshal(event, &e)
	return e.EventTime
}

// Checkpoint takes a checkpoint: its note is verified now, its root when
// its record has been fed. It reports whether the log is still good.
func (v *Verifier) Checkpoint(c *keyward.AuditCheckpoint) bool {
	if v.failed {
		return false
	}
	if c == nil {
		return v.fail(v.next, "checkpoint missing")
	}
	opened, err := v.cv.Open([]byte(c.Note))
	switch {
	case errors.Is(err, ErrBadSignature):
		return v.fail(v.next, "checkpoint %d is not signed by the trusted key", c.Size)
	case err != nil:
		return v.fail(v.next, "checkpoint %d: %v", c.Size, err)
	case opened.Size != c.Size || opened.Root != c.Root || !opened.Time.Equal(c.Time):
		return v.fail(v.next, "checkpoint %d: its fields differ from its signed note", c.Size)
	case opened.Size < 1:
		return v.fail(v.next, "checkpoint of an empty tree")
	case opened.Size < v.first-1:
		return true // before the records verified here
	case opened.Size == v.next-1:
		return v.check(opened)
	case opened.Size < v.next-1:
		return v.fail(opened.Size, "checkpoint %d out of order (after record %d)", opened.Size, v.next-1)
	}
	if len(v.pending) >= maxPending {
		return v.fail(v.next, "more than %d checkpoints ahead of the records", maxPending)
	}
	i, _ := slices.BinarySearchFunc(v.pending, opened.Size, func(p *keyward.AuditCheckpoint, size int64) int {
		return cmpInt(p.Size, size)
	})
	v.pending = slices.Insert(v.pending, i, opened)
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

// Witness takes the witness checkpoint: checked like any other, but not
// counted as one more (the store holds the same checkpoint).
func (v *Verifier) Witness(c *keyward.AuditCheckpoint) bool {
	if c != nil {
		v.witness = c.Size
	}
	return v.Checkpoint(c)
}

// check compares a checkpoint with the tree of the records fed so far.
func (v *Verifier) check(c *keyward.AuditCheckpoint) bool {
	got, err := v.rng.GetRootHash(nil)
	if err != nil {
		return v.fail(c.Size, "checkpoint %d: %v", c.Size, err)
	}
	if hashHex(tlog.Hash(got)) != c.Root {
		from := v.first
		if v.last != nil {
			from = v.last.Size + 1
		}
		return v.fail(from, "records %d-%d do not reproduce the root of checkpoint %d (changed, removed, inserted or reordered)", from, c.Size, c.Size)
	}
	if v.last == nil || c.Size > v.last.Size || c.Time.After(v.last.Time) {
		v.last = c
	}
	if c.Size == v.witness {
		v.witness = 0
	} else {
		v.checkpoints++
	}
	v.tailSince = time.Time{}
	return true
}

// Result returns the outcome so far, treating the input as complete: a
// checkpoint still waiting for its record means records were removed from
// the tail.
func (v *Verifier) Result() *keyward.AuditVerification {
	res := &keyward.AuditVerification{Records: v.records, Checkpoints: v.checkpoints, TailTagged: v.tail != nil}
	if v.first > 1 {
		res.FirstSeq = v.first
	}
	covered := v.first - 1
	if v.last != nil {
		covered = v.last.Size
		res.TreeSize, res.Root = v.last.Size, v.last.Root
	}
	res.Verified = max(covered-v.first+1, 0)
	res.TailRecords = v.next - 1 - covered
	if res.TailRecords > 0 && !v.tailSince.IsZero() {
		t := v.tailSince
		res.TailSince = &t
	}
	if u := v.legacy.Unverified; u != nil {
		res.LegacyUnverified = u
	}
	switch {
	case v.failed:
		res.FirstBadSeq, res.Reason = v.badSeq, v.reason
	case len(v.pending) > 0:
		res.FirstBadSeq = v.next
		res.Reason = fmt.Sprintf("checkpoint %d is beyond the last record %d (records removed)", v.pending[0].Size, v.next-1)
	default:
		res.OK = true
	}
	return res
}
