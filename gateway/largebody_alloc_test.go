package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
)

// A large body streams through the loop in the buffers it has: relaying
// 16 MiB must not allocate anything like the body's size. Before, the
// client's send buffer was dropped each time the socket took all of it
// and grown again, doubling, for the next read; and while the socket took
// only part of each write it grew without end, copying the bytes already
// sent. Relaying 16 MiB allocated 62-64 MiB, and the loop moved large
// bodies at half the goroutine path's rate (BenchmarkLargeBody).
func TestLoopRelaysALargeBodyInTheBuffersItHas(t *testing.T) {
	const size = 16 << 20
	body := []byte(strings.Repeat("0123456789abcdef", size/16))
	for _, framing := range []string{"sized", "chunked"} {
		t.Run(framing, func(t *testing.T) {
			e := newEnv(t, func(c *server.Config) { c.LogLevel = "error" })
			a := e.api("plain", false)
			_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
			e.up.set(func(w http.ResponseWriter, r *http.Request) {
				if framing == "sized" {
					w.Header().Set("Content-Length", fmt.Sprint(len(body)))
				}
				for p := body; len(p) > 0; p = p[min(len(p), 64<<10):] {
					w.Write(p[:min(len(p), 64<<10)])
				}
			})
			c, err := net.Dial("tcp", strings.TrimPrefix(e.gw, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReaderSize(c, 64<<10)
			get := func() {
				fmt.Fprintf(c, "GET /plain/prod/file HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n\r\n", value)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				if err != nil || n != size || resp.StatusCode != 200 {
					t.Fatalf("%d: %d bytes, %v", resp.StatusCode, n, err)
				}
			}
			get() // the loop's buffers reach their working size
			// The least of three, as the count is the whole process's.
			n := uint64(1 << 62)
			for range 3 {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				get()
				runtime.ReadMemStats(&after)
				n = min(n, after.TotalAlloc-before.TotalAlloc)
			}
			if n > size/8 {
				t.Errorf("relaying %d MiB allocated %.1f MiB in the process", size>>20, float64(n)/(1<<20))
			} else {
				t.Logf("relaying %d MiB allocated %.2f MiB in the process", size>>20, float64(n)/(1<<20))
			}
			if n := handoffs(t, e); n != 0 {
				t.Errorf("%d hand-overs, want 0", n)
			}
		})
	}
}
