package gateway_test

import (
	"bufio"
	"bytes"
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

// Many requests pipelined on one connection, streams of every kind among
// them, to a client that reads nothing for a while and then reads
// slowly: each is answered, whole and in order.
func TestStreamAttackPipelinedMixAnsweredInOrder(t *testing.T) {
	transports(t, func(t *testing.T, goroutines bool) {
		e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines })
		a := e.api("plain", false)
		_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
		body := func(path string) []byte {
			n := map[string]int{"events": 200 << 10, "chunked": 700 << 10, "sized": 1<<20 + 5000, "small": 300, "whole": 2000}[strings.Split(path, "-")[0]]
			return bytes.Repeat([]byte(path+"|"), n/(len(path)+1)+1)[:n]
		}
		e.up.set(func(w http.ResponseWriter, r *http.Request) {
			p := strings.TrimPrefix(r.URL.Path, "/")
			b := body(p)
			switch strings.Split(p, "-")[0] {
			case "events":
				w.Header().Set("Content-Type", "text/event-stream")
				for q := b; len(q) > 0; q = q[min(len(q), 7000):] {
					w.Write(q[:min(len(q), 7000)])
					w.(http.Flusher).Flush()
				}
			case "chunked":
				for q := b; len(q) > 0; q = q[min(len(q), 33333):] {
					w.Write(q[:min(len(q), 33333)])
					w.(http.Flusher).Flush()
					time.Sleep(time.Millisecond)
				}
			case "whole":
				w.Write(b)
				w.(http.Flusher).Flush() // chunked, arriving whole
			default:
				w.Header().Set("Content-Length", fmt.Sprint(len(b)))
				w.Write(b)
			}
		})
		paths := []string{"events-1", "small-1", "chunked-1", "sized-1", "whole-1", "events-2", "small-2", "chunked-2", "small-3"}
		c, err := net.Dial("tcp", strings.TrimPrefix(e.gw, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		var reqs strings.Builder
		for _, p := range paths {
			fmt.Fprintf(&reqs, "GET /plain/prod/%s HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n\r\n", p, value)
		}
		io.WriteString(c, reqs.String())
		time.Sleep(300 * time.Millisecond)
		br := bufio.NewReaderSize(c, 1024)
		for _, p := range paths {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			got, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, body(p)) {
				t.Fatalf("%s: %d, %d bytes of %d, %v; starts %q", p, resp.StatusCode, len(got), len(body(p)), err, got[:min(len(got), 30)])
			}
		}
	})
}

// An event longer than the usage filter holds (so the rest of the stream
// passes through unfiltered) reaches the caller intact on both transports.
func TestStreamAttackStripWithAHugeEvent(t *testing.T) {
	huge := "data: {\"choices\":[{\"delta\":{\"content\":\"" + strings.Repeat("h", 100<<10) + "\"}}]}\n\n"
	small := "data: {\"choices\":[{\"delta\":{\"content\":\"s\"}}]}\n\n"
	var res [2]string
	for i, goroutines := range []bool{true, false} {
		e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines })
		a := e.api("chat", true)
		_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
		e.up.set(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			for _, s := range []string{small, huge[:30000], huge[30000:], small, "data: [DONE]\n\n"} {
				io.WriteString(w, s)
				w.(http.Flusher).Flush()
				time.Sleep(5 * time.Millisecond)
			}
		})
		body := `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`
		resp := e.openStream(nil, "/chat/prod/v1/chat/completions", value, body)
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := small + huge + small + "data: [DONE]\n\n"
		if err != nil || string(got) != want {
			t.Errorf("goroutines=%v: %d bytes of %d, %v", goroutines, len(got), len(want), err)
		}
		res[i] = string(got)
	}
	if res[0] != res[1] {
		t.Error("the transports differ")
	}
}
