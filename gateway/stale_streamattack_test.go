package gateway_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
)

// staleUpstream is a raw keep-alive HTTP/1.1 server: it answers each
// request on a connection with the bytes answer returns for its path and
// keeps the connection open.
func staleUpstream(t *testing.T, answer func(path string) []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if _, err := c.Write(answer(req.URL.Path)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// An upstream that sends more than its streamed response's framing (a
// whole second response right behind a large sized body, a chunked body
// or an event stream), to a client that reads slowly so that the loop
// stops reading with the extra bytes still in the socket: the connection
// is out of step and must never carry a later request, which would read
// the stale response as its own.
func TestStreamAttackExtraBytesNeverReachALaterRequest(t *testing.T) {
	// The size varies by round (the last path segment), so that the
	// upstream's reads end at every kind of offset.
	bigFor := func(path string) []byte {
		var round int
		fmt.Sscanf(path[strings.LastIndexByte(path, '/')+1:], "%d", &round)
		return bytes.Repeat([]byte("0123456789abcdef"), (1<<20+300<<10+round*11000)/16)
	}
	stale := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nSTALE"
	answer := func(path string) []byte {
		big := bigFor(path)
		var b bytes.Buffer
		switch {
		case strings.Contains(path, "/sized/"):
			fmt.Fprintf(&b, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(big))
			b.Write(big)
		case strings.Contains(path, "/chunked/"):
			b.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
			for p := big; len(p) > 0; p = p[min(len(p), 30000):] {
				fmt.Fprintf(&b, "%x\r\n%s\r\n", min(len(p), 30000), p[:min(len(p), 30000)])
			}
			b.WriteString("0\r\n\r\n")
		case strings.Contains(path, "/events/"):
			b.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 80\r\n\r\n")
			b.WriteString("data: " + strings.Repeat("e", 72) + "\n\n")
		default:
			return []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
		}
		if !strings.HasSuffix(path, "/next") {
			b.WriteString(stale)
		}
		return b.Bytes()
	}
	transports(t, func(t *testing.T, goroutines bool) {
		e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines })
		u := staleUpstream(t, answer)
		a := e.api("plain", false, func(s *keyward.Stage) { s.UpstreamURL = u })
		_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
		gw := strings.TrimPrefix(e.gw, "http://")
		for round := range 6 {
			for _, kind := range []string{"sized", "chunked", "events"} {
				c, err := net.Dial("tcp", gw)
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprintf(c, "GET /plain/prod/%s/%d HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n\r\n", kind, round, value)
				big := bigFor(fmt.Sprint(round))
				time.Sleep(150 * time.Millisecond) // behind: the loop holds back
				br := bufio.NewReader(c)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(kind, err)
				}
				got, err := io.ReadAll(resp.Body)
				if kind != "events" && (err != nil || !bytes.Equal(got, big)) {
					t.Errorf("round %d %s: %d bytes, %v", round, kind, len(got), err)
				}
				if bytes.Contains(got, []byte("STALE")) {
					t.Errorf("round %d %s: the extra bytes reached the client", round, kind)
				}
				// The next request, on this connection and on a new one.
				for _, fresh := range []bool{false, true} {
					cc, bb := c, br
					if fresh || resp.Close {
						if cc, err = net.Dial("tcp", gw); err != nil {
							t.Fatal(err)
						}
						cc.SetDeadline(time.Now().Add(10 * time.Second))
						bb = bufio.NewReader(cc)
					}
					fmt.Fprintf(cc, "GET /plain/prod/next HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n\r\n", value)
					r2, err := http.ReadResponse(bb, nil)
					if err != nil {
						t.Fatalf("round %d after %s: %v", round, kind, err)
					}
					b2, _ := io.ReadAll(r2.Body)
					if string(b2) != "fresh" {
						t.Errorf("round %d after %s: a later request read %d %q (%d bytes)", round, kind, r2.StatusCode, b2[:min(len(b2), 40)], len(b2))
					}
					if cc != c {
						cc.Close()
					}
				}
				c.Close()
			}
		}
	})
}
