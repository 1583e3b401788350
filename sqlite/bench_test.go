package sqlite_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// createKey is the store's share of creating a key through the admin API:
// one write transaction that inserts the key, its credential and the audit
// record of the call.
func createKey(ctx context.Context, tx keyward.Tx, n int64) error {
	now := time.Now().UTC()
	id := fmt.Sprintf("key-%012d", n)
	k := &keyward.APIKey{
		ID: id, Name: "pipeline key " + id, CustomerID: "customer-42", Enabled: true, Prefix: "kw",
		StageKeys: []keyward.StageKey{{APIID: "api-1", Stage: "prod"}},
		Scopes:    keyward.Scopes{Models: []string{"gpt-4o*"}},
		Tags:      map[string]string{"team": "ml"},
		CreatedAt: now, UpdatedAt: now,
	}
	if err := tx.InsertKey(ctx, k); err != nil {
		return err
	}
	d := sha256.Sum256([]byte(id))
	c := &keyward.Credential{ID: id + "-c1", KeyID: id, Label: keyward.LabelCurrent, Hint: "kw_…abcd", CreatedAt: now, Digest: d[:]}
	if err := tx.InsertCredential(ctx, c); err != nil {
		return err
	}
	seq, err := tx.AuditHead(ctx)
	if err != nil {
		return err
	}
	event, err := json.Marshal(keyward.AuditEvent{
		EventVersion: keyward.AuditEventVersion, EventID: "ev-" + id, EventTime: now,
		EventSource: "keyward", EventName: string(keyward.ActionKeyCreate), EventType: keyward.EventTypeCall,
		UserIdentity:      keyward.UserIdentity{Type: "Principal", PrincipalID: "p-ci", ARN: "kw:principal/p-ci", AccessKeyID: "tok-1"},
		SourceIPAddress:   "10.1.2.3",
		UserAgent:         "keyward-cli/1.0",
		RequestParameters: map[string]any{"name": k.Name, "customerId": k.CustomerID, "stageKeys": []string{"api-1/prod"}},
		ResponseElements:  map[string]any{"id": id},
		Resources:         []string{keyward.KeyARN(id)},
	})
	if err != nil {
		return err
	}
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(event)
	tag := sha256.Sum256(h.Sum(nil))
	return tx.AppendAudit(ctx, &keyward.AuditRecord{Seq: seq + 1, Hash: hex.EncodeToString(h.Sum(nil)), Event: event, Tag: tag[:]})
}

// BenchmarkInsertKeyTx measures one key creation transaction at a time.
func BenchmarkInsertKeyTx(b *testing.B) {
	db := open(b, filepath.Join(b.TempDir(), "k.db"))
	ctx := context.Background()
	var n int64
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		n++
		if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return createKey(ctx, tx, n) }); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}

// cpuTime returns the CPU time the process has used so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start: on a loaded
// machine it varies less than the wall time, and it is what limits
// throughput once writes are serialized.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-µs/op")
}

// BenchmarkInsertKeyTxParallel measures key creations from many goroutines,
// which the store serializes.
func BenchmarkInsertKeyTxParallel(b *testing.B) {
	db := open(b, filepath.Join(b.TempDir(), "k.db"))
	ctx := context.Background()
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(4)
	cpu := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return createKey(ctx, tx, i) }); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportCPU(b, cpu)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}

// BenchmarkEmptyUpdate is the baseline: a write transaction that does
// nothing (BEGIN IMMEDIATE, COMMIT).
func BenchmarkEmptyUpdate(b *testing.B) {
	db := open(b, filepath.Join(b.TempDir(), "k.db"))
	ctx := context.Background()
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		if err := db.Update(ctx, func(context.Context, keyward.Tx) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
}

// BenchmarkGetKey measures reading a key with its credentials and plans,
// from parallel Views.
func BenchmarkGetKey(b *testing.B) {
	db := open(b, filepath.Join(b.TempDir(), "k.db"))
	ctx := context.Background()
	const keys = 1000
	err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
		for i := range int64(keys) {
			if err := createKey(ctx, tx, i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("key-%012d", n.Add(1)%keys)
			err := db.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
				_, err := tx.GetKey(ctx, id)
				return err
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
