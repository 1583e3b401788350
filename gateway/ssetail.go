package gateway

import (
	"bytes"

	"github.com/keyward/keyward/llmwire"
)

// A stream's token usage is in one of its last events (OpenAI-compatible
// upstreams send it after the last content delta, before "data: [DONE]").
// Rather than scanning every event as it passes, the gateway keeps the
// stream's tail and reads the usage from it once the stream ends.

// maxTail is how much of a stream's end is kept: a usage event is a few
// hundred bytes; one that does not fit leaves the reservation charged,
// which over-counts, never under-counts.
const maxTail = 16 << 10

var usageMark = []byte(`usage"`)

// keepTail appends p to tail, keeping only the last maxTail bytes; it
// reports whether anything was dropped so far (with the previous value).
func keepTail(tail, p []byte, dropped bool) ([]byte, bool) {
	if len(p) >= maxTail {
		return append(tail[:0], p[len(p)-maxTail:]...), true
	}
	if over := len(tail) + len(p) - maxTail; over > 0 {
		tail = tail[:copy(tail, tail[over:])]
		dropped = true
	}
	return append(tail, p...), dropped
}

// tailUsage reads the usage from a stream's tail. When the tail was cut,
// it starts at the first event boundary in it.
func tailUsage(sse *llmwire.SSEUsage, tail []byte, dropped bool) (llmwire.Usage, bool) {
	if !bytes.Contains(tail, usageMark) {
		return llmwire.Usage{}, false
	}
	if dropped {
		i := eventBoundary(tail)
		if i < 0 {
			return llmwire.Usage{}, false
		}
		tail = tail[i:]
	}
	sse.Reset()
	sse.Write(tail)
	return sse.Usage()
}

// eventBoundary returns the index just after the first blank line (an
// event's end) in b, or -1.
func eventBoundary(b []byte) int {
	best := -1
	for _, sep := range [][]byte{[]byte("\n\n"), []byte("\r\n\r\n"), []byte("\r\r")} {
		if i := bytes.Index(b, sep); i >= 0 && (best < 0 || i+len(sep) < best) {
			best = i + len(sep)
		}
	}
	return best
}
