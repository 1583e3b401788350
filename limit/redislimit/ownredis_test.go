package redislimit_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward/tlsconfig"
)

// ownRedis is a redis-server this test starts (and stops) on a free
// loopback port, leaving the machine's own alone.
type ownRedis struct {
	t    *testing.T
	port int
	args []string
	cmd  *exec.Cmd
	URL  string
	CA   string // with TLS: the CA file that verifies it
}

func startOwnRedis(t *testing.T, withTLS bool) *ownRedis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed (.ci/run installs it)")
		}
		t.Skip("no redis-server")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	r := &ownRedis{t: t, port: port}
	r.args = []string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir}
	if withTLS {
		ca, caKey, err := tlsconfig.NewCA("redis test CA", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		r.CA = filepath.Join(dir, "ca.pem")
		if err := tlsconfig.WritePair(r.CA, filepath.Join(dir, "ca-key.pem"), ca, caKey); err != nil {
			t.Fatal(err)
		}
		cert, key, err := tlsconfig.Issue(ca, caKey, tlsconfig.Template{CommonName: "localhost",
			Hosts: []string{"localhost", "127.0.0.1"}, Server: true}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		cf, kf := filepath.Join(dir, "redis.pem"), filepath.Join(dir, "redis-key.pem")
		if err := tlsconfig.WritePair(cf, kf, cert, key); err != nil {
			t.Fatal(err)
		}
		r.args = append(r.args, "--port", "0", "--tls-port", fmt.Sprint(port), "--tls-cert-file", cf,
			"--tls-key-file", kf, "--tls-auth-clients", "no")
		r.URL = fmt.Sprintf("rediss://localhost:%d/0", port)
	} else {
		r.args = append(r.args, "--port", fmt.Sprint(port))
		r.URL = fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	}
	r.args = append([]string{bin}, r.args...)
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *ownRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.args[0], r.args[1:]...)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	for range 100 {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatal("redis-server did not start")
}

// stop kills it (as a crash would).
func (r *ownRedis) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}
