package audit_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
)

// exportFixture is a 5-record chain with checkpoints at 3 and 5, as lines:
//
//	0 r1, 1 r2, 2 r3, 3 c3, 4 r4, 5 r5, 6 c5
type exportFixture struct {
	recs  []*keyward.AuditRecord
	cps   map[int64]*keyward.AuditCheckpoint
	lines []string
}

func newFixture(t testing.TB) *exportFixture {
	t.Helper()
	f := &exportFixture{recs: chain(t, 5), cps: map[int64]*keyward.AuditCheckpoint{}}
	for _, seq := range []int64{3, 5} {
		f.cps[seq] = testSigner.Checkpoint(seq, f.recs[seq-1].Hash, t0.Add(time.Hour))
	}
	f.lines = f.render(t, f.recs)
	return f
}

// render writes recs with the fixture's checkpoints after their records.
func (f *exportFixture) render(t testing.TB, recs []*keyward.AuditRecord) []string {
	var lines []string
	for _, r := range recs {
		lines = append(lines, recordLine(t, r))
		if c, ok := f.cps[r.Seq]; ok {
			lines = append(lines, checkpointLine(t, c))
		}
	}
	return lines
}

func without(lines []string, i int) []string {
	out := append([]string(nil), lines[:i]...)
	return append(out, lines[i+1:]...)
}

func TestVerifyJSONLRoundTrip(t *testing.T) {
	f := newFixture(t)
	for name, trusted := range map[string]ed25519.PublicKey{"trusted": testSigner.PublicKey(), "self-asserted": nil} {
		t.Run(name, func(t *testing.T) {
			res := verifyLines(t, f.lines, trusted)
			want := keyward.AuditVerification{OK: true, Records: 5, Checkpoints: 2}
			if *res != want {
				t.Errorf("VerifyJSONL = %+v, want %+v", *res, want)
			}
		})
	}
	if res := verifyLines(t, nil, testSigner.PublicKey()); !res.OK || res.Records != 0 {
		t.Errorf("empty export: %+v", res)
	}
}

// TestVerifyJSONLTampering changes an export in every way the design promises
// to detect, and checks the record named. The two "undetectable" cases pin
// the documented limit: what follows the last checkpoint is only chained,
// not signed.
func TestVerifyJSONLTampering(t *testing.T) {
	tests := []struct {
		name         string
		tamper       func(t *testing.T, f *exportFixture) []string
		selfAsserted bool // verify without the trusted key
		wantOK       bool
		wantBad      int64
	}{
		{
			name: "one byte of an event changed",
			tamper: func(t *testing.T, f *exportFixture) []string {
				l := append([]string(nil), f.lines...)
				l[1] = strings.Replace(l[1], `"prn_1"`, `"prn_2"`, 1)
				return l
			},
			wantBad: 2,
		},
		{
			name:    "middle record deleted",
			tamper:  func(t *testing.T, f *exportFixture) []string { return without(f.lines, 2) },
			wantBad: 3,
		},
		{
			name:    "first record deleted",
			tamper:  func(t *testing.T, f *exportFixture) []string { return without(f.lines, 0) },
			wantBad: 1,
		},
		{
			name:    "last record deleted, a checkpoint covers it",
			tamper:  func(t *testing.T, f *exportFixture) []string { return without(f.lines, 5) },
			wantBad: 5,
		},
		{
			name: "last two records deleted, a checkpoint covers them",
			tamper: func(t *testing.T, f *exportFixture) []string {
				return []string{f.lines[0], f.lines[1], f.lines[2], f.lines[3], f.lines[6]}
			},
			wantBad: 4,
		},
		{
			name: "forged record inserted",
			tamper: func(t *testing.T, f *exportFixture) []string {
				forged, err := audit.NewRecord(3, f.recs[1].Hash, event(99))
				if err != nil {
					t.Fatal(err)
				}
				l := append([]string(nil), f.lines[:2]...)
				l = append(l, recordLine(t, forged))
				return append(l, f.lines[2:]...)
			},
			wantBad: 3,
		},
		{
			name: "forged record inserted and later ones renumbered and relinked",
			tamper: func(t *testing.T, f *exportFixture) []string {
				forged, _ := audit.NewRecord(3, f.recs[1].Hash, event(99))
				recs := cloneRecords(f.recs)
				recs = append(recs[:2], append([]*keyward.AuditRecord{forged}, recs[2:]...)...)
				for i := 3; i < len(recs); i++ {
					recs[i].Seq = int64(i + 1)
				}
				relink(t, recs, 3)
				return f.render(t, recs) // checkpoints now sit at seqs 3 and 5 of the forged chain
			},
			wantBad: 1, // the chain links; only checkpoint 3 disagrees, so 1-3 are suspect
		},
		{
			name: "two records swapped",
			tamper: func(t *testing.T, f *exportFixture) []string {
				l := append([]string(nil), f.lines...)
				l[1], l[2] = l[2], l[1]
				return l
			},
			wantBad: 2,
		},
		{
			name: "prevHash changed",
			tamper: func(t *testing.T, f *exportFixture) []string {
				recs := cloneRecords(f.recs)
				recs[3].PrevHash = strings.Repeat("0", 64)
				return f.render(t, recs)
			},
			wantBad: 4,
		},
		{
			name: "hash changed",
			tamper: func(t *testing.T, f *exportFixture) []string {
				recs := cloneRecords(f.recs)
				recs[0].Hash = strings.Repeat("0", 64)
				return f.render(t, recs)
			},
			wantBad: 1,
		},
		{
			name: "seq renumbered",
			tamper: func(t *testing.T, f *exportFixture) []string {
				recs := cloneRecords(f.recs)
				recs[4].Seq = 6
				return f.render(t, recs)[:6]
			},
			wantBad: 5,
		},
		{
			name: "event changed and every later hash recomputed",
			tamper: func(t *testing.T, f *exportFixture) []string {
				recs := cloneRecords(f.recs)
				recs[1].Event = bytes.Replace(recs[1].Event, []byte("prn_1"), []byte("prn_2"), 1)
				relink(t, recs, 1)
				return f.render(t, recs)
			},
			wantBad: 1, // nothing before checkpoint 3 can be trusted
		},
		{
			name: "event after first checkpoint changed and relinked",
			tamper: func(t *testing.T, f *exportFixture) []string {
				recs := cloneRecords(f.recs)
				recs[3].Event = bytes.Replace(recs[3].Event, []byte("prn_1"), []byte("prn_2"), 1)
				relink(t, recs, 3)
				return f.render(t, recs)
			},
			wantBad: 4,
		},
		{
			name: "checkpoint forged with another key",
			tamper: func(t *testing.T, f *exportFixture) []string {
				l := append([]string(nil), f.lines...)
				l[3] = checkpointLine(t, otherSigner.Checkpoint(3, f.recs[2].Hash, t0))
				return l
			},
			wantBad: 3,
		},
		{
			name: "checkpoint signature bit flipped",
			tamper: func(t *testing.T, f *exportFixture) []string {
				c := *f.cps[5]
				c.Signature = bytes.Clone(c.Signature)
				c.Signature[0] ^= 0x80
				l := append([]string(nil), f.lines...)
				l[6] = checkpointLine(t, &c)
				return l
			},
			wantBad: 5,
		},
		{
			name: "checkpoint with another key among genuine ones, no trusted key",
			tamper: func(t *testing.T, f *exportFixture) []string {
				l := append([]string(nil), f.lines...)
				l[6] = checkpointLine(t, otherSigner.Checkpoint(5, f.recs[4].Hash, t0))
				return l
			},
			selfAsserted: true,
			wantBad:      5,
		},
		{
			name: "checkpoint moved after a later record",
			tamper: func(t *testing.T, f *exportFixture) []string {
				l := append([]string(nil), f.lines...)
				l[3], l[4] = l[4], l[3]
				return l
			},
			wantBad: 3,
		},
		{
			name: "line longer than the limit",
			tamper: func(t *testing.T, f *exportFixture) []string {
				return append(f.lines[:2:2], strings.Repeat(" ", audit.MaxLineBytes+1)+"\n")
			},
			wantBad: 3,
		},
		{
			name:    "unknown line type",
			tamper:  func(t *testing.T, f *exportFixture) []string { return append(f.lines[:1:1], `{"type":"comment"}`+"\n") },
			wantBad: 2,
		},
		{
			name:    "malformed JSON",
			tamper:  func(t *testing.T, f *exportFixture) []string { return append(f.lines[:1:1], `{"type":"record",`+"\n") },
			wantBad: 2,
		},
		{
			name: "unknown field in a record line",
			tamper: func(t *testing.T, f *exportFixture) []string {
				return append(f.lines[:1:1], strings.Replace(f.lines[1], `{"type":"record",`, `{"type":"record","note":"x",`, 1))
			},
			wantBad: 2,
		},
		{
			name: "data after the object",
			tamper: func(t *testing.T, f *exportFixture) []string {
				return append(f.lines[:1:1], strings.TrimSuffix(f.lines[1], "\n")+` {}`+"\n")
			},
			wantBad: 2,
		},
		{
			name: "event not an object",
			tamper: func(t *testing.T, f *exportFixture) []string {
				r, _ := audit.NewRecord(1, "", event(1))
				r.Event = []byte(`[1,2]`)
				r.Hash = audit.Link("", r.Event)
				return []string{recordLine(t, r)}
			},
			wantBad: 1,
		},

		// Harmless or undetectable by design.
		{
			name: "whitespace added inside an event",
			tamper: func(t *testing.T, f *exportFixture) []string {
				l := append([]string(nil), f.lines...)
				l[1] = strings.Replace(l[1], `"event":{"eventVersion"`, `"event": {  "eventVersion"`, 1)
				return l
			},
			wantOK: true,
		},
		{
			name:   "empty lines",
			tamper: func(t *testing.T, f *exportFixture) []string { return append([]string{"\n", "  \r\n"}, f.lines...) },
			wantOK: true,
		},
		{
			name: "undetectable: last record and its checkpoint removed",
			tamper: func(t *testing.T, f *exportFixture) []string {
				return f.lines[:5]
			},
			wantOK: true,
		},
		{
			name: "undetectable: forged record appended after the last checkpoint",
			tamper: func(t *testing.T, f *exportFixture) []string {
				forged, _ := audit.NewRecord(6, f.recs[4].Hash, event(99))
				return append(append([]string(nil), f.lines...), recordLine(t, forged))
			},
			wantOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			trusted := testSigner.PublicKey()
			if tt.selfAsserted {
				trusted = nil
			}
			res := verifyLines(t, tt.tamper(t, f), trusted)
			if res.OK != tt.wantOK || res.FirstBadSeq != tt.wantBad {
				t.Fatalf("VerifyJSONL = %+v, want OK %v FirstBadSeq %d", *res, tt.wantOK, tt.wantBad)
			}
			if !res.OK && res.Reason == "" {
				t.Error("no reason given")
			}
			t.Log(res.Reason)
		})
	}
}

func TestVerifyJSONLReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	if _, err := audit.VerifyJSONL(iotest.ErrReader(boom), nil); !errors.Is(err, boom) {
		t.Errorf("VerifyJSONL on a failing reader: %v", err)
	}
}

// TestVerifierAt verifies the second half of a chain on its own, starting
// from a known hash, and authenticates the start with the checkpoint on it.
func TestVerifierAt(t *testing.T) {
	recs := chain(t, 6)
	c3 := testSigner.Checkpoint(3, recs[2].Hash, t0)
	c1 := testSigner.Checkpoint(1, recs[0].Hash, t0)

	v := audit.NewVerifierAt(4, recs[2].Hash, testSigner.PublicKey())
	v.Checkpoint(c1) // before the range: ignored
	v.Checkpoint(c3) // on the starting point: checked
	for _, r := range recs[3:] {
		v.Record(r)
	}
	if res := v.Result(); !res.OK || res.Records != 3 || res.Checkpoints != 1 {
		t.Errorf("Result = %+v", res)
	}

	v = audit.NewVerifierAt(4, recs[1].Hash, nil) // wrong starting hash
	v.Record(recs[3])
	if res := v.Result(); res.OK || res.FirstBadSeq != 4 {
		t.Errorf("wrong start: %+v", res)
	}
}

// TestVerifierCheckpointBeforeRecord: a checkpoint may come before its
// record, as long as the record comes.
func TestVerifierCheckpointBeforeRecord(t *testing.T) {
	recs := chain(t, 3)
	v := audit.NewVerifier(testSigner.PublicKey())
	v.Checkpoint(testSigner.Checkpoint(3, recs[2].Hash, t0))
	v.Checkpoint(testSigner.Checkpoint(2, recs[1].Hash, t0))
	for _, r := range recs {
		v.Record(r)
	}
	if res := v.Result(); !res.OK || res.Checkpoints != 2 {
		t.Errorf("Result = %+v", res)
	}
}
