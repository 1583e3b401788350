package sqlite_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
)

// BenchmarkAuditVerify verifies a whole audit log in SQLite, as
// `keyward audit verify` and the server's background check do ("full":
// every record read, hashed as a leaf, its tag checked, the tree rebuilt and
// compared with every checkpoint), and checks it against the witness as a
// start does ("startup"). KEYWARD_BENCH_AUDIT_RECORDS sets the log's
// size (default 100,000; the figure in the README is for 1,000,000:
// KEYWARD_BENCH_AUDIT_RECORDS=1000000 go test -run '^$' -bench AuditVerify -benchtime 1x ./sqlite/).
func BenchmarkAuditVerify(b *testing.B) {
	n := int64(100_000)
	if s := os.Getenv("KEYWARD_BENCH_AUDIT_RECORDS"); s != "" {
		var err error
		if n, err = strconv.ParseInt(s, 10, 64); err != nil {
			b.Fatal(err)
		}
	}
	db := open(b, filepath.Join(b.TempDir(), "audit.db"))
	ctx := context.Background()
	log := audit.NewLog(audit.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))), audit.NewTailKey(bytes.Repeat([]byte{2}, 32)))
	t0 := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	const batch = 10_000
	for done := int64(0); done < n; done += batch {
		err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
			for i := done; i < min(done+batch, n); i++ {
				ev := &keyward.AuditEvent{
					EventVersion: keyward.AuditEventVersion, EventID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
					EventTime: t0.Add(time.Duration(i) * time.Millisecond), EventSource: "keyward",
					EventName: string(keyward.ActionKeyCreate), EventType: keyward.EventTypeCall,
					UserIdentity:    keyward.UserIdentity{Type: "Principal", PrincipalID: "prn_ci", ARN: "kw:principal/prn_ci", AccessKeyID: "tok_1"},
					SourceIPAddress: "10.1.2.3", UserAgent: "keyward-cli/1.0",
					RequestParameters: map[string]any{"name": fmt.Sprintf("key-%d", i), "stageKeys": []string{"chat/prod"}},
					ResponseElements:  map[string]any{"id": fmt.Sprintf("key_%012d", i)},
					Resources:         []string{keyward.KeyARN(fmt.Sprintf("key_%012d", i))},
				}
				if _, err := log.Append(ctx, tx, ev); err != nil {
					return err
				}
			}
			_, err := log.Checkpoint(ctx, tx, t0)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	var witness *keyward.AuditCheckpoint
	if err := db.View(ctx, func(ctx context.Context, tx keyward.Tx) (err error) {
		witness, err = tx.LatestCheckpoint(ctx)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			res, err := log.VerifyStore(ctx, db, witness)
			if err != nil || !res.OK || res.Records != n {
				b.Fatalf("%+v %v", res, err)
			}
		}
		b.ReportMetric(float64(n), "records")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/record")
	})
	// What a start costs: the witness check reads O(log n) tree hashes and
	// the records after the last checkpoint (none here), whatever n is.
	b.Run("startup", func(b *testing.B) {
		for b.Loop() {
			err := db.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
				tail, err := log.CheckWitness(ctx, tx, witness)
				if err == nil && tail.Records != 0 {
					err = fmt.Errorf("tail %d", tail.Records)
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n), "records")
	})
}
