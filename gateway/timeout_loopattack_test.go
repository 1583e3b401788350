//go:build linux

package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
)

// The gateway's Timeout on the loop: a slow answer gets 504 about the
// timeout after the request, on a fresh connection and on a reused one,
// mid-body too; the requests pipelined behind it are served after it, in
// order.
func TestLoopAttackTimeoutsOnTheLoop(t *testing.T) {
	const timeout = 600 * time.Millisecond
	e := newEnv(t, func(c *server.Config) { c.GatewayTimeout = timeout })
	a := e.api("plain", false)
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
	e.up.set(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/slow"):
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
				return
			}
		case strings.HasSuffix(r.URL.Path, "/midbody"):
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "12345")
			w.(http.Flusher).Flush()
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, "ok:"+r.URL.Path)
	})
	get := func(p string) string {
		return fmt.Sprintf("GET /plain/prod%s HTTP/1.1\r\nHost: gw\r\nX-Api-Key: %s\r\n\r\n", p, value)
	}
	for round := range 2 { // the second round finds warm connections
		start := time.Now()
		rs := rawResponses(t, e, get("/slow")+get("/a")+get("/midbody")+get("/b"), 4)
		took := time.Since(start)
		var got []string
		for _, r := range rs {
			got = append(got, fmt.Sprintf("%d %s", r.StatusCode, bodyOf(r)))
		}
		want := []string{`504 {"message":"Gateway Timeout"}`, "200 ok:/a", `504 {"message":"Gateway Timeout"}`, "200 ok:/b"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("round %d: %q", round, got)
		}
		if took < 2*timeout || took > 2*timeout+2*time.Second {
			t.Errorf("round %d: two timeouts took %v", round, took)
		}
	}
}
