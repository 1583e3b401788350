//go:build linux

package gateway

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
)

// saRawEvents answers with an event stream framed as wire, written in
// random pieces with random short pauses, then closes the connection. It
// records the request bodies it got.
type saRawEvents struct {
	mu     sync.Mutex
	wire   []byte
	seed   uint64
	bodies []string
	heads  []string
}

func (s *saRawEvents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var hb bytes.Buffer
	r.Header.Write(&hb)
	s.mu.Lock()
	s.bodies = append(s.bodies, string(b))
	s.heads = append(s.heads, hb.String())
	wire, seed := s.wire, s.seed
	s.mu.Unlock()
	c, bw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(seed, 11))
	for p := wire; len(p) > 0; {
		n := min(len(p), 1+rng.IntN(40))
		if rng.IntN(5) == 0 {
			n = min(len(p), 1+rng.IntN(3000))
		}
		bw.Write(p[:n])
		bw.Flush()
		p = p[n:]
		if rng.IntN(3) == 0 {
			time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
		}
	}
}

// When the gateway asks for usage on the caller's behalf, the usage chunk
// is taken out of what the caller gets and nothing else is: the rest of
// the stream arrives byte for byte, whatever the line endings, chunk
// sizes and splits, on both transports; and the exchange settles once to
// the usage the upstream reported.
func TestStreamAttackUsageStripKeepsTheRestIntact(t *testing.T) {
	saTransports(t, func(t *testing.T, noLoop bool) {
		up := &saRawEvents{}
		_, cl, addr, value, _ := saGateway(t, noLoop, time.Minute, up)
		n := 0
		for seed := uint64(1); seed <= 12; seed++ {
			rng := rand.New(rand.NewPCG(seed, 5))
			eol := []string{"\n", "\r\n", "\r"}[seed%3]
			var events []string
			for i := range 5 + rng.IntN(200) {
				ev := fmt.Sprintf(`data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"%s"}}]}`, strings.Repeat("x", rng.IntN(300))) + eol
				if i%7 == 3 {
					ev = ": keep-alive" + eol + ev
				}
				events = append(events, ev+eol)
			}
			usage := strings.ReplaceAll(saUsageEvent, "\n", eol)
			done := "data: [DONE]" + eol + eol
			stream := strings.Join(events, "") + usage + done
			want := strings.Join(events, "") + done
			var wire bytes.Buffer
			wire.WriteString("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
			for p := stream; len(p) > 0; {
				k := min(len(p), 1+rng.IntN(500))
				fmt.Fprintf(&wire, "%x\r\n%s\r\n", k, p[:k])
				p = p[k:]
			}
			wire.WriteString("0\r\n\r\n")
			up.mu.Lock()
			up.wire, up.seed = wire.Bytes(), seed
			up.mu.Unlock()

			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, saStreamReq(value))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			c.Close()
			n++
			if resp.StatusCode != 200 || err != nil || string(got) != want {
				t.Fatalf("seed %d (eol %q): %d %v: got %d bytes, want %d; first difference at %d: got %q want %q", seed, eol, resp.StatusCode, err,
					len(got), len(want), firstDiffS(string(got), want), tailAt(string(got), firstDiffS(string(got), want)), tailAt(want, firstDiffS(string(got), want)))
			}
			if strings.Contains(string(got), `"usage"`) {
				t.Fatalf("seed %d: the usage chunk reached the caller", seed)
			}
			saWaitSettled(t, cl, n)
			if _, _, _, _, tokens, _ := cl.state(); tokens != 7 {
				t.Fatalf("seed %d: settled %d tokens, want 7", seed, tokens)
			}
		}
		up.mu.Lock()
		defer up.mu.Unlock()
		for i, b := range up.bodies {
			if !strings.Contains(b, `"include_usage":true`) {
				t.Errorf("request %d went upstream without asking for usage: %s", i, b)
			}
			if strings.Contains(b, value) || strings.Contains(up.heads[i], value) {
				t.Errorf("request %d carried the caller's key upstream", i)
			}
		}
	})
}

func firstDiffS(a, b string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func tailAt(s string, i int) string { return s[max(0, i-20):min(len(s), i+40)] }

// An event stream without framing (it ends when the upstream closes),
// whose usage the gateway asked for: the caller gets every event but the
// usage chunk, complete, and the exchange settles to the reported usage.
func TestStreamAttackUnsizedStrippedStream(t *testing.T) {
	saTransports(t, func(t *testing.T, noLoop bool) {
		up := &saRawEvents{}
		_, cl, addr, value, _ := saGateway(t, noLoop, time.Minute, up)
		stream := saEvent(0) + saEvent(1) + saUsageEvent + "data: [DONE]\n\n"
		up.wire = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n" + stream)
		up.seed = 3
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, saStreamReq(value))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		want := saEvent(0) + saEvent(1) + "data: [DONE]\n\n"
		if resp.StatusCode != 200 || err != nil || string(got) != want {
			t.Errorf("%d %v %q", resp.StatusCode, err, got)
		}
		saWaitSettled(t, cl, 1)
		if _, _, _, _, tokens, _ := cl.state(); tokens != 7 {
			t.Errorf("settled %d tokens, want 7", tokens)
		}
	})
}

// Media types are case-insensitive (RFC 9110 section 8.3.1): an upstream
// that labels its event stream "Text/Event-Stream" still sends an event
// stream, with the usage chunk the gateway asked for on the caller's
// behalf; the caller must not get it, and the exchange settles to it.
func TestStreamAttackStripWithMixedCaseContentType(t *testing.T) {
	saTransports(t, func(t *testing.T, noLoop bool) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "Text/Event-Stream; charset=utf-8")
			io.WriteString(w, saEvent(0))
			w.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
			io.WriteString(w, saUsageEvent+"data: [DONE]\n\n")
		})
		_, cl, addr, value, _ := saGateway(t, noLoop, time.Minute, h)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, saStreamReq(value))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		if want := saEvent(0) + "data: [DONE]\n\n"; err != nil || string(got) != want {
			t.Errorf("the caller got %q (%v), want the stream without the usage chunk", got, err)
		}
		saWaitSettled(t, cl, 1)
		if _, _, _, _, tokens, _ := cl.state(); tokens != 7 {
			t.Errorf("settled %d tokens, want the 7 the stream reported", tokens)
		}
	})
}
