//go:build linux

package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
)

// An idle keep-alive connection does not keep the last request it
// carried: after one large upload each, many idle connections hold about
// what they would hold under the goroutine server, not a copy of each
// upload (the loop's buffer of the request as sent upstream).
func TestLoopAttackIdleConnectionsDoNotKeepTheirLastUpload(t *testing.T) {
	per := map[bool]float64{}
	for _, goroutines := range []bool{true, false} {
		t.Run(map[bool]string{true: "goroutines", false: "loop"}[goroutines], func(t *testing.T) {
			per[goroutines] = heapPerIdleUploader(t, goroutines)
		})
	}
	t.Logf("heap per idle connection after a 4 MiB upload: %.1f MiB with goroutines, %.1f MiB with the loop", per[true]/(1<<20), per[false]/(1<<20))
	if per[false] > per[true]+1<<20 {
		t.Errorf("an idle connection on the loop holds %.1f MiB more than on the goroutine server", (per[false]-per[true])/(1<<20))
	}
}

func heapPerIdleUploader(t *testing.T, goroutines bool) float64 {
	const conns, size = 16, 4 << 20
	e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines })
	a := e.api("up", false, func(s *keyward.Stage) { s.UpstreamURL = okUpstream(t) })
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
	addr := strings.TrimPrefix(e.gw, "http://")
	head := fmt.Sprintf("POST /up/prod/x HTTP/1.1\r\nHost: gw\r\nX-Api-Key: %s\r\nContent-Length: %d\r\n\r\n", value, size)
	body := strings.Repeat("u", size)
	upload := func(c net.Conn) {
		c.SetDeadline(time.Now().Add(20 * time.Second))
		io.WriteString(c, head)
		io.WriteString(c, body)
		resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("upload: %v %v", resp, err)
		}
		io.Copy(io.Discard, resp.Body)
	}
	// Warm up: the pools and buffers a busy gateway keeps anyway.
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		upload(c)
		c.Close()
	}
	heap := func() uint64 {
		time.Sleep(100 * time.Millisecond)
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	var open []net.Conn
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
		upload(c)
	}
	after := heap()
	runtime.KeepAlive(open)
	for _, c := range open {
		c.Close()
	}
	return (float64(after) - float64(before)) / conns
}
