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

// A client that asks to close the connection after the answer (Python's
// urllib always does; so does every HTTP/1.0 client): a stream it asked
// for must still arrive whole, with the connection closed after it, not
// in the middle.
func TestStreamAttackClientConnectionCloseGetsTheWholeStream(t *testing.T) {
	for _, proto := range []string{"HTTP/1.1\r\nConnection: close", "HTTP/1.0"} {
		t.Run(strings.Fields(proto)[0], func(t *testing.T) {
			transports(t, func(t *testing.T, goroutines bool) {
				e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines })
				a := e.api("chat", true)
				_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
				var want strings.Builder
				for i := range 5 {
					fmt.Fprintf(&want, "data: {\"n\":%d}\n\n", i)
				}
				e.up.set(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/event-stream")
					for i := range 5 {
						fmt.Fprintf(w, "data: {\"n\":%d}\n\n", i)
						w.(http.Flusher).Flush()
						time.Sleep(40 * time.Millisecond)
					}
				})
				c, err := net.Dial("tcp", strings.TrimPrefix(e.gw, "http://"))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprintf(c, "POST /chat/prod/v1/chat/completions %s\r\nHost: x\r\nX-Api-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
					proto, value, len(streamBody), streamBody)
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 || string(got) != want.String() {
					t.Errorf("%d, got %q (%v), want the whole stream", resp.StatusCode, got, err)
				}
			})
		})
	}
}
