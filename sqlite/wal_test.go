package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// TestWALIsCheckpointedAndTruncated: thousands of write transactions while
// a reader holds a snapshot open grow the WAL (a passive checkpoint cannot
// start it over under a reader); once the reader is done, CheckpointWAL
// copies it all into the database and leaves a WAL of zero bytes, with
// every row still there.
func TestWALIsCheckpointedAndTruncated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	db := open(t, path)
	ctx := context.Background()
	reading := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
			if _, _, err := tx.ListKeys(ctx, keyward.KeyFilter{}); err != nil {
				return err
			}
			close(reading)
			<-release
			return nil
		})
	}()
	<-reading
	const n = 3000
	now := time.Now().UTC()
	for i := range n {
		id := fmt.Sprintf("key_%06d", i)
		err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
			return tx.InsertKey(ctx, &keyward.APIKey{ID: id, Name: id, Description: string(make([]byte, 2000)), Enabled: true, CreatedAt: now, UpdatedAt: now})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	wal := path + "-wal"
	grown := size(t, wal)
	if grown < 4<<20 {
		t.Fatalf("the WAL is %d bytes after %d writes under a reader; the test does not exercise growth", grown, n)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := db.CheckpointWAL(ctx); err != nil {
		t.Fatal(err)
	}
	if got := size(t, wal); got != 0 {
		t.Errorf("WAL is %d bytes after a TRUNCATE checkpoint (was %d)", got, grown)
	}
	var count int
	err := db.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		return tx.EachGatewayKey(ctx, func(*keyward.APIKey) error { count++; return nil })
	})
	if err != nil || count != n {
		t.Fatalf("after the checkpoint: %d keys, %v", count, err)
	}
}

func size(t *testing.T, name string) int64 {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestCheckpointsRunOffTheWriter: with no reader in the way, committed
// pages reach the database file without any explicit checkpoint and before
// the writer's own automatic one (64 MiB of WAL) could have run: the
// checkpointer copies them on its own connection.
func TestCheckpointsRunOffTheWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	db := open(t, path)
	ctx := context.Background()
	now := time.Now().UTC()
	for i := range 2000 {
		id := fmt.Sprintf("key_%06d", i)
		err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
			return tx.InsertKey(ctx, &keyward.APIKey{ID: id, Name: id, Description: string(make([]byte, 2000)), Enabled: true, CreatedAt: now, UpdatedAt: now})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if wal := size(t, path+"-wal"); wal >= 64<<20 {
		t.Fatalf("the WAL is %d bytes: the writer's backstop checkpoint may have run", wal)
	}
	deadline := time.Now().Add(10 * time.Second)
	for size(t, path) < 4<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("the database file is %d bytes after 4 MB of committed rows: nothing was checkpointed", size(t, path))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
