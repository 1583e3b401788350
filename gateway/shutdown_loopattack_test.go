//go:build linux

package gateway_test

import (
	"context"
	"errors"
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

// A Shutdown whose context ends before an exchange in flight is over
// returns the context's error; once that exchange is over the gateway
// holds nothing of its listener: the port is free again and a client that
// connects is refused, not left waiting on a socket nobody serves.
func TestLoopAttackShutdownPastItsDeadlineReleasesTheListener(t *testing.T) {
	for _, goroutines := range []bool{true, false} {
		t.Run(map[bool]string{true: "goroutines", false: "loop"}[goroutines], func(t *testing.T) {
			shutdownPastDeadline(t, goroutines)
		})
	}
}

func shutdownPastDeadline(t *testing.T, goroutines bool) {
	e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines })
	a := e.api("plain", false)
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
	arrived := make(chan struct{})
	var once sync.Once
	e.up.set(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived) })
		time.Sleep(time.Second)
		io.WriteString(w, "late")
	})
	addr := strings.TrimPrefix(e.gw, "http://")
	got := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest("GET", e.gw+"/plain/prod/x", nil)
		req.Header.Set("X-Api-Key", value)
		resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-arrived
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := e.srv.Gateway().Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Logf("Shutdown: %v", err)
	}
	t.Logf("the request in flight got %q", <-got)
	free := eventually(5*time.Second, func() bool {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		ln.Close()
		return true
	})
	if !free {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		t.Fatalf("5 s after the last exchange the gateway's port is still taken (a dial: %v)", err)
	}
}
