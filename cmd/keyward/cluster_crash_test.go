package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/internal/testpg"
)

// leads asks a node's /readyz whether it leads.
func leads(addr string) bool {
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var body struct {
		Node httpapi.NodeState `json:"node"`
	}
	return json.NewDecoder(resp.Body).Decode(&body) == nil && body.Node.Leader
}

// TestClusterKillLeaderDuringWrites runs three `keyward server` processes
// on one PostgreSQL, kills the leader with SIGKILL while clients create
// keys through it and another node, and checks that another node takes
// over the background work within 15 s, that every acknowledged key is
// there, and that the audit log still verifies.
func TestClusterKillLeaderDuringWrites(t *testing.T) {
	bin := testCommand(t, "keyward")
	url := testpg.SchemaURL(t)
	root := t.TempDir()
	var addrs []string
	var procs []*exec.Cmd
	for i := range 3 {
		dir := filepath.Join(root, fmt.Sprintf("node%d", i))
		addr := freeAddr(t)
		args := []string{"server", "--data-dir", dir, "--admin-addr", addr, "--gateway-addr", "127.0.0.1:0",
			"--log-level", "error", "--database-url", url}
		if i > 0 {
			args = append(args, "--keyring", "file://"+filepath.Join(root, "node0", "master.key"))
		}
		cmd := exec.Command(bin, args...)
		waitListening(t, cmd)
		addrs, procs = append(addrs, addr), append(procs, cmd)
	}
	token := readFile(t, filepath.Join(root, "node0", "bootstrap-token"))
	deadline := time.Now().Add(15 * time.Second)
	for !leads(addrs[0]) {
		if time.Now().After(deadline) {
			t.Fatal("the first node does not lead")
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx := context.Background()
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 6 {
		c := httpapi.NewClient("http://"+addrs[w%2], token, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ck, err := c.CreateKey(ctx, keyward.KeyCreate{Name: fmt.Sprintf("w%d-%d", w, i)})
				if err != nil {
					if w%2 == 0 {
						return // the killed node
					}
					continue
				}
				mu.Lock()
				acked = append(acked, ck.Key.ID)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	if err := procs[0].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = procs[0].Wait()
	killed := time.Now()
	took := time.Duration(0)
	for took == 0 {
		if leads(addrs[1]) || leads(addrs[2]) {
			took = time.Since(killed)
		} else if time.Since(killed) > 15*time.Second {
			t.Fatal("no node took over within 15 s of the leader's kill -9")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // writes go on through the survivor
	close(stop)
	wg.Wait()

	c := httpapi.NewClient("http://"+addrs[2], token, nil)
	present := map[string]bool{}
	for pos := ""; ; {
		page, next, err := c.ListKeys(ctx, keyward.KeyFilter{Page: keyward.Page{Limit: 500, Position: pos}})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range page {
			present[k.ID] = true
		}
		if pos = next; pos == "" {
			break
		}
	}
	lost := 0
	for _, id := range acked {
		if !present[id] {
			lost++
		}
	}
	if len(acked) == 0 || lost > 0 {
		t.Fatalf("%d keys acknowledged, %d of them lost", len(acked), lost)
	}
	v, err := c.VerifyAudit(ctx)
	if err != nil || !v.OK {
		t.Fatalf("audit after the leader's kill -9: %+v %v", v, err)
	}
	t.Logf("leader killed: another led after %v; %d keys acknowledged, all present (%d in all); audit %d records OK", took, len(acked), len(present), v.Records)
}
