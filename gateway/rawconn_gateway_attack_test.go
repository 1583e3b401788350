//go:build linux

package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/changefeed"
)

// attackGateway serves a real gateway on loopback in front of upstreamURL
// (API "raw", not OpenAI-compatible, stage prod); tweak runs before Serve.
func attackGateway(t *testing.T, upstreamURL string, timeout time.Duration, tweak func(*Gateway)) (addr, key string) {
	t.Helper()
	hasher := testHasher(t)
	value, cred := currentValue(t, hasher, "key_1", "cred_1")
	snap := &keyward.DataPlaneSnapshot{
		APIs: []*keyward.API{{ID: "api_raw", Name: "raw", Stages: []keyward.Stage{{Name: "prod", UpstreamURL: upstreamURL}}}},
		Plans: []*keyward.UsagePlan{{ID: "plan_1", Name: "p", Throttle: &keyward.Throttle{RateLimit: 1e6, BurstLimit: 1e6},
			APIStages: []keyward.PlanStage{{APIID: "api_raw", Stage: "prod"}}}},
		Keys: []*keyward.APIKey{{ID: "key_1", Enabled: true, PlanIDs: []string{"plan_1"}, Credentials: []keyward.Credential{cred}}},
	}
	g, err := New(context.Background(), Config{Source: &fakeSource{snap}, Changes: &changefeed.Local{}, Hasher: hasher, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	if tweak != nil {
		tweak(g)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go g.Serve(context.Background(), ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
	return ln.Addr().String(), value
}

func httpUpstream(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// closedWithin reports whether the server ends c (EOF, reset or any
// error other than our own read timeout) within d, reading and discarding
// whatever it sends.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	if err == nil {
		return true // EOF
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

// Slowloris: a client that dribbles its request header one byte at a time
// is cut off by the server's read timeout through the wrapped conn.
func TestAttackSlowlorisHeaderIsTimedOut(t *testing.T) {
	up := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	addr, key := attackGateway(t, up, 10*time.Second, func(g *Gateway) { g.server.ReadTimeout = 300 * time.Millisecond })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := "GET /raw/prod/x HTTP/1.1\r\nHost: a\r\nX-Api-Key: " + key + "\r\nX-Pad: " + strings.Repeat("a", 200) + "\r\n\r\n"
	cut := make(chan struct{})
	go func() {
		defer close(cut)
		for i := 0; i < len(req)-2; i++ {
			if _, err := c.Write([]byte{req[i]}); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	if !closedWithin(c, 4*time.Second) {
		t.Fatal("a client dribbling its header for 4s was not timed out (ReadTimeout 300ms)")
	}
}

// Slowloris on the body: full header, Content-Length, body never comes.
func TestAttackSlowBodyIsTimedOut(t *testing.T) {
	up := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body); io.WriteString(w, "ok") })
	addr, key := attackGateway(t, up, 10*time.Second, func(g *Gateway) { g.server.ReadTimeout = 300 * time.Millisecond })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /raw/prod/x HTTP/1.1\r\nHost: a\r\nX-Api-Key: %s\r\nContent-Length: 1000\r\n\r\nabc", key)
	if !closedWithin(c, 4*time.Second) {
		t.Fatal("a client withholding its body for 4s was not timed out (ReadTimeout 300ms)")
	}
}

// A client that requests a big streamed response and never reads it does
// not pin the exchange: the write deadline (Config.Timeout) ends it and the
// upstream connection is let go.
func TestAttackNonReadingClientDoesNotPinStream(t *testing.T) {
	var upstreamDone atomic.Bool
	chunk := "data: " + strings.Repeat("x", 16<<10) + "\n\n"
	up := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		defer upstreamDone.Store(true)
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
			f.Flush()
			if r.Context().Err() != nil {
				return
			}
		}
	})
	addr, key := attackGateway(t, up, 1*time.Second, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(c, "GET /raw/prod/stream HTTP/1.1\r\nHost: a\r\nX-Api-Key: %s\r\n\r\n", key)
	// never read
	deadline := time.Now().Add(8 * time.Second)
	for !upstreamDone.Load() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !upstreamDone.Load() {
		t.Fatal("8s after a 1s timeout the gateway still holds the upstream stream for a client that does not read")
	}
}

// A client that goes away mid-stream is noticed: the upstream's request is
// cancelled soon after, though the gateway's timeout is long.
func TestAttackClientDisconnectMidStreamIsNoticed(t *testing.T) {
	cancelled := make(chan struct{})
	up := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(w, "data: %d\n\n", i); err != nil {
				break
			}
			f.Flush()
			select {
			case <-r.Context().Done():
				close(cancelled)
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		<-r.Context().Done()
		close(cancelled)
	})
	addr, key := attackGateway(t, up, time.Minute, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET /raw/prod/stream HTTP/1.1\r\nHost: a\r\nX-Api-Key: %s\r\n\r\n", key)
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "data: 2") {
			break
		}
	}
	c.Close()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("5s after the client left mid-stream the upstream stream is still relayed")
	}
}

// Events flow one by one: the upstream sends the next event only once the
// client has received the previous one through the gateway.
func TestAttackSSELockstep(t *testing.T) {
	ack := make(chan struct{})
	up := httpUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for i := range 5 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			f.Flush()
			select {
			case <-ack:
			case <-time.After(3 * time.Second):
				return
			}
		}
	})
	addr, key := attackGateway(t, up, time.Minute, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /raw/prod/stream HTTP/1.1\r\nHost: a\r\nX-Api-Key: %s\r\n\r\n", key)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for i := range 5 {
		want := fmt.Sprintf("data: %d", i)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("waiting for event %d: %v", i, err)
			}
			if strings.HasPrefix(line, want) {
				break
			}
		}
		ack <- struct{}{}
	}
}

// Upstream pool: an upstream that closes keep-alive connections shortly
// after answering (here 150 ms) must not make the next non-idempotent
// request fail once the connection sat idle past probeAfter (500 ms): the
// liveness probe (alive) should discard it and dial anew.
func TestAttackIdleUpstreamCloseIsProbed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")
				time.Sleep(150 * time.Millisecond) // keep-alive timeout of this upstream
			}(c)
		}
	}()
	addr, key := attackGateway(t, "http://"+ln.Addr().String(), 10*time.Second, nil)
	post := func() int {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /raw/prod/x HTTP/1.1\r\nHost: a\r\nX-Api-Key: %s\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", key)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := post(); s != 200 {
		t.Fatalf("first POST: %d", s)
	}
	time.Sleep(800 * time.Millisecond)
	if s := post(); s != 200 {
		t.Fatalf("POST on a pooled connection the upstream closed after 150ms idle, reused after 800ms: %d, want 200 (alive() should have caught it)", s)
	}
}
