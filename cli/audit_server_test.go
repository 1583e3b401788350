package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/server"
	"github.com/keyward/keyward/tlsconfig"
)

// realServer runs a keyward server on loopback in a temp data dir and
// returns its admin URL, bootstrap token and data dir.
func realServer(t *testing.T) (addr, token, dir string) {
	t.Helper()
	dir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.Open(ctx, server.Config{DataDir: dir, AdminAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0",
		CheckpointEvery: 4, CheckpointInterval: time.Hour}, io.Discard)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
			srv.Close()
		})
	})
	b, err := os.ReadFile(filepath.Join(dir, server.BootstrapTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	return srv.AdminURL(), strings.TrimSpace(string(b)), dir
}

// runReal runs the keyward command against a real server through the HTTP
// client, as a user would.
func runReal(t *testing.T, addr, token string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	st := &state{
		getenv: func(k string) string { return map[string]string{EnvToken: token, EnvAddr: addr}[k] },
		newClient: func(a, tok string, _ tlsconfig.ClientFiles) (Client, error) {
			return httpapi.NewClient(a, tok, nil), nil
		},
		now:        time.Now,
		isTerminal: func(any) bool { return false },
	}
	code := execute(NewRoot(), args, strings.NewReader(""), &out, &errb, st)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// The whole loop against a real server: its export verifies with the data
// dir's key, proofs and consistency proofs check, and the witness file is a
// checkpoint one can keep.
func TestAuditCommandsAgainstRealServer(t *testing.T) {
	addr, token, dir := realServer(t)
	c := httpapi.NewClient(addr, token, nil)
	ctx := context.Background()
	kept, err := os.ReadFile(filepath.Join(dir, server.AuditWitnessFile))
	if err != nil {
		t.Fatal(err)
	}
	keptFile := writeFile(t, "kept-witness", kept)
	for i := 0; i < 9; i++ {
		if _, err := c.CreatePrincipal(ctx, keyward.PrincipalCreate{Name: "svc-" + string(rune('a'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	pub := filepath.Join(dir, server.AuditPublicKeyFile)

	r := runReal(t, addr, token, "audit", "public-key")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "keyward/audit/") {
		t.Fatalf("public-key: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	vkey := writeFile(t, "vkey", []byte(r.stdout))

	out := filepath.Join(t.TempDir(), "audit.jsonl")
	r = runReal(t, addr, token, "audit", "export", "--out", out)
	if r.code != 0 || !strings.Contains(r.stdout, "up to the latest checkpoint") {
		t.Fatalf("export: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	for _, key := range []string{pub, vkey} {
		r = runReal(t, addr, token, "audit", "verify", "--file", out, "--public-key-file", key)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "audit log intact: ") {
			t.Errorf("verify --file with %s: exit %d, stdout %q, stderr %q", filepath.Base(key), r.code, r.stdout, r.stderr)
		}
	}
	if r = runReal(t, addr, token, "audit", "verify", "--file", out); r.code != ExitAuditUnpinned || !strings.Contains(r.stdout, "UNPINNED: ") {
		t.Errorf("verify --file unpinned: exit %d, stdout %q", r.code, r.stdout)
	}
	if r = runReal(t, addr, token, "audit", "prove", "3", "--public-key-file", pub); r.code != 0 || !strings.Contains(r.stdout, "included: record 3 is in the signed tree") {
		t.Errorf("prove: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r = runReal(t, addr, token, "audit", "verify", "--since", keptFile, "--public-key-file", pub); r.code != 0 || !strings.Contains(r.stdout, ": consistent") {
		t.Errorf("verify --since: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r = runReal(t, addr, token, "audit", "verify"); r.code != 0 || !strings.HasPrefix(r.stdout, "audit log intact: ") {
		t.Errorf("verify: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

}
