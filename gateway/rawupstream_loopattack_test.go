//go:build linux

package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// scriptUpstream reads requests on each connection in turn and answers
// each with the raw bytes script returns for its path (written in the
// pieces given, with a pause between them); "" closes the connection.
type scriptUpstream struct {
	url    string
	mu     sync.Mutex
	paths  []string
	conns  int
	script func(path string) []string
}

func newScriptUpstream(t *testing.T, script func(path string) []string) *scriptUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &scriptUpstream{url: "http://" + ln.Addr().String(), script: script}
	var open []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.mu.Lock()
			u.conns++
			open = append(open, c)
			u.mu.Unlock()
			go u.serve(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		u.mu.Lock()
		for _, c := range open {
			c.Close()
		}
		u.mu.Unlock()
	})
	return u
}

func (u *scriptUpstream) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		u.mu.Lock()
		u.paths = append(u.paths, req.Method+" "+req.URL.Path)
		u.mu.Unlock()
		parts := u.script(req.URL.Path)
		for i, p := range parts {
			if p == "" {
				return
			}
			if i > 0 {
				time.Sleep(30 * time.Millisecond)
			}
			if _, err := io.WriteString(c, p); err != nil {
				return
			}
		}
	}
}

func (u *scriptUpstream) seen() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.paths...)
}

// Bodiless answers that say otherwise (a HEAD answer or a 204 or 304 with
// a body), informational answers in pieces, and the like: each client
// gets its own answer, and the answer after gets its own too.
func TestLoopAttackBodilessAndInformationalAnswers(t *testing.T) {
	e := newEnv(t)
	okFor := func(p string) string {
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len("ok:"+p), "ok:"+p)
	}
	u := newScriptUpstream(t, func(p string) []string {
		switch p {
		case "/head-length":
			return []string{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Head: yes\r\n\r\n"}
		case "/head-with-body":
			return []string{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!"}
		case "/204-with-body":
			return []string{"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nEVIL!"}
		case "/304-with-body":
			return []string{"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nEVIL!"}
		case "/204-then-response":
			return []string{"HTTP/1.1 204 No Content\r\n\r\n" + okFor("/evil")}
		case "/continue-split":
			return []string{"HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", okFor(p)}
		case "/header-split":
			r := okFor(p)
			return []string{r[:10], r[10:30], r[30:]}
		case "/crlf-after-body":
			return []string{okFor(p) + "\r\n"}
		case "/close-after":
			return []string{okFor(p), ""}
		}
		return []string{okFor(p)}
	})
	a := e.api("raw", false, func(s *keyward.Stage) { s.UpstreamURL = u.url })
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
	host := strings.TrimPrefix(e.gw, "http://")
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	ask := func(method, p string) (*http.Response, string) {
		t.Helper()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "%s /raw/prod%s HTTP/1.1\r\nHost: gw\r\nX-Api-Key: %s\r\n\r\n", method, p, value)
		req, _ := http.NewRequest(method, "/", nil)
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, p, err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	normal := func(after string) {
		t.Helper()
		for i := range 2 {
			p := fmt.Sprintf("/after%d", i)
			if resp, b := ask("GET", p); resp.StatusCode != 200 || b != "ok:"+p {
				t.Errorf("after %s: %d %q", after, resp.StatusCode, b)
			}
		}
	}
	if resp, b := ask("HEAD", "/head-length"); resp.StatusCode != 200 || b != "" || resp.Header.Get("X-Head") != "yes" {
		t.Errorf("HEAD: %d %q %v", resp.StatusCode, b, resp.Header)
	}
	normal("a HEAD")
	if resp, b := ask("HEAD", "/head-with-body"); resp.StatusCode != 200 || b != "" {
		t.Errorf("HEAD answered with a body: %d %q", resp.StatusCode, b)
	}
	normal("a HEAD answered with a body")
	for _, p := range []string{"/204-with-body", "/304-with-body", "/204-then-response"} {
		resp, b := ask("GET", p)
		if b != "" {
			t.Errorf("%s: %d %q", p, resp.StatusCode, b)
		}
		normal(p)
	}
	for _, p := range []string{"/continue-split", "/header-split", "/crlf-after-body", "/close-after"} {
		if resp, b := ask("POST", p); resp.StatusCode != 200 || b != "ok:"+p {
			t.Errorf("%s: %d %q", p, resp.StatusCode, b)
		}
		normal(p)
	}
	for _, s := range u.seen() {
		if strings.Contains(s, "evil") {
			t.Errorf("the upstream saw %q", s)
		}
	}
}
