//go:build linux

package gateway_test

import (
	"fmt"
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

// An upstream that closes idle keep-alive connections quickly (as
// uvicorn and Node do after 5 s; here after 30 ms, raced on purpose):
// a POST is never executed twice, whatever the timing; how many callers
// get a 502 is logged beside the goroutine server's figure.
func TestLoopAttackUpstreamClosingIdleConnectionsNeverDoublesAPost(t *testing.T) {
	for _, goroutines := range []bool{true, false} {
		t.Run(map[bool]string{true: "goroutines", false: "loop"}[goroutines], func(t *testing.T) {
			e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines })
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			seen := map[string]int{}
			srv := &http.Server{IdleTimeout: 30 * time.Millisecond, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				mu.Lock()
				seen[r.Method+" "+r.URL.Path]++
				mu.Unlock()
				io.WriteString(w, "done")
			})}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
			a := e.api("up", false, func(s *keyward.Stage) { s.UpstreamURL = "http://" + ln.Addr().String() })
			_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
			statuses := map[int]int{}
			var smu sync.Mutex
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tr := &http.Transport{}
					defer tr.CloseIdleConnections()
					client := &http.Client{Transport: tr}
					for i := range 60 {
						time.Sleep(time.Duration(20+(i*7+w*3)%20) * time.Millisecond) // around the upstream's idle timeout
						req, _ := http.NewRequest("POST", fmt.Sprintf("%s/up/prod/p%d-%d", e.gw, w, i), strings.NewReader("x"))
						req.Header.Set("X-Api-Key", value)
						resp, err := client.Do(req)
						if err != nil {
							t.Error(err)
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						smu.Lock()
						statuses[resp.StatusCode]++
						smu.Unlock()
					}
				}()
			}
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			for k, n := range seen {
				if n > 1 {
					t.Errorf("%s executed %d times", k, n)
				}
			}
			t.Logf("statuses %v; the upstream executed %d POSTs", statuses, len(seen))
		})
	}
}
