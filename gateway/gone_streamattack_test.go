//go:build linux

package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A client that stops reading (the gateway holds back the upstream) and
// then goes away, or resets the connection: the exchange is settled once
// and the upstream call ends soon, long before the gateway's timeout.
func TestStreamAttackClientGoneWhileBehind(t *testing.T) {
	for _, reset := range []bool{false, true} {
		t.Run(map[bool]string{false: "close", true: "reset"}[reset], func(t *testing.T) {
			saTransports(t, func(t *testing.T, noLoop bool) {
				var ended atomic.Int32
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					defer ended.Add(1)
					w.Header().Set("Content-Type", "text/event-stream")
					ev := "data: " + strings.Repeat("x", 4000) + "\n\n"
					for {
						if _, err := io.WriteString(w, ev); err != nil {
							return
						}
						w.(http.Flusher).Flush()
						select {
						case <-r.Context().Done():
							return
						case <-time.After(time.Millisecond):
						}
					}
				})
				_, cl, addr, value, _ := saGateway(t, noLoop, time.Minute, h)
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				c.(*net.TCPConn).SetReadBuffer(4096)
				io.WriteString(c, saStreamReq(value))
				br := bufio.NewReader(c)
				if _, err := http.ReadResponse(br, nil); err != nil {
					t.Fatal(err)
				}
				time.Sleep(500 * time.Millisecond) // behind: buffers full
				if reset {
					c.(*net.TCPConn).SetLinger(0)
				}
				c.Close()
				if !eventually(3*time.Second, func() bool { return ended.Load() == 1 }) {
					t.Errorf("the upstream call still runs 3 s after the client left")
				}
				saWaitSettled(t, cl, 1)
			})
		})
	}
}

// A client that half-closes its side after its request (it has nothing
// more to send) still gets the whole stream, then the connection closes.
func TestStreamAttackHalfClosedClientGetsTheWholeStream(t *testing.T) {
	saTransports(t, func(t *testing.T, noLoop bool) {
		_, cl, addr, value, _ := saGateway(t, noLoop, time.Minute, eventsHandler(6, 30*time.Millisecond))
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, saStreamReq(value))
		c.(*net.TCPConn).CloseWrite()
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		var want strings.Builder
		for i := range 6 {
			want.WriteString(saEvent(i))
		}
		want.WriteString("data: [DONE]\n\n")
		if err != nil || string(got) != want.String() {
			t.Errorf("got %d bytes of %d: %v", len(got), want.Len(), err)
		}
		saWaitSettled(t, cl, 1)
	})
}
