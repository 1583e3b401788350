package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
)

// BenchmarkLargeBody relays a 16 MiB body, sized and chunked, through
// each transport on one kept-alive client connection: the throughput of
// the gateway's relay of large downloads (files, audio, embeddings).
func BenchmarkLargeBody(b *testing.B) {
	const size = 16 << 20
	body := []byte(strings.Repeat("0123456789abcdef", size/16))
	for _, goroutines := range []bool{false, true} {
		for _, framing := range []string{"sized", "chunked"} {
			name := map[bool]string{false: "loop", true: "goroutines"}[goroutines] + "/" + framing
			b.Run(name, func(b *testing.B) {
				e := newEnv(b, func(c *server.Config) { c.GatewayGoroutines = goroutines; c.LogLevel = "error" })
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
					b.Fatal(err)
				}
				defer c.Close()
				br := bufio.NewReaderSize(c, 64<<10)
				b.SetBytes(size)
				for b.Loop() {
					fmt.Fprintf(c, "GET /plain/prod/file HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n\r\n", value)
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						b.Fatal(err)
					}
					n, err := io.Copy(io.Discard, resp.Body)
					if err != nil || n != size || resp.StatusCode != 200 {
						b.Fatalf("%d: %d bytes, %v", resp.StatusCode, n, err)
					}
				}
			})
		}
	}
}
