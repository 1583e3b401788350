package gateway_test

import (
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// Hop-by-hop headers (RFC 9110 section 7.6.1), and every header a
// Connection header names, stay at the gateway: neither the caller's reach
// the upstream nor the upstream's reach the caller. Raw bytes on both
// sides, so that no client or server library tidies them first.
func TestHopByHopHeadersAreNotForwarded(t *testing.T) {
	e, health := faultEnv(t)
	cu := newCaptureUpstream(t)
	a := e.api("raw", false, func(s *keyward.Stage) { s.UpstreamURL = cu.url })
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a, health)})

	raw := "GET /raw/prod/v1/a HTTP/1.1\r\nHost: gw\r\nX-Api-Key: " + value + "\r\n" +
		"Connection: keep-alive, X-Hop-One ,\tx-hop-two\r\n" +
		"Connection: X-Hop-Three\r\n" +
		"X-Hop-One: 1\r\nX-HOP-TWO: 2\r\nX-Hop-Three: 3\r\n" +
		"Keep-Alive: timeout=5\r\nProxy-Authorization: Basic cHJveHk6c2VjcmV0\r\nProxy-Authenticate: Basic\r\n" +
		"TE: trailers\r\nTrailer: X-Late\r\nUpgrade: websocket\r\nProxy-Connection: keep-alive\r\n" +
		"Transfer-Encoding: chunked\r\nX-Kept: yes\r\n\r\n0\r\n\r\n" +
		"GET /raw/prod/v1/b HTTP/1.1\r\nHost: gw\r\nX-Api-Key: " + value + "\r\nConnection: close\r\n\r\n"
	statuses, replies := rawExchange(t, e, raw)
	if len(statuses) != 2 || statuses[0] != 200 || statuses[1] != 200 {
		t.Fatalf("statuses %v; %q", statuses, replies)
	}
	reqs, _, upRaw := cu.snapshot()
	if len(reqs) != 2 {
		t.Fatalf("the upstream saw %d requests", len(reqs))
	}
	first := upRaw[:strings.Index(upRaw, "\r\n\r\n")]
	lower := strings.ToLower(first)
	for _, h := range []string{"x-hop-one:", "x-hop-two:", "x-hop-three:", "keep-alive:", "proxy-authorization:",
		"proxy-authenticate:", "te:", "trailer:", "upgrade:", "proxy-connection:", "transfer-encoding:"} {
		if strings.Contains(lower, "\r\n"+h) {
			t.Errorf("%s went upstream:\n%s", h, first)
		}
	}
	if strings.Contains(lower, "connection:") && !strings.Contains(lower, "connection: keep-alive") && !strings.Contains(lower, "connection: close") {
		t.Errorf("the caller's Connection header went upstream:\n%s", first)
	}
	if reqs[0].Header.Get("X-Kept") != "yes" {
		t.Errorf("an end-to-end header was dropped: %v", reqs[0].Header)
	}
	checkUpstreamClean(t, cu, value)

	// The upstream's hop-by-hop headers, and those its Connection names,
	// do not reach the caller.
	e.up.set(hijacked("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n" +
		"Connection: X-Resp-Hop, keep-alive\r\nX-Resp-Hop: 1\r\nKeep-Alive: timeout=5\r\n" +
		"Proxy-Authenticate: Basic\r\nUpgrade: h2c\r\nTrailer: X-Late\r\nProxy-Connection: keep-alive\r\nX-Resp-Kept: 1\r\n\r\nok"))
	b := e.api("resp", false)
	_, v2 := e.key(keyward.KeyCreate{StageKeys: stageKeys(b, health)})
	statuses, replies = rawExchange(t, e, "GET /resp/prod/x HTTP/1.1\r\nHost: gw\r\nX-Api-Key: "+v2+"\r\nConnection: close\r\n\r\n")
	if len(statuses) != 1 || statuses[0] != 200 {
		t.Fatalf("statuses %v; %q", statuses, replies)
	}
	head := strings.ToLower(replies[:strings.Index(replies, "\r\n\r\n")])
	for _, h := range []string{"x-resp-hop:", "keep-alive:", "proxy-authenticate:", "upgrade:", "trailer:", "proxy-connection:"} {
		if strings.Contains(head, "\r\n"+h) {
			t.Errorf("%s reached the caller:\n%s", h, head)
		}
	}
	if !strings.Contains(head, "\r\nx-resp-kept: 1") {
		t.Errorf("an end-to-end response header was dropped:\n%s", head)
	}
	faultAftermath(t, e, value)
}
