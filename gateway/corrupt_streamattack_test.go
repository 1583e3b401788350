package gateway_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
)

// A chunked body broken at a random spot (cut short, a chunk-size line
// made invalid, a chunk's line end taken away, a chunk-size line made too
// long): the client gets a prefix of the body and never a complete
// answer, on both transports; and the next request is answered normally.
func TestStreamAttackRandomlyBrokenChunkedBodies(t *testing.T) {
	transports(t, func(t *testing.T, goroutines bool) {
		e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines })
		a := e.api("plain", false)
		_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
		gw := strings.TrimPrefix(e.gw, "http://")
		streamed := 0
		for seed := uint64(1); seed <= 24; seed++ {
			rng := rand.New(rand.NewPCG(seed, 9))
			body := make([]byte, 1000+rng.IntN(300<<10))
			for i := range body {
				body[i] = 'a' + byte(rng.IntN(26))
			}
			enc := encodeChunked(body, rng)
			// Chunk-size lines: starts of lines that follow a data CRLF.
			var lines []int
			for i := 0; i < len(enc); {
				lines = append(lines, i)
				j := bytes.IndexByte(enc[i:], '\n')
				line := enc[i : i+j]
				if k := bytes.IndexByte(line, ';'); k >= 0 {
					line = line[:k]
				}
				var n int
				fmt.Sscanf(string(bytes.TrimSpace(line)), "%x", &n)
				if n == 0 {
					break
				}
				i += j + 1 + n + 2
			}
			at := lines[rng.IntN(len(lines))]
			var broken []byte
			how := []string{"cut", "badsize", "nocrlf", "longline"}[seed%4]
			switch how {
			case "cut":
				broken = enc[:rng.IntN(len(enc)-1)]
			case "badsize":
				broken = append(append(append([]byte{}, enc[:at]...), "zz\r\n"...), enc[at:]...)
			case "nocrlf":
				if at == 0 {
					at = lines[len(lines)-1]
				}
				broken = append(append([]byte{}, enc[:at-2]...), enc[at:]...)
			case "longline":
				broken = append(append(append([]byte{}, enc[:at]...), "1"+strings.Repeat(";e", 5000)+"\r\n"...), enc[at:]...)
			}
			wire := append([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), broken...)
			e.up.set(rawPieces(wire, seed))
			c, err := net.Dial("tcp", gw)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "GET /plain/prod/x HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n\r\n", value)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				c.Close()
				t.Logf("seed %d %s: no answer (%v)", seed, how, err)
				continue
			}
			got, err := io.ReadAll(resp.Body)
			c.Close()
			if resp.StatusCode == 200 && len(got) > 0 {
				streamed++
			}
			if resp.StatusCode == 200 && err == nil {
				t.Errorf("seed %d %s at %d: a broken body reached the client as complete (%d bytes of %d)", seed, how, at, len(got), len(body))
			}
			if resp.StatusCode == 200 && !bytes.HasPrefix(body, got) {
				t.Errorf("seed %d %s: the client got %d bytes that are not a prefix of the body (first difference at %d)", seed, how, len(got), firstDiff(got, body))
			}
		}
		if streamed < 12 {
			t.Errorf("only %d of 24 broken bodies were streamed in part: the test does not test much", streamed)
		}
		e.up.set(chatHandler)
		if r := e.call("GET", "/plain/prod/after", value, ""); r.status != 200 || r.body != completion {
			t.Errorf("afterwards: %d %q", r.status, r.body)
		}
	})
}
