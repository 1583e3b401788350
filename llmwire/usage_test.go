package llmwire

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestParseUsage(t *testing.T) {
	tests := []struct {
		name, body string
		want       Usage
		ok         bool
	}{
		{"chat completion", chatResponse, Usage{19, 10}, true},
		{"usage first", `{"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7},"id":"x"}`, Usage{3, 4}, true},
		{"whitespace", " {\n \"usage\" : { \"prompt_tokens\" : 3 , \"completion_tokens\" : 4 } }\n", Usage{3, 4}, true},
		{"embeddings", `{"object":"list","data":[{"embedding":[0.1,-0.2]}],"usage":{"prompt_tokens":8,"total_tokens":8}}`, Usage{8, 0}, true},
		{"completion from total", `{"usage":{"prompt_tokens":8,"total_tokens":20}}`, Usage{8, 12}, true},
		{"completion only", `{"usage":{"completion_tokens":5}}`, Usage{0, 5}, true},
		{"responses API", `{"object":"response","usage":{"input_tokens":11,"output_tokens":22,"total_tokens":33}}`, Usage{11, 22}, true},
		{"prompt_tokens wins over input_tokens", `{"usage":{"input_tokens":1,"prompt_tokens":2,"output_tokens":3,"completion_tokens":4}}`, Usage{2, 4}, true},
		{"details ignored", `{"usage":{"prompt_tokens":5,"completion_tokens":6,"prompt_tokens_details":{"cached_tokens":2},"completion_tokens_details":{"reasoning_tokens":1}}}`, Usage{5, 6}, true},
		{"escaped key", `{"u\u0073age":{"prompt_tok\u0065ns":5,"completion_tokens":6}}`, Usage{5, 6}, true},
		{"last usage wins", `{"usage":{"prompt_tokens":1,"completion_tokens":1},"usage":{"prompt_tokens":2,"completion_tokens":3}}`, Usage{2, 3}, true},
		{"last count wins", `{"usage":{"prompt_tokens":1,"prompt_tokens":9,"completion_tokens":1}}`, Usage{9, 1}, true},
		{"non-integer count ignored", `{"usage":{"prompt_tokens":1.5,"completion_tokens":2}}`, Usage{0, 2}, true},
		{"invalid UTF-8 tolerated", "{\"choices\":[{\"text\":\"\xff\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}", Usage{1, 2}, true},
		{"max int64", `{"usage":{"prompt_tokens":9223372036854775807,"completion_tokens":0}}`, Usage{1<<63 - 1, 0}, true},

		{"empty", ``, Usage{}, false},
		{"no usage", `{"id":"x","choices":[]}`, Usage{}, false},
		{"usage null", `{"usage":null}`, Usage{}, false},
		{"usage null last", `{"usage":{"prompt_tokens":1,"completion_tokens":1},"usage":null}`, Usage{}, false},
		{"usage not object", `{"usage":12}`, Usage{}, false},
		{"usage empty", `{"usage":{}}`, Usage{}, false},
		{"counts not numbers", `{"usage":{"prompt_tokens":"1","completion_tokens":null}}`, Usage{}, false},
		{"negative counts", `{"usage":{"prompt_tokens":-1,"completion_tokens":-2}}`, Usage{}, false},
		{"overflow", `{"usage":{"prompt_tokens":9223372036854775808}}`, Usage{}, false},
		{"nested usage only", `{"response":{"usage":{"prompt_tokens":1,"completion_tokens":1}}}`, Usage{}, false},
		{"case differs", `{"Usage":{"prompt_tokens":1,"completion_tokens":1}}`, Usage{}, false},
		{"array", `[{"usage":{"prompt_tokens":1,"completion_tokens":1}}]`, Usage{}, false},
		{"truncated", `{"usage":{"prompt_tokens":1,"completion_tokens":1}`, Usage{}, false},
		{"trailing data", `{"usage":{"prompt_tokens":1,"completion_tokens":1}}x`, Usage{}, false},
		{"invalid JSON before usage", `{"x":[1,}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`, Usage{}, false},
		{"SSE, not JSON", "data: {\"usage\":{\"prompt_tokens\":1}}\n\n", Usage{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseUsage([]byte(tt.body))
			if got != tt.want || ok != tt.ok {
				t.Errorf("ParseUsage(%q) = %+v, %v, want %+v, %v", tt.body, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// checkUsageAgainstEncodingJSON checks a usage ParseUsage found against
// encoding/json, for bodies both can read.
func checkUsageAgainstEncodingJSON(t *testing.T, body []byte, got Usage, ok bool) {
	t.Helper()
	var v struct {
		Usage *struct {
			PromptTokens     *json.Number `json:"prompt_tokens"`
			CompletionTokens *json.Number `json:"completion_tokens"`
		} `json:"usage"`
	}
	if ok && !json.Valid(body) {
		// Lenient about invalid UTF-8 only, which json.Valid accepts.
		t.Fatalf("ParseUsage(%q) found usage in invalid JSON", body)
	}
	if !ok {
		return
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&v); err != nil || v.Usage == nil {
		t.Fatalf("ParseUsage(%q) = %+v but encoding/json: %v", body, got, err)
	}
	if p := v.Usage.PromptTokens; p != nil {
		if n, err := p.Int64(); err == nil && n >= 0 && n != got.PromptTokens {
			t.Fatalf("ParseUsage(%q) prompt %d, encoding/json %d", body, got.PromptTokens, n)
		}
	}
	if c := v.Usage.CompletionTokens; c != nil {
		if n, err := c.Int64(); err == nil && n >= 0 && n != got.CompletionTokens {
			t.Fatalf("ParseUsage(%q) completion %d, encoding/json %d", body, got.CompletionTokens, n)
		}
	}
}

func TestParseUsageAgainstEncodingJSON(t *testing.T) {
	for _, body := range []string{
		chatResponse,
		`{"usage":{"prompt_tokens":1,"completion_tokens":2},"usage":{"prompt_tokens":3,"completion_tokens":4}}`,
		`{"usage":{"prompt_tokens":1,"completion_tokens":2,"completion_tokens":5}}`,
		`{"a":{"usage":{"prompt_tokens":9}},"usage":{"completion_tokens":2}}`,
	} {
		got, ok := ParseUsage([]byte(body))
		if !ok {
			t.Fatalf("ParseUsage(%q) found nothing", body)
		}
		checkUsageAgainstEncodingJSON(t, []byte(body), got, ok)
	}
}

const chatResponse = `{"id":"chatcmpl-abc123","object":"chat.completion","created":1741569952,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"The Eiffel Tower is about 330 metres tall.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_06737a9306"}`

func TestUsageOnlyChunk(t *testing.T) {
	for _, c := range []struct {
		data string
		want bool
	}{
		{`{"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":3,"total_tokens":14}}`, true},
		{`{"usage":{"prompt_tokens":1,"completion_tokens":2}}`, true},
		{`{"choices":[ ],"usage":{"total_tokens":3,"prompt_tokens":1}}`, true},
		{`{"choices":[{"delta":{"content":"x"}}],"usage":{"prompt_tokens":1,"completion_tokens":2}}`, false},
		{`{"choices":[],"usage":null}`, false},
		{`{"choices":[{"delta":{}}],"usage":null}`, false},
		{`{"choices":null,"usage":{"prompt_tokens":1}}`, false},
		{`{"choices":[],"choices":[1],"usage":{"prompt_tokens":1}}`, false},
		{`{"choices":[],"usage":{"prompt_tokens":1}`, false},
		{`[DONE]`, false}, {``, false}, {`{}`, false},
	} {
		if got := UsageOnlyChunk([]byte(c.data)); got != c.want {
			t.Errorf("UsageOnlyChunk(%s) = %v, want %v", c.data, got, c.want)
		}
	}
}
