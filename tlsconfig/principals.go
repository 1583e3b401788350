package tlsconfig

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"
)

// PrincipalMap binds client certificates to admin principals. Each rule is
// "KIND:VALUE=PRINCIPAL" where KIND is one of
//
//	cn       the subject's common name
//	subject  the whole subject, as x509's Name.String prints it ("CN=ci,O=acme")
//	dns      a DNS name SAN
//	uri      a URI SAN (e.g. spiffe://acme/ci/deployer)
//	email    an email SAN
//
// and PRINCIPAL is a principal's name or ID. The last "=" splits the rule,
// so subjects with "=" in them work.
type PrincipalMap struct {
	rules []principalRule
}

type principalRule struct {
	kind, value, principal string
}

// ParsePrincipalMap reads rules; an empty list is a nil map (no binding).
func ParsePrincipalMap(rules []string) (*PrincipalMap, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	m := &PrincipalMap{}
	for _, r := range rules {
		left, principal, ok := cutLast(strings.TrimSpace(r), "=")
		kind, value, ok2 := strings.Cut(left, ":")
		kind = strings.ToLower(kind)
		if !ok || !ok2 || value == "" || principal == "" {
			return nil, fmt.Errorf("tls client principal %q: want KIND:VALUE=PRINCIPAL", r)
		}
		switch kind {
		case "cn", "subject", "dns", "uri", "email":
		default:
			return nil, fmt.Errorf("tls client principal %q: KIND is cn, subject, dns, uri or email", r)
		}
		m.rules = append(m.rules, principalRule{kind: kind, value: value, principal: principal})
	}
	return m, nil
}

// Principals are the principals (names or IDs) cert is bound to.
func (m *PrincipalMap) Principals(cert *x509.Certificate) []string {
	if m == nil || cert == nil {
		return nil
	}
	// The subject exactly as signed, every attribute in its order: Go's
	// Name keeps only the last CN, and a CA that checked the first one
	// ("CN=intern, CN=ops") must not have issued "ops".
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(cert.RawSubject, &seq); err != nil || len(rest) != 0 {
		return nil
	}
	cns := 0
	for _, rdn := range seq {
		for _, atv := range rdn {
			if atv.Type.Equal(oidCommonName) {
				cns++
			}
		}
	}
	if cns > 1 {
		return nil // ambiguous: bound to nobody
	}
	subject := seq.String()
	var out []string
	for _, r := range m.rules {
		if r.matches(cert, subject) {
			out = append(out, r.principal)
		}
	}
	return out
}

var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

func (r principalRule) matches(c *x509.Certificate, subject string) bool {
	switch r.kind {
	case "cn":
		return c.Subject.CommonName == r.value
	case "subject":
		return subject == r.value
	case "dns":
		for _, n := range c.DNSNames {
			if strings.EqualFold(n, r.value) {
				return true
			}
		}
	case "uri":
		for _, u := range c.URIs {
			if u.String() == r.value {
				return true
			}
		}
	case "email":
		for _, e := range c.EmailAddresses {
			if strings.EqualFold(e, r.value) {
				return true
			}
		}
	}
	return false
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
