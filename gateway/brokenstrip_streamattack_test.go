//go:build linux

package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// saHijacked writes each piece on the hijacked connection, 50 ms apart,
// then closes it.
func saHijacked(raw ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		c, bw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		defer c.Close()
		for i, s := range raw {
			if i > 0 {
				time.Sleep(50 * time.Millisecond)
			}
			bw.WriteString(s)
			bw.Flush()
		}
	}
}

// A broken event stream whose usage the gateway asked for (so the usage
// filter holds back an event until its end): the client never gets it as
// a complete stream, gets the same bytes on both transports, and the
// exchange settles once.
func TestStreamAttackBrokenStrippedStream(t *testing.T) {
	ev := func(s string) string { return `data: {"choices":[{"delta":{"content":"` + s + `"}}]}` + "\n\n" }
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
	partial := `data: {"choices":[{"delta":{"content":"par`
	cases := map[string][]string{
		"cut mid-event":               {head + saChunk(ev("a")+ev("b")), saChunk(partial)},
		"bad size after partial":      {head + saChunk(ev("a")+partial), "zz\r\ngarbage\r\n0\r\n\r\n"},
		"missing crlf after partial":  {head + saChunk(ev("a")) + fmt.Sprintf("%x\r\n%sXX0\r\n\r\n", len(partial), partial)},
		"overlong line after partial": {head + saChunk(ev("a")+partial), "5" + strings.Repeat(";x", 3000) + "\r\nhello\r\n0\r\n\r\n"},
		"sized cut mid-event":         {"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 500\r\nConnection: close\r\n\r\n" + ev("a") + partial},
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			var got [2]string
			for i, noLoop := range []bool{true, false} {
				_, cl, addr, value, _ := saGateway(t, noLoop, time.Minute, saHijacked(raw...))
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				io.WriteString(c, saStreamReq(value))
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					c.Close()
					got[i] = "no response: " + err.Error()
					saWaitSettled(t, cl, 1)
					continue
				}
				body, err := io.ReadAll(resp.Body)
				c.Close()
				if err == nil {
					t.Errorf("noLoop=%v: a broken stream reached the client as complete: %q", noLoop, body)
				}
				if !strings.HasPrefix(string(body), ev("a")) || strings.Contains(string(body), "garbage") {
					t.Errorf("noLoop=%v: relayed %q", noLoop, body)
				}
				got[i] = string(body)
				saWaitSettled(t, cl, 1)
			}
			if got[0] != got[1] {
				t.Errorf("the client got different bytes:\n goroutines %q\n loop       %q", got[0], got[1])
			}
		})
	}
}

func saChunk(s string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(s), s) }

// A valid event stream the upstream sizes with Content-Length (under the
// buffering limit), whose usage chunk the gateway asked for: the caller
// gets every event but the usage chunk, as a complete answer, on both
// transports.
func TestStreamAttackSizedEventStreamWithStrippedUsage(t *testing.T) {
	events := `data: {"choices":[{"delta":{"content":"a"}}]}` + "\n\n" + saUsageEvent + "data: [DONE]\n\n"
	want := strings.Replace(events, saUsageEvent, "", 1)
	saTransports(t, func(t *testing.T, noLoop bool) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("Content-Length", fmt.Sprint(len(events)))
			io.WriteString(w, events[:40])
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond) // not whole at once
			io.WriteString(w, events[40:])
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
			t.Fatalf("no answer: %v", err)
		}
		body, err := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || err != nil || string(body) != want {
			t.Errorf("%d %q %v (Content-Length %d)", resp.StatusCode, body, err, resp.ContentLength)
		}
		saWaitSettled(t, cl, 1)
	})
}
