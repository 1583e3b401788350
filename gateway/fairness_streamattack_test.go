package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
)

// A fast, long stream to a fast client must not hold up the gateway's
// other clients. The review found the loop relaying such a stream without
// ever going back to its other sockets: small requests waited until the
// stream ended. Here the streams last until the small requests have been
// answered (or 20 s, the fail-safe): a small request answered only after
// a stream ended is the bug, whatever the machine's speed. The gateway
// starts with one loop, so the streams and the small requests share it,
// and then runs on more processors, so the upstream writes while the loop
// reads.
func TestStreamAttackLongFastStreamDoesNotStarveOthers(t *testing.T) {
	old := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(old)
	transports(t, func(t *testing.T, goroutines bool) {
		runtime.GOMAXPROCS(1)
		e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines })
		a := e.api("plain", false)
		_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
		if r := e.call("GET", "/plain/prod/small", value, ""); r.status != 200 { // the loop is up
			t.Fatalf("%d", r.status)
		}
		runtime.GOMAXPROCS(max(4, old))
		block := []byte(strings.Repeat("b", 256<<10))
		var smallDone, streamEnded atomic.Bool
		var relayed atomic.Int64
		e.up.set(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/big") {
				io.WriteString(w, "small")
				return
			}
			defer streamEnded.Store(true)
			w.Header().Set("Content-Length", fmt.Sprint(64<<30))
			for start := time.Now(); time.Since(start) < 20*time.Second && !smallDone.Load(); {
				if _, err := w.Write(block); err != nil {
					return
				}
			}
		})
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		for range 2 {
			go func() {
				req, _ := http.NewRequest("GET", e.gw+"/plain/prod/big", nil)
				req.Header.Set("X-Api-Key", value)
				resp, err := (&http.Client{Transport: tr}).Do(req)
				if err != nil {
					return
				}
				defer resp.Body.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := resp.Body.Read(buf)
					relayed.Add(int64(n))
					if err != nil {
						return
					}
				}
			}()
		}
		for relayed.Load() < 8<<20 { // the streams are running
			if streamEnded.Load() {
				t.Fatal("a stream ended before it got going")
			}
			time.Sleep(10 * time.Millisecond)
		}
		for i := range 5 {
			req, _ := http.NewRequest("GET", e.gw+"/plain/prod/small", nil)
			req.Header.Set("X-Api-Key", value)
			req.Close = true
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "small" {
				t.Fatalf("%d %q", resp.StatusCode, b)
			}
			if streamEnded.Load() {
				t.Fatalf("small request %d was answered only after a stream ended: the stream held up the loop", i)
			}
		}
		smallDone.Store(true)
	})
}
