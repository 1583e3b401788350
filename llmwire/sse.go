package llmwire

import "bytes"

// MaxSSEEvent is the most data of one server-sent event SSEUsage keeps. A
// longer event is skipped: usage chunks are a few hundred bytes.
const MaxSSEEvent = 64 << 10

// SSEUsage finds the token usage in a server-sent-events response
// (stream_options.include_usage makes the upstream send it in a last chunk).
// Feed it the raw response bytes with Write, in chunks split anywhere, then
// call Usage. Lines may end in "\n", "\r\n" or "\r"; "data: [DONE]" and
// fields other than data are ignored.
//
// Memory is bounded by MaxSSEEvent, and Write does not allocate once the
// buffer has grown to the largest event seen. The zero value is ready to use;
// an SSEUsage is not safe for concurrent use.
type SSEUsage struct {
	data     []byte // data of the current event, lines joined by '\n'
	hasData  bool   // the current event has a data field
	overflow bool   // the current event's data exceeds MaxSSEEvent
	st       sseState
	name     int  // bytes of the field name seen so far
	isData   bool // the field name so far is a prefix of "data"
	afterCR  bool // the last line ended in '\r': a '\n' next is part of it
	usage    Usage
	found    bool
}

type sseState uint8

const (
	sseLineStart  sseState = iota
	sseName                // in a field name
	sseValueStart          // just after "data:"; a space here is dropped
	sseValue               // in the value of a data field
	sseSkip                // in a line to ignore
)

// Write consumes more of the stream. It never fails.
func (u *SSEUsage) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if u.afterCR {
			u.afterCR = false
			if p[0] == '\n' {
				p = p[1:]
				continue
			}
		}
		switch u.st {
		case sseLineStart:
			switch p[0] {
			case '\r', '\n':
				u.afterCR = p[0] == '\r'
				p = p[1:]
				u.dispatch()
				continue
			case ':': // comment
				u.st = sseSkip
				p = p[1:]
				continue
			}
			u.st, u.name, u.isData = sseName, 0, true
		case sseName:
			c := p[0]
			switch c {
			case ':', '\r', '\n':
				data := u.isData && u.name == len("data")
				if data {
					u.startDataLine()
				}
				if c != ':' {
					// A field with no value ("data" alone): an empty line of data.
					u.endLine(c)
				} else if data {
					u.st = sseValueStart
				} else {
					u.st = sseSkip
				}
				p = p[1:]
				continue
			}
			if u.name >= len("data") || c != "data"[u.name] {
				u.isData = false
				u.st = sseSkip
			}
			u.name++
			p = p[1:]
		case sseValueStart:
			u.st = sseValue
			if p[0] == ' ' {
				p = p[1:]
			}
		case sseValue, sseSkip:
			i := bytes.IndexAny(p, "\r\n")
			if i < 0 {
				if u.st == sseValue {
					u.appendData(p)
				}
				return n, nil
			}
			if u.st == sseValue {
				u.appendData(p[:i])
			}
			u.endLine(p[i])
			p = p[i+1:]
		}
	}
	return n, nil
}

func (u *SSEUsage) endLine(c byte) {
	u.st = sseLineStart
	u.afterCR = c == '\r'
}

func (u *SSEUsage) startDataLine() {
	if u.hasData {
		u.appendData(newline)
	}
	u.hasData = true
}

func (u *SSEUsage) appendData(p []byte) {
	if u.overflow {
		return
	}
	need := len(u.data) + len(p)
	if need > MaxSSEEvent {
		u.overflow = true
		u.data = u.data[:0]
		return
	}
	if need > cap(u.data) {
		// Grow within the bound.
		nc := max(2*cap(u.data), need, 512)
		nc = min(nc, MaxSSEEvent)
		d := make([]byte, len(u.data), nc)
		copy(d, u.data)
		u.data = d
	}
	u.data = append(u.data, p...)
}

// dispatch ends the current event.
func (u *SSEUsage) dispatch() {
	if usage, ok := u.eventUsage(); ok {
		u.usage, u.found = usage, true
	}
	u.data = u.data[:0]
	u.hasData, u.overflow = false, false
}

func (u *SSEUsage) eventUsage() (Usage, bool) {
	if !u.hasData || u.overflow || string(u.data) == "[DONE]" {
		return Usage{}, false
	}
	// Most events are content deltas: skip the parse unless the event can
	// hold a usage object. An upstream that escapes the key's letters is
	// not read, which leaves its reservation charged: never an undercount.
	if !bytes.Contains(u.data, usageKey) {
		return Usage{}, false
	}
	return ParseUsage(u.data)
}

// Usage returns the usage of the last data event with a usage object that is
// not null. An event the stream ended in without its closing blank line
// counts too, when its data is a complete JSON object: the upstream has
// spent the tokens whether or not a client would dispatch it.
func (u *SSEUsage) Usage() (Usage, bool) {
	if usage, ok := u.eventUsage(); ok {
		return usage, true
	}
	return u.usage, u.found
}

// Reset makes u ready for another stream, keeping its buffer.
func (u *SSEUsage) Reset() {
	*u = SSEUsage{data: u.data[:0]}
}

var (
	newline  = []byte{'\n'}
	usageKey = []byte(`usage"`)
)
