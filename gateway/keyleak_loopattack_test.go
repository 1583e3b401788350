//go:build linux

package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// Whatever way the key comes (x-api-key in any case, bearer, both, named
// in Connection) and whichever path the request takes (loop, pipelined,
// handed over whole, HEAD), nothing of it reaches the upstream's socket.
func TestLoopAttackKeyNeverWrittenUpstream(t *testing.T) {
	e, health := faultEnv(t)
	cu := newCaptureUpstream(t)
	a := e.api("raw", false, func(s *keyward.Stage) { s.UpstreamURL = cu.url })
	o := e.api("oai", true, func(s *keyward.Stage) { s.UpstreamURL = cu.url })
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a, o, health)})
	body := `{"model":"m","messages":[]}`
	req := func(method, path, proto string, hdrs ...string) string {
		h := strings.Join(hdrs, "\r\n")
		if h != "" {
			h += "\r\n"
		}
		b := ""
		if method == "POST" {
			b = body
			h += fmt.Sprintf("Content-Type: application/json\r\nContent-Length: %d\r\n", len(b))
		}
		return fmt.Sprintf("%s %s %s\r\nHost: gw\r\n%s\r\n%s", method, path, proto, h, b)
	}
	variants := [][]string{
		{"X-Api-Key: " + value},
		{"x-api-key: " + value},
		{"X-API-KEY:" + value},
		{"Authorization: Bearer " + value},
		{"authorization: bearer " + value},
		{"X-Api-Key: " + value, "Authorization: Bearer " + value},
		{"X-Api-Key: " + value, "Connection: x-api-key, authorization"},
		{"X-Api-Key: " + value, "Authorization: Basic Zm9vOmJhcg=="},
	}
	var raw string
	var methods []string
	for _, v := range variants {
		for _, p := range []string{"/raw/prod/v1/a", "/oai/prod/v1/chat/completions"} {
			for _, m := range []string{"POST", "GET", "HEAD"} {
				raw += req(m, p, "HTTP/1.1", v...)
				methods = append(methods, m)
			}
		}
	}
	methods = append(methods, "GET")
	all := rawAll(t, e, raw+req("GET", "/raw/prod/v1/a", "HTTP/1.1", "X-Api-Key: "+value, "Connection: close"))
	statuses, replies := parseAnswers(all, methods), all
	if len(statuses) != len(methods) {
		t.Errorf("%d answers to %d requests", len(statuses), len(methods))
	}
	for i, s := range statuses {
		if s != 200 {
			t.Errorf("request %d: %d", i+1, s)
		}
	}
	if strings.Contains(replies, value) {
		t.Error("a reply echoes the key")
	}
	// Handed over whole: HTTP/1.0, a chunked body, and a request behind one.
	chunked := "POST /raw/prod/v1/a HTTP/1.1\r\nHost: gw\r\nX-Api-Key: " + value + "\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
	statuses, _ = rawExchange(t, e, chunked+req("POST", "/raw/prod/v1/a", "HTTP/1.1", "Authorization: Bearer "+value, "Connection: close"))
	if fmt.Sprint(statuses) != "[200 200]" {
		t.Errorf("behind a chunked request: %v", statuses)
	}
	statuses, _ = rawExchange(t, e, req("POST", "/raw/prod/v1/a", "HTTP/1.0", "X-Api-Key: "+value))
	if fmt.Sprint(statuses) != "[200]" {
		t.Errorf("HTTP/1.0: %v", statuses)
	}
	checkUpstreamClean(t, cu, value)
	faultAftermath(t, e, value)
}

// rawAll writes raw on a new connection, half-closes it, and returns
// every byte until the gateway closes.
func rawAll(t *testing.T, e *env, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(e.gw, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		io.WriteString(c, raw)
		c.(*net.TCPConn).CloseWrite()
	}()
	b, _ := io.ReadAll(c)
	return string(b)
}

// parseAnswers reads the statuses of answers to requests of the methods
// given, in order (a HEAD answer has no body).
func parseAnswers(all string, methods []string) []int {
	br := bufio.NewReader(strings.NewReader(all))
	var out []int
	for _, m := range methods {
		req, _ := http.NewRequest(m, "/", nil)
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			break
		}
		io.Copy(io.Discard, resp.Body)
		out = append(out, resp.StatusCode)
	}
	return out
}
