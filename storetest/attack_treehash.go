package storetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
)

type memHashes []tlog.Hash

func (m memHashes) ReadHashes(ix []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ix))
	for i, x := range ix {
		out[i] = m[x]
	}
	return out, nil
}

// WriteAuditHashes now writes 200 rows per statement: the tree the store
// holds after checkpoints at uneven sizes must be the one tlog computes.
func attackTreeHashes(t *testing.T, s keyward.Store) {
	ctx := context.Background()
	_, priv, _ := ed25519.GenerateKey(nil)
	l := audit.NewLog(audit.NewSigner(priv), audit.NewTailKey(bytes.Repeat([]byte{7}, 32)))
	var mem memHashes
	n := int64(0)
	for _, batch := range []int{1, 98, 101, 199, 201, 1000, 3} {
		err := s.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
			for range batch {
				ev := &keyward.AuditEvent{EventVersion: keyward.AuditEventVersion, EventID: fmt.Sprint("e", n), EventTime: time.Now().UTC(),
					EventSource: "keyward", EventName: "x", EventType: keyward.EventTypeCall}
				r, err := l.Append(ctx, tx, ev)
				if err != nil {
					return err
				}
				hs, err := tlog.StoredHashes(n, r.Event, mem)
				if err != nil {
					return err
				}
				mem = append(mem, hs...)
				n++
			}
			_, err := l.Checkpoint(ctx, tx, time.Now())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		err = s.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
			got, err := audit.TreeHash(ctx, tx, n)
			if err != nil {
				return err
			}
			want, err := tlog.TreeHash(n, mem)
			if err != nil {
				return err
			}
			if got != want {
				t.Errorf("size %d: store tree %x, want %x", n, got, want)
			}
			all, err := tx.ReadAuditHashes(ctx, func() []int64 {
				ix := make([]int64, len(mem))
				for i := range ix {
					ix[i] = int64(i)
				}
				return ix
			}())
			if err != nil {
				return err
			}
			for i := range all {
				if !bytes.Equal(all[i], mem[i][:]) {
					t.Fatalf("size %d: stored hash %d differs", n, i)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
