package clientip

import (
	"net/netip"
	"strings"
	"testing"
)

// TestResolve is the one table for the client address, which the gateway
// and the admin API share. remote is the socket address as net/http gives
// it; want "" means it is no socket address at all.
func TestResolve(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"no header", "192.0.2.1:1234", nil, "192.0.2.1"},
		{"untrusted peer, header ignored", "192.0.2.1:1234", []string{"198.51.100.9"}, "192.0.2.1"},
		{"trusted peer, one hop", "10.1.2.3:80", []string{"198.51.100.9"}, "198.51.100.9"},
		{"trusted peer, spoofed left entries ignored", "10.1.2.3:80", []string{"1.1.1.1, 198.51.100.9"}, "198.51.100.9"},
		{"trusted chain", "10.1.2.3:80", []string{"198.51.100.9, 10.9.9.9"}, "198.51.100.9"},
		{"several header lines", "10.1.2.3:80", []string{"203.0.113.5", "10.2.2.2"}, "203.0.113.5"},
		// The gateway read only the first line: a client's own line
		// would have won over the one the proxy added.
		{"the last line is the nearest", "10.1.2.3:80", []string{"1.1.1.1", "198.51.100.9"}, "198.51.100.9"},
		{"all trusted", "10.1.2.3:80", []string{"10.0.0.7, 10.0.0.8"}, "10.0.0.7"},
		{"all trusted over several lines", "10.1.2.3:80", []string{"10.0.0.7", "10.0.0.8"}, "10.0.0.7"},
		{"garbage stops the walk", "10.1.2.3:80", []string{"198.51.100.9, not-an-ip"}, "10.1.2.3"},
		{"garbage behind a trusted hop", "10.1.2.3:80", []string{"evil\r\n, 10.4.4.4"}, "10.4.4.4"},
		{"garbage line stops the walk", "10.1.2.3:80", []string{"198.51.100.9", "evil"}, "10.1.2.3"},
		{"empty entry stops the walk", "10.1.2.3:80", []string{"198.51.100.9, , 10.0.0.2"}, "10.0.0.2"},
		{"empty header", "10.1.2.3:80", []string{""}, "10.1.2.3"},
		{"spaces and tabs around entries", "10.1.2.3:80", []string{" 198.51.100.9 ,\t10.0.0.2 "}, "198.51.100.9"},
		{"ipv6 peer", "[2001:db8::1]:443", []string{"198.51.100.9"}, "2001:db8::1"},
		{"ipv6 trusted peer", "[fd00::1]:443", []string{"2001:db8::7"}, "2001:db8::7"},
		{"ipv4-mapped peer", "[::ffff:10.1.2.3]:80", []string{"198.51.100.9"}, "198.51.100.9"},
		{"ipv4-mapped entry", "10.1.2.3:80", []string{"::ffff:198.51.100.9"}, "198.51.100.9"},
		{"ipv4-mapped trusted entry continues the walk", "10.1.2.3:80", []string{"198.51.100.9, ::ffff:10.0.0.5"}, "198.51.100.9"},
		{"entry with port", "10.1.2.3:80", []string{"198.51.100.9:5555"}, "198.51.100.9"},
		{"ipv6 entry with port", "10.1.2.3:80", []string{"[2001:db8::9]:443"}, "2001:db8::9"},
		{"bracketed ipv6 entry", "10.1.2.3:80", []string{"[2001:db8::9]"}, "2001:db8::9"},
		{"port out of range", "10.1.2.3:80", []string{"198.51.100.9:65536"}, "10.1.2.3"},
		{"port not a number", "10.1.2.3:80", []string{"198.51.100.9:http"}, "10.1.2.3"},
		{"empty port", "10.1.2.3:80", []string{"198.51.100.9:"}, "10.1.2.3"},
		{"unclosed bracket", "10.1.2.3:80", []string{"[2001:db8::9"}, "10.1.2.3"},
		{"zone stripped", "[fe80::1%eth0]:80", nil, "fe80::1"},
		// The gateway kept an entry's zone, which is free text.
		{"entry zone stripped", "10.1.2.3:80", []string{"fe80::1%eth0"}, "fe80::1"},
		{"entry zone with control characters stripped", "10.1.2.3:80", []string{"fe80::1%a\r\nb"}, "fe80::1"},
		{"not a socket address", "pipe\n", nil, ""},
	}
	for _, tt := range tests {
		peer, ok := ParseAddr(tt.remote)
		if tt.want == "" {
			if ok {
				t.Errorf("%s: ParseAddr(%q) = %v, want no address", tt.name, tt.remote, peer)
			}
			continue
		}
		if !ok {
			t.Errorf("%s: ParseAddr(%q) failed", tt.name, tt.remote)
			continue
		}
		if got := Resolve(peer, tt.xff, trusted).String(); got != tt.want {
			t.Errorf("%s: Resolve = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestResolveNoAllocs keeps the rule fit for the gateway's hot path.
func TestResolveNoAllocs(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	peer := netip.MustParseAddr("10.1.2.3")
	xff := []string{"198.51.100.9, 10.0.0.1:8080", "[2001:db8::1]:443, 10.0.0.2"}
	var got netip.Addr
	if n := testing.AllocsPerRun(100, func() { got = Resolve(peer, xff, trusted) }); n != 0 {
		t.Errorf("Resolve allocates %v times", n)
	}
	if got != netip.MustParseAddr("2001:db8::1") {
		t.Errorf("Resolve = %v", got)
	}
}

// FuzzClientIP feeds arbitrary peers and X-Forwarded-For headers. The
// answer never carries control characters or a zone, an untrusted peer is
// always the answer, and whatever is answered is the peer or an address
// from the header. Seeds live in testdata/fuzz/FuzzClientIP.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:4444", "203.0.113.9, 10.0.0.2")
	f.Add("192.0.2.1:80", "1.2.3.4")
	f.Add("[::1]:9", "garbage,\r\nX-Evil: 1")
	f.Add("10.1.1.1:1", "[2001:db8::1]:443, 10.9.9.9")
	f.Add("not an addr", "")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		peer, ok := ParseAddr(remote)
		if !ok {
			return
		}
		a := Resolve(peer, []string{xff}, trusted)
		got := a.String()
		if strings.ContainsAny(got, "\r\n%") {
			t.Fatalf("Resolve returned control characters or a zone: %q", got)
		}
		if !Trusted(peer, trusted) && a != peer {
			t.Fatalf("untrusted peer %s, answered %s", peer, a)
		}
		if a == peer {
			return
		}
		found := false
		for _, h := range strings.Split(xff, ",") {
			if b, ok := ParseAddr(strings.TrimSpace(h)); ok && b == a {
				found = true
			}
		}
		if !found {
			t.Fatalf("answer %s is neither the peer nor in the header %q", a, xff)
		}
	})
}

// TestParsePrefix is the one table for address ranges, as policies
// (kw:SourceIp) and --trusted-proxies read them.
func TestParsePrefix(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.0/8":          "10.0.0.0/8",
		"10.1.2.3/8":          "10.0.0.0/8",
		"10.1.2.3":            "10.1.2.3/32",
		"::1":                 "::1/128",
		"2001:db8::/32":       "2001:db8::/32",
		"::ffff:10.0.0.0/104": "10.0.0.0/8",
		"::ffff:10.1.2.3":     "10.1.2.3/32",
		"::ffff:0.0.0.0/96":   "0.0.0.0/0",
		"::ffff:0:0/95":       "::fffe:0:0/95",
	} {
		p, err := ParsePrefix(in)
		if err != nil || p.String() != want {
			t.Errorf("ParsePrefix(%q) = %v, %v; want %s", in, p, err, want)
		}
		// A range read here contains the addresses ParseAddr reads in it.
		if a, ok := ParseAddr(strings.TrimSuffix(in, "/8")); ok && strings.HasSuffix(in, "/8") && !p.Contains(a) {
			t.Errorf("ParsePrefix(%q) does not contain %v", in, a)
		}
	}
	for _, in := range []string{"", "nope", "10.0.0.0/33", "fe80::1%eth0", "10.0.0.0/8 ", "10.0.0.0/-1"} {
		if p, err := ParsePrefix(in); err == nil {
			t.Errorf("ParsePrefix(%q) = %v, want an error", in, p)
		}
	}
	// The mapped range trusts the peer a socket reports for it.
	p, _ := ParsePrefix("::ffff:10.0.0.0/104")
	peer, _ := ParseAddr("[::ffff:10.9.8.7]:443")
	if !Trusted(peer, []netip.Prefix{p}) {
		t.Error("a mapped trusted range must contain the unmapped peer")
	}
}
