package gateway

import (
	"bytes"

	"github.com/keyward/keyward/llmwire"
)

// A stream's tokens are known only if the upstream reports them, which
// OpenAI-compatible upstreams do when the request says
// "stream_options": {"include_usage": true}. The gateway asks on behalf of
// callers that did not, and takes the extra usage chunk out of what such a
// caller receives, so that the caller sees the stream it asked for.

// askUsage appends to dst the body with stream_options.include_usage set to
// true, editing only that spot: the body passed llmwire.ParseRequest (r is
// its result), which refuses every key an upstream could read as
// stream_options or include_usage, so the edit adds no second reading.
func askUsage(dst, body []byte, r *llmwire.Request) []byte {
	switch {
	case r.IncludeUsageEnd > 0: // include_usage false or null
		dst = append(dst, body[:r.IncludeUsageAt]...)
		dst = append(dst, "true"...)
		return append(dst, body[r.IncludeUsageEnd:]...)
	case r.StreamOptionsEnd > 0 && body[r.StreamOptionsAt] == '{':
		at := r.StreamOptionsAt + 1
		dst = append(dst, body[:at]...)
		dst = append(dst, `"include_usage":true`...)
		if rest := bytes.TrimLeft(body[at:r.StreamOptionsEnd], " \t\r\n"); rest[0] != '}' {
			dst = append(dst, ',')
		}
		return append(dst, body[at:]...)
	case r.StreamOptionsEnd > 0: // null
		dst = append(dst, body[:r.StreamOptionsAt]...)
		dst = append(dst, `{"include_usage":true}`...)
		return append(dst, body[r.StreamOptionsEnd:]...)
	}
	// No stream_options: add it before the object's closing brace (the
	// object holds "stream": true, so a comma goes first).
	i := bytes.LastIndexByte(body, '}')
	dst = append(dst, body[:i]...)
	dst = append(dst, `,"stream_options":{"include_usage":true}`...)
	return append(dst, body[i:]...)
}

// maxHeldEvent bounds the bytes of one event the filter holds back while
// waiting for its end. A longer event cannot be a usage chunk (a few
// hundred bytes); the rest of such a stream passes through unfiltered.
const maxHeldEvent = 64 << 10

// usageFilter takes the usage-only chunk out of a stream of server-sent
// events fed to it in pieces split anywhere, keeping every other byte and
// the framing as they came. An event is held back until its blank line
// has arrived (upstreams write an event at once, so this rarely delays
// anything); it then goes out, unless it is the usage chunk.
type usageFilter struct {
	pend    []byte // the start of an event whose end has not arrived
	out     []byte // bytes ready for the caller
	sent    int    // of out, already handed over
	scan    int    // pend[:scan] has been searched for the event's end
	midLine bool   // pend[:scan] ends inside a line
	through bool   // an event outgrew maxHeldEvent: pass everything on
	data    []byte // scratch: an event's data
}

func (f *usageFilter) reset() {
	*f = usageFilter{pend: f.pend[:0], out: f.out[:0], data: f.data[:0]}
}

// ready reports whether bytes are waiting to be handed over.
func (f *usageFilter) ready() bool { return f.sent < len(f.out) }

// drain hands over as many ready bytes as p holds.
func (f *usageFilter) drain(p []byte) int {
	n := copy(p, f.out[f.sent:])
	f.sent += n
	if f.sent == len(f.out) {
		f.out, f.sent = f.out[:0], 0
	}
	return n
}

// add takes more of the stream.
func (f *usageFilter) add(p []byte) {
	if f.through {
		f.out = append(f.out, p...)
		return
	}
	f.pend = append(f.pend, p...)
	for {
		i := f.eventEnd()
		if i < 0 {
			break
		}
		if ev := f.pend[:i]; !f.usageOnly(ev) {
			f.out = append(f.out, ev...)
		}
		f.pend = f.pend[:copy(f.pend, f.pend[i:])]
	}
	if len(f.pend) > maxHeldEvent {
		f.out = append(f.out, f.pend...)
		f.pend, f.through = f.pend[:0], true
	}
}

// finish ends the stream: an event it ended in without its blank line
// goes out as it came, unless it is the usage chunk.
func (f *usageFilter) finish() {
	if len(f.pend) > 0 && !f.usageOnly(f.pend) {
		f.out = append(f.out, f.pend...)
	}
	f.pend, f.scan, f.midLine = f.pend[:0], 0, false
}

// eventEnd returns the length of the event at the start of f.pend, up to
// and including the blank line that ends it, or -1 when that has not
// arrived. Lines end in "\r\n", "\n" or "\r"; a "\r" last in pend waits
// for the next byte. It resumes where the last call stopped.
func (f *usageFilter) eventEnd() int {
	b := f.pend
	for j := f.scan; j < len(b); j++ {
		c := b[j]
		if c != '\r' && c != '\n' {
			f.midLine = true
			continue
		}
		end := j + 1
		if c == '\r' {
			if end == len(b) {
				f.scan = j
				return -1
			}
			if b[end] == '\n' {
				end++
			}
		}
		if !f.midLine {
			f.scan = 0
			return end
		}
		f.midLine = false
		j = end - 1
	}
	f.scan = len(b)
	return -1
}

// usageOnly reports whether ev (an event, with or without its blank line)
// is made of data lines (and comments) only, whose data is the usage-only
// chunk.
func (f *usageFilter) usageOnly(ev []byte) bool {
	if !bytes.Contains(ev, usageMark) {
		return false
	}
	f.data = f.data[:0]
	lines := 0
	for len(ev) > 0 {
		line, rest := ev, []byte(nil)
		if i := bytes.IndexAny(ev, "\r\n"); i >= 0 {
			j := i + 1
			if ev[i] == '\r' && j < len(ev) && ev[j] == '\n' {
				j++
			}
			line, rest = ev[:i], ev[j:]
		}
		ev = rest
		switch {
		case len(line) == 0 || line[0] == ':':
			continue
		case !bytes.HasPrefix(line, []byte("data")):
			return false
		}
		v := line[len("data"):]
		if len(v) > 0 {
			if v[0] != ':' {
				return false // another field whose name starts with "data"
			}
			v = v[1:]
			if len(v) > 0 && v[0] == ' ' {
				v = v[1:]
			}
		}
		if lines > 0 {
			f.data = append(f.data, '\n')
		}
		f.data = append(f.data, v...)
		lines++
	}
	return lines > 0 && llmwire.UsageOnlyChunk(f.data)
}
