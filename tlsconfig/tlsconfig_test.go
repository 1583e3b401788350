package tlsconfig

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// pki is a throwaway CA with helpers to issue and write certificates.
type pki struct {
	t     *testing.T
	dir   string
	ca    *x509.Certificate
	caKey *ecdsa.PrivateKey
	caPEM string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	ca, key, err := NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{t: t, dir: dir, ca: ca, caKey: key, caPEM: filepath.Join(dir, "ca.pem")}
	if err := WritePair(p.caPEM, filepath.Join(dir, "ca-key.pem"), ca, key); err != nil {
		t.Fatal(err)
	}
	return p
}

// issue writes a certificate for tmpl to name.pem and name-key.pem.
func (p *pki) issue(name string, tmpl Template, validFor time.Duration) (certFile, keyFile string, cert *x509.Certificate) {
	p.t.Helper()
	cert, key, err := Issue(p.ca, p.caKey, tmpl, validFor)
	if err != nil {
		p.t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(p.dir, name+".pem"), filepath.Join(p.dir, name+"-key.pem")
	if err := WritePair(certFile, keyFile, cert, key); err != nil {
		p.t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// serve runs an echo server over TLS with cfg on loopback.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	tl := tls.NewListener(ln, cfg)
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

// dial handshakes and echoes one line, returning the served leaf.
func dial(addr string, cfg *tls.Config) (*tls.Conn, *x509.Certificate, error) {
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return nil, nil, err
	}
	if err := echo(c); err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, c.ConnectionState().PeerCertificates[0], nil
}

func echo(c *tls.Conn) error {
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	buf := make([]byte, 5)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != "ping\n" {
		return errors.New("echo mismatch")
	}
	return nil
}

func clientFor(t *testing.T, p *pki) *tls.Config {
	t.Helper()
	cfg, err := Client(ClientFiles{CA: p.caPEM})
	if err != nil {
		t.Fatal(err)
	}
	cfg.ServerName = "127.0.0.1"
	return cfg
}

func TestReloadServesNewCertificateToNextConnectionAndKeepsOldOnes(t *testing.T) {
	p := newPKI(t)
	certFile, keyFile, first := p.issue("server", Template{CommonName: "first", Hosts: []string{"127.0.0.1"}, Server: true}, time.Hour)
	srv, err := NewServer(ServerFiles{Cert: certFile, Key: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv.Config())
	old, leaf, err := dial(addr, clientFor(t, p))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if leaf.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatalf("served %v, want the first certificate", leaf.Subject)
	}

	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reload := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		srv.Watch(ctx, "test", 20*time.Millisecond, reload, slog.New(slog.NewTextHandler(&logs, nil)))
	}()

	// Swapped on disk (written beside and renamed, as cert-manager and
	// certbot do): the watcher picks it up without a signal.
	_, _, second := p.issue("server", Template{CommonName: "second", Hosts: []string{"127.0.0.1"}, Server: true}, time.Hour)
	waitFor(t, func() bool { return srv.Leaf().SerialNumber.Cmp(second.SerialNumber) == 0 })
	if _, leaf, err = dial(addr, clientFor(t, p)); err != nil || leaf.SerialNumber.Cmp(second.SerialNumber) != 0 {
		t.Fatalf("next connection: %v, %v; want the second certificate", leaf, err)
	}
	// The connection made before the swap is still up.
	if err := echo(old); err != nil {
		t.Fatalf("connection from before the reload dropped: %v", err)
	}
	if !strings.Contains(logs.String(), "TLS certificate reloaded") {
		t.Errorf("no reload log line: %s", logs.String())
	}

	// A key that does not match the certificate: refused, logged, and the
	// second certificate stays.
	otherCert, otherKey, _ := p.issue("other", Template{CommonName: "other", Hosts: []string{"127.0.0.1"}, Server: true}, time.Hour)
	b, _ := os.ReadFile(otherKey)
	if err := writeAtomic(keyFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	reload <- struct{}{} // SIGHUP's path
	waitFor(t, func() bool { return strings.Contains(logs.String(), "TLS reload refused") })
	if err := srv.Reload(); err == nil {
		t.Fatal("a mismatched pair reloaded")
	}
	if _, leaf, err = dial(addr, clientFor(t, p)); err != nil || leaf.SerialNumber.Cmp(second.SerialNumber) != 0 {
		t.Fatalf("after a broken pair: %v, %v; want the second certificate still", leaf, err)
	}
	// Half-written certificate file: refused too.
	if err := os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\nMIIB"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(); err == nil {
		t.Fatal("a truncated certificate reloaded")
	}
	// A good pair again is taken.
	b, _ = os.ReadFile(otherCert)
	if err := writeAtomic(certFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return srv.Leaf().Subject.CommonName == "other" })
	cancel()
	wg.Wait()
}

func TestExpiredCertificateRefused(t *testing.T) {
	p := newPKI(t)
	certFile, keyFile, _ := p.issue("old", Template{Hosts: []string{"127.0.0.1"}, Server: true, NotBefore: time.Now().Add(-2 * time.Hour)}, time.Hour)
	if _, err := NewServer(ServerFiles{Cert: certFile, Key: keyFile}); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired certificate: %v", err)
	}
}

func TestOldProtocolVersionsRefused(t *testing.T) {
	p := newPKI(t)
	certFile, keyFile, _ := p.issue("server", Template{Hosts: []string{"127.0.0.1"}, Server: true}, time.Hour)
	srv, err := NewServer(ServerFiles{Cert: certFile, Key: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv.Config())
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		cfg := clientFor(t, p)
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, v // a client willing to use them
		if c, _, err := dial(addr, cfg); err == nil {
			c.Close()
			t.Errorf("TLS version %x accepted", v)
		}
	}
	cfg := clientFor(t, p)
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	c, _, err := dial(addr, cfg)
	if err != nil {
		t.Fatalf("TLS 1.2: %v", err)
	}
	c.Close()
}

func TestClientCertificateRequired(t *testing.T) {
	p := newPKI(t)
	certFile, keyFile, _ := p.issue("server", Template{Hosts: []string{"127.0.0.1"}, Server: true}, time.Hour)
	srv, err := NewServer(ServerFiles{Cert: certFile, Key: keyFile, ClientCA: p.caPEM})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv.Config())
	if c, _, err := dial(addr, clientFor(t, p)); err == nil {
		c.Close()
		t.Fatal("no client certificate accepted")
	}
	// A certificate from another CA is refused too.
	other := newPKI(t)
	oc, ok, _ := other.issue("client", Template{CommonName: "intruder"}, time.Hour)
	cfg, err := Client(ClientFiles{CA: p.caPEM, Cert: oc, Key: ok})
	if err != nil {
		t.Fatal(err)
	}
	cfg.ServerName = "127.0.0.1"
	if c, _, err := dial(addr, cfg); err == nil {
		c.Close()
		t.Fatal("a client certificate of another CA accepted")
	}
	cc, ck, _ := p.issue("client", Template{CommonName: "ci"}, time.Hour)
	cfg, err = Client(ClientFiles{CA: p.caPEM, Cert: cc, Key: ck})
	if err != nil {
		t.Fatal(err)
	}
	cfg.ServerName = "127.0.0.1"
	c, _, err := dial(addr, cfg)
	if err != nil {
		t.Fatalf("client certificate of the CA: %v", err)
	}
	c.Close()
}

func TestExplainNamesTheProblem(t *testing.T) {
	p := newPKI(t)
	certFile, keyFile, _ := p.issue("server", Template{Hosts: []string{"localhost", "127.0.0.1"}, Server: true}, time.Hour)
	srv, err := NewServer(ServerFiles{Cert: certFile, Key: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv.Config())
	_, port, _ := net.SplitHostPort(addr)

	noCA, _ := Client(ClientFiles{})
	_, _, err = dial(addr, noCA)
	if msg := Explain(err).Error(); !strings.Contains(msg, "not trusted") || !strings.Contains(msg, "--ca-file") || !strings.Contains(msg, "test CA") {
		t.Errorf("unknown authority: %q", msg)
	}
	if !errors.As(Explain(err), new(x509.UnknownAuthorityError)) {
		t.Error("Explain does not wrap the cause")
	}
	wrongName := clientFor(t, p)
	wrongName.ServerName = "keyward.example"
	_, _, err = dial(net.JoinHostPort("127.0.0.1", port), wrongName)
	if msg := Explain(err).Error(); !strings.Contains(msg, "localhost, 127.0.0.1") || !strings.Contains(msg, "keyward.example") {
		t.Errorf("hostname mismatch: %q", msg)
	}
	if msg := Explain(errors.New("plain")).Error(); msg != "plain" {
		t.Errorf("other errors changed: %q", msg)
	}
}

func TestClientFiles(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pem")
	os.WriteFile(empty, []byte("not a certificate\n"), 0o644)
	if _, err := Client(ClientFiles{CA: empty}); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("CA file without certificates: %v", err)
	}
	if _, err := Client(ClientFiles{CA: filepath.Join(dir, "missing.pem")}); err == nil {
		t.Error("missing CA file accepted")
	}
	if _, err := Client(ClientFiles{Cert: "x.pem"}); err == nil {
		t.Error("client certificate without key accepted")
	}
	cfg, err := Client(ClientFiles{})
	if err != nil || cfg.InsecureSkipVerify || cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("default client config: %+v, %v", cfg, err)
	}
}

func TestPrincipalMap(t *testing.T) {
	p := newPKI(t)
	_, _, cert := p.issue("c", Template{CommonName: "deployer", URIs: []string{"spiffe://acme/ci/deployer"},
		Hosts: []string{"ci.acme.internal"}, Emails: []string{"ops@acme.example"}}, time.Hour)
	m, err := ParsePrincipalMap([]string{
		"uri:spiffe://acme/ci/deployer=ci-deployer",
		"cn:deployer=by-cn",
		"subject:CN=deployer,O=keyward=by-subject",
		"dns:CI.acme.internal=by-dns",
		"email:ops@acme.example=by-email",
		"cn:someone-else=never",
	})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(m.Principals(cert), " ")
	if got != "ci-deployer by-cn by-subject by-dns by-email" {
		t.Errorf("principals %q", got)
	}
	for _, bad := range []string{"deployer", "cn:x", "ip:1.2.3.4=p", "cn:=p", "uri:x="} {
		if _, err := ParsePrincipalMap([]string{bad}); err == nil {
			t.Errorf("rule %q accepted", bad)
		}
	}
	if m, err := ParsePrincipalMap(nil); m != nil || err != nil {
		t.Errorf("no rules: %v, %v", m, err)
	}
}

func TestGenerateDevKeysArePrivate(t *testing.T) {
	dir := t.TempDir()
	f, err := GenerateDev(dir, []string{"127.0.0.1", "localhost"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{f.CAKey, f.Key, f.ClientKey} {
		fi, err := os.Stat(k)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", k, fi.Mode(), err)
		}
	}
	if _, err := NewServer(ServerFiles{Cert: f.Cert, Key: f.Key, ClientCA: f.CA}); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

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
