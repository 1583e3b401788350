package audit_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
)

var (
	testSigner = audit.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize)))
	testTail   = audit.NewTailKey(bytes.Repeat([]byte{3}, 32))
	t0         = time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
)

func event(i int) *keyward.AuditEvent {
	return &keyward.AuditEvent{
		EventVersion: keyward.AuditEventVersion, EventID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
		EventTime: t0.Add(time.Duration(i) * time.Second), EventSource: "keyward",
		EventName: string(keyward.ActionKeyCreate), EventType: keyward.EventTypeCall,
		UserIdentity:      keyward.UserIdentity{Type: "Principal", PrincipalID: "prn_1"},
		RequestParameters: map[string]any{"name": fmt.Sprintf("key-%d <ci> é", i)},
	}
}

// chain returns records 1..n.
func chain(t testing.TB, n int) []*keyward.AuditRecord {
	t.Helper()
	var out []*keyward.AuditRecord
	for i := 1; i <= n; i++ {
		r, err := audit.NewRecord(int64(i), event(i), testTail)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// checkpoint signs the tree of recs, computed independently of the package
// (transparency-dev/merkle's compact range).
func checkpoint(t testing.TB, recs []*keyward.AuditRecord) *keyward.AuditCheckpoint {
	t.Helper()
	rng := (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewEmptyRange(0)
	for _, r := range recs {
		if err := rng.Append(rfc6962.DefaultHasher.HashLeaf(r.Event), nil); err != nil {
			t.Fatal(err)
		}
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := testSigner.Sign(int64(len(recs)), tlog.Hash(root), t0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
