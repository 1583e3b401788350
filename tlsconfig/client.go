package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
)

// EnvCAFile names the environment variable of a private CA's PEM file, read
// by the CLI, the Pulumi provider and the server (for webhooks and
// upstreams) alike.
const EnvCAFile = "KEYWARD_CA_FILE"

// Environment variables of a client certificate, for an admin API that
// requires mutual TLS.
const (
	EnvClientCert = "KEYWARD_CLIENT_CERT"
	EnvClientKey  = "KEYWARD_CLIENT_KEY"
)

// ClientFiles are a client's optional TLS files.
type ClientFiles struct {
	CA   string // PEM CA certificates trusted besides the system's roots
	Cert string // client certificate for mutual TLS, with Key
	Key  string
}

// Client is the configuration keyward's clients dial with: the system's
// roots plus the CA certificates in f.CA, and f's client certificate.
// Verification is always on; there is no way to turn it off.
func Client(f ClientFiles) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: MinVersion}
	if f.CA != "" {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if err := appendCAFile(pool, f.CA); err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if (f.Cert == "") != (f.Key == "") {
		return nil, fmt.Errorf("tls: a client certificate needs both $%s and $%s (or --client-cert and --client-key)", EnvClientCert, EnvClientKey)
	}
	if f.Cert != "" {
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("tls: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Explain turns a certificate verification failure into a sentence that
// names the problem and what to do; other errors come back as they are.
// The result still wraps err.
func Explain(err error) error {
	if err == nil {
		return nil
	}
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
		alert    tls.AlertError
		record   tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &unknown):
		issuer := "an unknown issuer"
		if unknown.Cert != nil {
			issuer = fmt.Sprintf("%q", unknown.Cert.Issuer.String())
		}
		return &explained{err, fmt.Sprintf("the server's certificate is signed by %s, which is not trusted here; "+
			"give its CA's PEM file with --ca-file or $%s", issuer, EnvCAFile)}
	case errors.As(err, &hostname):
		names := "no DNS or IP names"
		if hostname.Certificate != nil {
			var all []string
			all = append(all, hostname.Certificate.DNSNames...)
			for _, ip := range hostname.Certificate.IPAddresses {
				all = append(all, ip.String())
			}
			if len(all) > 0 {
				names = strings.Join(all, ", ")
			}
		}
		return &explained{err, fmt.Sprintf("the server's certificate is for %s, not %q; connect by one of those names or reissue the certificate",
			names, hostname.Host)}
	case errors.As(err, &invalid):
		switch invalid.Reason {
		case x509.Expired:
			when := ""
			if invalid.Cert != nil {
				when = fmt.Sprintf(" (valid %s to %s)", invalid.Cert.NotBefore.UTC().Format(time.RFC3339),
					invalid.Cert.NotAfter.UTC().Format(time.RFC3339))
			}
			return &explained{err, "the server's certificate has expired or is not valid yet" + when}
		case x509.NotAuthorizedToSign:
			return &explained{err, "the server's certificate chain has a certificate that is not a CA"}
		case x509.IncompatibleUsage:
			return &explained{err, "the server's certificate is not for TLS server authentication"}
		}
		return &explained{err, "the server's certificate is invalid: " + invalid.Error()}
	case errors.As(err, &verify):
		return &explained{err, "the server's certificate did not verify: " + verify.Err.Error()}
	case errors.As(err, &alert):
		return &explained{err, "the server refused the TLS handshake (" + alert.Error() + "); it may require a client certificate or a newer TLS version"}
	case errors.As(err, &record):
		return &explained{err, "the server did not answer in TLS; is the URL's scheme right (http vs https)?"}
	}
	return err
}

// explained is a certificate error with a sentence a person can act on.
type explained struct {
	err error
	msg string
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.err }
