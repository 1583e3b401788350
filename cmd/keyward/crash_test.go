package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
)

// TestKillDuringWrites kills a real server process (SIGKILL) while clients
// create keys and write secrets, restarts it on the same data directory and
// checks that nothing half-written survived: every acknowledged write is
// there, every key has its CURRENT credential, every secret version is
// readable, and the audit chain verifies.
func TestKillDuringWrites(t *testing.T) {
	bin := testCommand(t, "keyward")
	dir := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	srv := startProcess(t, bin, dir, addr)
	token := readFile(t, filepath.Join(dir, "bootstrap-token"))
	c := httpapi.NewClient("http://"+addr, token, nil)
	ctx := context.Background()
	if _, err := c.CreateSecret(ctx, keyward.SecretCreate{Name: "rolling", Value: []byte("v0")}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var acked []string
	var secretPuts atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if w%2 == 0 {
					ck, err := c.CreateKey(ctx, keyward.KeyCreate{Name: fmt.Sprintf("w%d-%d", w, i), StoreSecret: fmt.Sprintf("keys/w%d-%d", w, i)})
					if err != nil {
						return // the server is gone
					}
					mu.Lock()
					acked = append(acked, ck.Key.ID)
					mu.Unlock()
				} else {
					if _, err := c.PutSecretValue(ctx, "rolling", keyward.SecretPut{Value: []byte(fmt.Sprintf("v-%d-%d", w, i))}); err != nil {
						return
					}
					secretPuts.Add(1)
				}
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = srv.Wait()
	close(stop)
	wg.Wait()
	if len(acked) == 0 || secretPuts.Load() == 0 {
		t.Fatalf("no writes were acknowledged before the kill (%d keys, %d puts)", len(acked), secretPuts.Load())
	}

	startProcess(t, bin, dir, addr)
	v, err := c.VerifyAudit(ctx)
	if err != nil || !v.OK {
		t.Fatalf("audit after kill -9: %+v %v", v, err)
	}
	keys := map[string]*keyward.APIKey{}
	for pos := ""; ; {
		page, next, err := c.ListKeys(ctx, keyward.KeyFilter{Page: keyward.Page{Limit: 500, Position: pos}})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range page {
			keys[k.ID] = k
		}
		if pos = next; pos == "" {
			break
		}
	}
	for _, id := range acked {
		if keys[id] == nil {
			t.Errorf("acknowledged key %s lost", id)
		}
	}
	for _, k := range keys {
		if len(k.Credentials) != 1 || k.Credentials[0].Label != keyward.LabelCurrent {
			t.Errorf("key %s has credentials %+v", k.ID, k.Credentials)
		}
		if _, err := c.GetSecretValue(ctx, k.ValueSecret, keyward.SecretSelector{}); err != nil {
			t.Errorf("key %s: its value secret %s: %v", k.ID, k.ValueSecret, err)
		}
	}
	cur, err := c.GetSecretValue(ctx, "rolling", keyward.SecretSelector{})
	if err != nil || !strings.HasPrefix(string(cur.Value), "v-") {
		t.Fatalf("rolling secret after the kill: %v", err)
	}
	t.Logf("%d keys acknowledged, %d present; %d secret puts; audit %d records OK", len(acked), len(keys), secretPuts.Load(), v.Records)
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func readFile(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

var listening = regexp.MustCompile(`keyward admin API: http://`)

// startProcess runs `keyward server` and waits until it says it listens.
func startProcess(t *testing.T, bin, dir, addr string) *exec.Cmd {
	t.Helper()
	return startProcessGateway(t, bin, dir, addr, "127.0.0.1:0")
}

// startProcessGateway is startProcess with the gateway on a given address.
func startProcessGateway(t *testing.T, bin, dir, addr, gw string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "server", "--data-dir", dir, "--admin-addr", addr, "--gateway-addr", gw, "--log-level", "error")
	waitListening(t, cmd)
	return cmd
}

// waitListening starts cmd and waits until it says it listens; the test's
// cleanup kills it.
func waitListening(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if listening.MatchString(sc.Text()) {
				ready <- true
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start")
	}
}
