package gateway

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"time"

	"github.com/keyward/keyward/llmwire"
	"github.com/valyala/fasthttp"
)

// hopHeaders are connection-level headers (RFC 9110 section 7.6.1) plus
// the caller's credentials: none of them goes upstream.
var hopHeaders = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization",
	"Proxy-Authenticate", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"X-Api-Key", "Authorization",
}

// responseHopHeaders are dropped from upstream responses.
var responseHopHeaders = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

var (
	sseType         = []byte("text/event-stream")
	maxBufferedBody = 1 << 20 // larger or unsized responses stream through
)

// forward sends the admitted request upstream and relays the answer:
// buffered for ordinary responses (so usage can be read), event by event
// for server-sent events.
func (g *Gateway) forward(ctx *fasthttp.RequestCtx, x *exchange, rest []byte) {
	st := x.st
	if st.authMissing {
		g.finish(ctx, x, fasthttp.StatusBadGateway, bodyBadGateway, 0, 0)
		return
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	g.buildRequest(ctx, x, req, rest)
	err := st.up.client.DoTimeout(req, resp, g.cfg.Timeout)
	fasthttp.ReleaseRequest(req)
	if err != nil {
		fasthttp.ReleaseResponse(resp)
		if errors.Is(err, fasthttp.ErrTimeout) {
			g.finish(ctx, x, fasthttp.StatusGatewayTimeout, bodyTimeout, 0, 0)
		} else {
			g.finish(ctx, x, fasthttp.StatusBadGateway, bodyBadGateway, 0, 0)
		}
		return
	}
	resp.Header.CopyTo(&ctx.Response.Header)
	for _, h := range responseHopHeaders {
		ctx.Response.Header.Del(h)
	}
	status := resp.StatusCode()
	stream := resp.BodyStream()
	if stream == nil { // no body (HEAD, 204, 304)
		fasthttp.ReleaseResponse(resp)
		g.done(x, status, 0, 0)
		return
	}
	if bytes.HasPrefix(resp.Header.ContentType(), sseType) {
		g.relayEvents(ctx, x, resp, status)
		return
	}
	n := resp.Header.ContentLength()
	if n < 0 || n > maxBufferedBody {
		// Unsized or large: stream it through; usage cannot be read, so a
		// token reservation stays charged as reserved.
		x.body = upstreamBody{g: g, x: x, resp: resp, status: status}
		ctx.Response.SetBodyStream(&x.body, n)
		return
	}
	ctx.Response.ResetBody()
	_, rerr := io.CopyBuffer(ctx.Response.BodyWriter(), stream, x.buf[:])
	resp.CloseBodyStream()
	fasthttp.ReleaseResponse(resp)
	if rerr != nil {
		g.finish(ctx, x, fasthttp.StatusBadGateway, bodyBadGateway, 0, 0)
		return
	}
	var in, out int64
	if st.api.openai {
		if u, ok := llmwire.ParseUsage(ctx.Response.Body()); ok {
			in, out = u.PromptTokens, u.CompletionTokens
		}
	}
	g.done(x, status, in, out)
}

// buildRequest copies the caller's request for the upstream: the stage's
// base URL plus the rest of the path (re-encoded from the decoded path the
// checks saw), the query string as sent, headers without hop-by-hop ones
// and without the caller's key, and the stage's own credential.
func (g *Gateway) buildRequest(ctx *fasthttp.RequestCtx, x *exchange, req *fasthttp.Request, rest []byte) {
	st := x.st
	ctx.Request.Header.CopyTo(&req.Header)
	for _, h := range hopHeaders {
		req.Header.Del(h)
	}
	u := req.URI()
	if st.up.https {
		u.SetScheme("https")
	} else {
		u.SetScheme("http")
	}
	u.SetHost(st.up.host)
	req.Header.SetHost(st.up.host)
	path := append(x.buf[:0], st.basePath...)
	path = append(path, rest...)
	u.SetPathBytes(path)
	u.SetQueryStringBytes(ctx.URI().QueryString())
	if st.auth != nil {
		req.Header.SetBytesV("Authorization", st.auth)
	}
	var ipbuf [64]byte
	ip := g.clientIP(ctx)
	xff := ipbuf[:0]
	if prior := ctx.Request.Header.Peek("X-Forwarded-For"); len(prior) > 0 && g.peerTrusted(ctx) {
		xff = append(append(xff, prior...), ", "...)
		ip, _ = netip.AddrFromSlice(ctx.RemoteIP())
		ip = ip.Unmap()
	}
	xff = ip.AppendTo(xff)
	req.Header.SetBytesV("X-Forwarded-For", xff)
	req.SetBodyRaw(ctx.Request.Body())
}

func (g *Gateway) peerTrusted(ctx *fasthttp.RequestCtx) bool {
	if len(g.cfg.TrustedProxies) == 0 {
		return false
	}
	peer, _ := netip.AddrFromSlice(ctx.RemoteIP())
	return trusted(peer.Unmap(), g.cfg.TrustedProxies)
}

// relayEvents streams server-sent events to the client as they arrive:
// fasthttp writes each Read of the body as one chunk and flushes it, with
// no goroutine or pipe in between. A client that goes away makes a write
// fail; fasthttp then closes the body, which closes the upstream
// connection and so cancels the upstream call.
func (g *Gateway) relayEvents(ctx *fasthttp.RequestCtx, x *exchange, resp *fasthttp.Response, status int) {
	ctx.Response.Header.Del("Content-Length")
	x.sse.Reset()
	x.body = upstreamBody{g: g, x: x, resp: resp, status: status, events: true}
	if x.pending == nil {
		x.pending = make([]byte, 0, 4096)
	}
	x.pump.start(resp.BodyStream(), x.buf[:], x.pending)
	ctx.Response.SetBodyStream(&x.body, -1)
}

// upstreamBody streams an upstream body through (server-sent events, large
// or unsized bodies) and settles the exchange when fasthttp closes it.
type upstreamBody struct {
	g      *Gateway
	x      *exchange
	resp   *fasthttp.Response
	status int
	events bool // read usage from the final event
	closed bool
}

func (b *upstreamBody) Read(p []byte) (int, error) {
	if !b.events {
		return b.resp.BodyStream().Read(p)
	}
	n, err := b.x.pump.Read(p)
	if n > 0 {
		b.x.sse.Write(p[:n])
	}
	return n, err
}

func (b *upstreamBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	if b.events {
		b.x.pump.stop(func() { b.resp.CloseBodyStream() })
		b.x.pending = b.x.pump.pending[:0]
	}
	b.resp.CloseBodyStream()
	fasthttp.ReleaseResponse(b.resp)
	var in, out int64
	if b.events {
		if u, ok := b.x.sse.Usage(); ok {
			in, out = u.PromptTokens, u.CompletionTokens
		}
	}
	b.g.done(b.x, b.status, in, out)
	return nil
}

// finish answers with a fixed body (the upstream failed or cannot be
// used), refunds the reservation of tokens never spent, and ends the
// exchange.
func (g *Gateway) finish(ctx *fasthttp.RequestCtx, x *exchange, status int, body []byte, in, out int64) {
	reply(ctx, status, body)
	if x.charged && x.reserved > 0 {
		g.limiter.Settle(x.now, &x.charge, 0)
		x.reserved = 0
	}
	g.done(x, status, in, out)
}

// done settles tokens, records metrics and usage, and releases x.
func (g *Gateway) done(x *exchange, status int, in, out int64) {
	if x.charged && x.reserved > 0 && (in > 0 || out > 0) {
		g.limiter.Settle(x.now, &x.charge, in+out)
	}
	if in > 0 || out > 0 {
		x.st.metrics.Tokens(in, out)
	}
	x.st.metrics.Request(status, time.Since(x.start))
	x.key.keyStats.Request(status)
	g.usage.add(x.key.id, x.now, 1, in, out)
	g.release(x)
}
