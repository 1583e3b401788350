//go:build linux

package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
)

// The loop answers byte for byte as the goroutine server does (the Date
// header aside): the same raw requests, on the same configuration, get
// the same raw answers, refusals, upstream answers of every shape and
// failures alike.
func TestLoopAttackAnswersAsTheGoroutineServerDoes(t *testing.T) {
	type setup struct {
		e     *env
		value string
	}
	mk := func(goroutines bool) setup {
		e := newEnv(t, func(c *server.Config) { c.GatewayGoroutines = goroutines })
		e.up.set(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			switch r.URL.Path {
			case "/v1/hop":
				h.Set("Connection", "X-Private, keep-alive")
				h.Set("X-Private", "secret")
				h.Set("Keep-Alive", "timeout=5")
				h.Set("X-Kept", "1")
			case "/v1/cookies":
				h.Add("Set-Cookie", "a=1")
				h.Add("Set-Cookie", "b=2")
				h.Set("Content-Type", "text/html")
			case "/v1/204":
				w.WriteHeader(204)
				return
			case "/v1/304":
				h.Set("ETag", `"x"`)
				w.WriteHeader(304)
				return
			case "/v1/500":
				w.WriteHeader(500)
				io.WriteString(w, "boom")
				return
			case "/v1/notype":
				h["Content-Type"] = nil
				io.WriteString(w, "raw")
				return
			case "/v1/empty":
				h.Set("Content-Length", "0")
				return
			}
			chatHandler(w, r)
		})
		a := e.api("chat", true)
		p := e.api("plain", false)
		down := e.api("down", false, func(s *keyward.Stage) { s.UpstreamURL = "http://" + closedAddr(t) })
		pl := e.plan(keyward.PlanCreate{Name: "tight", Throttle: &keyward.Throttle{RateLimit: 0.001, BurstLimit: 1},
			APIStages: []keyward.PlanStage{{APIID: p.ID, Stage: "prod"}}})
		_, value := e.key(keyward.KeyCreate{Name: "k", StageKeys: stageKeys(a, down)})
		_, limited := e.key(keyward.KeyCreate{Name: "limited", PlanIDs: []string{pl.ID}})
		_ = limited
		return setup{e, value + " " + limited}
	}
	gor, loop := mk(true), mk(false)
	date := regexp.MustCompile(`(?m)^Date: .*\r\n`)
	ask := func(s setup, raw string) string {
		keys := strings.Fields(s.value)
		raw = strings.ReplaceAll(raw, "{key}", keys[0])
		raw = strings.ReplaceAll(raw, "{limited}", keys[1])
		c, err := net.Dial("tcp", strings.TrimPrefix(s.e.gw, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, raw)
		// Read one answer's bytes: its header, then what its framing says.
		br := bufio.NewReader(c)
		var b strings.Builder
		method := strings.Fields(raw)[0]
		req, _ := http.NewRequest(method, "/", nil)
		tee := io.TeeReader(br, &b)
		resp, err := http.ReadResponse(bufio.NewReaderSize(tee, 16), req)
		if err != nil {
			return "error: " + err.Error()
		}
		io.Copy(io.Discard, resp.Body)
		return date.ReplaceAllString(b.String(), "Date: -\r\n")
	}
	body := chatBody
	post := func(path, hdrs string) string {
		return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: gw\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path, hdrs, len(body), body)
	}
	get := func(method, path, hdrs string) string {
		return fmt.Sprintf("%s %s HTTP/1.1\r\nHost: gw\r\n%s\r\n", method, path, hdrs)
	}
	k := "X-Api-Key: {key}\r\n"
	cases := map[string]string{
		"404":                get("GET", "/nope/prod/x", ""),
		"no key":             get("GET", "/chat/prod/v1/models", ""),
		"bad key":            get("GET", "/chat/prod/v1/models", "X-Api-Key: kw_nope\r\n"),
		"two keys":           get("GET", "/chat/prod/v1/models", k+k),
		"bad json":           fmt.Sprintf("POST /chat/prod/v1/chat/completions HTTP/1.1\r\nHost: gw\r\n%sContent-Length: 3\r\n\r\n{x}", k),
		"wrong stage":        get("GET", "/chat/dev/v1/models", k),
		"other api":          get("GET", "/plain/prod/x", k),
		"ok":                 post("/chat/prod/v1/chat/completions", k),
		"ok close":           post("/chat/prod/v1/chat/completions", k+"Connection: close\r\n"),
		"head":               get("HEAD", "/chat/prod/v1/chat/completions", k),
		"hop":                get("GET", "/chat/prod/v1/hop", k),
		"cookies":            get("GET", "/chat/prod/v1/cookies", k),
		"204":                get("GET", "/chat/prod/v1/204", k),
		"304":                get("GET", "/chat/prod/v1/304", k+"If-None-Match: \"x\"\r\n"),
		"500":                get("GET", "/chat/prod/v1/500", k),
		"no content type":    get("GET", "/chat/prod/v1/notype", k),
		"empty":              get("DELETE", "/chat/prod/v1/empty", k),
		"upstream down":      get("GET", "/down/prod/x", k),
		"limited, first":     get("GET", "/plain/prod/x", "X-Api-Key: {limited}\r\n"),
		"limited, second":    get("GET", "/plain/prod/x", "X-Api-Key: {limited}\r\n"),
		"options":            get("OPTIONS", "/chat/prod/v1/models", k),
		"bearer":             get("GET", "/chat/prod/v1/hop", "Authorization: Bearer {key}\r\n"),
		"query model":        get("GET", "/chat/prod/v1/x?model=a", k),
		"keep-alive request": get("GET", "/chat/prod/v1/hop", k+"Connection: keep-alive\r\n"),
	}
	order := []string{"404", "no key", "bad key", "two keys", "bad json", "wrong stage", "other api", "ok", "ok close", "head", "hop", "cookies", "204", "304", "500",
		"no content type", "empty", "upstream down", "limited, first", "limited, second", "options", "bearer", "query model", "keep-alive request"}
	serverHdr := regexp.MustCompile(`(?m)^Server: keyward\r\n`)
	noServer := 0
	for _, name := range order {
		a, b := ask(gor, cases[name]), ask(loop, cases[name])
		if serverHdr.MatchString(a) && !serverHdr.MatchString(b) {
			noServer++
		}
		// The fasthttp server names itself (Server: keyward); the
		// loop's answers do not: reported once below, compared without.
		a, b = serverHdr.ReplaceAllString(a, ""), serverHdr.ReplaceAllString(b, "")
		if a != b {
			t.Errorf("%s:\ngoroutines: %q\nloop:       %q", name, a, b)
		}
	}
	if noServer > 0 {
		t.Errorf("%d of %d answers say Server: keyward from the goroutine server and not from the loop", noServer, len(order))
	}
}
