//go:build linux

package gateway_test

import (
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
	"golang.org/x/sys/unix"
)

// Out of descriptors: the loop stops accepting until some are free
// again, rather than spin or drop what it accepted; every client queued
// meanwhile is answered (200, or 502 when the upstream could not be
// dialed), and once descriptors are back the gateway serves as before.
func TestLoopAttackOutOfDescriptors(t *testing.T) {
	// The upstream here shares the process's descriptors: an exchange
	// waiting for it to accept ends at the timeout.
	e := newEnv(t, func(c *server.Config) { c.GatewayTimeout = 3 * time.Second })
	uln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	usrv := &http.Server{ErrorLog: log.New(io.Discard, "", 0), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})}
	go usrv.Serve(uln)
	t.Cleanup(func() { usrv.Close() })
	a := e.api("plain", false, func(s *keyward.Stage) { s.UpstreamURL = "http://" + uln.Addr().String() })
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
	if r := e.call("GET", "/plain/prod/warm", value, ""); r.status != 200 {
		t.Fatalf("warm-up: %d", r.status)
	}
	addr := net.ParseIP("127.0.0.1").To4()
	_, portStr, _ := net.SplitHostPort(strings.TrimPrefix(e.gw, "http://"))
	port := 0
	for _, ch := range portStr {
		port = port*10 + int(ch-'0')
	}
	// The clients' sockets exist before the limit is lowered.
	const clients = 30
	fds := make([]int, clients)
	for i := range fds {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds[i] = fd
		tv := unix.Timeval{Sec: 30}
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		defer unix.Close(fd)
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	open := openFDs(t)
	low := old
	low.Cur = uint64(open + 12)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal("cannot lower RLIMIT_NOFILE:", err)
	}
	restored := false
	restore := func() {
		if !restored {
			syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)
			restored = true
		}
	}
	defer restore()
	req := []byte("GET /plain/prod/x HTTP/1.1\r\nHost: gw\r\nX-Api-Key: " + value + "\r\nConnection: close\r\n\r\n")
	answers := make([]string, clients)
	var wg sync.WaitGroup
	for i, fd := range fds {
		if err := unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte(addr)}); err != nil {
			t.Fatalf("connect %d: %v", i, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			unix.Write(fd, req)
			var all []byte
			buf := make([]byte, 4096)
			for {
				n, err := unix.Read(fd, buf)
				if n <= 0 || err != nil {
					break
				}
				all = append(all, buf[:n]...)
			}
			answers[i] = string(all)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(40 * time.Second):
		restore()
		t.Fatal("clients still waiting 40 s on")
	}
	restore()
	counts := map[string]int{}
	for _, a := range answers {
		line, _, _ := strings.Cut(a, "\r\n")
		counts[line]++
	}
	t.Logf("answers under descriptor pressure: %v", counts)
	for line, n := range counts {
		// 504: the upstream here shares the process's descriptors, and
		// could not accept the gateway's connection in time.
		if !strings.HasPrefix(line, "HTTP/1.1 200") && !strings.HasPrefix(line, "HTTP/1.1 502") && !strings.HasPrefix(line, "HTTP/1.1 504") {
			t.Errorf("%d clients got %q", n, line)
		}
	}
	if r := e.call("GET", "/plain/prod/after", value, ""); r.status != 200 {
		t.Errorf("after the pressure: %d", r.status)
	}
}
