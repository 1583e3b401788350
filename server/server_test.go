package server_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/server"
)

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type running struct {
	srv    *server.Server
	dir    string
	token  string
	client *httpapi.Client
	logs   *syncBuffer
	stop   func()
}

// start runs a real server on 127.0.0.1:0 in a temp dir, as `keyward
// server` would, and returns an admin client for it.
func start(t testing.TB, cfg server.Config) *running {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.AdminAddr = "127.0.0.1:0"
	if cfg.GatewayAddr == "" {
		cfg.GatewayAddr = "127.0.0.1:0"
	}
	cfg.LogLevel = "debug"
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.Open(ctx, cfg, logs)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	r := &running{srv: srv, dir: cfg.DataDir, logs: logs}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
			srv.Close()
		})
	}
	t.Cleanup(r.stop)
	if b, err := os.ReadFile(filepath.Join(cfg.DataDir, server.BootstrapTokenFile)); err == nil {
		r.token = strings.TrimSpace(string(b))
	}
	r.client = httpapi.NewClient(srv.AdminURL(), r.token, nil)
	return r
}

func TestFirstStartCreatesPrivateFiles(t *testing.T) {
	dir := t.TempDir()
	r := start(t, server.Config{DataDir: dir})
	if !strings.HasPrefix(r.token, "kwa_") {
		t.Fatalf("bootstrap token %q", r.token)
	}
	for _, name := range []string{server.DatabaseFile, server.MasterKeyFile, server.PepperFile, server.AuditSigningFile, server.AuditTailKeyFile, server.BootstrapTokenFile} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	if _, _, err := r.client.ListKeys(context.Background(), keyward.KeyFilter{}); err != nil {
		t.Fatal(err)
	}
	// The witness is there from the first start on: a checkpoint follows
	// the bootstrap, so there is never a log without a copy outside.
	if b, err := os.ReadFile(filepath.Join(dir, server.AuditWitnessFile)); err != nil || !strings.HasPrefix(string(b), "keyward/audit/") {
		t.Fatalf("witness after the first start: %q %v", b, err)
	}
	r.stop()
	// A second start on the same data dir keeps everything and makes no new admin.
	os.Remove(filepath.Join(dir, server.BootstrapTokenFile))
	r2 := start(t, server.Config{DataDir: dir})
	if r2.srv.BootstrapTokenPath != "" {
		t.Fatal("second start created another bootstrap admin")
	}
	c := httpapi.NewClient(r2.srv.AdminURL(), r.token, nil)
	if _, _, err := c.ListKeys(context.Background(), keyward.KeyFilter{}); err != nil {
		t.Fatalf("old token after restart: %v", err)
	}
}

func TestHealthReadyMetricsOpenAPI(t *testing.T) {
	r := start(t, server.Config{})
	for path, want := range map[string]string{"/healthz": "", "/readyz": "", "/metrics": "keyward_admin_requests_total", "/v1/openapi.json": `"openapi"`} {
		if _, _, err := r.client.ListAPIs(context.Background(), keyward.Page{}); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(r.srv.AdminURL() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d %.200s", path, resp.StatusCode, body)
		}
	}
}

func TestUnauthenticatedCallsAreRejectedAndAudited(t *testing.T) {
	r := start(t, server.Config{})
	bad := httpapi.NewClient(r.srv.AdminURL(), "kwa_notatoken", nil)
	_, _, err := bad.ListKeys(context.Background(), keyward.KeyFilter{})
	if keyward.ErrorCode(err) != keyward.EUNAUTHORIZED {
		t.Fatalf("code %q", keyward.ErrorCode(err))
	}
	recs, err := r.client.ListAudit(context.Background(), keyward.AuditFilter{EventName: string(keyward.ActionKeyList)})
	if err != nil || len(recs) != 1 || !strings.Contains(string(recs[0].Event), `"errorCode":"unauthorized"`) {
		t.Fatalf("audit of the failed call: %v %v", recs, err)
	}
	if strings.Contains(string(recs[0].Event), "kwa_notatoken") {
		t.Fatal("audit record holds the presented token")
	}
}

func TestGracefulShutdownCheckpoints(t *testing.T) {
	r := start(t, server.Config{CheckpointInterval: time.Hour})
	if _, err := r.client.CreateKey(context.Background(), keyward.KeyCreate{Name: "k"}); err != nil {
		t.Fatal(err)
	}
	r.stop()
	var cps []*keyward.AuditCheckpoint
	r2 := start(t, server.Config{DataDir: r.dir})
	c := httpapi.NewClient(r2.srv.AdminURL(), r.token, nil)
	// One after the first bootstrap, one at shutdown covering the create,
	// one after the second start's bootstrap.
	cps, err := c.ListCheckpoints(context.Background(), 0, 10)
	if err != nil || len(cps) != 3 {
		t.Fatalf("checkpoints after shutdown: %d (%v)", len(cps), err)
	}
	created, err := c.ListAudit(context.Background(), keyward.AuditFilter{EventName: "apikeys:Create"})
	if err != nil || len(created) != 1 || cps[1].Size < created[0].Seq {
		t.Fatalf("the shutdown checkpoint does not cover the create: %+v %v", cps[1], err)
	}
	v, err := c.VerifyAudit(context.Background())
	if err != nil || !v.OK {
		t.Fatalf("verify: %+v %v", v, err)
	}
}

func readToken(srv *server.Server) (string, error) {
	b, err := os.ReadFile(srv.BootstrapTokenPath)
	return strings.TrimSpace(string(b)), err
}

// Concurrent calls commit in any order; the JSONL copy of the trail must
// still be in sequence order, with each checkpoint after its record, so that
// it verifies on its own.
func TestAuditFileVerifiesUnderConcurrency(t *testing.T) {
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	r := start(t, server.Config{AuditFile: file, CheckpointInterval: 50 * time.Millisecond})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 40 {
				if _, err := r.client.CreateKey(context.Background(), keyward.KeyCreate{Name: "c"}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	r.stop()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pubHex, err := os.ReadFile(filepath.Join(r.dir, server.AuditPublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := hex.DecodeString(strings.TrimSpace(string(pubHex)))
	if err != nil {
		t.Fatal(err)
	}
	v, err := audit.VerifyJSONL(f, audit.FileOptions{Pinned: audit.NewCheckpointVerifier(pub)})
	if err != nil || !v.OK || v.Records < 320 || v.Checkpoints == 0 || v.TailRecords != 0 {
		t.Fatalf("JSONL sink: %+v %v", v, err)
	}
}

// If the bootstrap token cannot be written, the bootstrap admin is not
// created either: a later start (once the problem is fixed) makes one.
func TestFailedBootstrapLeavesNoOrphanAdmin(t *testing.T) {
	dir := t.TempDir()
	// A directory where the token file goes makes the rename fail.
	if err := os.MkdirAll(filepath.Join(dir, server.BootstrapTokenFile, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Open(context.Background(), server.Config{DataDir: dir, AdminAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0"}, io.Discard); err == nil {
		t.Fatal("Open succeeded without writing the bootstrap token")
	}
	os.RemoveAll(filepath.Join(dir, server.BootstrapTokenFile))
	r := start(t, server.Config{DataDir: dir})
	if r.srv.BootstrapTokenPath == "" || r.token == "" {
		t.Fatal("no bootstrap admin after the failed first start")
	}
	if _, _, err := r.client.ListKeys(context.Background(), keyward.KeyFilter{}); err != nil {
		t.Fatal(err)
	}
}
