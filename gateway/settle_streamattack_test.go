//go:build linux

package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/changefeed"
	"github.com/keyward/keyward/limit"
)

// saGateway is a gateway on loopback (the event loop, or fasthttp's
// goroutines when noLoop) with one OpenAI-compatible API in front of h,
// one key with a token budget, and a limiter that counts settles. stop
// shuts it down once (also at cleanup).
func saGateway(t *testing.T, noLoop bool, timeout time.Duration, h http.Handler) (g *Gateway, cl *countingLimiter, addr, value string, stop func(time.Duration) error) {
	t.Helper()
	up := httptest.NewServer(h)
	t.Cleanup(up.Close)
	hasher := testHasher(t)
	value, cred := currentValue(t, hasher, "key_1", "cred_1")
	snap := &keyward.DataPlaneSnapshot{
		APIs: []*keyward.API{{ID: "api_1", Name: "chat", OpenAICompatible: true,
			Stages: []keyward.Stage{{Name: "prod", UpstreamURL: up.URL}}}},
		Plans: []*keyward.UsagePlan{{ID: "plan_1", Name: "p", Tokens: &keyward.TokenLimits{PerDay: 1 << 40},
			APIStages: []keyward.PlanStage{{APIID: "api_1", Stage: "prod"}}}},
		Keys: []*keyward.APIKey{{ID: "key_1", Enabled: true, PlanIDs: []string{"plan_1"}, Credentials: []keyward.Credential{cred}}},
	}
	cl = &countingLimiter{Limiter: limit.NewLocal(nil)}
	cfg := Config{Source: &fakeSource{snap}, Changes: &changefeed.Local{}, Hasher: hasher,
		Limiter: cl, UsageFlushInterval: time.Hour, NoEventLoop: noLoop, Timeout: timeout}
	g, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go g.Serve(context.Background(), ln)
	if !noLoop {
		for deadline := time.Now().Add(5 * time.Second); g.loops.Load() == nil && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		if g.loops.Load() == nil {
			t.Fatal("no event loop")
		}
	}
	var once sync.Once
	var serr error
	stop = func(d time.Duration) error {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), d)
			defer cancel()
			serr = g.Shutdown(ctx)
		})
		return serr
	}
	t.Cleanup(func() { stop(5 * time.Second) })
	return g, cl, ln.Addr().String(), value, stop
}

func saTransports(t *testing.T, f func(t *testing.T, noLoop bool)) {
	for _, noLoop := range []bool{true, false} {
		t.Run(map[bool]string{true: "goroutines", false: "loop"}[noLoop], func(t *testing.T) { f(t, noLoop) })
	}
}

// saStreamReq is a streamed chat completion that does not ask for usage:
// the gateway asks for it and strips the usage chunk.
func saStreamReq(value string) string {
	body := `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"one two three"}]}`
	return fmt.Sprintf("POST /chat/prod/v1/chat/completions HTTP/1.1\r\nHost: gw\r\nX-Api-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", value, len(body), body)
}

const saUsageEvent = `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}` + "\n\n"

func saEvent(i int) string {
	return fmt.Sprintf(`data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"w%d"}}]}`+"\n\n", i)
}

// eventsHandler streams n content events, pause apart, then the usage
// chunk and [DONE]; it stops early when the request is cancelled.
func eventsHandler(n int, pause time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range n {
			io.WriteString(w, saEvent(i))
			w.(http.Flusher).Flush()
			select {
			case <-time.After(pause):
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, saUsageEvent+"data: [DONE]\n\n")
	}
}

func saWaitSettled(t *testing.T, cl *countingLimiter, want int) {
	t.Helper()
	ok := eventually(5*time.Second, func() bool {
		_, settled, _, _, _, _ := cl.state()
		return settled >= want
	})
	time.Sleep(100 * time.Millisecond) // a second settle would show now
	admitted, settled, stray, _, _, _ := cl.state()
	if !ok || admitted != want || settled != want || stray != 0 {
		t.Errorf("%d admitted, %d settled, %d stray; want %d settled once each", admitted, settled, stray, want)
	}
}

// Shutdown while a stream is in flight: the gateway lets exchanges in
// flight finish (with Connection: close), so the client gets the whole
// stream, and its exchange is settled once, from the usage it reported.
func TestStreamAttackShutdownMidStream(t *testing.T) {
	saTransports(t, func(t *testing.T, noLoop bool) {
		_, cl, addr, value, stop := saGateway(t, noLoop, time.Minute, eventsHandler(10, 60*time.Millisecond))
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(15 * time.Second))
		io.WriteString(c, saStreamReq(value))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v %v", resp, err)
		}
		first := make([]byte, len(saEvent(0)))
		if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != saEvent(0) {
			t.Fatalf("first event %q %v", first, err)
		}
		stopped := make(chan error, 1)
		go func() { stopped <- stop(10 * time.Second) }()
		rest, err := io.ReadAll(resp.Body)
		var want strings.Builder
		for i := 1; i < 10; i++ {
			want.WriteString(saEvent(i))
		}
		want.WriteString("data: [DONE]\n\n")
		if err != nil || string(rest) != want.String() {
			t.Errorf("the stream in flight at Shutdown: got %d bytes of %d (%v); tail %q", len(rest), want.Len(), err, rest[max(0, len(rest)-60):])
		}
		if err := <-stopped; err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		saWaitSettled(t, cl, 1)
		if _, _, _, _, tokens, _ := cl.state(); tokens != 7 {
			t.Errorf("settled %d tokens, want the 7 the stream reported", tokens)
		}
	})
}

// A client that goes away mid-stream, and an upstream that is still
// streaming at the gateway's timeout: either way the exchange is settled
// exactly once, and the gateway serves the next stream.
func TestStreamAttackCutStreamsSettleOnce(t *testing.T) {
	saTransports(t, func(t *testing.T, noLoop bool) {
		_, cl, addr, value, _ := saGateway(t, noLoop, 700*time.Millisecond, eventsHandler(40, 50*time.Millisecond))
		n := 0
		// The client leaves after two events.
		for range 3 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, saStreamReq(value))
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%v %v", resp, err)
			}
			buf := make([]byte, 2*len(saEvent(0)))
			if _, err := io.ReadFull(resp.Body, buf); err != nil {
				t.Fatal(err)
			}
			c.Close()
			n++
		}
		saWaitSettled(t, cl, n)
		// The upstream outlives the timeout: the stream is cut, not completed.
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, saStreamReq(value))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v %v", resp, err)
		}
		got, err := io.ReadAll(resp.Body)
		n++
		if err == nil || strings.Contains(string(got), "[DONE]") || !strings.HasPrefix(string(got), saEvent(0)) {
			t.Errorf("a stream cut at the timeout: %d bytes, %v", len(got), err)
		}
		saWaitSettled(t, cl, n)
		if _, _, _, _, tokens, _ := cl.state(); tokens <= 0 {
			t.Errorf("a cut stream settled %d tokens, want the estimate", tokens)
		}
	})
}

// Shutdown while a large stream waits on a client that reads slowly (the
// loop holds the upstream back): the client still gets all of it, and
// the exchange settles once; an upstream past the timeout while the
// client is behind is cut and settled once too.
func TestStreamAttackShutdownAndTimeoutWhileClientBehind(t *testing.T) {
	const n = 40 << 20
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		ev := "data: " + strings.Repeat("y", 1000) + "\n\n"
		for sent := 0; sent < n; sent += len(ev) {
			if _, err := io.WriteString(w, ev); err != nil {
				return
			}
		}
		io.WriteString(w, saUsageEvent+"data: [DONE]\n\n")
	})
	read := func(t *testing.T, addr, value string, slow time.Duration) (int, error) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		io.WriteString(c, saStreamReq(value))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(slow)
		got, err := io.ReadAll(resp.Body)
		if err == nil && !strings.HasSuffix(string(got), "data: [DONE]\n\n") {
			err = fmt.Errorf("complete, but ends %q", got[max(0, len(got)-30):])
		}
		if strings.Contains(string(got), `"usage"`) {
			err = fmt.Errorf("the usage chunk reached the caller")
		}
		return len(got), err
	}
	t.Run("shutdown", func(t *testing.T) {
		saTransports(t, func(t *testing.T, noLoop bool) {
			_, cl, addr, value, stop := saGateway(t, noLoop, time.Minute, h)
			done := make(chan error, 1)
			go func() {
				_, err := read(t, addr, value, 600*time.Millisecond)
				done <- err
			}()
			time.Sleep(300 * time.Millisecond)
			if err := stop(15 * time.Second); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			if err := <-done; err != nil {
				t.Errorf("the slow client's stream: %v", err)
			}
			saWaitSettled(t, cl, 1)
		})
	})
	t.Run("timeout", func(t *testing.T) {
		saTransports(t, func(t *testing.T, noLoop bool) {
			_, cl, addr, value, _ := saGateway(t, noLoop, 500*time.Millisecond, h)
			got, err := read(t, addr, value, 900*time.Millisecond)
			if err == nil {
				t.Errorf("a stream past the timeout arrived complete (%d bytes)", got)
			}
			saWaitSettled(t, cl, 1)
		})
	})
}
