//go:build linux

package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// A request that arrives a byte at a time (header and body), and
// pipelined requests of every kind behind one another, some the loop
// hands over: each is answered once, in order, and the upstream sees
// exactly the requests and bodies sent.
func TestLoopAttackTinyWritesAndMixedPipelines(t *testing.T) {
	e := newEnv(t)
	a := e.api("echo", false)
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
	e.up.set(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		id := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		if strings.HasPrefix(id, "sse") {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "data: %s %d\n\n", id, len(b))
			return
		}
		fmt.Fprintf(w, "%s %d", id, len(b))
	})
	host := strings.TrimPrefix(e.gw, "http://")
	req := func(id, body, extra string) string {
		return fmt.Sprintf("POST /echo/prod/%s HTTP/1.1\r\nHost: gw\r\nX-Api-Key: %s\r\n%sContent-Length: %d\r\n\r\n%s", id, value, extra, len(body), body)
	}
	chunked := func(id, body string) string {
		return fmt.Sprintf("POST /echo/prod/%s HTTP/1.1\r\nHost: gw\r\nX-Api-Key: %s\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", id, value, len(body), body)
	}
	read := func(c net.Conn, br *bufio.Reader, want ...string) {
		t.Helper()
		for _, w := range want {
			c.SetDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("waiting for %q: %v", w, err)
			}
			b, _ := io.ReadAll(resp.Body)
			got := strings.TrimSuffix(strings.TrimPrefix(string(b), "data: "), "\n\n")
			if resp.StatusCode != 200 || got != w {
				t.Errorf("got %d %q, want %q", resp.StatusCode, b, w)
			}
		}
	}
	t.Run("byte by byte", func(t *testing.T) {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		body := strings.Repeat("z", 300)
		raw := req("one", body, "") + req("two", "", "")
		for i := range len(raw) {
			if _, err := c.Write([]byte{raw[i]}); err != nil {
				t.Fatal(err)
			}
			if i%16 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		read(c, bufio.NewReader(c), "one 300", "two 0")
	})
	t.Run("mixed pipeline", func(t *testing.T) {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		before := e.up.count()
		raw := req("a", "1", "") + req("sse1", "22", "") + req("b", "333", "") +
			chunked("c", "4444") + req("d", "", "Expect: 100-continue\r\n") + req("e", "55555", "")
		io.WriteString(c, raw)
		br := bufio.NewReader(c)
		read(c, br, "a 1", "sse1 2", "b 3", "c 4")
		// fasthttp answers the Expect with a 100 first.
		c.SetDeadline(time.Now().Add(10 * time.Second))
		line, _ := br.ReadString('\n')
		if strings.Contains(line, "100") {
			br.ReadString('\n')
		} else {
			t.Errorf("before d: %q", line)
		}
		read(c, br, "d 0", "e 5")
		if n := e.up.count() - before; n != 6 {
			t.Errorf("the upstream saw %d requests, want 6", n)
		}
	})
	t.Run("pipeline behind a whole hand-over", func(t *testing.T) {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		raw := chunked("f", "666666") + req("g", "7777777", "") + req("sse2", "88888888", "") + req("h", "", "")
		io.WriteString(c, raw)
		read(c, bufio.NewReader(c), "f 6", "g 7", "sse2 8", "h 0")
	})
}
