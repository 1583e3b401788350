// Package testpg starts a PostgreSQL server of a test's own on a free
// loopback port (plain, or accepting only TLS with a certificate of a CA
// of the test's own), which the test may crash and start again, leaving
// the machine's own PostgreSQL alone. The server binaries are the
// machine's (Debian's postgresql package); without them the test is
// skipped, except in CI.
package testpg

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
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

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver of Schema
	"github.com/keyward/keyward/tlsconfig"
)

// Options says how to run it.
type Options struct {
	// TLS makes it accept only TLS connections (hostssl), with a
	// certificate for 127.0.0.1 of a CA in Server.CAFile.
	TLS bool
	// NoFsync trades durability for speed: for tests that never crash it.
	NoFsync bool
}

// Server is a PostgreSQL server a test started.
type Server struct {
	t      *testing.T
	bin    string
	data   string
	opts   string
	log    string
	asUser []string
	Port   int
	CAFile string // with TLS
}

// Start initialises and starts one; it is stopped when the test ends.
func Start(t *testing.T, o Options) *Server {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin); .ci/run installs them")
		}
		t.Skip("no PostgreSQL server binaries")
	}
	s := &Server{t: t, bin: filepath.Dir(bins[len(bins)-1])}
	dir, err := os.MkdirTemp("", "kwpg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// PostgreSQL refuses to run as root: as root, run it as postgres.
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
		s.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	s.data, s.log = filepath.Join(dir, "data"), filepath.Join(dir, "log")
	s.run(filepath.Join(s.bin, "initdb"), "-D", s.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
	opts := fmt.Sprintf("-k %s -c listen_addresses=127.0.0.1", dir)
	if o.NoFsync {
		opts += " -c fsync=off"
	}
	if o.TLS {
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
		s.CAFile = filepath.Join(caDir, "ca.pem")
		if err := tlsconfig.WritePair(s.CAFile, filepath.Join(caDir, "ca.key"), ca, caKey); err != nil {
			t.Fatal(err)
		}
		crt, kf := filepath.Join(s.data, "server.crt"), filepath.Join(s.data, "server.key")
		if err := tlsconfig.WritePair(crt, kf, cert, key); err != nil {
			t.Fatal(err)
		}
		hba := "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n"
		if err := os.WriteFile(filepath.Join(s.data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
			t.Fatal(err)
		}
		opts += fmt.Sprintf(" -c ssl=on -c ssl_cert_file=%s -c ssl_key_file=%s", crt, kf)
	}
	if s.asUser != nil {
		if out, err := exec.Command("chown", "-R", "postgres:postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s.opts = fmt.Sprintf("-p %d ", s.Port) + opts
	s.Start()
	t.Cleanup(func() { s.stop("immediate", false) })
	return s
}

// URL is a connection URL of the postgres database (sslmode as given).
func (s *Server) URL(sslmode string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=%s", s.Port, sslmode)
}

// Start starts it (again, after Crash).
func (s *Server) Start() {
	s.t.Helper()
	s.run(filepath.Join(s.bin, "pg_ctl"), "-D", s.data, "-o", s.opts, "-l", s.log, "-w", "-t", "60", "start")
}

// Crash stops it the way a crash or a power cut would (pg_ctl -m
// immediate: no checkpoint, connections cut; at the next start the server
// recovers from its write-ahead log).
func (s *Server) Crash() { s.stop("immediate", true) }

func (s *Server) stop(mode string, must bool) {
	args := append(append([]string{}, s.asUser...), filepath.Join(s.bin, "pg_ctl"), "-D", s.data, "-m", mode, "-w", "stop")
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil && must {
		s.t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

func (s *Server) run(args ...string) {
	s.t.Helper()
	all := append(append([]string{}, s.asUser...), args...)
	if out, err := exec.Command(all[0], all[1:]...).CombinedOutput(); err != nil {
		s.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// MachineURL is the PostgreSQL most tests share: $KEYWARD_TEST_DATABASE_URL,
// or the machine's own (trust authentication, database test).
func MachineURL() string {
	if u := os.Getenv("KEYWARD_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// Schema creates an empty schema on MachineURL's database for one test
// and drops it after. Without PostgreSQL the test is skipped, except in
// CI, where it fails (.ci/run starts PostgreSQL).
func Schema(t testing.TB) string {
	t.Helper()
	admin, err := sql.Open("pgx", MachineURL())
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.PingContext(context.Background()); err != nil {
		admin.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is not reachable (.ci/run starts it): %v", err)
		}
		t.Skipf("PostgreSQL is not reachable: %v", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "kwtest_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		admin.Close()
	})
	return schema
}

// SchemaURL is MachineURL with its tables in a fresh schema (Schema).
func SchemaURL(t testing.TB) string {
	t.Helper()
	return MachineURL() + "&search_path=" + Schema(t)
}
