// Package clientip decides which address a request comes from, the one
// rule the gateway and the admin API share: the socket's peer, unless that
// peer is a trusted proxy; then X-Forwarded-For is walked from the right
// (the entry the nearest proxy appended) and the first address that is not
// itself trusted wins.
//
// It works on strings the caller may borrow from its request buffers and
// allocates nothing for well-formed headers, so the gateway can call it on
// its hot path.
package clientip

import (
	"errors"
	"net/netip"
	"strings"
)

// Resolve returns the client address of a request whose socket peer is
// peer, whose X-Forwarded-For header lines are xff in the order they were
// received, and whose trusted proxies are trusted. Several lines read as one
// comma-separated list, as RFC 9110 joins repeated fields.
//
// A malformed entry stops the walk at the last address known to be good,
// so a client cannot smuggle an address past a proxy by garbling the
// header; when every hop is trusted, the left-most one is used. Addresses
// come back unmapped (::ffff:10.0.0.1 is 10.0.0.1) and without a zone.
func Resolve(peer netip.Addr, xff []string, trusted []netip.Prefix) netip.Addr {
	last := peer
	if !Trusted(peer, trusted) {
		return last
	}
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for {
			j := strings.LastIndexByte(line, ',')
			a, ok := ParseAddr(strings.TrimSpace(line[j+1:]))
			if !ok {
				return last
			}
			if !Trusted(a, trusted) {
				return a
			}
			last = a
			if j < 0 {
				break
			}
			line = line[:j]
		}
	}
	return last
}

// Trusted reports whether a is inside one of prefixes.
func Trusted(a netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParsePrefix reads an address range as policies and --trusted-proxies
// write it: a CIDR ("10.0.0.0/8") or one address ("10.1.2.3", a /32 or
// /128). The result is masked, and an IPv4-mapped range
// ("::ffff:10.0.0.0/104") becomes the IPv4 one (10.0.0.0/8): addresses
// are unmapped before they are compared (ParseAddr, Resolve), so a mapped
// range would never contain one. A zoned address is refused.
func ParsePrefix(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return p, err
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return p, err
		}
		if a.Zone() != "" {
			return p, errors.New("zoned address")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	p = p.Masked()
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p, nil
}

// ParseAddr reads an address as sockets and proxies write it: "ip",
// "ip:port", "[ipv6]:port" or "[ipv6]". The port, when given, must be a
// number up to 65535. The result is unmapped and has no zone: a zone is
// free text, and an address must not carry text into a log or a record.
func ParseAddr(s string) (netip.Addr, bool) {
	host := s
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		host = s[1:end]
		if rest := s[end+1:]; rest != "" && !isPort(rest) {
			return netip.Addr{}, false
		}
	case strings.Count(s, ":") == 1: // IPv4 with a port; IPv6 has two or more
		i := strings.IndexByte(s, ':')
		if !isPort(s[i:]) {
			return netip.Addr{}, false
		}
		host = s[:i]
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// isPort reports whether s is ":" and a port number (1-5 digits, at most
// 65535).
func isPort(s string) bool {
	if len(s) < 2 || len(s) > 6 || s[0] != ':' {
		return false
	}
	n := 0
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}
