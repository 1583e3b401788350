package gateway_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
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

// rawPieces answers with wire, written on the hijacked connection in
// pieces of random sizes with short random pauses, then closes it.
func rawPieces(wire []byte, seed uint64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		c, bw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		defer c.Close()
		rng := rand.New(rand.NewPCG(seed, 7))
		for p := wire; len(p) > 0; {
			n := min(len(p), 1+rng.IntN(9000))
			if rng.IntN(4) == 0 {
				n = min(len(p), 1+rng.IntN(8))
			}
			bw.Write(p[:n])
			bw.Flush()
			p = p[n:]
			if rng.IntN(6) == 0 {
				time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
			}
		}
	}
}

// encodeChunked frames body in chunks of random sizes with random
// extensions, hex case and leading zeros, then a trailer.
func encodeChunked(body []byte, rng *rand.Rand) []byte {
	var b bytes.Buffer
	for p := body; len(p) > 0; {
		n := min(len(p), 1+rng.IntN(20000))
		if rng.IntN(3) == 0 {
			n = min(len(p), 1+rng.IntN(5))
		}
		size := fmt.Sprintf("%x", n)
		if rng.IntN(2) == 0 {
			size = strings.ToUpper(size)
		}
		if rng.IntN(4) == 0 {
			size = "00" + size
		}
		b.WriteString(size)
		switch rng.IntN(4) {
		case 0:
			b.WriteString(";ext=1")
		case 1:
			b.WriteString(`;name="quoted;value" ;x`)
		}
		b.WriteString("\r\n")
		b.Write(p[:n])
		b.WriteString("\r\n")
		p = p[n:]
	}
	b.WriteString("0;end=1\r\nX-Checksum: abc\r\nX-Other: d\r\n\r\n")
	return b.Bytes()
}

// Every byte of a valid body reaches a slow client intact and in order,
// whatever the framing (chunked with extensions and a trailer, sized over
// 1 MiB, unsized until the upstream closes, events), the chunk sizes and
// the splits; and the request pipelined behind it is answered next.
func TestStreamAttackFidelityWithSplitsAndSlowReader(t *testing.T) {
	transports(t, func(t *testing.T, goroutines bool) {
		e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines })
		a := e.api("plain", false)
		_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
		for seed := uint64(1); seed <= 4; seed++ {
			rng := rand.New(rand.NewPCG(seed, 3))
			body := make([]byte, 200<<10+rng.IntN(1<<20))
			for i := range body {
				body[i] = byte(rng.Uint32())
			}
			kinds := []string{"chunked", "sized", "unsized", "events"}
			kind := kinds[seed%4]
			var wire []byte
			switch kind {
			case "chunked":
				wire = append([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), encodeChunked(body, rng)...)
			case "events":
				wire = append([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"), encodeChunked(body, rng)...)
			case "sized":
				body = append(body, make([]byte, 1<<20)...)
				wire = append([]byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(body))), body...)
			case "unsized":
				wire = append([]byte("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"), body...)
			}
			want := sha256.Sum256(body)
			e.up.set(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/small") {
					io.WriteString(w, "second answer")
					return
				}
				rawPieces(wire, seed)(w, r)
			})
			c, err := net.Dial("tcp", strings.TrimPrefix(e.gw, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(30 * time.Second))
			fmt.Fprintf(c, "GET /plain/prod/big HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n\r\nGET /plain/prod/small HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n\r\n", value, value)
			time.Sleep(200 * time.Millisecond) // the client is behind
			br := bufio.NewReaderSize(c, 512)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(kind, err)
			}
			var got bytes.Buffer
			buf := make([]byte, 700)
			for i := 0; ; i++ {
				n, err := resp.Body.Read(buf)
				got.Write(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("seed %d %s: after %d of %d bytes: %v", seed, kind, got.Len(), len(body), err)
				}
				if i%200 == 0 {
					time.Sleep(time.Millisecond) // slow, steady
				}
			}
			if resp.StatusCode != 200 || sha256.Sum256(got.Bytes()) != want {
				t.Fatalf("seed %d %s: %d, %d bytes of %d, first difference at %d", seed, kind, resp.StatusCode, got.Len(), len(body), firstDiff(got.Bytes(), body))
			}
			if resp.Close {
				c.Close() // the answer said Connection: close: the pipelined one may go unanswered
				continue
			}
			resp2, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("seed %d %s: the pipelined request: %v", seed, kind, err)
			}
			b2, err := io.ReadAll(resp2.Body)
			if err != nil || string(b2) != "second answer" {
				t.Fatalf("seed %d %s: the pipelined request: %d %q %v", seed, kind, resp2.StatusCode, b2, err)
			}
			c.Close()
		}
	})
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// An upstream answer with Connection: close (a body until the close, and
// a chunked one): both transports must tell the client the same thing
// about its connection.
func TestStreamAttackConnectionCloseFromUpstreamSameOnBothTransports(t *testing.T) {
	for name, raw := range map[string]string{
		"unsized": "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + strings.Repeat("u", 3000),
		"chunked": "HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("hello"),
		"events":  "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/event-stream\r\n\r\ndata: x\n\n",
	} {
		t.Run(name, func(t *testing.T) {
			var closes [2]bool
			for i, goroutines := range []bool{true, false} {
				e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines })
				a := e.api("plain", false)
				_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
				parts := []string{raw}
				if name == "chunked" {
					parts = append(parts, "0\r\n\r\n")
				}
				e.up.set(hijacked(parts...))
				c, err := net.Dial("tcp", strings.TrimPrefix(e.gw, "http://"))
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprintf(c, "GET /plain/prod/x HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n\r\n", value)
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadAll(resp.Body); err != nil {
					t.Fatalf("goroutines=%v: %v", goroutines, err)
				}
				closes[i] = resp.Close
				c.Close()
			}
			if closes[0] != closes[1] {
				t.Errorf("Connection: close to the client: goroutines %v, loop %v", closes[0], closes[1])
			}
		})
	}
}
