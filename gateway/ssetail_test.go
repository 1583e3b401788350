package gateway

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/keyward/keyward/llmwire"
)

// The usage event at the end of a long stream is found from the kept tail,
// whatever the read sizes, and a tail that lost its beginning starts at an
// event boundary rather than mid-event.
func TestTailUsage(t *testing.T) {
	var stream bytes.Buffer
	for i := range 2000 {
		fmt.Fprintf(&stream, "data: {\"choices\":[{\"delta\":{\"content\":\"tok%04d\"}}],\"usage\":null}\n\n", i)
	}
	stream.WriteString("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":2000}}\n\ndata: [DONE]\n\n")
	for _, step := range []int{1, 7, 100, 4096, 1 << 20} {
		var tail []byte
		cut := false
		b := stream.Bytes()
		for len(b) > 0 {
			n := min(step, len(b))
			tail, cut = keepTail(tail, b[:n], cut)
			b = b[n:]
		}
		if len(tail) > maxTail || !cut {
			t.Fatalf("step %d: tail of %d bytes, cut %v", step, len(tail), cut)
		}
		var sse llmwire.SSEUsage
		u, ok := tailUsage(&sse, tail, cut)
		if !ok || u.PromptTokens != 11 || u.CompletionTokens != 2000 {
			t.Fatalf("step %d: usage %+v %v", step, u, ok)
		}
	}
	// No usage in the stream: nothing is read.
	var sse llmwire.SSEUsage
	if _, ok := tailUsage(&sse, []byte("data: {\"choices\":[]}\n\ndata: [DONE]\n\n"), false); ok {
		t.Fatal("usage found where there is none")
	}
}
