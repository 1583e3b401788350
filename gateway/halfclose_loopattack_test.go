//go:build linux

package gateway_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
)

// A client may pipeline requests and half-close its side once it has
// sent the last (printf ... | nc, and TestRequestSmuggling's rawExchange):
// every request it sent is answered, as fasthttp answers them, not only
// the one being served when the loop saw the end of the stream.
func TestLoopAttackPipelinedRequestsBehindAHalfCloseAreAnswered(t *testing.T) {
	for _, goroutines := range []bool{true, false} {
		t.Run(map[bool]string{true: "goroutines", false: "loop"}[goroutines], func(t *testing.T) {
			pipelinedBehindHalfClose(t, goroutines)
		})
	}
}

func pipelinedBehindHalfClose(t *testing.T, goroutines bool) {
	e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines })
	a := e.api("plain", false)
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.up.set(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/first" {
			once.Do(func() { close(arrived) })
			<-release
		}
		io.WriteString(w, "ok"+r.URL.Path)
	})
	get := func(p string) string {
		return "GET /plain/prod/" + p + " HTTP/1.1\r\nHost: gw\r\nX-Api-Key: " + value + "\r\n\r\n"
	}
	c, err := net.Dial("tcp", strings.TrimPrefix(e.gw, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	io.WriteString(c, get("first"))
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the first request did not reach the upstream")
	}
	io.WriteString(c, get("second")+get("third"))
	c.(*net.TCPConn).CloseWrite()
	time.Sleep(500 * time.Millisecond) // the gateway sees the end of the stream meanwhile
	close(release)
	all, _ := io.ReadAll(c)
	br := bufio.NewReader(bytes.NewReader(all))
	var bodies []string
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		b, _ := io.ReadAll(resp.Body)
		bodies = append(bodies, string(b))
	}
	if strings.Join(bodies, ",") != "ok/first,ok/second,ok/third" {
		t.Fatalf("answers %q, want all three", bodies)
	}
}
