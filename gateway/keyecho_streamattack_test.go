package gateway_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
)

// An upstream that streams back everything it got (request line, headers,
// body) as events: the caller's key appears nowhere in it, nor anywhere
// in the answer, on both transports, with and without usage stripping.
func TestStreamAttackKeyNeverEchoedThroughAStream(t *testing.T) {
	transports(t, func(t *testing.T, goroutines bool) {
		e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines })
		a := e.api("chat", true)
		_, value := e.key(keyward.KeyCreate{StageKeys: stageKeys(a)})
		e.up.set(func(w http.ResponseWriter, r *http.Request) {
			var all bytes.Buffer
			fmt.Fprintf(&all, "%s %s\n", r.Method, r.URL.RequestURI())
			r.Header.Write(&all)
			b, _ := io.ReadAll(r.Body)
			all.Write(b)
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("X-Echo", strings.Join(r.Header.Values("Authorization"), ","))
			for _, line := range strings.Split(all.String(), "\n") {
				fmt.Fprintf(w, "data: %s\n\n", line)
				w.(http.Flusher).Flush()
			}
		})
		for _, body := range []string{streamBody, `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`} {
			for _, hdr := range [][]string{{"X-Api-Key", value}, {"Authorization", "Bearer " + value}} {
				resp := e.openStreamWith("/chat/prod/v1/chat/completions", hdr, body)
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				var hb bytes.Buffer
				resp.Header.Write(&hb)
				if resp.StatusCode != 200 || err != nil || !strings.Contains(string(got), "POST /v1/chat/completions") {
					t.Fatalf("%s: %d %v %q", hdr[0], resp.StatusCode, err, got)
				}
				if strings.Contains(string(got), value) || strings.Contains(hb.String(), value) {
					t.Errorf("%s: the key came back in the answer", hdr[0])
				}
			}
		}
	})
}

func (e *env) openStreamWith(path string, hdr []string, body string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.gw+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set(hdr[0], hdr[1])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}
