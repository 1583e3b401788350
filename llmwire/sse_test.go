package llmwire

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// sampleStream is a chat completion stream with include_usage, with a
// comment, other fields and a multi-line event thrown in.
const sampleStream = `: OPENROUTER PROCESSING

event: message
id: 1
data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""}}],"usage":null}

data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hello\nworld"}}],"usage":null}

retry: 1000
data: {"id":"c1","object":"chat.completion.chunk",
data: "choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}

data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21}}

data: [DONE]

`

var sampleUsage = Usage{PromptTokens: 9, CompletionTokens: 12}

func withEOL(s, eol string) string { return strings.ReplaceAll(s, "\n", eol) }

func feed(chunks ...string) (Usage, bool) {
	var u SSEUsage
	for _, c := range chunks {
		if n, err := u.Write([]byte(c)); n != len(c) || err != nil {
			panic("Write failed")
		}
	}
	return u.Usage()
}

func TestSSEUsageEverySplitPoint(t *testing.T) {
	for _, eol := range []string{"\n", "\r\n", "\r"} {
		stream := withEOL(sampleStream, eol)
		if got, ok := feed(stream); !ok || got != sampleUsage {
			t.Fatalf("eol %q: whole stream: %+v, %v", eol, got, ok)
		}
		for i := 0; i <= len(stream); i++ {
			if got, ok := feed(stream[:i], stream[i:]); !ok || got != sampleUsage {
				t.Fatalf("eol %q: split at %d: %+v, %v", eol, i, got, ok)
			}
			// And every pair of split points around a line end.
			if i > 0 && (stream[i-1] == '\r' || stream[i-1] == '\n') {
				for j := i; j <= len(stream) && j < i+4; j++ {
					if got, ok := feed(stream[:i], stream[i:j], stream[j:]); !ok || got != sampleUsage {
						t.Fatalf("eol %q: split at %d, %d: %+v, %v", eol, i, j, got, ok)
					}
				}
			}
		}
		bytewise := make([]string, len(stream))
		for i := range stream {
			bytewise[i] = stream[i : i+1]
		}
		if got, ok := feed(bytewise...); !ok || got != sampleUsage {
			t.Fatalf("eol %q: byte by byte: %+v, %v", eol, got, ok)
		}
	}
}

func TestSSEUsage(t *testing.T) {
	const usage1 = `{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}`
	const usage2 = `{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}`
	big := `{"pad":"` + strings.Repeat("x", MaxSSEEvent) + `","usage":{"prompt_tokens":5,"completion_tokens":6}}`
	tests := []struct {
		name, stream string
		want         Usage
		ok           bool
	}{
		{"usage", "data: " + usage1 + "\n\n", Usage{1, 2}, true},
		{"no space after colon", "data:" + usage1 + "\n\n", Usage{1, 2}, true},
		{"two spaces after colon", "data:  " + usage1 + "\n\n", Usage{1, 2}, true},
		{"last usage wins", "data: " + usage1 + "\n\ndata: " + usage2 + "\n\n", Usage{3, 4}, true},
		{"null usage later keeps earlier", "data: " + usage1 + "\n\ndata: {\"usage\":null}\n\ndata: [DONE]\n\n", Usage{1, 2}, true},
		{"no usage", "data: {\"choices\":[],\"usage\":null}\n\ndata: [DONE]\n\n", Usage{}, false},
		{"empty stream", "", Usage{}, false},
		{"DONE only", "data: [DONE]\n\n", Usage{}, false},
		{"event without blank line at end", "data: " + usage1 + "\n", Usage{1, 2}, true},
		{"event without line end at end", "data: " + usage1, Usage{1, 2}, true},
		{"truncated event", "data: " + usage1[:len(usage1)-1], Usage{}, false},
		{"truncated event after usage", "data: " + usage1 + "\n\ndata: " + usage2[:20], Usage{1, 2}, true},
		{"multi-line data", "data: {\"usage\":\ndata: {\"prompt_tokens\":7,\"completion_tokens\":8}}\n\n", Usage{7, 8}, true},
		{"data field without colon adds a line", "data: {\"usage\":\ndata\ndata: {\"prompt_tokens\":7,\"completion_tokens\":8}}\n\n", Usage{7, 8}, true},
		{"other fields ignored", "event: usage\nid: 7\nretry: 10\ndata: " + usage1 + "\n\n", Usage{1, 2}, true},
		{"comment ignored", ": data: " + usage1 + "\n\n", Usage{}, false},
		{"field names are exact", "Data: " + usage1 + "\n\ndatax: " + usage1 + "\n\ndat: " + usage1 + "\n\n data: " + usage1 + "\n\n", Usage{}, false},
		{"data lines of one event join", "data: " + usage1 + "\ndata: " + usage2 + "\n\n", Usage{}, false},
		{"event too long is skipped", "data: " + usage1 + "\n\ndata: " + big + "\n\n", Usage{1, 2}, true},
		{"event too long, then usage", "data: " + big + "\n\ndata: " + usage2 + "\n\n", Usage{3, 4}, true},
		{"event too long at end", "data: " + usage1 + "\n\ndata: " + big, Usage{1, 2}, true},
		{"CR CR is a blank line", "data: " + usage1 + "\r\rdata: " + usage2 + "\r\r", Usage{3, 4}, true},
		{"LF CR is a blank line", "data: " + usage1 + "\n\rdata: " + usage2 + "\n\r", Usage{3, 4}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := feed(tt.stream)
			if got != tt.want || ok != tt.ok {
				t.Errorf("whole: %+v, %v, want %+v, %v", got, ok, tt.want, tt.ok)
			}
			r := rand.New(rand.NewPCG(uint64(len(tt.stream)), 7))
			for range 20 {
				got, ok := feed(randomSplit(r, tt.stream)...)
				if got != tt.want || ok != tt.ok {
					t.Fatalf("split: %+v, %v, want %+v, %v", got, ok, tt.want, tt.ok)
				}
			}
		})
	}
}

func randomSplit(r *rand.Rand, s string) []string {
	var chunks []string
	for len(s) > 0 {
		n := 1 + r.IntN(min(len(s), 1+r.IntN(64)))
		chunks = append(chunks, s[:n])
		s = s[n:]
	}
	return chunks
}

func TestSSEUsageBoundedMemory(t *testing.T) {
	var u SSEUsage
	line := "data: " + strings.Repeat("y", 4096) + "\n"
	for range 100 { // one event of 400 KiB
		u.Write([]byte(line))
	}
	if c := cap(u.data); c > MaxSSEEvent {
		t.Errorf("buffer grew to %d bytes, bound is %d", c, MaxSSEEvent)
	}
	u.Write([]byte("\ndata: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\n"))
	if got, ok := u.Usage(); !ok || got != (Usage{1, 1}) {
		t.Errorf("after a long event: %+v, %v", got, ok)
	}
	u.Reset()
	if _, ok := u.Usage(); ok {
		t.Error("usage after Reset")
	}
	if cap(u.data) == 0 {
		t.Error("Reset dropped the buffer")
	}
}
