package gateway

import (
	"bufio"
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
		ctx.Response.SetBodyStream(&upstreamBody{g: g, x: x, resp: resp, status: status}, n)
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
// each read from the upstream is written and flushed at once. A client
// that goes away makes the next flush fail, which closes the upstream
// connection and so cancels the upstream call.
func (g *Gateway) relayEvents(ctx *fasthttp.RequestCtx, x *exchange, resp *fasthttp.Response, status int) {
	ctx.Response.Header.Del("Content-Length")
	x.sse.Reset()
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		stream := resp.BodyStream()
		var failed error
		for {
			n, err := stream.Read(x.buf[:])
			if n > 0 {
				x.sse.Write(x.buf[:n])
				if _, werr := w.Write(x.buf[:n]); werr != nil {
					failed = werr
					break
				}
				if werr := w.Flush(); werr != nil {
					failed = werr
					break
				}
			}
			if err != nil {
				if err != io.EOF {
					failed = err
				}
				break
			}
		}
		if rc, ok := stream.(fasthttp.ReadCloserWithError); ok && failed != nil {
			rc.CloseWithError(failed)
		} else {
			resp.CloseBodyStream()
		}
		fasthttp.ReleaseResponse(resp)
		var in, out int64
		if u, ok := x.sse.Usage(); ok {
			in, out = u.PromptTokens, u.CompletionTokens
		}
		g.done(x, status, in, out)
	})
}

// upstreamBody streams a large or unsized response through and settles
// the exchange when fasthttp closes it.
type upstreamBody struct {
	g      *Gateway
	x      *exchange
	resp   *fasthttp.Response
	status int
	err    error
}

func (b *upstreamBody) Read(p []byte) (int, error) {
	n, err := b.resp.BodyStream().Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func (b *upstreamBody) Close() error {
	b.resp.CloseBodyStream()
	fasthttp.ReleaseResponse(b.resp)
	b.g.done(b.x, b.status, 0, 0)
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
