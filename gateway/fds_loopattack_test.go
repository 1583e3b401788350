//go:build linux

package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
)

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal("no /proc/self/fd:", err)
	}
	return len(ents)
}

// Connections and exchanges that end every way the loop knows (answered,
// handed over whole, handed over mid-exchange, refused, failed upstream,
// timed out, abandoned by the client at every stage) leave no descriptor
// behind: the count stays about where it was after a warm-up, however
// many rounds run.
func TestLoopAttackNoDescriptorLeaks(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.GatewayTimeout = 500 * time.Millisecond })
	a := e.api("chat", true)
	down := e.api("down", false, func(s *keyward.Stage) { s.UpstreamURL = "http://" + closedAddr(t) })
	port := e.up.url[strings.LastIndex(e.up.url, ":")+1:]
	named := e.api("named", false, func(s *keyward.Stage) { s.UpstreamURL = "http://localhost:" + port })
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a, down, named)})
	e.up.set(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/slow"):
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
		case strings.HasSuffix(r.URL.Path, "/stream"):
			w.Header().Set("Content-Type", "text/event-stream")
			for i := range 5 {
				fmt.Fprintf(w, "data: {\"n\":%d}\n\n", i)
				w.(http.Flusher).Flush()
				time.Sleep(20 * time.Millisecond)
			}
			io.WriteString(w, "data: [DONE]\n\n")
		case strings.HasSuffix(r.URL.Path, "/pause"):
			time.Sleep(100 * time.Millisecond)
			chatHandler(w, r)
		default:
			chatHandler(w, r)
		}
	})
	addr := strings.TrimPrefix(e.gw, "http://")
	req := func(method, path, extra, body string) string {
		return fmt.Sprintf("%s %s HTTP/1.1\r\nHost: gw\r\nX-Api-Key: %s\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s", method, path, value, extra, len(body), body)
	}
	// raw sends s; readAll: read until the gateway closes, else close
	// after wait.
	raw := func(s string, readAll bool, wait time.Duration) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, s)
		if readAll {
			io.Copy(io.Discard, c)
			return
		}
		if wait > 0 {
			time.Sleep(wait)
		}
	}
	oneResponse := func(s string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, s)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Errorf("no response to %.40q: %v", s, err)
			return
		}
		io.Copy(io.Discard, resp.Body)
	}
	round := func() {
		var wg sync.WaitGroup
		run := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
		closeHdr := "Connection: close\r\n"
		run(func() { raw(req("POST", "/chat/prod/v1/chat/completions", closeHdr, chatBody), true, 0) })
		run(func() { oneResponse(req("POST", "/chat/prod/v1/chat/completions", "", chatBody)) }) // kept alive, then closed by us
		run(func() { raw(req("GET", "/down/prod/x", closeHdr, ""), true, 0) })
		run(func() { raw(req("GET", "/named/prod/x", closeHdr, ""), true, 0) })
		run(func() { oneResponse(req("GET", "/named/prod/x", "", "")) }) // handed over, idle in fasthttp's hands
		run(func() { raw(req("POST", "/chat/prod/v1/stream", closeHdr, chatBody), true, 0) })
		run(func() { oneResponse(req("POST", "/chat/prod/v1/stream", "", chatBody)) })
		run(func() { raw(req("POST", "/chat/prod/v1/stream", "", chatBody), false, 30*time.Millisecond) }) // gone mid-stream
		run(func() { raw(req("POST", "/chat/prod/v1/pause", "", chatBody), false, 20*time.Millisecond) })  // gone mid-exchange
		run(func() { raw(req("POST", "/chat/prod/v1/slow", closeHdr, chatBody), true, 0) })                // 504
		run(func() { raw(req("POST", "/chat/prod/v1/slow", "", chatBody), false, 100*time.Millisecond) })  // gone, then timed out
		run(func() {
			raw(strings.Replace(req("POST", "/chat/prod/v1/x", closeHdr, chatBody), "HTTP/1.1", "HTTP/1.0", 1), true, 0)
		})
		run(func() { raw("GARBAGE\r\n\r\n", true, 0) })
		run(func() { raw("POST /chat/prod/v1/x HTTP/1.1\r\nHost: gw\r\nContent-Le", false, 20*time.Millisecond) })
		run(func() { raw(req("POST", "/chat/prod/v1/x", "", chatBody)[:60], false, 0) })
		run(func() { raw("", false, 0) })
		run(func() {
			raw(req("POST", "/chat/prod/v1/x", "Expect: 100-continue\r\n", chatBody), false, 50*time.Millisecond)
		})
		wg.Wait()
	}
	// Warm-up: the pools on both sides (the loop's, and the goroutines'
	// for what is handed over) grow to the concurrency of a round.
	for range 4 {
		round()
	}
	settle := func() int {
		time.Sleep(1500 * time.Millisecond) // timeouts and closes run their course
		return openFDs(t)
	}
	before := settle()
	rounds := 16
	if n, err := strconv.Atoi(os.Getenv("LOOPATTACK_ROUNDS")); err == nil {
		rounds = n // a longer run, by hand
	}
	for range rounds {
		round()
	}
	// The goroutines' pool keeps as many connections as the concurrency of
	// the moment needed (it closes none for age while idle): a few
	// descriptors either way, where a leak of one per round would show 16
	// or more.
	var after int
	ok := eventually(10*time.Second, func() bool { after = openFDs(t); return after <= before+12 })
	if !ok {
		ents, _ := os.ReadDir("/proc/self/fd")
		var kinds []string
		for _, en := range ents {
			l, _ := os.Readlink("/proc/self/fd/" + en.Name())
			kinds = append(kinds, l)
		}
		t.Fatalf("descriptors: %d after the warm-up, %d after %d more rounds: %v", before, after, rounds, kinds)
	}
	t.Logf("descriptors: %d after the warm-up, %d after %d more rounds", before, after, rounds)
}
