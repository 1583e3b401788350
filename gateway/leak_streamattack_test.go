package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
)

func saOpenFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// Streams ended every way (completed and pooled, client gone mid-stream,
// upstream cut or broken, upstream past the timeout, client behind when
// the upstream ends) leave no descriptor and no goroutine behind.
func TestStreamAttackNoDescriptorOrGoroutineLeaks(t *testing.T) {
	transports(t, func(t *testing.T, goroutines bool) {
		e := newEnv(t, func(c *server.Config) {
			c.GatewayGoroutines = goroutines
			c.GatewayTimeout = 400 * time.Millisecond
		})
		a := e.api("plain", false)
		_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
		gw := strings.TrimPrefix(e.gw, "http://")
		big := strings.Repeat("z", 3<<20)
		e.up.set(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasSuffix(r.URL.Path, "/ok"):
				w.Header().Set("Content-Type", "text/event-stream")
				for i := range 3 {
					fmt.Fprintf(w, "data: %d\n\n", i)
					w.(http.Flusher).Flush()
				}
			case strings.HasSuffix(r.URL.Path, "/endless"):
				w.Header().Set("Content-Type", "text/event-stream")
				for i := 0; ; i++ {
					if _, err := fmt.Fprintf(w, "data: %d\n\n", i); err != nil {
						return
					}
					w.(http.Flusher).Flush()
					select {
					case <-r.Context().Done():
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
			case strings.HasSuffix(r.URL.Path, "/cut"):
				hijacked("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"+chunk("hello"), "5\r\nwo")(w, r)
			case strings.HasSuffix(r.URL.Path, "/bad"):
				hijacked("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"+chunk("hello"), "zz\r\n")(w, r)
			case strings.HasSuffix(r.URL.Path, "/big"):
				w.Header().Set("Content-Length", fmt.Sprint(len(big)))
				io.WriteString(w, big)
			}
		})
		round := func() {
			for _, p := range []string{"ok", "endless-gone", "endless", "cut", "bad", "big-gone", "big"} {
				c, err := net.Dial("tcp", gw)
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprintf(c, "GET /plain/prod/%s HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n\r\n", strings.TrimSuffix(p, "-gone"), value)
				br := bufio.NewReader(c)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(p, err)
				}
				if strings.HasSuffix(p, "-gone") {
					io.ReadFull(resp.Body, make([]byte, 8))
					c.Close()
					continue
				}
				io.ReadAll(resp.Body)
				c.Close()
			}
		}
		round()
		round()
		time.Sleep(500 * time.Millisecond)
		fds, gs := saOpenFDs(t), runtime.NumGoroutine()
		for range 8 {
			round()
		}
		var fds2, gs2 int
		ok := eventually(5*time.Second, func() bool {
			fds2, gs2 = saOpenFDs(t), runtime.NumGoroutine()
			return fds2 <= fds+4 && gs2 <= gs+8
		})
		if !ok {
			t.Errorf("after 8 more rounds: %d descriptors (was %d), %d goroutines (was %d)", fds2, fds, gs2, gs)
		}
		if r := e.call("GET", "/plain/prod/ok", value, ""); r.status != 200 || r.body != "data: 0\n\ndata: 1\n\ndata: 2\n\n" {
			t.Errorf("afterwards: %d %q", r.status, r.body)
		}
	})
}
