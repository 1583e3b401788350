package llmwire

import (
	"encoding/json"
	"strings"
	"testing"
)

func BenchmarkParseRequest(b *testing.B) {
	long := `{"model":"gpt-4o","messages":[` + strings.Repeat(`{"role":"user","content":"`+strings.Repeat("lorem ipsum dolor sit amet, ", 40)+`"},`, 90) + `{"role":"user","content":"ok"}],"max_tokens":100}`
	for _, bm := range []struct{ name, body string }{
		{"chat", chatRequest},
		{"escaped", `{"mod\u0065l":"gpt\u002d4o","messages":[{"role":"user","content":"caf\u00e9 \"quoted\"\n"}],"max_tokens":100}`},
		{"unicode", `{"model":"gpt-4o","messages":[{"role":"user","content":"` + strings.Repeat("Привет, мир! こんにちは ", 20) + `"}]}`},
		{"100KiB", long},
	} {
		body := []byte(bm.body)
		if _, err := ParseRequest(body); err != nil {
			b.Fatal(err)
		}
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				ParseRequest(body)
			}
		})
	}
}

// BenchmarkEncodingJSON is the reference: encoding/json reading the same
// fields (without any of the checks).
func BenchmarkEncodingJSON(b *testing.B) {
	body := []byte(chatRequest)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var r goRequest
		if err := json.Unmarshal(body, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseUsage(b *testing.B) {
	body := []byte(chatResponse)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := ParseUsage(body); !ok {
			b.Fatal("no usage")
		}
	}
}

func BenchmarkSSEUsage(b *testing.B) {
	chunk := `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" word"},"finish_reason":null}],"usage":null}` + "\n\n"
	stream := []byte(strings.Repeat(chunk, 100) + "data: " + `{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":100}}` + "\n\ndata: [DONE]\n\n")
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	var u SSEUsage
	for b.Loop() {
		u.Reset()
		for i := 0; i < len(stream); i += 1024 {
			u.Write(stream[i:min(i+1024, len(stream))])
		}
		if _, ok := u.Usage(); !ok {
			b.Fatal("no usage")
		}
	}
}
