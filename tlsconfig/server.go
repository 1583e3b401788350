package tlsconfig

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// ServerFiles names the files of one listener's TLS setup.
type ServerFiles struct {
	Cert string // PEM certificate chain, leaf first
	Key  string // PEM private key of the leaf
	// ClientCA, when set, requires and verifies a client certificate
	// signed by one of its PEM certificates (mutual TLS).
	ClientCA string
	// NextProtos are the ALPN protocols offered, e.g. "h2", "http/1.1".
	NextProtos []string
}

// Server serves a listener's TLS configuration and replaces it when its
// files change. Each new handshake takes the configuration current at that
// moment, so a reload drops no connection; one that fails (a key that does
// not match its certificate, a half-written file) keeps the previous one.
type Server struct {
	files   ServerFiles
	current atomic.Pointer[loaded]
}

// loaded is one successful load: the configuration and what it was made of,
// to notice when the files change.
type loaded struct {
	config *tls.Config
	stamp  []fileStamp
	leaf   *x509.Certificate
}

// NewServer loads the files; an error here is a startup error.
func NewServer(files ServerFiles) (*Server, error) {
	if files.Cert == "" || files.Key == "" {
		return nil, errors.New("tls: a certificate needs both its certificate file and its key file")
	}
	s := &Server{files: files}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Config is the tls.Config to serve with. It hands every handshake the
// configuration loaded last.
func (s *Server) Config() *tls.Config {
	return &tls.Config{
		MinVersion: MinVersion,
		NextProtos: s.files.NextProtos,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.current.Load().config, nil
		},
	}
}

// Leaf is the certificate served now, for logs and tests.
func (s *Server) Leaf() *x509.Certificate { return s.current.Load().leaf }

// Reload reads the files again. On error the configuration in use stays.
func (s *Server) Reload() error {
	_, err := s.reload()
	return err
}

// reload is Reload, also returning the stamps of the files it read, so
// that a failure is remembered for exactly those files: stamping again
// after the failure could record a good pair renamed in meanwhile as bad.
func (s *Server) reload() ([]fileStamp, error) {
	// Stamps are taken before reading: a file replaced while it is read
	// then looks changed on the next poll and is read again.
	stamp := stampFiles(s.files.Cert, s.files.Key, s.files.ClientCA)
	return stamp, s.load(stamp)
}

func (s *Server) load(stamp []fileStamp) error {
	cert, err := tls.LoadX509KeyPair(s.files.Cert, s.files.Key)
	if err != nil {
		return fmt.Errorf("tls: loading %s and %s: %w", s.files.Cert, s.files.Key, err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return fmt.Errorf("tls: %s: %w", s.files.Cert, err)
		}
	}
	if now := time.Now(); now.After(leaf.NotAfter) {
		return fmt.Errorf("tls: %s expired on %s", s.files.Cert, leaf.NotAfter.UTC().Format(time.RFC3339))
	} else if now.Before(leaf.NotBefore) {
		return fmt.Errorf("tls: %s is not valid until %s", s.files.Cert, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	cfg := &tls.Config{
		MinVersion:   MinVersion,
		NextProtos:   s.files.NextProtos,
		Certificates: []tls.Certificate{cert},
	}
	if s.files.ClientCA != "" {
		pool, err := LoadCAFile(s.files.ClientCA)
		if err != nil {
			return err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	s.current.Store(&loaded{config: cfg, stamp: stamp, leaf: leaf})
	return nil
}

// changed reports whether a file differs from what was loaded last.
func (s *Server) changed() bool {
	cur := s.current.Load()
	now := stampFiles(s.files.Cert, s.files.Key, s.files.ClientCA)
	for i := range now {
		if now[i] != cur.stamp[i] {
			return true
		}
	}
	return false
}

// Watch reloads whenever the files change (polled every interval) and
// whenever reload receives, until ctx ends. A failed reload is logged once
// per change and the previous certificate kept.
func (s *Server) Watch(ctx context.Context, name string, interval time.Duration, reload <-chan struct{}, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var failed []fileStamp // the files a reload failed on, not retried until they change
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !s.changed() {
				continue
			}
			if now := stampFiles(s.files.Cert, s.files.Key, s.files.ClientCA); failed != nil && equalStamps(now, failed) {
				continue
			}
		case <-reload:
		}
		if stamp, err := s.reload(); err != nil {
			failed = stamp
			log.Error("TLS reload refused; still serving the previous certificate", "listener", name, "err", err)
			continue
		}
		failed = nil
		leaf := s.Leaf()
		log.Info("TLS certificate reloaded", "listener", name, "subject", leaf.Subject.String(),
			"serial", leaf.SerialNumber.Text(16), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
}

// fileStamp is what tells a file changed: replaced (rename), rewritten in
// place, or touched.
type fileStamp struct {
	size    int64
	modTime time.Time
	sum     [32]byte // of the first bytes, for rewrites within one mtime tick
}

func stampFiles(names ...string) []fileStamp {
	out := make([]fileStamp, len(names))
	for i, n := range names {
		if n == "" {
			continue
		}
		fi, err := os.Stat(n)
		if err != nil {
			continue // a missing file is a zero stamp: its return is a change
		}
		out[i] = fileStamp{size: fi.Size(), modTime: fi.ModTime(), sum: headSum(n)}
	}
	return out
}

func equalStamps(a, b []fileStamp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// headSum is a cheap content check: certificate files are small, so all of
// it in practice.
func headSum(name string) (sum [32]byte) {
	b, err := os.ReadFile(name)
	if err != nil || len(b) > 1<<20 {
		return sum
	}
	return sha256.Sum256(b)
}

// LoadCAFile reads a PEM file of one or more CA certificates into a pool.
func LoadCAFile(name string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if err := appendCAFile(pool, name); err != nil {
		return nil, err
	}
	return pool, nil
}

// appendCAFile adds the certificates of a PEM file to pool. A file without
// any certificate is an error, never a pool that trusts nothing new.
func appendCAFile(pool *x509.CertPool, name string) error {
	b, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("tls: CA file: %w", err)
	}
	if !bytes.Contains(b, []byte("-----BEGIN CERTIFICATE-----")) || !pool.AppendCertsFromPEM(b) {
		return fmt.Errorf("tls: CA file %s holds no PEM certificate", name)
	}
	return nil
}

// VerifyClient checks a connection's client certificate against the client
// CAs loaded now, for every request: replacing the CA file revokes the
// certificates of a dropped CA on connections already open too, not only
// on new handshakes. Without a client CA it accepts anything.
func (s *Server) VerifyClient(cs *tls.ConnectionState) error {
	cfg := s.current.Load().config
	if cfg.ClientCAs == nil {
		return nil
	}
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return errors.New("tls: no client certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: cfg.ClientCAs, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err
}
