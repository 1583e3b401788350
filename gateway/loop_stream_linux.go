//go:build linux

package gateway

import (
	"bufio"
	"bytes"
	"io"
	"slices"
	"strconv"

	"github.com/keyward/keyward/llmwire"
	"github.com/valyala/fasthttp"
)

// Streamed responses (events, chunked, unsized or over 1 MiB) are relayed
// by the loop as they arrive, as relay's upstreamBody relays them on the
// goroutine path and with the same pieces: bodyReader decodes the
// upstream's framing, upstreamBody.read counts the bytes and keeps an
// event stream's tail for its usage, usageFilter takes out the usage
// chunk the gateway asked for, and done settles from the tail. The loop
// only feeds them the bytes it has read, never more: bodyReader is
// stepped only while its next step is wholly buffered.

const (
	streamBacklog = 64 << 10 // unsent bytes for the client: reading the upstream pauses
	streamTurn    = 4        // reads of up to streamBacklog a stream gets before others' turn
)

// streamState is an upstream connection's streamed body in flight.
type streamState struct {
	on      bool
	off     int  // bytes of in already decoded
	chunked bool // the client gets chunks (else the upstream's length)
}

// wholeChunkedBody answers with a chunked body that has arrived whole as
// one sized body, as relay does: nothing is gained by relaying chunks
// that are all here already. It reports false when the body is not whole
// or is too large to buffer.
func (l *evLoop) wholeChunkedBody(c, up *lconn, status int, events bool) bool {
	in := up.in[up.hdrLen:]
	size, ok := wholeChunked(in)
	if !ok || size > maxBufferedBody {
		return false
	}
	x := c.x
	if cap(x.respBody) < size {
		x.respBody = make([]byte, size)
	}
	body := x.respBody[:size]
	l.rd.Reset(in)
	l.br.Reset(&l.rd)
	r := &x.body.r // not a local: through io.ReadFull it would escape
	r.reset(l.br, -1)
	got, err := readWhole(r, body)
	x.received = int64(got)
	if err != nil {
		l.upstreamBad(up)
		return true
	}
	rest := l.rd.Len() + l.br.Buffered()
	l.br.Reset(nil)
	reuse := rest == 0 && !x.resp.ConnectionClose() && !up.eof && !up.readable && up.sent == len(c.reqOut)
	l.g.endBuffered(c.ctx, x, status, body, events)
	l.endExchange(c, up, reuse)
	return true
}

// startStream answers with the response header now and relays the body
// as it comes.
func (l *evLoop) startStream(c, up *lconn, status, n int, events bool) {
	x, ctx := c.x, c.ctx
	x.body = upstreamBody{g: l.g, x: x, status: status, events: events, strip: x.strips(events), reuse: !x.resp.ConnectionClose()}
	x.body.r.reset(nil, n)
	x.strip.reset()
	x.tail, x.tailCut = x.tail[:0], false
	up.stream = streamState{on: true, off: up.hdrLen, chunked: n < 0 || x.body.strip}
	h := &ctx.Response.Header
	h.Del("Content-Length")
	if up.stream.chunked {
		h.SetContentLength(-1)
	} else {
		h.SetContentLength(n)
	}
	if n == -2 {
		// A body that ends with the upstream's connection: fasthttp's
		// server closes the client's after it too (SetContentLength(-2)).
		c.closeAfter = true
	}
	l.prepareAnswer(c)
	c.out = appendHeader(c.out, h, &l.scratch)
	l.stream(c, up)
}

// stream relays what up.in holds of the body, ends the exchange when the
// body has ended, and aborts it when the upstream broke its framing.
func (l *evLoop) stream(c, up *lconn) {
	x := c.x
	b := &x.body
	for {
		out, used := decodeBuffered(&b.r, up.in[up.stream.off:], &l.rd, l.br, l.dec[:0])
		l.dec = out[:0]
		b.took(out)
		l.emit(c, up, out)
		up.stream.off += used
		if b.r.err != nil {
			l.abortStream(c, up)
			return
		}
		if used == 0 || b.r.done {
			break
		}
	}
	undecoded := len(up.in) - up.stream.off
	switch {
	case b.r.done:
		l.endStream(c, up, undecoded == 0 && !up.eof)
		return
	case b.r.untilEOF && up.eof && undecoded == 0:
		b.r.done = true // an unsized body ends with the connection
		l.endStream(c, up, false)
		return
	case up.eof || undecoded >= loopHeaderMax:
		// Cut short, or a chunk line longer than any the reader takes.
		l.abortStream(c, up)
		return
	}
	// Keep the unread bytes at the front: up.in does not grow past what
	// one step needs.
	if up.stream.off > 0 {
		up.in = up.in[:copy(up.in, up.in[up.stream.off:])]
		up.stream.off = 0
	}
	l.flush(c)
}

// decodeBuffered steps r over in, the body bytes not decoded yet, as far
// as they reach and no further, appending what it decodes to dst; it
// returns dst and how many bytes of in it used. rd and br are scratch
// readers. A step runs only when the bytes it needs are all in (a whole
// chunk-size line, a whole trailer), so r never reads past in and waits
// in its state for the next call instead.
func decodeBuffered(r *bodyReader, in []byte, rd *bytes.Reader, br *bufio.Reader, dst []byte) ([]byte, int) {
	rd.Reset(in)
	br.Reset(rd)
	br.Peek(min(len(in), br.Size())) // buffers what there is; reads nothing else
	r.br, r.stepwise = br, true
	for !r.done && r.err == nil && stepBuffered(r) {
		if cap(dst)-len(dst) < 4<<10 {
			dst = slices.Grow(dst, max(16<<10, len(in)))
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err != nil && err != io.EOF {
			break
		}
	}
	used := len(in) - rd.Len() - br.Buffered()
	br.Reset(nil)
	r.br = nil
	return dst, used
}

// stepBuffered reports whether r's next step can run on the bytes its
// reader has buffered, so that it never reaches past them.
func stepBuffered(r *bodyReader) bool {
	if r.br.Buffered() == 0 {
		return false
	}
	return !r.chunked || r.bufferedAhead()
}

// emit queues decoded body bytes for the client: through the usage
// filter when the gateway asked for usage the caller did not, then as a
// chunk or as they are.
func (l *evLoop) emit(c, up *lconn, p []byte) {
	x := c.x
	if !x.body.strip {
		l.frame(c, up, p)
		return
	}
	f := &x.strip
	f.add(p)
	if x.body.r.done {
		f.finish()
	}
	l.frameFiltered(c, up)
}

// frameFiltered queues what the usage filter lets through.
func (l *evLoop) frameFiltered(c, up *lconn) {
	f := &c.x.strip
	l.frame(c, up, f.out[f.sent:])
	f.out, f.sent = f.out[:0], 0
}

// frame queues body bytes for the client, as a chunk or as they are.
func (l *evLoop) frame(c, up *lconn, p []byte) {
	if len(p) == 0 {
		return
	}
	makeRoom(c, len(p)+20)
	if up.stream.chunked {
		c.out = strconv.AppendInt(c.out, int64(len(p)), 16)
		c.out = append(c.out, '\r', '\n')
		c.out = append(c.out, p...)
		c.out = append(c.out, '\r', '\n')
		return
	}
	c.out = append(c.out, p...)
}

// makeRoom moves c's unsent bytes to the front of c.out when n more
// would not fit: a client that takes part of each write would otherwise
// have the buffer grow, copying what it already sent, for as long as the
// stream lasts.
func makeRoom(c *lconn, n int) {
	if c.outOff == 0 || cap(c.out)-len(c.out) >= n {
		return
	}
	c.out = c.out[:copy(c.out, c.out[c.outOff:])]
	c.outOff = 0
}

// endStream ends a stream whose body ended where its framing said:
// the last chunk goes out, the exchange is settled from the usage its
// tail reports, and the client's connection goes on.
func (l *evLoop) endStream(c, up *lconn, inStep bool) {
	x := c.x
	b := &x.body
	if b.strip {
		l.emit(c, up, nil) // what the filter held back
	}
	if up.stream.chunked {
		c.out = append(c.out, "0\r\n\r\n"...)
	}
	// Reused only in step: nothing read past the body, nothing left
	// unread in the socket (reading stops at a bound while a stream is
	// relayed), the whole request written, no close asked for.
	reuse := inStep && !up.readable && b.reuse && up.sent == len(c.reqOut)
	l.settleStream(c, up, reuse)
	l.finishAnswer(c)
}

// abortStream ends a stream that cannot end cleanly (the upstream broke
// its framing, closed early or timed out; the client went away): the
// client's connection closes, as fasthttp closes it when a body stream
// fails, and the exchange is settled from what arrived.
func (l *evLoop) abortStream(c, up *lconn) {
	if x := c.x; x.body.strip {
		// What the filter held back goes out first, as upstreamBody.Read
		// hands it over before the error.
		x.strip.finish()
		l.frameFiltered(c, up)
	}
	l.settleStream(c, up, false)
	c.closeAfter = true // what arrived goes out, but no last chunk
	l.finishAnswer(c)
}

// settleStream settles a stream's exchange as upstreamBody.Close does and
// puts the upstream connection back or closes it.
func (l *evLoop) settleStream(c, up *lconn, reuse bool) {
	x := c.x
	up.stream = streamState{}
	if reuse {
		l.release(up)
	} else {
		l.closeUpstream(up)
	}
	var u llmwire.Usage
	var ok bool
	if x.body.events {
		u, ok = tailUsage(&x.sse, x.tail, x.tailCut)
	}
	l.g.done(x, x.body.status, u, ok)
	c.x, c.upc, c.rest = nil, nil, nil
}

// appendHeader appends h. fasthttp's ResponseHeader.AppendBytes
// overwrites its dst rather than appending to it, so a dst that holds
// bytes gets the header through scratch.
func appendHeader(dst []byte, h *fasthttp.ResponseHeader, scratch *[]byte) []byte {
	if len(dst) == 0 {
		return h.AppendBytes(dst)
	}
	*scratch = h.AppendBytes(*scratch)
	return append(dst, *scratch...)
}
