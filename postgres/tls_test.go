package postgres_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/postgres"
	"github.com/keyward/keyward/tlsconfig"
)

// tlsPostgres starts a PostgreSQL server of the test's own on a loopback
// port, accepting only TLS connections, with a certificate for 127.0.0.1
// issued by a CA of the test's own, and returns its port and the CA file.
// The machine's own PostgreSQL is left alone. The server binaries are
// the machine's (Debian's postgresql package); without them the test is
// skipped, except in CI.
func tlsPostgres(t *testing.T) (port int, caFile string) {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin); .ci/run installs them")
		}
		t.Skip("no PostgreSQL server binaries")
	}
	bin := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "kwpgtls")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// PostgreSQL refuses to run as root: as root, run it as postgres.
	var asUser []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root and no postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(append(asUser, args...)[0], append(asUser, args...)[1:]...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	data := filepath.Join(dir, "data")
	run(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")

	ca, caKey, err := tlsconfig.NewCA("keyward test PostgreSQL CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := tlsconfig.Issue(ca, caKey, tlsconfig.Template{CommonName: "127.0.0.1", Hosts: []string{"127.0.0.1", "localhost"}, Server: true}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// The CA file for the client; the pair for the server, owned by it.
	caDir := t.TempDir()
	caFile = filepath.Join(caDir, "ca.pem")
	if err := tlsconfig.WritePair(caFile, filepath.Join(caDir, "ca.key"), ca, caKey); err != nil {
		t.Fatal(err)
	}
	crt, kf := filepath.Join(data, "server.crt"), filepath.Join(data, "server.key")
	if err := tlsconfig.WritePair(crt, kf, cert, key); err != nil {
		t.Fatal(err)
	}
	hba := "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n"
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		t.Fatal(err)
	}
	if asUser != nil {
		if out, err := exec.Command("chown", "-R", "postgres:postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file=%s -c ssl_key_file=%s -c fsync=off",
		port, dir, crt, kf)
	run(filepath.Join(bin, "pg_ctl"), "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start")
	t.Cleanup(func() {
		cmd := exec.Command(append(asUser, filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop")[0],
			append(asUser, filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop")[1:]...)
		_ = cmd.Run()
	})
	return port, caFile
}

// The store over TLS to PostgreSQL: verify-full with the CA works; a
// client that does not trust the server's CA, or does not use TLS, is
// refused, and the refusal says why.
func TestTLSToPostgres(t *testing.T) {
	port, caFile := tlsPostgres(t)
	ctx := context.Background()
	base := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?connect_timeout=5", port)

	db, err := postgres.Open(ctx, base+"&sslmode=verify-full&sslrootcert="+caFile)
	if err != nil {
		t.Fatalf("verify-full with the CA: %v", err)
	}
	defer db.Close()
	if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
		now := time.Now().UTC()
		return tx.InsertKey(ctx, &keyward.APIKey{ID: "key_tls", Name: "tls", Enabled: true, CreatedAt: now, UpdatedAt: now})
	}); err != nil {
		t.Fatal(err)
	}

	other, otherKey, err := tlsconfig.NewCA("someone else's CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	otherFile := filepath.Join(t.TempDir(), "other.pem")
	if err := tlsconfig.WritePair(otherFile, otherFile+".key", other, otherKey); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Open(ctx, base+"&sslmode=verify-full&sslrootcert="+otherFile); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("an untrusted server certificate: %v", err)
	}
	if _, err := postgres.Open(ctx, base+"&sslmode=disable"); err == nil {
		t.Error("a plain connection to a TLS-only server was accepted")
	}
}
