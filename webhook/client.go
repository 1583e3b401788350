package webhook

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// errBlockedAddress is what a guarded client's dialer answers for an
// address keyward never calls.
var errBlockedAddress = errors.New("webhook: destination address not allowed")

// NewClient returns the HTTP client keyward calls endpoints with: a bound
// on each call, redirects never followed, and a dialer that refuses, after
// name resolution and on every connection, the addresses blocked names
// (link-local and cloud metadata ones). The check runs on the address being
// dialed, so a name that resolved to an allowed address when the endpoint
// was created and to a metadata address now (DNS rebinding) is refused.
// Loopback and private ranges stay allowed: rotators of a self-hosted
// system are usually internal services.
//
// tlsConfig verifies HTTPS endpoints (tlsconfig.Client: the system's roots
// and a private CA); nil is Go's default, the system's roots.
func NewClient(timeout time.Duration, tlsConfig *tls.Config) *http.Client {
	return newClient(timeout, nil, tlsConfig)
}

// newClient is NewClient resolving names with r (nil: the system's).
func newClient(timeout time.Duration, r *net.Resolver, tlsConfig *tls.Config) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, Control: guardAddress, Resolver: r}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = dialer.DialContext
	transport.Proxy = nil // a proxy would dial for us, past the guard
	if tlsConfig != nil {
		transport.TLSClientConfig = tlsConfig.Clone()
	}
	return &http.Client{
		Timeout:       timeout,
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// guardAddress runs for every connection, on the resolved address, before
// anything is sent.
func guardAddress(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return errBlockedAddress
	}
	if blocked(ap.Addr()) {
		return errBlockedAddress
	}
	return nil
}

// Well-known addresses of cloud instance metadata services that are not
// link-local: they answer with the instance's credentials.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("fd00:ec2::254"),   // AWS IMDS over IPv6
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
}

// nat64 is the well-known NAT64 prefix (RFC 6052): on a NAT64 network,
// 64:ff9b::a9fe:a9fe reaches 169.254.169.254.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// blocked reports whether keyward refuses to call address a, as a webhook
// or rotator endpoint: link-local addresses (169.254.0.0/16, fe80::/10,
// where cloud metadata services answer), the metadata services' other
// addresses (fd00:ec2::254, 100.100.100.200), multicast and unspecified
// addresses; IPv4 addresses also in their IPv4-mapped (::ffff:a.b.c.d),
// IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) forms.
// Blocked is blocked for other callers (API upstreams, at create).
func Blocked(a netip.Addr) bool { return blocked(a) }

func blocked(a netip.Addr) bool {
	a = a.WithZone("").Unmap()
	if a.Is6() {
		b := a.As16()
		if nat64.Contains(a) || [12]byte(b[:12]) == [12]byte{} {
			if v4 := netip.AddrFrom4([4]byte(b[12:])); blocked(v4) {
				return true
			}
		}
	}
	for _, m := range metadataAddrs {
		if a == m {
			return true
		}
	}
	return a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() ||
		a.IsMulticast() || a.IsUnspecified()
}
