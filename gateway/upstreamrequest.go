package gateway

import (
	"bytes"

	"github.com/keyward/keyward/clientip"
	"github.com/valyala/fasthttp"
)

// appendRequestHead appends the head of the request for the upstream to
// dst, for both transports to write as bytes: the caller's method; the
// stage's base path plus the rest of the path, encoded once from the
// decoded path the checks saw; the query string as sent; the caller's
// headers without hop-by-hop ones and without its key; and what the
// gateway sets itself (Host, the stage's credential, X-Forwarded-For,
// Content-Length). upstreamBody is the body that follows it.
//
// Encoding the path once matters: decoding it a second time on the way
// out (as fasthttp's URI does) would let "%252E%252E" pass the route
// check as "%2E%2E" and reach the upstream as "..".
func (g *Gateway) appendRequestHead(dst []byte, ctx *fasthttp.RequestCtx, x *exchange, rest []byte) []byte {
	st := x.st
	h := &ctx.Request.Header
	dst = append(dst, h.Method()...)
	dst = append(dst, ' ')
	dst = append(dst, st.basePath...)
	dst = appendPathEscaped(dst, rest)
	if q := ctx.URI().QueryString(); len(q) > 0 {
		dst = append(append(dst, '?'), q...)
	}
	dst = append(dst, " HTTP/1.1\r\n"...)

	peer := g.peer(ctx)
	trustedPeer := clientip.Trusted(peer, g.cfg.TrustedProxies)
	// Valid until the next PeekAll, which comes after the loop.
	conn := h.PeekAll("Connection")
	for k, v := range h.All() {
		if notForwarded(k) || connectionNamed(conn, k) || (!trustedPeer && proxyClaim(k)) ||
			(st.api.openai && bytes.EqualFold(k, hdrAcceptEncoding)) {
			continue
		}
		dst = appendHeaderLine(dst, k, v)
	}
	if st.api.openai {
		// Usage is read from the response: ask for it uncompressed.
		dst = append(dst, "Accept-Encoding: identity\r\n"...)
	}
	dst = appendHeaderLine(dst, hdrHost, []byte(st.up.host))
	if st.auth != nil {
		dst = appendHeaderLine(dst, hdrAuth, st.auth)
	}
	// X-Forwarded-For: a trusted proxy's chain (every line of it, as
	// clientip.Resolve reads it) with the proxy appended, else the socket's
	// peer alone.
	dst = append(dst, "X-Forwarded-For: "...)
	if trustedPeer {
		for _, prior := range h.PeekAll("X-Forwarded-For") {
			if len(prior) > 0 {
				dst = append(append(dst, prior...), ", "...)
			}
		}
	}
	dst = append(peer.AppendTo(dst), "\r\n"...)
	// As fasthttp frames a request: a body, or a method that has one even
	// when empty, is sized; a GET or HEAD without one is not.
	if body := x.upstreamBody(ctx); len(body) > 0 || !(h.IsGet() || h.IsHead()) {
		dst = append(dst, "Content-Length: "...)
		dst = fasthttp.AppendUint(dst, len(body))
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// upstreamBody is the body that goes upstream: the caller's, or the one
// that asks for usage (stripUsage).
func (x *exchange) upstreamBody(ctx *fasthttp.RequestCtx) []byte {
	if x.stripUsage {
		return x.fwdBody
	}
	return ctx.Request.Body()
}

var (
	hdrHost           = []byte("Host")
	hdrAcceptEncoding = []byte("Accept-Encoding")
)

func appendHeaderLine(dst, k, v []byte) []byte {
	dst = append(dst, k...)
	dst = append(dst, ':', ' ')
	dst = append(dst, v...)
	return append(dst, '\r', '\n')
}

// appendPathEscaped appends a decoded path in its encoded form: every
// byte but the unreserved ones, the sub-delimiters, ':', '@' and '/' (RFC
// 3986 section 3.3) as %XX, '%' itself included.
func appendPathEscaped(dst, p []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range p {
		if pathByte[c] {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', hex[c>>4], hex[c&15])
		}
	}
	return dst
}

// pathByte holds the bytes a path segment carries as they are.
var pathByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~!$&'()*+,;=:@/" {
		t[c] = true
	}
	return t
}()
