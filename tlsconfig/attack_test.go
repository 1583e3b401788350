package tlsconfig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"strings"
	"testing"
	"time"
)

// TestAttackNotYetValidCertificateReloaded: a renewed pair whose
// certificate is not valid yet (issued with a future NotBefore, or on a CA
// whose clock runs ahead) is taken by Reload and served, so every client
// fails verification ("expired or is not valid yet") until the files
// change again. Expired certificates are refused; the other half of the
// validity window is not. The brief: a broken new pair must be refused and
// the old one kept.
func TestAttackNotYetValidCertificateReloaded(t *testing.T) {
	p := newPKI(t)
	certFile, keyFile, first := p.issue("server", Template{CommonName: "good", Hosts: []string{"127.0.0.1"}, Server: true}, time.Hour)
	srv, err := NewServer(ServerFiles{Cert: certFile, Key: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv.Config())
	p.issue("server", Template{CommonName: "future", Hosts: []string{"127.0.0.1"}, Server: true, NotBefore: time.Now().Add(24 * time.Hour)}, time.Hour)
	if err := srv.Reload(); err == nil {
		t.Errorf("a certificate valid only from tomorrow was reloaded")
	}
	if srv.Leaf().SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Errorf("serving %q, want the previous certificate kept", srv.Leaf().Subject.CommonName)
	}
	if _, _, err := dial(addr, clientFor(t, p)); err != nil {
		t.Errorf("clients can no longer connect after the reload: %v", err)
	}
	// At start it is not refused either.
	if _, err := NewServer(ServerFiles{Cert: certFile, Key: keyFile}); err == nil {
		t.Errorf("a certificate not valid yet is accepted at start (expired ones stop the start)")
	}
}

// TestAttackPrincipalMapDuplicateCommonName: x509 keeps only the LAST
// common name of a subject in Subject.CommonName, and Subject.String()
// drops the others. A certificate whose subject is "CN=intern, CN=ops"
// (openssl and most CA policies read the first CN, "intern") is bound to
// the principal of "cn:ops" and of "subject:CN=ops,O=keyward": the subject
// rule is not an exact match of the subject either. A certificate with
// more than one CN is ambiguous and should bind to nothing.
func TestAttackPrincipalMapDuplicateCommonName(t *testing.T) {
	p := newPKI(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cn := asn1.ObjectIdentifier{2, 5, 4, 3}
	o := asn1.ObjectIdentifier{2, 5, 4, 10}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject: pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: o, Value: "keyward"}, {Type: cn, Value: "intern"}, {Type: cn, Value: "ops"}}},
		NotBefore:   time.Now().Add(-time.Minute),
		NotAfter:    time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	// The CA's chain verifies: this is what the server would see.
	pool := x509.NewCertPool()
	pool.AddCert(p.ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatal(err)
	}
	m, err := ParsePrincipalMap([]string{"cn:ops=bootstrap-admin", "subject:CN=ops,O=keyward=subject-admin", "cn:intern=intern"})
	if err != nil {
		t.Fatal(err)
	}
	got := m.Principals(cert)
	t.Logf("subject as printed: %q; bound to %v", cert.Subject.String(), got)
	for _, g := range got {
		if strings.HasSuffix(g, "admin") {
			t.Errorf("a certificate whose subject is CN=intern + CN=ops is bound to %q", g)
		}
	}
}
