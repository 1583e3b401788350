package webhook

import (
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
// name resolution, the addresses no webhook or rotator has a reason to be
// on: link-local ones (169.254.0.0/16, fe80::/10 — where cloud metadata
// services answer with credentials), unspecified and multicast ones.
// Loopback and private ranges stay allowed: rotators of a self-hosted
// system are usually internal services.
func NewClient(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, Control: guardAddress}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = dialer.DialContext
	transport.Proxy = nil // a proxy would dial for us, past the guard
	return &http.Client{
		Timeout:       timeout,
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// guardAddress runs for every connection, on the resolved address.
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

func blocked(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() ||
		a.IsMulticast() || a.IsUnspecified()
}
