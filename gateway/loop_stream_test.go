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

// A stream is relayed as it arrives, not when it ends: the client reads
// the first event while the upstream still holds back the second, on
// both transports.
func TestStreamEventsArriveBeforeTheStreamEnds(t *testing.T) {
	for _, goroutines := range []bool{true, false} {
		t.Run(map[bool]string{true: "goroutines", false: "loop"}[goroutines], func(t *testing.T) {
			e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines })
			a := e.api("chat", true)
			_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
			first := "data: {\"choices\":[{\"delta\":{\"content\":\"first\"}}]}\n\n"
			read := make(chan struct{})
			e.up.set(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, first)
				w.(http.Flusher).Flush()
				select {
				case <-read:
				case <-time.After(5 * time.Second):
				}
				io.WriteString(w, "data: [DONE]\n\n")
			})
			resp := e.openStream(nil, "/chat/prod/v1/chat/completions", value, streamBody)
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			got := make([]byte, len(first))
			done := make(chan error, 1)
			go func() { _, err := io.ReadFull(br, got); done <- err }()
			select {
			case err := <-done:
				if err != nil || string(got) != first {
					t.Fatalf("first event: %q %v", got, err)
				}
			case <-time.After(4 * time.Second):
				t.Fatal("the first event waited for the stream's end")
			}
			close(read)
			rest, err := io.ReadAll(br)
			if err != nil || string(rest) != "data: [DONE]\n\n" {
				t.Fatalf("rest %q %v", rest, err)
			}
		})
	}
}

// A large chunked body to a client that does not read for a while: the
// loop stops reading the upstream while the client is behind, and every
// byte arrives, in order, once it reads; the connection then serves
// another request. A sized body over the buffering limit likewise.
func TestLoopStreamsALargeBodyToASlowReader(t *testing.T) {
	e := newEnv(t)
	a := e.api("plain", false)
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
	body := make([]byte, 6<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	want := sha256.Sum256(body)
	e.up.set(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sized" {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body)
			return
		}
		for p := body; len(p) > 0; { // chunked: Go flushes unsized writes as chunks
			n := min(len(p), 1000+rng.IntN(30000))
			w.Write(p[:n])
			w.(http.Flusher).Flush()
			p = p[n:]
		}
	})
	c, err := net.Dial("tcp", strings.TrimPrefix(e.gw, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	for _, path := range []string{"/chunked", "/sized", "/chunked"} {
		fmt.Fprintf(c, "GET /plain/prod%s HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n\r\n", path, value)
		time.Sleep(300 * time.Millisecond) // the socket buffers fill; the loop must hold back
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(path, err)
		}
		got, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 || sha256.Sum256(got) != want {
			t.Fatalf("%s: %d, %d bytes of %d, %v", path, resp.StatusCode, len(got), len(body), err)
		}
		if path == "/sized" && resp.ContentLength != int64(len(body)) {
			t.Errorf("sized body relayed with length %d", resp.ContentLength)
		}
	}
	if n := handoffs(t, e); n != 0 {
		t.Errorf("%d hand-overs, want 0", n)
	}
}

// Bodies the upstream frames badly are cut on both transports alike: the
// client gets what arrived intact and then a connection closed without
// the last chunk, never a body that looks complete.
func TestLoopStreamCutsABrokenBodyAsFasthttpDoes(t *testing.T) {
	cases := map[string]string{
		"bad size":     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("hello ") + "zz\r\nworld\r\n0\r\n\r\n",
		"endless line": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("hello ") + "6" + strings.Repeat(";x", 20<<10) + "\r\nworld!\r\n0\r\n\r\n",
		"cut":          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("hello ") + "6\r\nwor",
		"short sized":  "HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\nhello ",
		"missing crlf": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello XX0\r\n\r\n",
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			var results [2]string
			for i, goroutines := range []bool{true, false} {
				e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines })
				a := e.api("plain", false)
				_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
				e.up.set(hijacked(raw))
				c, err := net.Dial("tcp", strings.TrimPrefix(e.gw, "http://"))
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprintf(c, "GET /plain/prod/x HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n\r\n", value)
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					c.Close()
					results[i] = "no response: " + err.Error()
					continue
				}
				got, err := io.ReadAll(resp.Body)
				c.Close()
				if err == nil && resp.StatusCode == 200 {
					t.Errorf("goroutines=%v: a broken body reached the client as a complete one: %q", goroutines, got)
				}
				if !bytes.HasPrefix([]byte("hello world"), got) && resp.StatusCode == 200 {
					t.Errorf("goroutines=%v: relayed %q", goroutines, got)
				}
				results[i] = fmt.Sprintf("%d %q complete=%v", resp.StatusCode, got, err == nil)
			}
			t.Logf("goroutines: %s; loop: %s", results[0], results[1])
		})
	}
}

// A stream the gateway asked usage for, which the upstream sends with a
// Content-Length: the usage event is taken out, so the client gets the
// rest as chunks (the upstream's length no longer holds), whole, on both
// transports.
func TestStrippedSizedStreamIsWhole(t *testing.T) {
	events := "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n" +
		"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,\"total_tokens\":7}}\n\n" +
		"data: [DONE]\n\n"
	want := "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: [DONE]\n\n"
	const noUsage = `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	for _, goroutines := range []bool{true, false} {
		t.Run(map[bool]string{true: "goroutines", false: "loop"}[goroutines], func(t *testing.T) {
			e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines })
			a := e.api("chat", true)
			_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
			e.up.set(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				w.Header().Set("Content-Length", fmt.Sprint(len(events)))
				io.WriteString(w, events)
			})
			for range 2 {
				resp := e.openStream(nil, "/chat/prod/v1/chat/completions", value, noUsage)
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || string(got) != want {
					t.Fatalf("%d %q %v", resp.StatusCode, got, err)
				}
			}
		})
	}
}
