package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
)

// testSigner and otherSigner have fixed seeds, so signatures are
// reproducible (Ed25519 is deterministic).
var (
	testSigner  = audit.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize)))
	otherSigner = audit.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, ed25519.SeedSize)))
)

var t0 = time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)

// event returns the i-th test event.
func event(i int) *keyward.AuditEvent {
	return &keyward.AuditEvent{
		EventVersion: keyward.AuditEventVersion,
		EventID:      fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
		EventTime:    t0.Add(time.Duration(i) * time.Second),
		EventSource:  "keyward",
		EventName:    string(keyward.ActionKeyCreate),
		EventType:    keyward.EventTypeCall,
		UserIdentity: keyward.UserIdentity{Type: "Principal", PrincipalID: "prn_1"},
		RequestParameters: map[string]any{
			"name":  fmt.Sprintf("key-%d <ci>", i),
			"value": audit.Marker(bytes.Repeat([]byte{byte(i)}, 32)),
		},
	}
}

// chain returns records 1..n.
func chain(t testing.TB, n int) []*keyward.AuditRecord {
	t.Helper()
	var out []*keyward.AuditRecord
	prev := ""
	for i := 1; i <= n; i++ {
		r, err := audit.NewRecord(int64(i), prev, event(i))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
		prev = r.Hash
	}
	return out
}

// relink recomputes the hashes of recs from index i on, as an attacker
// without the signing key would.
func relink(t testing.TB, recs []*keyward.AuditRecord, i int) {
	t.Helper()
	for ; i < len(recs); i++ {
		if i > 0 {
			recs[i].PrevHash = recs[i-1].Hash
		}
		recs[i].Hash = audit.Link(recs[i].PrevHash, recs[i].Event)
	}
}

func recordLine(t testing.TB, r *keyward.AuditRecord) string {
	t.Helper()
	var b bytes.Buffer
	if err := audit.NewJSONLWriter(&b).WriteRecord(r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func checkpointLine(t testing.TB, c *keyward.AuditCheckpoint) string {
	t.Helper()
	var b bytes.Buffer
	if err := audit.NewJSONLWriter(&b).WriteCheckpoint(c); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func cloneRecords(recs []*keyward.AuditRecord) []*keyward.AuditRecord {
	out := make([]*keyward.AuditRecord, len(recs))
	for i, r := range recs {
		c := *r
		c.Event = bytes.Clone(r.Event)
		out[i] = &c
	}
	return out
}

func verifyLines(t testing.TB, lines []string, trusted ed25519.PublicKey) *keyward.AuditVerification {
	t.Helper()
	res, err := audit.VerifyJSONL(strings.NewReader(strings.Join(lines, "")), trusted)
	if err != nil {
		t.Fatalf("VerifyJSONL: %v", err)
	}
	return res
}

// fakeStore implements only what VerifyStore, Export and Append use; the
// embedded nil interfaces make any other method panic.
type fakeStore struct {
	keyward.Store
	mu    sync.Mutex
	tx    *fakeTx
	views int
}

func newFakeStore() *fakeStore { return &fakeStore{tx: &fakeTx{}} }

func (s *fakeStore) View(ctx context.Context, fn func(context.Context, keyward.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.views++
	return fn(ctx, s.tx)
}

func (s *fakeStore) Update(ctx context.Context, fn func(context.Context, keyward.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn(ctx, s.tx)
}

type fakeTx struct {
	keyward.Tx
	records     []*keyward.AuditRecord
	checkpoints []*keyward.AuditCheckpoint
	listCalls   int
	listErr     error // returned by ListAudit when set
	pageCap     int   // when set, lists return at most this many, whatever the limit
}

func (tx *fakeTx) AuditHead(ctx context.Context) (int64, string, error) {
	if len(tx.records) == 0 {
		return 0, "", nil
	}
	r := tx.records[len(tx.records)-1]
	return r.Seq, r.Hash, nil
}

func (tx *fakeTx) AppendAudit(ctx context.Context, r *keyward.AuditRecord) error {
	seq, _, _ := tx.AuditHead(ctx)
	if r.Seq != seq+1 {
		return keyward.Errorf(keyward.ECONFLICT, "audit record %d is not next", r.Seq)
	}
	tx.records = append(tx.records, r)
	return nil
}

func (tx *fakeTx) ListAudit(ctx context.Context, f keyward.AuditFilter) ([]*keyward.AuditRecord, error) {
	tx.listCalls++
	if tx.listErr != nil {
		return nil, tx.listErr
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	if tx.pageCap > 0 {
		limit = min(limit, tx.pageCap)
	}
	var out []*keyward.AuditRecord
	for _, r := range tx.records {
		if r.Seq > f.AfterSeq && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (tx *fakeTx) InsertCheckpoint(ctx context.Context, c *keyward.AuditCheckpoint) error {
	tx.checkpoints = append(tx.checkpoints, c)
	if n := len(tx.checkpoints); n > 1 && tx.checkpoints[n-2].Seq > c.Seq {
		slices.SortStableFunc(tx.checkpoints, func(a, b *keyward.AuditCheckpoint) int { return int(a.Seq - b.Seq) })
	}
	return nil
}

func (tx *fakeTx) ListCheckpoints(ctx context.Context, afterSeq int64, limit int) ([]*keyward.AuditCheckpoint, error) {
	if tx.pageCap > 0 {
		limit = min(limit, tx.pageCap)
	}
	var out []*keyward.AuditCheckpoint
	for _, c := range tx.checkpoints {
		if c.Seq > afterSeq && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}
