package gateway

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyward/keyward/llmwire"
)

func TestAskUsage(t *testing.T) {
	for _, body := range []string{
		`{"model":"m","stream":true}`,
		`{"model":"m","stream":true}  `,
		`{"model":"m","stream":true,"stream_options":null}`,
		`{"model":"m","stream":true,"stream_options":{}}`,
		`{"model":"m","stream":true,"stream_options":{ } }`,
		`{"model":"m","stream":true,"stream_options":{"include_obfuscation":false}}`,
		`{"model":"m","stream":true,"stream_options":{"include_usage":false}}`,
		`{"stream_options":{"x":[1], "include_u\u0073age" : null },"stream":true,"model":"m"}`,
	} {
		r, err := llmwire.ParseRequest([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		out := askUsage(nil, []byte(body), &r)
		r2, err := llmwire.ParseRequest(out)
		if err != nil || !r2.IncludeUsage || !r2.Stream || string(r2.Model) != "m" {
			t.Fatalf("%s became %s: %+v %v", body, out, r2, err)
		}
		// Nothing else changed: the two decode alike once stream_options
		// is set aside, and stream_options keeps its other members.
		var a, b map[string]any
		json.Unmarshal([]byte(body), &a)
		json.Unmarshal(out, &b)
		soA, _ := a["stream_options"].(map[string]any)
		soB := b["stream_options"].(map[string]any)
		delete(a, "stream_options")
		delete(b, "stream_options")
		delete(soA, "include_usage")
		delete(soB, "include_usage")
		if ja, jb := mustJSON(a), mustJSON(b); ja != jb || len(soA) != len(soB) {
			t.Errorf("%s became %s", body, out)
		}
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// The usage chunk, and nothing else, leaves a stream, however the stream is
// split and whatever its line ends.
func TestUsageFilter(t *testing.T) {
	usage := `data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":3,"total_tokens":14}}` + "\n\n"
	keep := []string{
		`data: {"id":"c1","choices":[{"index":0,"delta":{"content":"Hel"}}],"usage":null}` + "\n\n",
		": keep-alive\n\n",
		`data: {"id":"c1","choices":[{"index":0,"delta":{"content":"lo"}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}` + "\n\n",
		"event: x\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\n\n",
		"data: {\"a\":\ndata: 1}\n\n",
	}
	done := "data: [DONE]\n\n"
	for _, eol := range []string{"\n", "\r\n", "\r"} {
		conv := func(s string) string { return strings.ReplaceAll(s, "\n", eol) }
		in := conv(strings.Join(keep, "") + usage + done)
		want := conv(strings.Join(keep, "") + done)
		for step := 1; step <= len(in); step++ {
			var f usageFilter
			var got []byte
			var p [7]byte
			for i := 0; i < len(in); i += step {
				f.add([]byte(in[i:min(i+step, len(in))]))
				for f.ready() {
					got = append(got, p[:f.drain(p[:])]...)
				}
			}
			f.finish()
			for f.ready() {
				got = append(got, p[:f.drain(p[:])]...)
			}
			if string(got) != want {
				t.Fatalf("eol %q, pieces of %d:\n got %q\nwant %q", eol, step, got, want)
			}
		}
	}
	// A stream cut inside the usage chunk's blank line, or without one,
	// loses the chunk too; one cut inside a content event keeps its bytes.
	var f usageFilter
	f.add([]byte(keep[0] + strings.TrimSuffix(usage, "\n\n")))
	f.finish()
	if got := f.out; string(got) != keep[0] {
		t.Fatalf("cut usage chunk: %q", got)
	}
	f.reset()
	f.add([]byte(keep[0][:20]))
	f.finish()
	if got := f.out; !bytes.Equal(got, []byte(keep[0][:20])) {
		t.Fatalf("cut content event: %q", got)
	}
}

// FuzzUsageFilter: whatever the stream and however it is split, the filter
// hands over the same bytes, and what it takes out is whole usage-only
// events (what it hands over is the input with some events removed, so
// it is never longer and its bytes appear in order).
func FuzzUsageFilter(f *testing.F) {
	f.Add([]byte("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\n\ndata: [DONE]\n\n"), uint16(5))
	f.Add([]byte("data: {\"choices\":[{}]}\r\n\r\ndata: {\"usage\":{\"total_tokens\":2,\"prompt_tokens\":1}}\r\rdata: x"), uint16(1))
	f.Add([]byte(": c\n\ndata\ndata: {\"usage\":{\"prompt_tokens\":3}}\n\n"), uint16(3))
	f.Fuzz(func(t *testing.T, in []byte, step uint16) {
		run := func(step int) []byte {
			var uf usageFilter
			var got []byte
			var p [13]byte
			for i := 0; i < len(in); i += step {
				uf.add(in[i:min(i+step, len(in))])
				for uf.ready() {
					got = append(got, p[:uf.drain(p[:])]...)
				}
			}
			uf.finish()
			for uf.ready() {
				got = append(got, p[:uf.drain(p[:])]...)
			}
			return got
		}
		whole := run(max(len(in), 1))
		if split := run(int(step)%17 + 1); !bytes.Equal(whole, split) {
			t.Fatalf("%q: whole %q, split by %d %q", in, whole, int(step)%17+1, split)
		}
		// Subsequence check.
		j := 0
		for _, c := range whole {
			for j < len(in) && in[j] != c {
				j++
			}
			if j == len(in) {
				t.Fatalf("%q: output %q is not the input with parts removed", in, whole)
			}
			j++
		}
		if len(whole) < len(in) && !bytes.Contains(in, usageMark) {
			t.Fatalf("%q: bytes removed from a stream without usage: %q", in, whole)
		}
	})
}
