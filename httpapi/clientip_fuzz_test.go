package httpapi

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzClientIP feeds arbitrary peers and X-Forwarded-For headers. The
// answer never carries control characters, an untrusted peer is always the
// answer, and whatever is answered is the peer or an address from the header.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:4444", "203.0.113.9, 10.0.0.2")
	f.Add("192.0.2.1:80", "1.2.3.4")
	f.Add("[::1]:9", "garbage,\r\nX-Evil: 1")
	f.Add("10.1.1.1:1", "[2001:db8::1]:443, 10.9.9.9")
	f.Add("not an addr", "")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		got := clientIP(remote, []string{xff}, trusted)
		if strings.ContainsAny(got, "\r\n") {
			t.Fatalf("clientIP returned control characters: %q", got)
		}
		peer, ok := parseAddr(remote)
		if !ok {
			return
		}
		if !isTrusted(peer, trusted) && got != peer.String() {
			t.Fatalf("untrusted peer %s, answered %q", peer, got)
		}
		if got == peer.String() {
			return
		}
		a, err := netip.ParseAddr(got)
		if err != nil {
			t.Fatalf("answer %q is not an address", got)
		}
		found := false
		for _, h := range strings.Split(xff, ",") {
			if b, ok := parseAddr(strings.TrimSpace(h)); ok && b == a {
				found = true
			}
		}
		if !found {
			t.Fatalf("answer %s is neither the peer nor in the header %q", got, xff)
		}
	})
}
