package webhook

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"time"
)

// Resolver looks up the addresses of a host name; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// BlockedError is CheckURL's answer for a URL whose host is, or resolves
// to, an address keyward never calls.
type BlockedError struct {
	Host    string     // as the URL gives it
	Addr    netip.Addr // the refused address
	Literal bool       // Host is the address itself, not a name
}

func (e *BlockedError) Error() string {
	if e.Literal {
		return fmt.Sprintf("webhook: host %s is a link-local or metadata address", e.Host)
	}
	return fmt.Sprintf("webhook: host %s resolves to %s, a link-local or metadata address", e.Host, e.Addr)
}

// lookupTimeout bounds CheckURL's name resolution.
const lookupTimeout = 5 * time.Second

// CheckURL refuses, when an endpoint is created, a URL whose host is a
// literal address keyward never calls (see NewClient) or a name that resolves (with r; nil for
// the system's resolver) to one. It answers *BlockedError for those, nil
// otherwise: a URL that does not parse is the caller's to refuse, and a
// name that does not resolve now is allowed, for the dialer checks every
// address again when it connects (so a name that changes its answer later
// is refused then).
func CheckURL(ctx context.Context, r Resolver, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return nil
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		if blocked(a) {
			return &BlockedError{Host: host, Addr: a.WithZone(""), Literal: true}
		}
		return nil
	}
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if blocked(a) {
			return &BlockedError{Host: host, Addr: a.WithZone("")}
		}
	}
	return nil
}
