package httpapi

import (
	"net"
	"net/netip"
	"strings"
)

// clientIP returns the address a request comes from. It is the socket's
// peer, unless that peer is inside a trusted prefix: then X-Forwarded-For is
// walked from the right (the entry the nearest proxy appended) and the first
// address that is not itself trusted wins. A malformed entry stops the walk
// at the last address known to be good, so a client cannot smuggle an
// address past a proxy by garbling the header. When every hop is trusted the
// left-most one is used.
func clientIP(remoteAddr string, xff []string, trusted []netip.Prefix) string {
	peer, ok := parseAddr(remoteAddr)
	if !ok {
		return sanitize(remoteAddr) // not a socket address (a test, a unix socket): keep as given
	}
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	hops := make([]string, 0, len(xff))
	for _, h := range xff {
		hops = append(hops, strings.Split(h, ",")...)
	}
	last := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseAddr(strings.TrimSpace(hops[i]))
		if !ok {
			break
		}
		if !isTrusted(a, trusted) {
			return a.String()
		}
		last = a
	}
	return last.String()
}

// parseAddr accepts "ip", "ip:port" and "[ipv6]:port", and returns the
// address without zone, IPv4-mapped IPv6 unmapped.
func parseAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
