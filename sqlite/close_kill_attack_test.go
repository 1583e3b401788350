package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/sqlite"
)

// Close while writers commit (the checkpointer being kicked): no panic,
// no race, no hang.
func TestAttackCloseUnderWrites(t *testing.T) {
	for round := range 5 {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		now := time.Now().UTC()
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; ; j++ {
					select {
					case <-stop:
						return
					default:
					}
					id := fmt.Sprintf("key_%d_%d_%d", round, w, j)
					_ = db.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
						return tx.InsertKey(ctx, &keyward.APIKey{ID: id, Name: id, Description: string(make([]byte, 4000)), Enabled: true, CreatedAt: now, UpdatedAt: now})
					})
				}
			}()
		}
		time.Sleep(150 * time.Millisecond)
		closed := make(chan error, 1)
		go func() { closed <- db.Close() }()
		select {
		case <-closed:
		case <-time.After(15 * time.Second):
			t.Fatal("Close hangs")
		}
		close(stop)
		wg.Wait()
	}
}

// kill -9 of a process writing: every Update that returned nil before the
// kill is in the database afterwards.
func TestAttackKill9(t *testing.T) {
	if path := os.Getenv("ATTACK_KILL_CHILD"); path != "" {
		db, err := sqlite.Open(context.Background(), path)
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		now := time.Now().UTC()
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; ; j++ {
					id := fmt.Sprintf("key_%d_%07d", w, j)
					err := db.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
						return tx.InsertKey(ctx, &keyward.APIKey{ID: id, Name: id, Description: string(make([]byte, 3000)), Enabled: true, CreatedAt: now, UpdatedAt: now})
					})
					if err == nil {
						mu.Lock()
						fmt.Println(id)
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		path := filepath.Join(t.TempDir(), "k.db")
		cmd := exec.Command(exe, "-test.run=^TestAttackKill9$")
		cmd.Env = append(os.Environ(), "ATTACK_KILL_CHILD="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var acked []string
		sc := bufio.NewScanner(out)
		deadline := time.Now().Add(time.Duration(1500+round*700) * time.Millisecond)
		for sc.Scan() {
			acked = append(acked, sc.Text())
			if time.Now().After(deadline) {
				break
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		for sc.Scan() { // lines already written before the kill
			acked = append(acked, sc.Text())
		}
		_ = cmd.Wait()
		if fi, err := os.Stat(path + "-wal"); err == nil {
			t.Logf("round %d: %d acked; WAL %d bytes at kill", round, len(acked), fi.Size())
		}
		db := open(t, path)
		err = db.View(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
			for _, id := range acked {
				if len(id) < 4 || id[:4] != "key_" {
					continue
				}
				if _, err := tx.GetKey(ctx, id); err != nil {
					t.Errorf("round %d: acknowledged %s lost: %v", round, id, err)
					return nil
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
