package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
)

// memAuditStore is an in-memory keyward.AuditStore, enough for audit.Log to
// append, checkpoint and prove as the server does.
type memAuditStore struct {
	records []*keyward.AuditRecord
	hashes  map[int64][]byte
	cps     []*keyward.AuditCheckpoint
}

func (s *memAuditStore) AuditHead(context.Context) (int64, error) {
	return int64(len(s.records)), nil
}

func (s *memAuditStore) AppendAudit(_ context.Context, r *keyward.AuditRecord) error {
	if r.Seq != int64(len(s.records))+1 {
		return keyward.Errorf(keyward.ECONFLICT, "seq %d after %d", r.Seq, len(s.records))
	}
	s.records = append(s.records, r)
	return nil
}

func (s *memAuditStore) ListAudit(_ context.Context, f keyward.AuditFilter) ([]*keyward.AuditRecord, error) {
	limit := f.Limit
	if limit == 0 {
		limit = 100
	}
	var out []*keyward.AuditRecord
	for i := range s.records {
		r := s.records[i]
		if f.Descending {
			r = s.records[len(s.records)-1-i]
		}
		if r.Seq > f.AfterSeq && (f.BeforeSeq == 0 || r.Seq < f.BeforeSeq) && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *memAuditStore) ReadAuditHashes(_ context.Context, indexes []int64) ([][]byte, error) {
	out := make([][]byte, len(indexes))
	for i, x := range indexes {
		h, ok := s.hashes[x]
		if !ok {
			return nil, keyward.Errorf(keyward.ENOTFOUND, "no hash at %d", x)
		}
		out[i] = h
	}
	return out, nil
}

func (s *memAuditStore) WriteAuditHashes(_ context.Context, from int64, hashes [][]byte) error {
	if s.hashes == nil {
		s.hashes = map[int64][]byte{}
	}
	for i, h := range hashes {
		s.hashes[from+int64(i)] = append([]byte(nil), h...)
	}
	return nil
}

func (s *memAuditStore) InsertCheckpoint(_ context.Context, c *keyward.AuditCheckpoint) error {
	for _, o := range s.cps {
		if o.Size == c.Size {
			return keyward.Errorf(keyward.ECONFLICT, "checkpoint %d exists", c.Size)
		}
	}
	s.cps = append(s.cps, c)
	sort.Slice(s.cps, func(i, j int) bool { return s.cps[i].Size < s.cps[j].Size })
	return nil
}

func (s *memAuditStore) ListCheckpoints(_ context.Context, afterSize int64, limit int) ([]*keyward.AuditCheckpoint, error) {
	var out []*keyward.AuditCheckpoint
	for _, c := range s.cps {
		if c.Size > afterSize && (limit == 0 || len(out) < limit) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *memAuditStore) LatestCheckpoint(context.Context) (*keyward.AuditCheckpoint, error) {
	if len(s.cps) == 0 {
		return nil, nil
	}
	return s.cps[len(s.cps)-1], nil
}

// testAuditLog is a real audit log (tree, signed checkpoints, proofs) over
// a memAuditStore: what the fake client answers the audit calls from.
type testAuditLog struct {
	t     *testing.T
	log   *audit.Log
	store *memAuditStore
	priv  ed25519.PrivateKey
}

// newTestAuditLog returns an empty log signed with a key derived from seed.
func newTestAuditLog(t *testing.T, seed string) *testAuditLog {
	t.Helper()
	s := sha256.Sum256([]byte("cli test audit key " + seed))
	priv := ed25519.NewKeyFromSeed(s[:])
	tk := sha256.Sum256([]byte("cli test tail key " + seed))
	return &testAuditLog{t: t, log: audit.NewLog(audit.NewSigner(priv), audit.NewTailKey(tk[:])), store: &memAuditStore{}, priv: priv}
}

// add appends n events, named name-1, name-2, ...
func (l *testAuditLog) add(n int, name string) {
	l.t.Helper()
	for i := 1; i <= n; i++ {
		ev := &keyward.AuditEvent{EventVersion: keyward.AuditEventVersion, EventID: fmt.Sprintf("ev-%d", len(l.store.records)+1),
			EventTime: t0.Add(time.Duration(len(l.store.records)) * time.Second), EventSource: "keyward",
			EventName: fmt.Sprintf("%s-%d", name, i), EventType: keyward.EventTypeCall,
			UserIdentity:      keyward.UserIdentity{Type: "Principal", UserName: "admin"},
			RequestParameters: map[string]any{"name": "café <prod> é"}}
		if _, err := l.log.Append(context.Background(), l.store, ev); err != nil {
			l.t.Fatal(err)
		}
	}
}

// checkpoint signs the log's current head.
func (l *testAuditLog) checkpoint() *keyward.AuditCheckpoint {
	l.t.Helper()
	cp, err := l.log.Checkpoint(context.Background(), l.store, t0.Add(time.Hour))
	if err != nil || cp == nil {
		l.t.Fatalf("checkpoint: %v, %v", cp, err)
	}
	return cp
}

// verifierKey is what `keyward audit public-key` prints for this log.
func (l *testAuditLog) verifierKey() string { return l.log.Signer().Verifier().VerifierKey() }

// checkpointAt is the server's choice of checkpoint: size 0 the latest.
func (l *testAuditLog) checkpointAt(size int64) (*keyward.AuditCheckpoint, error) {
	for i := len(l.store.cps) - 1; i >= 0; i-- {
		if c := l.store.cps[i]; size == 0 || c.Size == size {
			return c, nil
		}
	}
	return nil, keyward.Errorf(keyward.ENOTFOUND, "no audit checkpoint of size %d", size)
}
