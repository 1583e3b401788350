package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// streamEvents is what an OpenAI-compatible upstream streams for a request
// with stream_options.include_usage: deltas (and a comment), a last chunk
// with no choices and the usage, then [DONE].
var streamEvents = []string{
	`data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}` + "\n\n",
	`data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel"}}]}` + "\n\n",
	": keep-alive\n\n",
	`data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}` + "\n\n",
	`data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":3,"total_tokens":14}}` + "\n\n",
	"data: [DONE]\n\n",
}

const streamBody = `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`

// sseUpstream streams events with a flush after each and a pause between
// them, and notes when it sent each one and when it was done.
type sseUpstream struct {
	events []string
	pause  time.Duration

	mu       sync.Mutex
	sent     []time.Time
	finished atomic.Bool
}

func (s *sseUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.sent = s.sent[:0]
	s.mu.Unlock()
	s.finished.Store(false)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f := w.(http.Flusher)
	for i, ev := range s.events {
		if i > 0 && s.pause > 0 {
			select {
			case <-time.After(s.pause):
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, ev)
		f.Flush()
		s.mu.Lock()
		s.sent = append(s.sent, time.Now())
		s.mu.Unlock()
	}
	s.finished.Store(true)
}

func (s *sseUpstream) sentTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.sent...)
}

// arrival is one event as the client received it.
type arrival struct {
	text         string
	at           time.Time
	upstreamDone bool // the upstream had sent its last event when this one arrived
}

// readEvents reads an event stream line by line as it arrives, noting the
// time each event (a block ended by a blank line) is complete. raw is
// every byte read; err is the error that ended the body, nil at EOF.
func readEvents(body io.Reader, done *atomic.Bool) (evs []arrival, raw string, err error) {
	br := bufio.NewReader(body)
	var cur, all strings.Builder
	for {
		line, rerr := br.ReadString('\n')
		all.WriteString(line)
		cur.WriteString(line)
		if line == "\n" {
			a := arrival{text: cur.String(), at: time.Now()}
			if done != nil {
				a.upstreamDone = done.Load()
			}
			evs = append(evs, a)
			cur.Reset()
		}
		if rerr != nil {
			if rerr == io.EOF {
				rerr = nil
			}
			return evs, all.String(), rerr
		}
	}
}

// openStream posts body to the gateway and returns the response with its body
// still open.
func (e *env) openStream(client *http.Client, path, key, body string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.gw+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("X-Api-Key", key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// Server-sent events reach the client as the upstream sends them, not when
// the upstream is done, and arrive byte for byte; the usage in the last
// chunk is recorded for the key.
func TestSSEStreamsIncrementallyAndCountsUsage(t *testing.T) {
	e := newEnv(t)
	const pause = 150 * time.Millisecond
	up := &sseUpstream{events: streamEvents, pause: pause}
	e.up.set(up.ServeHTTP)
	a := e.api("chat", true)
	k, value := e.key(keyward.KeyCreate{StageKeys: []keyward.StageKey{{APIID: a.ID, Stage: "prod"}}})

	start := time.Now()
	resp := e.openStream(nil, "/chat/prod/v1/chat/completions", value, streamBody)
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("got %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	evs, raw, err := readEvents(resp.Body, &up.finished)
	if err != nil {
		t.Fatalf("reading the stream: %v", err)
	}
	if want := strings.Join(streamEvents, ""); raw != want {
		t.Fatalf("the client got\n%q\nthe upstream sent\n%q", raw, want)
	}
	if len(evs) != len(streamEvents) {
		t.Fatalf("%d events, want %d", len(evs), len(streamEvents))
	}
	for i, ev := range evs {
		if ev.text != streamEvents[i] {
			t.Errorf("event %d: %q, want %q", i, ev.text, streamEvents[i])
		}
	}
	sent := up.sentTimes()
	if len(sent) != len(streamEvents) {
		t.Fatalf("the upstream sent %d events", len(sent))
	}
	// The upstream takes (n-1) pauses after its first event; the first
	// event must be at the client long before that.
	if evs[0].upstreamDone {
		t.Fatalf("the first event arrived only after the upstream had finished (after %v)", evs[0].at.Sub(start))
	}
	if !evs[0].at.Before(sent[1]) {
		t.Errorf("the first event arrived at %v, after the upstream sent the second at %v: buffered",
			evs[0].at.Sub(start), sent[1].Sub(start))
	}
	last := evs[len(evs)-1]
	if spread, min := last.at.Sub(evs[0].at), time.Duration(len(evs)-1)*pause/2; spread < min {
		t.Errorf("events arrived within %v of each other, want at least %v: the stream was buffered", spread, min)
	}
	for i, ev := range evs {
		t.Logf("event %d sent at %v, arrived at %v", i, sent[i].Sub(start), ev.at.Sub(start))
	}

	now := time.Now().UTC()
	var got []keyward.UsageDay
	if !eventually(5*time.Second, func() bool {
		got = must[[]keyward.UsageDay](t)(e.srv.Service().Usage.GetKeyUsage(e.admin, k.ID, now, now))
		return len(got) == 1 && got[0].Requests == 1 && got[0].TokensIn == 11 && got[0].TokensOut == 3
	}) {
		t.Fatalf("usage %+v, want 1 request, 11 tokens in and 3 out", got)
	}
	if seen, body := e.up.last(t); string(body) != streamBody || seen.Header.Get("X-Api-Key") != "" {
		t.Errorf("the upstream got %q with headers %v", body, seen.Header)
	}
	if strings.Contains(e.logs.String(), value) {
		t.Error("the logs hold the key")
	}
}

// A token budget that the reservations of two streams would exhaust keeps
// admitting streams whose final usage chunk reports little: each stream is
// settled at what it used when it ends. A stream without a usage chunk
// is charged the estimate from its prompt and the bytes it streamed.
func TestSSEUsageSettlesTheTokenReservation(t *testing.T) {
	e := newEnv(t)
	withUsage := &sseUpstream{events: streamEvents}
	e.up.set(withUsage.ServeHTTP)
	a := e.api("chat", true)
	body := `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"max_tokens":1000}`
	reserve := int64(1000 + len(body))
	budget := 2*reserve - 1 // one reservation fits, two do not
	p := e.plan(keyward.PlanCreate{Name: "budget", Tokens: &keyward.TokenLimits{PerDay: budget},
		APIStages: []keyward.PlanStage{{APIID: a.ID, Stage: "prod"}}})
	k, value := e.key(keyward.KeyCreate{PlanIDs: []string{p.ID}})

	const n = 5
	for i := range n {
		resp := e.openStream(nil, "/chat/prod/v1/chat/completions", value, body)
		_, raw, err := readEvents(resp.Body, nil)
		resp.Body.Close()
		if resp.StatusCode != 200 || err != nil || raw != strings.Join(streamEvents, "") {
			t.Fatalf("stream %d: %d %v %q: the reservation of an earlier stream was not settled", i, resp.StatusCode, err, raw)
		}
	}
	// What is left (budget - 5*14) still exceeds one reservation; a request
	// that reserves more than the whole budget is refused.
	huge := fmt.Sprintf(`{"model":"gpt-4o-mini","stream":true,"max_tokens":%d}`, budget)
	if r := e.call("POST", "/chat/prod/v1/chat/completions", value, huge); r.status != 429 {
		t.Fatalf("a reservation over the budget: %d %s", r.status, r.body)
	}

	// A stream that reports no usage is charged the estimate from its
	// prompt and the bytes it streamed (not its reservation, not zero), and
	// recorded as such.
	noUsage := &sseUpstream{events: []string{streamEvents[1], streamEvents[3], streamEvents[5]}}
	e.up.set(noUsage.ServeHTTP)
	resp := e.openStream(nil, "/chat/prod/v1/chat/completions", value, body)
	_, raw, err := readEvents(resp.Body, nil)
	resp.Body.Close()
	if resp.StatusCode != 200 || err != nil {
		t.Fatalf("stream without usage: %d %v", resp.StatusCode, err)
	}
	estIn, estOut := (int64(len(body))+3)/4, (int64(len(raw))+3)/4
	e.up.set(withUsage.ServeHTTP)
	resp = e.openStream(nil, "/chat/prod/v1/chat/completions", value, body)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after a stream without usage: %d, want 200", resp.StatusCode)
	}

	now := time.Now().UTC()
	var got []keyward.UsageDay
	if !eventually(5*time.Second, func() bool {
		got = must[[]keyward.UsageDay](t)(e.srv.Service().Usage.GetKeyUsage(e.admin, k.ID, now, now))
		return len(got) == 1 && got[0].Requests == n+2 && got[0].TokensIn == 11*(n+1)+estIn && got[0].TokensOut == 3*(n+1)+estOut
	}) {
		t.Fatalf("usage %+v, want %d requests, %d tokens in, %d out", got, n+2, 11*(n+1)+estIn, 3*(n+1)+estOut)
	}
	// The budget left is exactly what was not charged: a reservation one
	// token larger is refused, one of exactly that size admitted.
	left := budget - 14*(n+1) - estIn - estOut
	if r := e.call("POST", "/chat/prod/v1/chat/completions", value, reserving(left+1)); r.status != 429 {
		t.Fatalf("a reservation of the budget left plus one: %d %s", r.status, r.body)
	}
	e.up.set(chatHandler)
	if r := e.call("POST", "/chat/prod/v1/chat/completions", value, reserving(left)); r.status != 200 {
		t.Fatalf("a reservation of the budget left: %d %s", r.status, r.body)
	}
	if strings.Contains(e.logs.String(), value) {
		t.Error("the logs hold the key")
	}
}

// reserving returns a chat body whose token reservation (max_tokens plus
// the body's length) is exactly total.
func reserving(total int64) string {
	for m := total; m >= 0; m-- {
		b := fmt.Sprintf(`{"model":"gpt-4o-mini","max_tokens":%d}`, m)
		if m+int64(len(b)) == total {
			return b
		}
	}
	panic(fmt.Sprint("no body reserves ", total))
}
