//go:build linux

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
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// echoUpstream answers each request with its own id (the last path
// segment) in a form the id's kind selects: buffered JSON, an event
// stream, a chunked body, a body larger than the loop buffers, a 1xx
// before the answer, a 204, or an answer that closes the connection.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	id := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	kind := id[:strings.Index(id, "-")]
	switch kind {
	case "json":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%q}`, id)
	case "sse":
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: {\"id\":%q,\"n\":%d}\n\n", id, i)
			w.(http.Flusher).Flush()
		}
	case "chunked":
		io.WriteString(w, "id=")
		w.(http.Flusher).Flush()
		io.WriteString(w, id)
	case "big":
		w.Header().Set("Content-Length", fmt.Sprint(900<<10))
		pad := bytes.Repeat([]byte{'.'}, 900<<10)
		copy(pad, id)
		w.Write(pad)
	case "huge":
		w.Header().Set("Content-Length", fmt.Sprint(1200<<10))
		pad := bytes.Repeat([]byte{'.'}, 1200<<10)
		copy(pad, id)
		w.Write(pad)
	case "early":
		w.Header().Add("Link", "</x>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, id)
	case "close":
		w.Header().Set("Connection", "close")
		io.WriteString(w, id)
	case "nocontent":
		w.Header().Set("X-Id", id)
		w.WriteHeader(http.StatusNoContent)
	default:
		io.WriteString(w, id)
	}
}

var echoKinds = []string{"json", "sse", "chunked", "big", "huge", "early", "close", "nocontent", "plain"}

// checkEcho reports whether resp (with body b) answers id.
func checkEcho(id string, resp *http.Response, b []byte) error {
	if resp.StatusCode == http.StatusNoContent {
		if resp.Header.Get("X-Id") != id {
			return fmt.Errorf("204 for %s carries X-Id %q", id, resp.Header.Get("X-Id"))
		}
		return nil
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: status %d %.80q", id, resp.StatusCode, b)
	}
	if !bytes.Contains(b, []byte(id)) {
		return fmt.Errorf("%s: answered with %.80q", id, b)
	}
	if n := bytes.Count(b, []byte("-")); strings.HasPrefix(id, "sse") && n != 3 || !strings.HasPrefix(id, "sse") && n != 1 {
		return fmt.Errorf("%s: %d ids in %.80q", id, n, b)
	}
	return nil
}

// Many clients at once, each pipelining or not, on answers of every
// kind: every answer is its own request's, whole and in order; nothing
// of one exchange reaches another.
func TestLoopAttackNoCrossTalkUnderLoad(t *testing.T) {
	e := newEnv(t)
	a := e.api("echo", false)
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
	e.up.set(echoHandler)
	addr := strings.TrimPrefix(e.gw, "http://")
	const clients, perClient = 24, 12
	var wg sync.WaitGroup
	errs := make(chan error, clients*perClient)
	for ci := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(ci), 7))
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer func() { c.Close() }()
			br := bufio.NewReader(c)
			for sent := 0; sent < perClient; {
				// A burst of 1 to 4 pipelined requests, written in pieces
				// of random sizes.
				var ids []string
				var raw bytes.Buffer
				for range 1 + rnd.IntN(4) {
					id := fmt.Sprintf("%s-%d.%d", echoKinds[rnd.IntN(len(echoKinds))], ci, sent)
					sent++
					ids = append(ids, id)
					body := ""
					if rnd.IntN(2) == 0 {
						body = strings.Repeat("b", rnd.IntN(3000))
					}
					fmt.Fprintf(&raw, "POST /echo/prod/%s HTTP/1.1\r\nHost: gw\r\nX-Api-Key: %s\r\nContent-Length: %d\r\n\r\n%s", id, value, len(body), body)
					if strings.HasPrefix(id, "close") {
						break
					}
				}
				c.SetDeadline(time.Now().Add(20 * time.Second))
				var pieces [][]byte
				for p := raw.Bytes(); len(p) > 0; {
					n := min(len(p), 1+rnd.IntN(700))
					pieces, p = append(pieces, p[:n]), p[n:]
				}
				go func(pieces [][]byte, c net.Conn) {
					for _, p := range pieces {
						if _, err := c.Write(p); err != nil {
							return
						}
					}
				}(pieces, c)
				if rnd.IntN(4) == 0 {
					time.Sleep(50 * time.Millisecond) // a slow reader now and then
				}
				for _, id := range ids {
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						errs <- fmt.Errorf("%s: %v", id, err)
						return
					}
					b, err := io.ReadAll(resp.Body)
					if err != nil {
						errs <- fmt.Errorf("%s: body: %v", id, err)
						return
					}
					if err := checkEcho(id, resp, b); err != nil {
						errs <- err
					}
				}
				if strings.HasPrefix(ids[len(ids)-1], "close") {
					// The upstream's close is its own hop's: the client's
					// connection stays; a fresh one is used anyway.
					c.Close()
					if c, err = net.Dial("tcp", addr); err != nil {
						errs <- err
						return
					}
					br = bufio.NewReader(c)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 10 {
			t.Error(err)
		}
	}
	if n > 10 {
		t.Errorf("... %d errors in all", n)
	}
}
