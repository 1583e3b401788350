package httpapi

import (
	"net/netip"

	"github.com/keyward/keyward/clientip"
)

// clientIP returns the address a request comes from, by the rule the
// gateway shares (clientip.Resolve). A remote address that is not a socket
// address (a test, a unix socket) is kept as given, made safe for a log.
func clientIP(remoteAddr string, xff []string, trusted []netip.Prefix) string {
	peer, ok := clientip.ParseAddr(remoteAddr)
	if !ok {
		return sanitize(remoteAddr)
	}
	return clientip.Resolve(peer, xff, trusted).String()
}
