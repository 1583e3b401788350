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
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/changefeed"
	"github.com/keyward/keyward/limit"
	"golang.org/x/sys/unix"
)

// During Shutdown a loop still finishes its exchanges in flight, and may
// open a socket for one of them (a GET retried after its reused upstream
// connection closed). Once the listening socket is closed, its descriptor
// number is free, and the kernel hands out the lowest free number: the
// loop must not take that socket's events for the listener's.
func TestLoopAttackRetryDuringShutdownOnTheListenersOldNumber(t *testing.T) {
	// The upstream: the first request on a connection is answered; the
	// second is read and the connection then closed unanswered (a clean
	// close: the gateway retries a GET on a new connection), which
	// answers "retried".
	uln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer uln.Close()
	second, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	go func() {
		for n := 0; ; n++ {
			c, err := uln.Accept()
			if err != nil {
				return
			}
			go func(first bool) {
				defer c.Close()
				br := bufio.NewReader(c)
				for i := 0; ; i++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					msg := "ok"
					if !first {
						msg = "retried"
					} else if i == 1 {
						once.Do(func() { close(second) })
						<-release
						return
					}
					fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(msg), msg)
				}
			}(n == 0)
		}
	}()

	hasher := testHasher(t)
	value, cred := currentValue(t, hasher, "key_1", "cred_1")
	snap := &keyward.DataPlaneSnapshot{
		APIs: []*keyward.API{{ID: "api_1", Name: "plain", Stages: []keyward.Stage{{Name: "prod", UpstreamURL: "http://" + uln.Addr().String()}}}},
		Keys: []*keyward.APIKey{{ID: "key_1", Enabled: true, StageKeys: []keyward.StageKey{{APIID: "api_1", Stage: "prod"}}, Credentials: []keyward.Credential{cred}}},
	}
	g, err := New(context.Background(), Config{Source: &fakeSource{snap}, Changes: &changefeed.Local{}, Hasher: hasher,
		Limiter: limit.NewLocal(nil), UsageFlushInterval: time.Hour, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go g.Serve(context.Background(), ln)
	for deadline := time.Now().Add(5 * time.Second); g.loops.Load() == nil && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	grp := g.loops.Load()
	if grp == nil {
		t.Fatal("no event loop")
	}
	lfd := grp.lfd

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	get := func(p string) {
		fmt.Fprintf(c, "GET /plain/prod/%s HTTP/1.1\r\nHost: gw\r\nX-Api-Key: %s\r\n\r\n", p, value)
	}
	get("a")
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first: %v %v", resp, err)
	} else {
		io.Copy(io.Discard, resp.Body)
	}
	get("b") // on the same upstream connection, which the upstream will close
	select {
	case <-second:
	case <-time.After(10 * time.Second):
		t.Fatal("the second request did not reach the upstream on the same connection")
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		shut <- g.Shutdown(ctx)
	}()
	// Wait for the listening socket to be closed, then take every free
	// number below it, so that its number is the lowest free one.
	closed := false
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := unix.FcntlInt(uintptr(lfd), unix.F_GETFD, 0); err == unix.EBADF {
			closed = true
			break
		}
	}
	if !closed {
		t.Skip("the listening socket stays open while exchanges finish: nothing to reuse its number")
	}
	var held []int
	defer func() {
		for _, fd := range held {
			unix.Close(fd)
		}
	}()
	for {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if fd < lfd {
			held = append(held, fd)
			continue
		}
		unix.Close(fd)
		if fd != lfd {
			t.Skipf("the listener's number %d was taken meanwhile", lfd)
		}
		break
	}
	close(release) // the upstream closes: the gateway retries the GET on a new socket
	start := time.Now()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "retried" {
		t.Errorf("the GET retried during Shutdown got %d %q after %v", resp.StatusCode, strings.TrimSpace(string(b)), time.Since(start))
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}
