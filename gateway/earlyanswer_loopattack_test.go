//go:build linux

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

// fullDuplexUpstream answers with an event stream whose header it sends
// at once, before reading the request body (HTTP/1.1 allows a server to
// answer early; Go's net/http does it with EnableFullDuplex), then reads
// the body and reports its size in the stream.
func fullDuplexUpstream(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		rc.EnableFullDuplex()
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		rc.Flush()
		time.Sleep(300 * time.Millisecond) // the gateway has the header before any of the body is read
		n, err := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "data: {\"got\":%d,\"err\":%q}\n\ndata: [DONE]\n\n", n, fmt.Sprint(err))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// An upstream that starts its answer (a stream) before it has read the
// whole request still gets the whole request: the gateway does not stop
// writing the body once the response header has come.
func TestLoopAttackEarlyStreamedAnswerStillGetsTheWholeBody(t *testing.T) {
	for _, goroutines := range []bool{true, false} {
		t.Run(map[bool]string{true: "goroutines", false: "loop"}[goroutines], func(t *testing.T) {
			const size = 12 << 20 // more than the socket buffers hold
			e := newEnv(t, func(c *server.Config) {
				c.GatewayGoroutines = goroutines
				c.GatewayMaxBody = 32 << 20
				c.GatewayTimeout = 5 * time.Second
			})
			u := fullDuplexUpstream(t)
			a := e.api("up", false, func(s *keyward.Stage) { s.UpstreamURL = u })
			_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
			body := bytes.Repeat([]byte("x"), size)
			req, _ := http.NewRequest("POST", e.gw+"/up/prod/upload", bytes.NewReader(body))
			req.Header.Set("X-Api-Key", value)
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := fmt.Sprintf("data: {\"got\":%d,", size)
			if resp.StatusCode != 200 || !strings.HasPrefix(string(got), want) {
				t.Fatalf("after %v: %d %q (%v); want the upstream to have read all %d bytes", time.Since(start), resp.StatusCode, got, rerr, size)
			}
		})
	}
}

// earlyUpstream is a strict HTTP/1.1 server on raw sockets: to a request
// for /early it sends a whole (chunked) answer before reading the body,
// then reads the body as Content-Length says (as servers that keep the
// connection must); any other request it reads whole and answers
// "ok:<path>". It records each request's path and body.
type earlyUpstream struct {
	url  string
	mu   chan struct{}
	seen []seenReq
}

type seenReq struct {
	path string
	body []byte
}

func newEarlyUpstream(t *testing.T) *earlyUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &earlyUpstream{url: "http://" + ln.Addr().String(), mu: make(chan struct{}, 1)}
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.mu <- struct{}{}
			conns = append(conns, c)
			<-u.mu
			go u.serve(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		u.mu <- struct{}{}
		for _, c := range conns {
			c.Close()
		}
		<-u.mu
	})
	return u
}

func (u *earlyUpstream) serve(c net.Conn) {
	defer c.Close()
	br := bufioReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if strings.HasSuffix(req.URL.Path, "/early") {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"+chunk("data: early\n\n")+"0\r\n\r\n")
			time.Sleep(300 * time.Millisecond) // the gateway has the answer before any of the body is read
		}
		// The body as it arrives, recorded as it goes.
		u.mu <- struct{}{}
		i := len(u.seen)
		u.seen = append(u.seen, seenReq{path: req.URL.Path})
		<-u.mu
		var buf [32 << 10]byte
		for {
			n, rerr := req.Body.Read(buf[:])
			u.mu <- struct{}{}
			u.seen[i].body = append(u.seen[i].body, buf[:n]...)
			<-u.mu
			if rerr != nil {
				if rerr != io.EOF {
					err = rerr
				}
				break
			}
		}
		if err != nil {
			return
		}
		if !strings.HasSuffix(req.URL.Path, "/early") {
			msg := "ok:" + req.URL.Path
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(msg), msg)
		}
	}
}

func (u *earlyUpstream) requests() []seenReq {
	u.mu <- struct{}{}
	defer func() { <-u.mu }()
	return append([]seenReq(nil), u.seen...)
}

// After an upstream answered a stream early, before the gateway had
// written the whole request, the connection is out of step (the upstream
// still waits for the rest of that body): it must not carry another
// client's request, which would be read as the end of the first one's
// body.
func TestLoopAttackEarlyAnswerDoesNotPoolAConnectionOwedABody(t *testing.T) {
	for _, goroutines := range []bool{true, false} {
		t.Run(map[bool]string{true: "goroutines", false: "loop"}[goroutines], func(t *testing.T) {
			earlyAnswerThenAnotherCaller(t, goroutines)
		})
	}
}

func earlyAnswerThenAnotherCaller(t *testing.T, goroutines bool) {
	const size = 12 << 20
	e := newEnv(t, func(c *server.Config) {
		c.GatewayGoroutines = goroutines
		c.GatewayMaxBody = 32 << 20
		c.GatewayTimeout = 3 * time.Second
	})
	u := newEarlyUpstream(t)
	a := e.api("up", false, func(s *keyward.Stage) { s.UpstreamURL = u.url })
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})

	// Caller A: a large upload the upstream answers early.
	req, _ := http.NewRequest("POST", e.gw+"/up/prod/early", bytes.NewReader(bytes.Repeat([]byte("a"), size)))
	req.Header.Set("X-Api-Key", value)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("caller A: %d %q", resp.StatusCode, got)

	// Caller B, on its own connection, with a chunked body (as many
	// clients send a body of unknown length): served by fasthttp's side.
	const secret = "caller-B-private-prompt"
	reqB, _ := http.NewRequest("POST", e.gw+"/up/prod/b", io.NopCloser(strings.NewReader(secret)))
	reqB.Header.Set("X-Api-Key", value)
	client := &http.Client{Transport: &http.Transport{}}
	respB, err := client.Do(reqB)
	if err != nil {
		t.Fatal(err)
	}
	gotB, _ := io.ReadAll(respB.Body)
	respB.Body.Close()
	time.Sleep(200 * time.Millisecond) // let the upstream record what it read
	for _, r := range u.requests() {
		if r.path != "/b" && bytes.Contains(r.body, []byte(secret)) {
			t.Errorf("caller B's request went upstream inside the body of %s (%d bytes)", r.path, len(r.body))
		}
	}
	if respB.StatusCode != 200 || string(gotB) != "ok:/b" {
		t.Fatalf("caller B got %d %q", respB.StatusCode, gotB)
	}
}

func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReaderSize(c, 64<<10) }
