package tlsconfig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// DevFiles are the files GenerateDev writes.
type DevFiles struct {
	CA, CAKey   string // the throwaway CA: trust CA, keep CAKey to issue more
	Cert, Key   string // server certificate (for hosts) and its key
	ClientCert  string // a client certificate for mutual TLS, CN "keyward-client"
	ClientKey   string
	ValidFor    time.Duration
	ServerHosts []string
}

// GenerateDev writes a throwaway CA, a server certificate for hosts (DNS
// names or IP addresses) and a client certificate into dir, keys 0600. It
// is for trying keyward and for tests; a deployment brings its own.
func GenerateDev(dir string, hosts []string, validFor time.Duration) (DevFiles, error) {
	f := DevFiles{
		CA: filepath.Join(dir, "ca.pem"), CAKey: filepath.Join(dir, "ca-key.pem"),
		Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client-key.pem"),
		ValidFor: validFor, ServerHosts: hosts,
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f, err
	}
	ca, caKey, err := NewCA("keyward throwaway CA", validFor)
	if err != nil {
		return f, err
	}
	if err := WritePair(f.CA, f.CAKey, ca, caKey); err != nil {
		return f, err
	}
	cert, key, err := Issue(ca, caKey, Template{CommonName: "keyward", Hosts: hosts, Server: true}, validFor)
	if err != nil {
		return f, err
	}
	if err := WritePair(f.Cert, f.Key, cert, key); err != nil {
		return f, err
	}
	ccert, ckey, err := Issue(ca, caKey, Template{CommonName: "keyward-client"}, validFor)
	if err != nil {
		return f, err
	}
	return f, WritePair(f.ClientCert, f.ClientKey, ccert, ckey)
}

// Template says what an issued certificate is for.
type Template struct {
	CommonName string
	Hosts      []string // DNS names and IP addresses (SANs)
	URIs       []string // URI SANs, e.g. spiffe://ci/deployer
	Emails     []string
	Server     bool // server authentication; otherwise client authentication
	NotBefore  time.Time
}

// NewCA makes a self-signed CA certificate and its ECDSA P-256 key.
func NewCA(name string, validFor time.Duration) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now().Add(-time.Minute)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"keyward"}},
		NotBefore:             now,
		NotAfter:              now.Add(validFor),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// Issue signs a leaf certificate for t with the CA.
func Issue(ca *x509.Certificate, caKey *ecdsa.PrivateKey, t Template, validFor time.Duration) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	nb := t.NotBefore
	if nb.IsZero() {
		nb = time.Now().Add(-time.Minute)
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial(),
		Subject:        pkix.Name{CommonName: t.CommonName, Organization: []string{"keyward"}},
		NotBefore:      nb,
		NotAfter:       nb.Add(validFor),
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		EmailAddresses: t.Emails,
	}
	if t.Server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	for _, h := range t.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	for _, u := range t.URIs {
		parsed, err := parseURI(u)
		if err != nil {
			return nil, nil, err
		}
		tmpl.URIs = append(tmpl.URIs, parsed)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// WritePair writes a certificate (0644) and its key (0600) as PEM. Each file
// is written beside its target and renamed over it, so a watcher never
// reads half a file.
func WritePair(certFile, keyFile string, cert *x509.Certificate, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	return writeAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
}

func writeAtomic(name string, b []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return fmt.Errorf("tls: writing %s: %w", name, err)
	}
	return nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return n
}

func parseURI(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("tls: URI SAN %q is not an absolute URI", s)
	}
	return u, nil
}
