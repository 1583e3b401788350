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
	"github.com/keyward/keyward/server"
)

// An upstream that sends a second response behind the one asked for (a
// bug, or a request it parsed as two) must not have that response
// delivered to the next request that reuses the connection: that is one
// caller's answer handed to another. HTTP/1.1 cannot tell a stray
// response that arrives after the next request was sent from the answer
// to it; the promise tested here is that one already in the gateway's
// socket when the next request arrives is never taken for its answer,
// and a close already there never fails it. The tests wait for the
// upstream to have written all it sends before the next request goes,
// so they do not depend on timing.

// smuggled is the whole response sent behind another.
const smuggled = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL"

// loopReadBound is where the loop stops reading an upstream before the
// response header is parsed (loopHeaderMax + streamBacklog): an answer
// that ends there leaves what follows it unread, with no way for the
// loop to see it but an event.
const loopReadBound = 16<<10 + 64<<10

func fill(n int) string {
	return strings.Repeat("abcdefghijklmnopqrstuvwxyz012345", n/32+1)[:n]
}

// sizedAnswer returns a 200 with a sized body, n bytes in all.
func sizedAnswer(n int) string {
	for bl := n - 30; bl > 0; bl-- {
		h := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", bl)
		if len(h)+bl == n {
			return h + fill(bl)
		}
	}
	panic("no size")
}

// rawByPath answers every request on a connection with raw bytes chosen
// by its path, and keeps the connection open, or closes it after the
// answer when the path is in closeAfter. Once an answer is written (and
// the connection closed, if it is), its path is sent on written, if
// not nil.
func rawByPath(answers map[string]string, closeAfter map[string]bool, written chan<- string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		path := r.URL.Path
		for {
			brw.WriteString(answers[path])
			err := brw.Flush()
			if closeAfter[path] {
				c.Close()
			}
			if written != nil {
				written <- path
			}
			if err != nil || closeAfter[path] {
				return
			}
			req, err := http.ReadRequest(brw.Reader)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			path = req.URL.Path
		}
	}
}

// awaitWritten waits until the upstream has written its answer to path.
func awaitWritten(t *testing.T, written <-chan string, path string) {
	t.Helper()
	timeout := time.After(8 * time.Second)
	for {
		select {
		case p := <-written:
			if p == path {
				return
			}
		case <-timeout:
			t.Fatalf("the upstream never answered %s", path)
		}
	}
}

type rawClient struct {
	t     *testing.T
	c     net.Conn
	br    *bufio.Reader
	value string
}

func dialRaw(t *testing.T, e *env, value string) *rawClient {
	c, err := net.Dial("tcp", strings.TrimPrefix(e.gw, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(8 * time.Second)) // a stall fails, not hangs
	return &rawClient{t: t, c: c, br: bufio.NewReader(c), value: value}
}

func (rc *rawClient) do(method, prefix, path, body string) (*http.Response, string) {
	rc.t.Helper()
	fmt.Fprintf(rc.c, "%s %s%s HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\nContent-Length: %d\r\n\r\n%s", method, prefix, path, rc.value, len(body), body)
	resp, err := http.ReadResponse(rc.br, &http.Request{Method: method})
	if err != nil {
		rc.t.Fatalf("%s %s: %v", method, path, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		rc.t.Fatalf("%s %s: body: %v", method, path, err)
	}
	return resp, string(b)
}

func plainKey(t *testing.T, goroutines bool) (*env, string) {
	e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines; c.LogLevel = "error" })
	a := e.api("plain", false)
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
	return e, value
}

// A response smuggled behind answers of every framing, the answer ending
// exactly at the loop's read bound (where the loop cannot see the bytes
// behind it) or small: the next request on the client's connection gets
// its own answer, on both transports.
func TestAResponseSmuggledBehindAnAnswerIsNeverDelivered(t *testing.T) {
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	chunkedExact := func(n int) string {
		h := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		tail := "\r\n0\r\n\r\n"
		for bl := n - len(h) - len(tail); bl > 0; bl-- {
			s := h + fmt.Sprintf("%x\r\n", bl) + fill(bl) + tail
			if len(s) == n {
				return s
			}
		}
		panic("no size")
	}
	hints := strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </"+fill(1000)+">; rel=preload\r\n\r\n", 70)
	noContent := "HTTP/1.1 204 No Content\r\n"
	pad := loopReadBound - len(hints) - len(noContent) - 2
	noContent += "X-Pad: " + fill(pad-len("X-Pad: ")-2) + "\r\n\r\n"
	cases := []struct{ name, big string }{
		{"sized at the bound", sizedAnswer(loopReadBound)},
		{"chunked at the bound", chunkedExact(loopReadBound)},
		{"103s then 204 at the bound", hints + noContent},
		{"sized small", ok},
		{"sized 1 MiB", sizedAnswer(1 << 20)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			transports(t, func(t *testing.T, goroutines bool) {
				e, value := plainKey(t, goroutines)
				written := make(chan string, 64)
				e.up.set(rawByPath(map[string]string{"/big": tc.big + smuggled, "/small": ok}, nil, written))
				rc := dialRaw(t, e, value)
				for round := range 10 {
					rc.do("GET", "/plain/prod", "/big", "")
					awaitWritten(t, written, "/big")
					if resp, b := rc.do("GET", "/plain/prod", "/small", ""); b != "ok" {
						t.Fatalf("round %d: the next request got %d %q", round, resp.StatusCode, b)
					}
					awaitWritten(t, written, "/small")
				}
			})
		})
	}
}

// A model list the gateway filters for a scoped key, ending at the
// loop's read bound with another response behind it: the loop hands the
// exchange to a goroutine, which reads the list from what the loop read
// and pools the connection; the client's next request, served on that
// pool, gets its own answer.
func TestAResponseSmuggledBehindAHandedOverModelListIsNeverDelivered(t *testing.T) {
	list := func(n int) string {
		for pad := n; pad > 0; pad-- {
			b := `{"object":"list","data":[{"id":"gpt-4o-mini"},{"id":"llama"}],"pad":"` + fill(pad) + `"}`
			s := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(b)) + b
			if len(s) == n {
				return s
			}
		}
		panic("no size")
	}
	evilBody := `{"object":"list","data":[{"id":"gpt-4o-EVIL"}]}`
	evil := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(evilBody)) + evilBody
	ok := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\n\"ok\""
	transports(t, func(t *testing.T, goroutines bool) {
		e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines; c.LogLevel = "error" })
		a := e.api("chat", true)
		_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a), Scopes: keyward.Scopes{Models: []string{"gpt-4o*"}}})
		written := make(chan string, 64)
		e.up.set(rawByPath(map[string]string{"/v1/models": list(loopReadBound) + evil, "/v1/x": ok}, nil, written))
		for round := range 6 {
			rc := dialRaw(t, e, value)
			if _, b := rc.do("GET", "/chat/prod", "/v1/models", ""); !strings.Contains(b, "gpt-4o-mini") || strings.Contains(b, "llama") {
				t.Fatalf("round %d: list %.100q", round, b)
			}
			awaitWritten(t, written, "/v1/models")
			if _, b := rc.do("GET", "/chat/prod", "/v1/x", ""); b != `"ok"` {
				t.Fatalf("round %d: the next request got %q", round, b)
			}
			awaitWritten(t, written, "/v1/x")
			rc.c.Close()
		}
	})
}

// An upstream that closes the connection right behind an answer, without
// saying Connection: close (the answer ending at the loop's read bound,
// or small): the client's next request, a POST the gateway cannot retry
// on another connection, still gets its answer.
func TestAConnectionTheUpstreamClosedIsNotReused(t *testing.T) {
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	for _, big := range []string{sizedAnswer(loopReadBound), sizedAnswer(100)} {
		t.Run(fmt.Sprint(len(big)), func(t *testing.T) {
			transports(t, func(t *testing.T, goroutines bool) {
				e, value := plainKey(t, goroutines)
				written := make(chan string, 64)
				e.up.set(rawByPath(map[string]string{"/big": big, "/small": ok}, map[string]bool{"/big": true}, written))
				rc := dialRaw(t, e, value)
				for round := range 6 {
					if resp, b := rc.do("GET", "/plain/prod", "/big", ""); resp.StatusCode != 200 || len(b) != len(big)-strings.Index(big, "\r\n\r\n")-4 {
						t.Fatalf("round %d: /big %d, %d bytes", round, resp.StatusCode, len(b))
					}
					awaitWritten(t, written, "/big")
					if resp, b := rc.do("POST", "/plain/prod", "/small", "{}"); resp.StatusCode != 200 || b != "ok" {
						t.Fatalf("round %d: the POST after got %d %q", round, resp.StatusCode, b)
					}
					awaitWritten(t, written, "/small")
				}
			})
		})
	}
}
