package gateway

import (
	"bytes"
	"net/netip"
)

func trusted(a netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor walks X-Forwarded-For from the right, past trusted
// proxies, and returns the first address that is not trusted. A malformed
// entry stops the walk at the last good hop: a client cannot pick its
// address by garbling the header.
func forwardedFor(peer netip.Addr, xff []byte, prefixes []netip.Prefix) netip.Addr {
	addr := peer
	for len(xff) > 0 {
		i := bytes.LastIndexByte(xff, ',')
		part := bytes.TrimSpace(xff[i+1:])
		if i < 0 {
			xff = nil
		} else {
			xff = xff[:i]
		}
		a, err := netip.ParseAddr(b2s(part))
		if err != nil {
			return addr
		}
		addr = a.Unmap()
		if !trusted(addr, prefixes) {
			return addr
		}
	}
	return addr
}
