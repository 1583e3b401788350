package audit_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
)

// storeWithChain returns a fake store holding n records appended through
// Append, with a checkpoint every cpEvery records.
func storeWithChain(t *testing.T, n, cpEvery int) *fakeStore {
	t.Helper()
	s := newFakeStore()
	for i := 1; i <= n; i++ {
		r, err := audit.Append(t.Context(), s.tx, event(i))
		if err != nil {
			t.Fatal(err)
		}
		if i%cpEvery == 0 {
			s.tx.InsertCheckpoint(t.Context(), testSigner.Checkpoint(r.Seq, r.Hash, t0))
		}
	}
	return s
}

func TestVerifyStore(t *testing.T) {
	// 600 records and 300 checkpoints, served 100 at a time whatever the
	// limit asked: both need several pages, and short pages are not the end.
	const n = 600
	tests := []struct {
		name    string
		tamper  func(tx *fakeTx)
		wantOK  bool
		wantBad int64
	}{
		{"intact", func(*fakeTx) {}, true, 0},
		{"event changed", func(tx *fakeTx) {
			r := tx.records[449]
			r.Event = bytes.Replace(r.Event, []byte("prn_1"), []byte("prn_9"), 1)
		}, false, 450},
		{"record deleted across a page boundary", func(tx *fakeTx) {
			tx.records = slices.Delete(tx.records, 100, 101)
		}, false, 101},
		{"tail deleted under a checkpoint", func(tx *fakeTx) {
			tx.records = tx.records[:n-1]
		}, false, n},
		{"checkpoint forged", func(tx *fakeTx) {
			tx.checkpoints[150] = otherSigner.Checkpoint(tx.checkpoints[150].Seq, tx.checkpoints[150].Hash, t0)
		}, false, 302},
		{"undetectable: checkpoints deleted", func(tx *fakeTx) {
			tx.checkpoints = nil
		}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := storeWithChain(t, n, 2)
			s.tx.pageCap = 100
			tt.tamper(s.tx)
			res, err := audit.VerifyStore(t.Context(), s, testSigner.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			if res.OK != tt.wantOK || res.FirstBadSeq != tt.wantBad {
				t.Fatalf("VerifyStore = %+v, want OK %v FirstBadSeq %d", *res, tt.wantOK, tt.wantBad)
			}
			if s.views != 1 {
				t.Errorf("VerifyStore used %d View transactions, want 1 (a consistent snapshot)", s.views)
			}
			if tt.name == "intact" && (res.Records != n || res.Checkpoints != n/2) {
				t.Errorf("counts %+v", res)
			}
			t.Log(res.Reason)

			// The export of the same store verifies to the same answer.
			var buf bytes.Buffer
			if err := audit.Export(t.Context(), s, &buf); err != nil {
				t.Fatal(err)
			}
			fromFile, err := audit.VerifyJSONL(&buf, testSigner.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			if fromFile.OK != res.OK || fromFile.FirstBadSeq != res.FirstBadSeq || fromFile.Records != res.Records {
				t.Errorf("export verifies to %+v, store to %+v", *fromFile, *res)
			}
		})
	}
}

func TestVerifyTx(t *testing.T) {
	s := storeWithChain(t, 5, 5)
	res, err := audit.VerifyTx(t.Context(), s.tx, testSigner.PublicKey())
	if err != nil || !res.OK || res.Records != 5 || res.Checkpoints != 1 {
		t.Errorf("VerifyTx = %+v, %v", res, err)
	}
	if s.views != 0 {
		t.Error("VerifyTx opened a transaction of its own")
	}
}

func TestVerifyStoreEmpty(t *testing.T) {
	res, err := audit.VerifyStore(t.Context(), newFakeStore(), nil)
	if err != nil || !res.OK || res.Records != 0 {
		t.Errorf("empty store: %+v, %v", res, err)
	}
}

func TestVerifyStoreError(t *testing.T) {
	s := storeWithChain(t, 3, 1)
	s.tx.listErr = keyward.Errorf(keyward.EUNAVAILABLE, "database is down")
	if _, err := audit.VerifyStore(t.Context(), s, nil); keyward.ErrorCode(err) != keyward.EUNAVAILABLE {
		t.Errorf("VerifyStore error = %v, want the store's", err)
	}
	if err := audit.Export(t.Context(), s, &bytes.Buffer{}); keyward.ErrorCode(err) != keyward.EUNAVAILABLE {
		t.Errorf("Export error = %v, want the store's", err)
	}
}

func TestExportOrder(t *testing.T) {
	s := storeWithChain(t, 4, 2)
	var buf bytes.Buffer
	if err := audit.Export(t.Context(), s, &buf); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		types = append(types, l[len(`{"type":"`):strings.Index(l, `",`)])
	}
	want := []string{"record", "record", "checkpoint", "record", "record", "checkpoint"}
	if !slices.Equal(types, want) {
		t.Errorf("export line types %v, want %v", types, want)
	}
}

func TestAppendConflict(t *testing.T) {
	s := storeWithChain(t, 2, 10)
	stale := &staleHead{fakeTx: s.tx}
	if _, err := audit.Append(t.Context(), stale, event(3)); keyward.ErrorCode(err) != keyward.ECONFLICT {
		t.Errorf("Append on a stale head: %v, want ECONFLICT from the store", err)
	}
	boom := errors.New("head failed")
	if _, err := audit.Append(t.Context(), failingHead{boom}, event(1)); !errors.Is(err, boom) {
		t.Errorf("Append with a failing head: %v", err)
	}
}

// staleHead reports an old head, as a racing writer would see it.
type staleHead struct{ *fakeTx }

func (s *staleHead) AuditHead(ctx context.Context) (int64, string, error) {
	r := s.records[0]
	return r.Seq, r.Hash, nil
}

type failingHead struct{ err error }

func (f failingHead) AuditHead(ctx context.Context) (int64, string, error)  { return 0, "", f.err }
func (failingHead) AppendAudit(context.Context, *keyward.AuditRecord) error { panic("unreachable") }
func (failingHead) ListAudit(context.Context, keyward.AuditFilter) ([]*keyward.AuditRecord, error) {
	panic("unreachable")
}
func (failingHead) InsertCheckpoint(context.Context, *keyward.AuditCheckpoint) error {
	panic("unreachable")
}
func (failingHead) ListCheckpoints(context.Context, int64, int) ([]*keyward.AuditCheckpoint, error) {
	panic("unreachable")
}
