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
	"github.com/keyward/keyward/server"
)

// heldOpen answers each request on a connection with raw bytes written
// at once and keeps the connection open: no end of file follows to wake
// a loop that stopped reading with bytes still in the socket, so a stall
// shows as one.
func heldOpen(raw string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		for {
			brw.WriteString(raw)
			if brw.Flush() != nil {
				return
			}
			req, err := http.ReadRequest(brw.Reader)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
		}
	}
}

// Answers around the sizes where the loop stops reading an upstream
// before acting (a header and 64 KiB; a header and 1 MiB; a stream's 64
// KiB backlog) arrive whole and exactly, on both transports, from an
// upstream that sends all at once and then stays silent, and the
// client's connection goes on.
func TestAnswersAroundTheLoopsReadBoundsArriveWhole(t *testing.T) {
	body := func(n int) string { return strings.Repeat("abcdefghijklmnopqrstuvwxyz012345", n/32+1)[:n] }
	chunked := func(s string) string {
		var b strings.Builder
		for len(s) > 0 {
			n := min(len(s), 7000)
			b.WriteString(chunk(s[:n]))
			s = s[n:]
		}
		return b.String() + "0\r\n\r\n"
	}
	hints := strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </"+body(2000)+">; rel=preload\r\n\r\n", 250)
	bigHeader := "X-Big: " + body(15000) + "\r\n"
	cases := []struct {
		name, head, body, wire string
	}{
		{"sized 64 KiB", "", body(64 << 10), ""},
		{"sized 1 MiB", "", body(1 << 20), ""},
		{"sized 1 MiB + 1", "", body(1<<20 + 1), ""},
		{"sized 3 MiB", "", body(3 << 20), ""},
		{"header near 16 KiB, 70 KiB body", bigHeader, body(70 << 10), ""},
		{"chunked 70 KiB", "", body(70 << 10), "chunked"},
		{"chunked 2 MiB", "", body(2 << 20), "chunked"},
		{"500 KiB of 103 answers, then 200 KiB", "", body(200 << 10), "hints"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			transports(t, func(t *testing.T, goroutines bool) {
				e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines; c.LogLevel = "error" })
				a := e.api("plain", false)
				_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
				raw := "HTTP/1.1 200 OK\r\n" + tc.head
				switch tc.wire {
				case "chunked":
					raw += "Transfer-Encoding: chunked\r\n\r\n" + chunked(tc.body)
				case "hints":
					raw = hints + raw + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(tc.body)) + tc.body
				default:
					raw += fmt.Sprintf("Content-Length: %d\r\n\r\n", len(tc.body)) + tc.body
				}
				e.up.set(heldOpen(raw))
				c, err := net.Dial("tcp", strings.TrimPrefix(e.gw, "http://"))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(8 * time.Second)) // a stall fails, not hangs
				br := bufio.NewReader(c)
				for i := range 2 {
					fmt.Fprintf(c, "GET /plain/prod/x HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n\r\n", value)
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						t.Fatalf("request %d: %v", i, err)
					}
					got, err := io.ReadAll(resp.Body)
					if err != nil || resp.StatusCode != 200 || string(got) != tc.body {
						t.Fatalf("request %d: %d, %d bytes of %d, %v", i, resp.StatusCode, len(got), len(tc.body), err)
					}
				}
			})
		})
	}
}
