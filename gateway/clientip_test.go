package gateway

import (
	"net"
	"net/netip"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestClientIPReadsEveryForwardedForLine checks the gateway's glue to
// clientip.Resolve (whose table is in package clientip): every header line
// is read, the nearest last, and an untrusted peer's header is ignored.
func TestClientIPReadsEveryForwardedForLine(t *testing.T) {
	g := &Gateway{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	request := func(peer string, xff ...string) *fasthttp.RequestCtx {
		var req fasthttp.Request
		for _, v := range xff {
			req.Header.Add("X-Forwarded-For", v)
		}
		ctx := &fasthttp.RequestCtx{}
		ctx.Init(&req, &net.TCPAddr{IP: net.ParseIP(peer), Port: 4444}, nil)
		return ctx
	}
	tests := []struct {
		name string
		ctx  *fasthttp.RequestCtx
		want string
	}{
		{"untrusted peer", request("192.0.2.1", "198.51.100.9"), "192.0.2.1"},
		{"trusted peer, no header", request("10.0.0.1"), "10.0.0.1"},
		{"trusted peer, one line", request("10.0.0.1", "198.51.100.9, 10.0.0.2"), "198.51.100.9"},
		{"trusted peer, the last line is the nearest", request("10.0.0.1", "1.1.1.1", "198.51.100.9"), "198.51.100.9"},
		{"trusted peer, many lines", request("10.0.0.1", "1.1.1.1", "198.51.100.9", "10.0.0.3", "10.0.0.4", "10.0.0.5"), "198.51.100.9"},
	}
	for _, tt := range tests {
		if got := g.clientIP(tt.ctx).String(); got != tt.want {
			t.Errorf("%s: clientIP = %s, want %s", tt.name, got, tt.want)
		}
	}
}
