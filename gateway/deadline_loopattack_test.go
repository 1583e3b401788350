//go:build linux

package gateway_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
)

// An exchange on a freshly dialed upstream connection is bounded by the
// gateway's Timeout (default 10 minutes), not by the 5 s dial timeout: an
// LLM that takes 6 s to answer a completion is answered, not 504.
func TestLoopAttackSlowAnswerOnAFreshConnectionIsNotCutAtTheDialTimeout(t *testing.T) {
	for _, goroutines := range []bool{true, false} {
		t.Run(map[bool]string{true: "goroutines", false: "loop"}[goroutines], func(t *testing.T) {
			slowAnswerOnFreshConnection(t, goroutines)
		})
	}
}

func slowAnswerOnFreshConnection(t *testing.T, goroutines bool) {
	e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines }) // GatewayTimeout: the default 10 min
	a := e.api("chat", true)
	_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
	e.up.set(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(6500 * time.Millisecond)
		chatHandler(w, r)
	})
	start := time.Now()
	r := e.call("POST", "/chat/prod/v1/chat/completions", value, chatBody)
	if r.status != 200 || r.body != completion {
		t.Fatalf("a 6.5 s answer under a 10 min timeout: %d %q after %v", r.status, r.body, time.Since(start))
	}
}
