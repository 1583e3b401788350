//go:build linux

package tlsconfig

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// TestAttackReloadRaceLosesRenewedPair: the README promises that when the
// key and the certificate are renamed one after the other, "the check
// between the two renames may log one refusal, and the next takes the
// pair". Watch records the stamp of the files a reload failed on *after*
// Reload returned, not the stamp Reload read. When the certificate is
// renamed while a reload is refusing the new-key/old-certificate mix (the
// certificate was already read, the key is being checked), `failed`
// records the stamp of the good new pair, and every later poll skips it
// as "already failed": the renewed certificate is never served (until the
// files change again or SIGHUP), and the old one runs to expiry.
//
// inotify tells the test when the watcher has opened the key file for the
// reload (third open after the key rename: changed(), Reload's stamp, then
// LoadX509KeyPair, which read the certificate first); the test renames the
// certificate at that moment, exactly what `install`/cert-manager doing
// key-then-cert can do by chance.
func TestAttackReloadRaceLosesRenewedPair(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pair := func(cn string) (certPEM, keyPEM []byte, cert *x509.Certificate) {
		cert, key, err := Issue(p.ca, p.caKey, Template{CommonName: cn, Hosts: []string{"127.0.0.1"}, Server: true}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalECPrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), cert
	}
	c0, k0, _ := pair("gen-0")
	if err := writeAtomic(keyFile, k0, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(certFile, c0, 0o644); err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(ServerFiles{Cert: certFile, Key: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		srv.Watch(ctx, "test", 100*time.Millisecond, make(chan struct{}), slog.New(slog.NewTextHandler(&logs, nil)))
	}()
	defer func() { cancel(); wg.Wait() }()

	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC)
	if err != nil {
		t.Fatal("no inotify:", err) // Linux, as CI; never skipped
	}
	defer syscall.Close(fd)
	if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_OPEN|syscall.IN_MOVED_TO); err != nil {
		t.Fatal("no inotify:", err) // Linux, as CI; never skipped
	}
	buf := make([]byte, 64<<10)
	// waitOpens blocks until key.pem has been renamed into place and then
	// opened n times; events from before the rename are skipped.
	waitOpens := func(n int) {
		moved := false
		for n > 0 {
			m, err := syscall.Read(fd, buf)
			if err != nil {
				t.Fatal(err)
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= m; {
				ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := string(bytes.TrimRight(buf[off+syscall.SizeofInotifyEvent:off+syscall.SizeofInotifyEvent+int(ev.Len)], "\x00"))
				switch {
				case ev.Mask&syscall.IN_MOVED_TO != 0 && name == "key.pem":
					moved = true
				case moved && ev.Mask&syscall.IN_OPEN != 0 && name == "key.pem":
					n--
				}
				off += syscall.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}

	for attempt := 1; attempt <= 40; attempt++ {
		certPEM, keyPEM, want := pair("gen-renewed")
		// Both new files written beside the targets first; then key
		// renamed, then certificate renamed (two renames, as README
		// says is fine).
		tmpCert := filepath.Join(dir, ".cert.pem.new")
		if err := os.WriteFile(tmpCert, certPEM, 0o644); err != nil {
			t.Fatal(err)
		}
		before := strings.Count(logs.String(), "TLS reload refused")
		if err := writeAtomic(keyFile, keyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		waitOpens(3) // the poll's changed(), Reload's stamp, LoadX509KeyPair
		if err := os.Rename(tmpCert, certFile); err != nil {
			t.Fatal(err)
		}
		// Many polls later the renewed pair must be served.
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) && srv.Leaf().SerialNumber.Cmp(want.SerialNumber) != 0 {
			time.Sleep(20 * time.Millisecond)
		}
		if srv.Leaf().SerialNumber.Cmp(want.SerialNumber) != 0 {
			t.Fatalf("attempt %d: the renewed pair (both files in place, matching) is still not served 2 s (20 polls) later; "+
				"served %q serial %v; refusals logged this attempt: %d\n%s", attempt, srv.Leaf().Subject.CommonName, srv.Leaf().SerialNumber,
				strings.Count(logs.String(), "TLS reload refused")-before, logs.String())
		}
	}
}
