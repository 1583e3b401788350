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

// transports runs f once on each transport.
func transports(t *testing.T, f func(t *testing.T, goroutines bool)) {
	for _, goroutines := range []bool{true, false} {
		t.Run(map[bool]string{true: "goroutines", false: "loop"}[goroutines], func(t *testing.T) { f(t, goroutines) })
	}
}

// saGet sends one raw GET on a new connection and reads the answer.
func saGet(t *testing.T, e *env, key, path string) (int, string, error) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(e.gw, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n\r\n", path, key)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, "", err
	}
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// A valid chunked body whose trailer section is larger than 16 KiB (every
// line well under the 4 KiB line limit), arriving after the stream has
// begun: the goroutine path's reader takes it line by line; the loop must
// too, and must not cut a valid body.
func TestStreamAttackLargeTrailerArrivingLate(t *testing.T) {
	var trailer strings.Builder
	for i := range 24 {
		fmt.Fprintf(&trailer, "X-T%d: %s\r\n", i, strings.Repeat("v", 1000))
	}
	for _, size := range []int{20 << 10, 10 << 10} {
		t.Run(fmt.Sprintf("trailer%dK", size>>10), func(t *testing.T) {
			tr := trailer.String()[:0]
			for _, l := range strings.SplitAfter(trailer.String(), "\r\n") {
				if len(tr)+len(l) > size {
					break
				}
				tr += l
			}
			transports(t, func(t *testing.T, goroutines bool) {
				e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines })
				a := e.api("plain", false)
				_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
				e.up.set(hijacked(
					"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"+chunk("hello ")+chunk("world"),
					"0\r\n"+tr+"\r\n",
				))
				status, body, err := saGet(t, e, value, "/plain/prod/x")
				if status != 200 || body != "hello world" || err != nil {
					t.Errorf("a valid chunked body with a %d-byte trailer: %d %q %v", len(tr), status, body, err)
				}
			})
		})
	}
}
