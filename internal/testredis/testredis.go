// Package testredis starts a redis-server of a test's own (plain or TLS,
// with a password if asked) on a free loopback port, which the test may
// kill and start again, leaving the machine's Redis alone.
package testredis

import (
	"fmt"
	"net"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward/tlsconfig"
)

// Server is a redis-server a test started.
type Server struct {
	t    *testing.T
	port int
	args []string
	cmd  *exec.Cmd
	URL  string // with the password, if any
	CA   string // with TLS: the CA file that verifies it
}

// Options says how to run it.
type Options struct {
	TLS      bool   // serve TLS only, with a certificate of a CA in CA
	Password string // requirepass
}

// Start starts one; it is killed when the test ends.
func Start(t *testing.T, o Options) *Server {
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
	r := &Server{t: t, port: port}
	r.args = []string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir}
	if o.TLS {
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
		r.URL = fmt.Sprintf("rediss://%slocalhost:%d/0", auth(o), port)
	} else {
		r.args = append(r.args, "--port", fmt.Sprint(port))
		r.URL = fmt.Sprintf("redis://%s127.0.0.1:%d/0", auth(o), port)
	}
	if o.Password != "" {
		r.args = append(r.args, "--requirepass", o.Password)
	}
	r.args = append([]string{bin}, r.args...)
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// Start starts it again after Stop, on the same port.
func (r *Server) Start() {
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

// Stop kills it (as a crash would).
func (r *Server) Stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

func auth(o Options) string {
	if o.Password == "" {
		return ""
	}
	return ":" + o.Password + "@"
}

// MachineURL is the Redis most tests share ($KEYWARD_TEST_REDIS_URL, or the
// machine's at redis://127.0.0.1:6379/0), once it answers a PING. Without
// one the test is skipped, except in CI, where it fails (.ci/run starts it).
func MachineURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("KEYWARD_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	err := ping(url)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at %s: %v (.ci/run starts it)", url, err)
		}
		t.Skipf("no Redis at %s: %v", url, err)
	}
	return url
}

// ping sends one PING in the protocol's inline form, so that this package
// needs no client.
func ping(rawURL string) error {
	u, err := neturl.Parse(rawURL)
	if err != nil {
		return err
	}
	c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if reply := string(buf[:n]); reply != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", reply)
	}
	return nil
}
