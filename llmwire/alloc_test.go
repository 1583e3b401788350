//go:build !race

package llmwire

import "testing"

// TestParseNoAllocs checks the hot paths do not allocate. It is not built
// with -race, which instruments allocations.
func TestParseNoAllocs(t *testing.T) {
	check := func(name string, max float64, f func()) {
		t.Helper()
		if n := testing.AllocsPerRun(100, f); n > max {
			t.Errorf("%s: %v allocations, want at most %v", name, n, max)
		}
	}
	req := []byte(chatRequest)
	escapedKeys := []byte(`{"mod\u0065l":"gpt-4","\u0073tream":true,"stream_options":{"include_u\u0073age":true},"m\u00e9ssages":[]}`)
	escapedModel := []byte(`{"model":"gpt\u002d4"}`)
	var many []byte
	many = append(many, `{"model":"m"`...)
	for i := range smallKeys - 1 {
		many = append(many, `,"k`...)
		many = append(many, byte('a'+i/26), byte('a'+i%26))
		many = append(many, `":1`...)
	}
	many = append(many, '}')
	resp := []byte(chatResponse)
	stream := []byte(withEOL(sampleStream, "\r\n"))

	for _, b := range [][]byte{req, escapedKeys, escapedModel, many} {
		if _, err := ParseRequest(b); err != nil {
			t.Fatalf("ParseRequest(%q): %v", b, err)
		}
	}
	check("ParseRequest", 0, func() { ParseRequest(req) })
	check("ParseRequest with escaped keys", 0, func() { ParseRequest(escapedKeys) })
	check("ParseRequest with 32 keys", 0, func() { ParseRequest(many) })
	check("ParseRequest with escaped model", 1, func() { ParseRequest(escapedModel) })
	check("ParseUsage", 0, func() { ParseUsage(resp) })

	var u SSEUsage
	u.Write(stream) // grow the buffer
	check("SSEUsage.Write", 0, func() {
		u.Reset()
		for i := 0; i < len(stream); i += 7 {
			u.Write(stream[i:min(i+7, len(stream))])
		}
		if got, ok := u.Usage(); !ok || got != sampleUsage {
			t.Fatalf("usage %+v, %v", got, ok)
		}
	})
}
