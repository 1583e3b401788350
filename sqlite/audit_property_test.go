package sqlite_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
	"github.com/keyward/keyward/sqlite"
)

// TestAuditStoreTamperingProperty is the database attacker at random: a
// record removed, its event changed, two events swapped, one inserted, the
// log cut short, checkpoints removed, a tag changed. Every edit must be
// caught by the full verification against the witness (the latest
// checkpoint kept outside the database), as the server runs it.
func TestAuditStoreTamperingProperty(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	orig := filepath.Join(dir, "orig.db")
	log := audit.NewLog(audit.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))), audit.NewTailKey(bytes.Repeat([]byte{2}, 32)))
	db, err := sqlite.Open(ctx, orig)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	var witness *keyward.AuditCheckpoint
	for batch := 0; batch < 4; batch++ {
		err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
			for i := 0; i < 8; i++ {
				n := batch*8 + i
				ev := &keyward.AuditEvent{EventVersion: keyward.AuditEventVersion, EventID: fmt.Sprint("ev-", n),
					EventTime: t0.Add(time.Duration(n) * time.Second), EventSource: "keyward", EventName: "apikeys:Create",
					EventType: keyward.EventTypeCall, UserIdentity: keyward.UserIdentity{Type: "Principal", PrincipalID: "p"},
					RequestParameters: map[string]any{"name": fmt.Sprint("key-", n)}}
				if _, err := log.Append(ctx, tx, ev); err != nil {
					return err
				}
			}
			if batch == 3 {
				return nil // a tail of 8 records after the last checkpoint
			}
			witness, err = log.Checkpoint(ctx, tx, t0)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if res, err := log.VerifyStore(ctx, db, witness); err != nil || !res.OK || res.TailRecords != 8 {
		t.Fatalf("untouched: %+v %v", res, err)
	}
	db.Close()
	original, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	edits := []string{
		`DELETE FROM audit_records WHERE seq = %d`,
		`UPDATE audit_records SET event = replace(event, '"key-', '"kez-') WHERE seq = %d`,
		`UPDATE audit_records SET event = (SELECT event FROM audit_records WHERE seq = 1), hash = (SELECT hash FROM audit_records WHERE seq = 1) WHERE seq = %d`,
		`DELETE FROM audit_records WHERE seq >= %d`,
		`UPDATE audit_records SET tag = x'00' WHERE seq = %d`,
		`DELETE FROM audit_tree_checkpoints WHERE size >= %d`,
		`UPDATE audit_records SET seq = seq + 100 WHERE seq = %d`,
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := 0; iter < 70; iter++ {
		edit := edits[iter%len(edits)]
		seq := 2 + rng.IntN(30) // 2..31
		switch iter % len(edits) {
		case 3:
			// Cutting records after the last checkpoint (25-32, the
			// tail) is the one edit nothing shows: README, threat model.
			seq = 2 + rng.IntN(23)
		case 5:
			seq = []int{8, 16, 24}[rng.IntN(3)]
		}
		path := filepath.Join(dir, fmt.Sprint("t", iter, ".db"))
		if err := os.WriteFile(path, original, 0o600); err != nil {
			t.Fatal(err)
		}
		raw, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		q := fmt.Sprintf(edit, seq)
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		raw.Close()
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		res, err := log.VerifyStore(ctx, db, witness)
		db.Close()
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if res.OK {
			t.Fatalf("%s verified: %+v", q, res)
		}
	}
}
