package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"

	"github.com/keyward/keyward/llmwire"
	"github.com/valyala/fasthttp"
)

// proxyClaim reports whether a header states where a request came from,
// which only a trusted proxy may tell the upstream.
func proxyClaim(k []byte) bool {
	eq := func(s string) bool { return bytes.EqualFold(k, []byte(s)) }
	switch len(k) {
	case 9:
		return eq("forwarded") || eq("x-real-ip")
	case 11:
		return eq("x-client-ip")
	case 16:
		return eq("x-forwarded-host") || eq("x-forwarded-port")
	case 17:
		return eq("x-forwarded-proto")
	}
	return false
}

// notForwarded reports whether a request header stays at the gateway:
// connection-level headers (RFC 9110 section 7.6.1), the caller's
// credentials, and what the gateway sets itself (Host, Content-Length,
// X-Forwarded-For; Expect, as the gateway has the whole body already).
func notForwarded(k []byte) bool {
	eq := func(s string) bool { return bytes.EqualFold(k, []byte(s)) }
	switch len(k) {
	case 2:
		return eq("te")
	case 4:
		return eq("host")
	case 6:
		return eq("expect")
	case 7:
		return eq("trailer") || eq("upgrade")
	case 9:
		return eq("x-api-key")
	case 10:
		return eq("connection") || eq("keep-alive")
	case 13:
		return eq("authorization")
	case 14:
		return eq("content-length")
	case 15:
		return eq("x-forwarded-for")
	case 16:
		return eq("proxy-connection")
	case 17:
		return eq("transfer-encoding")
	case 18:
		return eq("proxy-authenticate")
	case 19:
		return eq("proxy-authorization")
	}
	return false
}

// responseHop reports whether k is a header dropped from upstream
// responses: Connection, Keep-Alive, Proxy-Connection,
// Proxy-Authenticate, Te, Trailer, Transfer-Encoding, Upgrade. It runs
// for every response header, hence a switch on the length.
func responseHop(k []byte) bool {
	eq := func(s string) bool { return bytes.EqualFold(k, []byte(s)) }
	switch len(k) {
	case 2:
		return eq("te")
	case 7:
		return eq("trailer") || eq("upgrade")
	case 10:
		return eq("connection") || eq("keep-alive")
	case 16:
		return eq("proxy-connection")
	case 17:
		return eq("transfer-encoding")
	case 18:
		return eq("proxy-authenticate")
	}
	return false
}

var (
	sseType         = []byte("text/event-stream")
	maxBufferedBody = 1 << 20 // larger or unsized responses stream through
)

// isEventStream reports whether a Content-Type is server-sent events
// (media types are case-insensitive).
func isEventStream(ct []byte) bool {
	return len(ct) >= len(sseType) && bytes.EqualFold(ct[:len(sseType)], sseType)
}

// forward sends the admitted request upstream and relays the answer
// (relay).
func (g *Gateway) forward(ctx *fasthttp.RequestCtx, x *exchange, rest []byte) {
	if x.st.authMissing {
		g.finish(ctx, x, fasthttp.StatusBadGateway, bodyBadGateway)
		return
	}
	x.head = g.appendRequestHead(x.head[:0], ctx, x, rest)
	uc, err := g.exchange(ctx, x)
	if err != nil {
		g.upstreamFailed(ctx, x, err)
		return
	}
	g.relay(ctx, x, uc, rest)
}

// upstreamFailed answers a request whose upstream could not be reached or
// did not answer: 504 for a timeout, 502 otherwise.
func (g *Gateway) upstreamFailed(ctx *fasthttp.RequestCtx, x *exchange, err error) {
	var te interface{ Timeout() bool } // net.Error, fasthttp.ErrTimeout
	if errors.As(err, &te) && te.Timeout() {
		g.finish(ctx, x, fasthttp.StatusGatewayTimeout, bodyTimeout)
	} else {
		g.finish(ctx, x, fasthttp.StatusBadGateway, bodyBadGateway)
	}
}

// relay answers with the upstream's response, whose header is in x.resp
// and whose body is next in uc: buffered when it is small and sized (so
// usage can be read from it), streamed otherwise — server-sent events
// event by event.
func (g *Gateway) relay(ctx *fasthttp.RequestCtx, x *exchange, uc *upConn, rest []byte) {
	status, n := g.relayHeader(ctx, x)
	h := &x.resp
	if bodiless(&ctx.Request, status) {
		if h.ConnectionClose() || status == fasthttp.StatusSwitchingProtocols {
			uc.discard()
		} else {
			uc.release()
		}
		g.endBodiless(ctx, x, status)
		return
	}
	if status == fasthttp.StatusOK && listsModels(ctx, x, rest) {
		g.relayModelList(ctx, x, uc, n)
		return
	}
	events := isEventStream(h.ContentType())
	if n == -1 {
		// A chunked body that has arrived whole (a short stream, or an
		// upstream faster than the gateway) goes out as one sized body, in
		// the same write as the header: nothing is gained by relaying
		// chunks that are all here already.
		if size, ok := arrivedWhole(uc.br); ok && size <= maxBufferedBody {
			g.relayBuffered(ctx, x, uc, status, -1, size, events)
			return
		}
	}
	if streamed(events, n) {
		// Streamed: events as they arrive; large or unsized bodies without
		// holding them. Usage is read from a final event; otherwise a token
		// reservation settles to the estimate from the bytes streamed.
		ctx.Response.Header.Del("Content-Length")
		x.body = upstreamBody{g: g, x: x, uc: uc, status: status, events: events, strip: x.strips(events), reuse: !h.ConnectionClose()}
		x.strip.reset()
		x.body.r.reset(uc.br, n)
		x.tail, x.tailCut = x.tail[:0], false
		size := n
		if x.body.strip {
			size = -1 // taking the usage event out changes the length: chunks
		}
		ctx.Response.SetBodyStream(&x.body, size)
		return
	}
	g.relayBuffered(ctx, x, uc, status, n, n, false)
}

// relayHeader copies the upstream's response header in x.resp to the
// answer, without hop-by-hop headers, and returns its status and
// Content-Length (-1 chunked, -2 until the connection closes).
func (g *Gateway) relayHeader(ctx *fasthttp.RequestCtx, x *exchange) (status, n int) {
	x.replied = true
	h := &x.resp
	x.encoded = contentCoded(h.ContentEncoding())
	h.CopyTo(&ctx.Response.Header)
	// The headers the upstream's Connection header names are for its hop
	// only (RFC 9110 section 7.6.1), as are the fixed hop-by-hop ones.
	for _, v := range h.PeekAll("Connection") {
		for v != nil {
			var name []byte
			name, v = nextListItem(v)
			if len(name) > 0 {
				ctx.Response.Header.DelBytes(name)
			}
		}
	}
	// Only the hop-by-hop headers present are deleted: each deletion
	// normalises its name and scans the header, and a chunked response
	// has one (Transfer-Encoding), most others none.
	for k := range h.All() {
		if responseHop(k) {
			ctx.Response.Header.DelBytes(k)
		}
	}
	return h.StatusCode(), h.ContentLength()
}

// bodiless reports whether a response to req with this status has no
// body whatever its header says.
func bodiless(req *fasthttp.Request, status int) bool {
	return req.Header.IsHead() || status == fasthttp.StatusNoContent || status == fasthttp.StatusNotModified || status < 200
}

// endBodiless ends an exchange whose response has no body.
func (g *Gateway) endBodiless(ctx *fasthttp.RequestCtx, x *exchange, status int) {
	ctx.Response.SkipBody = ctx.Request.Header.IsHead()
	g.done(x, status, llmwire.Usage{}, false)
}

// streamed reports whether a response body is relayed as it arrives
// rather than read whole first: events, and bodies that are unsized or
// larger than maxBufferedBody.
func streamed(events bool, n int) bool {
	return events || n < 0 || n > maxBufferedBody
}

// relayBuffered answers with an upstream body of known size as a sized
// body: framed by the upstream's Content-Length (framing = size), or
// chunked (framing = -1) and already whole in uc's buffer. Usage is read
// from it: the last event of a stream, or an OpenAI-compatible JSON body.
func (g *Gateway) relayBuffered(ctx *fasthttp.RequestCtx, x *exchange, uc *upConn, status, framing, size int, events bool) {
	if cap(x.respBody) < size {
		x.respBody = make([]byte, size)
	}
	body := x.respBody[:size]
	var r bodyReader
	r.reset(uc.br, framing)
	got, err := readWhole(&r, body)
	x.received = int64(got)
	if err != nil {
		uc.discard()
		ctx.Response.Header.Reset()
		g.finish(ctx, x, fasthttp.StatusBadGateway, bodyBadGateway)
		return
	}
	if x.resp.ConnectionClose() {
		uc.discard()
	} else {
		uc.release()
	}
	g.endBuffered(ctx, x, status, body, events)
}

// readWhole reads a body of known size through r into body, then its
// framing's end (the last chunk and trailer): an error unless the body
// ended exactly where its size said.
func readWhole(r *bodyReader, body []byte) (int, error) {
	got, err := io.ReadFull(r, body)
	if err == nil {
		var one [1]byte
		var m int
		if m, err = r.Read(one[:]); m == 0 && err == io.EOF {
			err = nil // the body ended where its framing said it would
		} else if err == nil {
			err = errBadChunk
		}
	}
	if err == nil && !r.done {
		err = errBadChunk
	}
	return got, err
}

// endBuffered answers with a whole response body and ends the exchange
// with the usage read from it: the last event of a stream, or an
// OpenAI-compatible JSON body.
func (g *Gateway) endBuffered(ctx *fasthttp.RequestCtx, x *exchange, status int, body []byte, events bool) {
	var u llmwire.Usage
	var ok bool
	switch {
	case events:
		u, ok = tailUsage(&x.sse, body, false)
	case x.st.api.openai:
		u, ok = llmwire.ParseUsage(body)
	}
	if x.strips(events) {
		f := &x.strip
		f.reset()
		f.add(body)
		f.finish()
		body = f.out
	}
	ctx.Response.SetBody(body)
	g.done(x, status, u, ok)
}

// exchange writes the request (x.head and its body) on a pooled
// connection and reads the response header into x.resp, skipping
// informational (1xx) responses. A request that finds its reused
// connection closed by the upstream is sent again on a new one when it
// cannot have been acted on: the write failed, or the method is
// idempotent.
func (g *Gateway) exchange(ctx *fasthttp.RequestCtx, x *exchange) (*upConn, error) {
	up := x.st.up
	deadline := x.start.Add(g.cfg.Timeout)
	body := x.upstreamBody(ctx)
	for attempt := 0; ; attempt++ {
		uc, err := up.acquire(context.Background(), x.start)
		if err != nil {
			return nil, err
		}
		uc.setDeadline(deadline)
		_, werr := uc.bw.Write(x.head)
		if werr == nil {
			_, werr = uc.bw.Write(body)
		}
		if werr == nil {
			werr = uc.bw.Flush()
		}
		x.sent = x.sent || werr == nil
		rerr := werr
		if werr == nil {
			rerr = readResponseHeader(&x.resp, uc.br)
		}
		if rerr == nil {
			return uc, nil
		}
		uc.discard()
		stale := uc.reused && (werr != nil || (errors.Is(rerr, io.EOF) && idempotent(ctx.Request.Header.Method())))
		if !stale || attempt > 0 {
			return nil, rerr
		}
	}
}

// readResponseHeader reads a response header, skipping 1xx responses
// (100 Continue, 103 Early Hints) but not 101.
func readResponseHeader(h *fasthttp.ResponseHeader, br *bufio.Reader) error {
	for {
		h.Reset()
		if err := h.Read(br); err != nil {
			return err
		}
		if s := h.StatusCode(); s >= 200 || s == fasthttp.StatusSwitchingProtocols {
			return nil
		}
	}
}

func idempotent(method []byte) bool {
	switch string(method) {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	return false
}

// upstreamBody streams an upstream body to the client and settles the
// exchange when fasthttp closes it. fasthttp writes each Read as one chunk
// and flushes it; bodyReader hands over whatever has arrived, so events
// are relayed as they come and a burst goes out in one write. A client
// that goes away fails a write; fasthttp then closes the body, which
// closes the upstream connection and so cancels the upstream call.
type upstreamBody struct {
	g      *Gateway
	x      *exchange
	uc     *upConn
	r      bodyReader
	status int
	events bool // read usage from the final event
	strip  bool // take the usage chunk out (x.strip)
	err    error
	reuse  bool // the upstream did not ask to close the connection
	closed bool
}

func (b *upstreamBody) Read(p []byte) (int, error) {
	if !b.strip {
		return b.read(p)
	}
	// Read into p, hand the bytes to the filter, and give p what it lets
	// through; read again when it holds everything back (an event not yet
	// ended, or the usage chunk).
	f := &b.x.strip
	for !f.ready() {
		if b.err != nil {
			return 0, b.err
		}
		n, err := b.read(p)
		f.add(p[:n])
		if err != nil {
			f.finish()
			b.err = err
		}
	}
	return f.drain(p), nil
}

// read reads the upstream's bytes, counting them and keeping the stream's
// tail for its usage.
func (b *upstreamBody) read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.took(p[:n])
	return n, err
}

// took counts body bytes read from the upstream and keeps an event
// stream's tail for its usage.
func (b *upstreamBody) took(p []byte) {
	b.x.received += int64(len(p))
	if b.events && len(p) > 0 {
		b.x.tail, b.x.tailCut = keepTail(b.x.tail, p, b.x.tailCut)
	}
}

func (b *upstreamBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	if b.r.done && b.reuse {
		b.uc.release()
	} else {
		b.uc.discard()
	}
	var u llmwire.Usage
	var ok bool
	if b.events {
		u, ok = tailUsage(&b.x.sse, b.x.tail, b.x.tailCut)
	}
	b.g.done(b.x, b.status, u, ok)
	return nil
}

// finish answers with a fixed body (the upstream failed or cannot be
// used) and ends the exchange; done settles the reservation from what is
// known of how far the request got.
func (g *Gateway) finish(ctx *fasthttp.RequestCtx, x *exchange, status int, body []byte) {
	reply(ctx, status, body)
	g.done(x, status, llmwire.Usage{}, false)
}
