//go:build linux && !race

package gateway

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sys/unix"
)

// An exchange the event loop serves allocates nothing: the client's read,
// routing, key check, limits, the request upstream, the response's parse,
// its usage and the answer. The test steps one loop by hand with a client
// on a raw socket, so that only the loop (and the zero-allocation upstream)
// run in the process. (Built without -race, whose instrumentation
// allocates.)
func TestLoopExchangeNoAllocs(t *testing.T) {
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upBody := []byte(`{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":40,"completion_tokens":17,"total_tokens":57}}`)
	up := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(upBody)
	}}
	go up.Serve(upLn)
	defer up.Shutdown()
	g, value := hotPathGateway(t, "http://"+upLn.Addr().String())

	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	grp, err := g.newLoopGroup(ln)
	if err != nil {
		t.Fatal(err)
	}
	defer grp.close()
	l := grp.loops[0]
	for _, other := range grp.loops[1:] {
		unix.EpollCtl(other.epfd, unix.EPOLL_CTL_DEL, grp.lfd, nil) // only l accepts
	}

	cfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(cfd)
	port := ln.Addr().(*net.TCPAddr).Port
	if err := unix.Connect(cfd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	unix.SetNonblock(cfd, true)
	req := []byte(fmt.Sprintf("POST /chat/prod/v1/chat/completions HTTP/1.1\r\nHost: gw\r\nX-Api-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", value, len(benchBody), benchBody))
	buf := make([]byte, 64<<10)
	// exchange sends the request and steps the loop until want bytes of
	// answer came back (want 0: until the answer is whole, once).
	exchange := func(want int) []byte {
		if _, err := unix.Write(cfd, req); err != nil {
			t.Fatal(err)
		}
		got := 0
		deadline := time.Now().Add(10 * time.Second)
		for {
			if n, e := rawRead(cfd, buf[got:]); n > 0 {
				got += n
			} else if e != 0 && e != unix.EAGAIN {
				t.Fatalf("client read: %v", e)
			}
			if want > 0 && got >= want {
				return buf[:got]
			}
			if want == 0 {
				if end := bytes.Index(buf[:got], []byte("\r\n\r\n")); end >= 0 {
					var h fasthttp.ResponseHeader
					if h.Read(bufioOf(buf[:end+4])) == nil && got >= end+4+h.ContentLength() {
						return buf[:got]
					}
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no whole answer after 10 s: %q", buf[:got])
			}
			l.ef.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			n, _ := l.wait()
			l.now = time.Now()
			l.dispatch(n)
		}
	}
	first := exchange(0)
	if !bytes.HasPrefix(first, []byte("HTTP/1.1 200 ")) || !bytes.HasSuffix(first, upBody) {
		t.Fatalf("first answer %q", first)
	}
	for range 20 {
		exchange(len(first)) // warm the pools
	}
	allocs := testing.AllocsPerRun(200, func() { exchange(len(first)) })
	if allocs != 0 {
		t.Fatalf("an exchange through the loop allocates %.1f times", allocs)
	}
	if n := grp.handoffs.Load(); n != 0 {
		t.Fatalf("%d hand-overs: the loop did not serve the exchange itself", n)
	}
}

func bufioOf(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }
