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

const largeBodySize = 16 << 20

// largeBodyGetter sets up a gateway on one transport whose upstream
// answers every request with a 16 MiB body, sized or chunked, written 64
// KiB at a time, and returns a function that fetches it once on one
// kept-alive client connection, checking that all of it came.
func largeBodyGetter(tb testing.TB, goroutines bool, framing string) (e *env, get func()) {
	body := []byte(strings.Repeat("0123456789abcdef", largeBodySize/16))
	e = newEnv(tb, func(c *server.Config) { c.GatewayGoroutines = goroutines; c.LogLevel = "error" })
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
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	br := bufio.NewReaderSize(c, 64<<10)
	return e, func() {
		fmt.Fprintf(c, "GET /plain/prod/file HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n\r\n", value)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			tb.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil || n != largeBodySize || resp.StatusCode != 200 {
			tb.Fatalf("%d: %d bytes, %v", resp.StatusCode, n, err)
		}
	}
}

// A large body streams through the loop in the buffers it has: relaying
// 16 MiB must not allocate anything like the body's size. Before, the
// client's send buffer was dropped each time the socket took all of it
// and grown again, doubling, for the next read; and while the socket took
// only part of each write it grew without end, copying the bytes already
// sent. Relaying 16 MiB allocated 62-130 MiB, and the loop moved large
// bodies at half the goroutine path's rate (BenchmarkLargeBody).
func TestLoopRelaysALargeBodyInTheBuffersItHas(t *testing.T) {
	for _, framing := range []string{"sized", "chunked"} {
		t.Run(framing, func(t *testing.T) {
			e, get := largeBodyGetter(t, false, framing)
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
			if n > largeBodySize/8 {
				t.Errorf("relaying %d MiB allocated %.1f MiB in the process", largeBodySize>>20, float64(n)/(1<<20))
			} else {
				t.Logf("relaying %d MiB allocated %.2f MiB in the process", largeBodySize>>20, float64(n)/(1<<20))
			}
			if n := handoffs(t, e); n != 0 {
				t.Errorf("%d hand-overs, want 0", n)
			}
		})
	}
}

// BenchmarkLargeBody is the throughput of each transport's relay of a
// large download (files, audio, embeddings).
func BenchmarkLargeBody(b *testing.B) {
	for _, goroutines := range []bool{false, true} {
		for _, framing := range []string{"sized", "chunked"} {
			b.Run(map[bool]string{false: "loop", true: "goroutines"}[goroutines]+"/"+framing, func(b *testing.B) {
				_, get := largeBodyGetter(b, goroutines, framing)
				b.SetBytes(largeBodySize)
				for b.Loop() {
					get()
				}
			})
		}
	}
}
