//go:build linux

package gateway_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/gateway"
	"github.com/keyward/keyward/server"
)

// The loop over IPv6 on both sides (a client on ::1, an upstream at
// [::1]:port, and one at an IPv4-mapped address): it dials them itself,
// tells the upstream the client's address, and serves without handing
// over.
func TestLoopAttackIPv6(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	e := newEnv(t, func(c *server.Config) { c.GatewayAddr = "[::1]:0" })
	var mu sync.Mutex
	var xff []string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		xff = append(xff, r.Header.Get("X-Forwarded-For"))
		mu.Unlock()
		io.WriteString(w, "v6:"+r.URL.Path)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	v6 := e.api("six", false, func(s *keyward.Stage) { s.UpstreamURL = "http://" + ln.Addr().String() })
	port := e.up.url[strings.LastIndex(e.up.url, ":")+1:]
	mapped := e.api("mapped", false, func(s *keyward.Stage) { s.UpstreamURL = "http://[::ffff:127.0.0.1]:" + port })
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(v6, mapped)})
	if !strings.Contains(e.gw, "[::1]") {
		t.Fatalf("the gateway listens on %s", e.gw)
	}
	for range 3 {
		if r := e.call("GET", "/six/prod/x", value, ""); r.status != 200 || r.body != "v6:/x" {
			t.Fatalf("IPv6 upstream: %d %q", r.status, r.body)
		}
		if r := e.call("GET", "/mapped/prod/y", value, ""); r.status != 200 {
			t.Fatalf("IPv4-mapped upstream: %d %q", r.status, r.body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, h := range xff {
		if h != "::1" {
			t.Errorf("X-Forwarded-For %q, want ::1", h)
		}
	}
	if seen, _ := e.up.last(t); seen.Header.Get("X-Forwarded-For") != "::1" {
		t.Errorf("X-Forwarded-For %q at the mapped upstream", seen.Header.Get("X-Forwarded-For"))
	}
	n, loop := gateway.LoopHandoffs(e.srv.Gateway())
	if !loop || n != 0 {
		t.Errorf("loop %v, %d hand-overs", loop, n)
	}
}
