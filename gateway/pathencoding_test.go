package gateway_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
)

// The route check sees the caller's path decoded once; the upstream must
// see the same path, so the gateway encodes it once on the way up. The
// attack: a key scoped to /v1/chat/* sends "%252E%252E" — the check sees
// "/v1/chat/%2E%2E/admin", inside its scope, and an upstream path decoded
// a second time on the way out would read "/v1/chat/../admin", which is
// /v1/admin. The same for "%2541", and for encoded '?' and '#', which
// must not become a query or fragment.
func TestPathIsEncodedOnceOnTheWayUp(t *testing.T) {
	for _, goroutines := range []bool{true, false} {
		t.Run(map[bool]string{true: "goroutines", false: "loop"}[goroutines], func(t *testing.T) {
			e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines })
			a := e.api("plain", false, func(s *keyward.Stage) { s.UpstreamURL += "/base%20dir/" })
			_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a),
				Scopes: keyward.Scopes{Routes: []keyward.RoutePattern{{Method: "*", Path: "/v1/chat/*"}}}})
			e.sync()
			cases := []struct{ sent, path, uri string }{
				{"/v1/chat/%252E%252E/admin", "/base dir/v1/chat/%2E%2E/admin", "/base%20dir/v1/chat/%252E%252E/admin"},
				{"/v1/chat/%25%32%65%25%32%65/admin", "/base dir/v1/chat/%2e%2e/admin", "/base%20dir/v1/chat/%252e%252e/admin"},
				{"/v1/chat/%2541", "/base dir/v1/chat/%41", "/base%20dir/v1/chat/%2541"},
				{"/v1/chat/a%2Fb", "/base dir/v1/chat/a/b", "/base%20dir/v1/chat/a/b"},
				{"/v1/chat/a%20b%3Fc%23d?q=%2F", "/base dir/v1/chat/a b?c#d", "/base%20dir/v1/chat/a%20b%3Fc%23d?q=%2F"},
				{"/v1/chat/%C3%A9", "/base dir/v1/chat/é", "/base%20dir/v1/chat/%C3%A9"},
			}
			for _, c := range cases {
				before := e.up.count()
				status := rawGet(t, e.gw, "/plain/prod"+c.sent, value)
				if status != 200 || e.up.count() != before+1 {
					t.Fatalf("%s: %d, upstream calls %d→%d", c.sent, status, before, e.up.count())
				}
				seen, _ := e.up.last(t)
				if seen.URL.Path != c.path || seen.RequestURI != c.uri {
					t.Errorf("%s: upstream saw path %q (%q), want %q (%q)", c.sent, seen.URL.Path, seen.RequestURI, c.path, c.uri)
				}
			}
			// Outside the scope however it is spelt: refused, never sent.
			before := e.up.count()
			for _, p := range []string{"/v1/admin", "/v1/chat/../admin", "/v1/chat/%2E%2E/admin", "/v1/%63hat/../admin"} {
				if status := rawGet(t, e.gw, "/plain/prod"+p, value); status != 403 {
					t.Errorf("%s: %d, want 403", p, status)
				}
			}
			if e.up.count() != before {
				t.Errorf("a refused path went upstream")
			}
		})
	}
}

// rawGet sends a GET with the path exactly as given (no client-side
// cleaning) and returns the status.
func rawGet(t *testing.T, gw, path, key string) int {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(gw, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n\r\n", path, key)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// An OpenAI-compatible stage reads usage from the response body, so it
// asks for it uncompressed: every Accept-Encoding the caller sent is
// replaced by identity, not only the first (an upstream joining "identity"
// with a second line's "gzip" could compress the body past the usage
// check).
func TestUpstreamIsAskedForIdentityOnly(t *testing.T) {
	for _, goroutines := range []bool{true, false} {
		t.Run(map[bool]string{true: "goroutines", false: "loop"}[goroutines], func(t *testing.T) {
			e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines })
			a := e.api("chat", true)
			_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
			e.sync()
			r := e.call("POST", "/chat/prod/v1/chat/completions", value, chatBody, "Accept-Encoding", "gzip", "Accept-Encoding", "br")
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			seen, _ := e.up.last(t)
			if got := seen.Header.Values("Accept-Encoding"); len(got) != 1 || got[0] != "identity" {
				t.Errorf("upstream Accept-Encoding %q, want only identity", got)
			}
		})
	}
}
