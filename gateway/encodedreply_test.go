package gateway

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The attack: an upstream (or a proxy in front of it) that compresses its
// answers although the gateway asked for identity. The gateway does not
// decode them, so the usage in them cannot be read, and the estimate from
// their bytes would charge a fraction of the text: gzip packs the
// repetitive reply below ten times smaller. Such a reply keeps its whole
// reservation instead, on both transports, buffered or streamed, also
// when its Content-Encoding comes on two lines, "gzip" then "identity"
// (one list by RFC 9110, of which fasthttp keeps the last line; an attack
// review's finding), and when it says only "identity" (a value RFC 9110
// reserves for Accept-Encoding). A reply without the header is estimated
// from its bytes as before.
func TestACompressedReplyKeepsItsReservation(t *testing.T) {
	text := strings.Repeat("the same sentence, said again and again. ", 200) // 8,200 bytes
	reply := `{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"` + text +
		`"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2051,"total_tokens":2054}}`
	gz := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		io.WriteString(w, s)
		w.Close()
		return b.Bytes()
	}
	jsonGz := gz(reply)
	var events strings.Builder
	for i := range 40 {
		fmt.Fprintf(&events, "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":%d,\"delta\":{\"content\":%q}}]}\n\n", 0, text[i*200:(i+1)*200])
	}
	events.WriteString("data: {\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2000,\"total_tokens\":2003}}\n\ndata: [DONE]\n\n")
	streamGz := gz(events.String())

	var hh http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if ae := r.Header.Get("Accept-Encoding"); ae != "identity" {
			t.Errorf("the upstream was asked for %q", ae)
		}
		switch r.Header.Get("X-Mode") {
		case "json":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Length", fmt.Sprint(len(jsonGz)))
			w.Write(jsonGz)
		case "json-chunked":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "br, gzip")
			w.Write(jsonGz[:10])
			w.(http.Flusher).Flush()
			w.Write(jsonGz[10:])
		case "stream":
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("Content-Encoding", "GZIP")
			for i := 0; i < len(streamGz); i += 64 {
				w.Write(streamGz[i:min(i+64, len(streamGz))])
				w.(http.Flusher).Flush()
			}
		case "two-lines":
			w.Header().Set("Content-Type", "application/json")
			w.Header()["Content-Encoding"] = []string{"gzip", "identity"}
			w.Header().Set("Content-Length", fmt.Sprint(len(jsonGz)))
			w.Write(jsonGz)
		case "identity":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "identity")
			io.WriteString(w, `{"id":"c2","object":"chat.completion","choices":[]}`)
		case "plain":
			// No coding: the bytes are the text, without usage.
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":"c2","object":"chat.completion","choices":[]}`)
		}
	})
	for _, goroutines := range []bool{false, true} {
		t.Run(fmt.Sprintf("goroutines=%v", goroutines), func(t *testing.T) {
			var h atomic.Pointer[http.Handler]
			h.Store(&hh)
			_, cl, base, key := budgetGateway(t, 1<<30, &h, func(c *Config, _ *httptest.Server) { c.NoEventLoop = goroutines })
			client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
			const maxTokens = 4000
			for i, c := range []struct{ mode, body string }{
				{"json", `{"model":"gpt-4o-mini","max_tokens":4000,"messages":[{"role":"user","content":"say it"}]}`},
				{"json-chunked", `{"model":"gpt-4o-mini","max_tokens":4000,"messages":[{"role":"user","content":"say it"}]}`},
				{"stream", `{"model":"gpt-4o-mini","max_tokens":4000,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"say it"}]}`},
				// Without stream_options the gateway asks for usage and
				// takes the usage event out of the reply: in compressed
				// bytes it finds none, and must pass them on untouched.
				{"stream", `{"model":"gpt-4o-mini","max_tokens":4000,"stream":true,"messages":[{"role":"user","content":"say it"}]}`},
				{"two-lines", `{"model":"gpt-4o-mini","max_tokens":4000,"messages":[{"role":"user","content":"say it"}]}`},
				{"identity", `{"model":"gpt-4o-mini","max_tokens":4000,"messages":[{"role":"user","content":"say it"}]}`},
				{"plain", `{"model":"gpt-4o-mini","max_tokens":4000,"messages":[{"role":"user","content":"say it"}]}`},
			} {
				req, _ := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(c.body))
				req.Header.Set("X-Api-Key", key)
				req.Header.Set("X-Mode", c.mode)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || err != nil {
					t.Fatalf("%s: %d %v", c.mode, resp.StatusCode, err)
				}
				if !eventually(3*time.Second, func() bool { _, settled, _, _, _, _ := cl.state(); return settled == i+1 }) {
					t.Fatalf("%s: not settled", c.mode)
				}
				_, _, stray, reserved, tokens, _ := cl.state()
				if stray != 0 || reserved != int64(maxTokens+len(c.body)) {
					t.Fatalf("%s: %d stray settles, reserved %d", c.mode, stray, reserved)
				}
				switch c.mode {
				case "json", "json-chunked", "two-lines":
					if !bytes.Equal(got, jsonGz) {
						t.Fatalf("%s: the compressed reply was changed on the way", c.mode)
					}
				case "stream":
					if !bytes.Equal(got, streamGz) {
						t.Fatalf("%s: the compressed stream was changed on the way", c.mode)
					}
				}
				want := reserved // the reservation stands: more than the estimate of the compressed bytes
				switch e := est(len(c.body)) + est(len(got)); {
				case c.mode == "plain":
					want = e
				case c.mode == "identity": // no bytes to speak of: the reservation
				case e >= want/4:
					t.Fatalf("%s: the compressed reply's estimate %d is no attack on a reservation of %d", c.mode, e, want)
				}
				if tokens != want {
					t.Fatalf("%s: settled to %d tokens, want %d (reply of %d bytes as received)", c.mode, tokens, want, len(got))
				}
			}
		})
	}
}
