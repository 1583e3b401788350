package gateway

import (
	"net/netip"
	"time"
	"unsafe"

	"github.com/keyward/keyward/clientip"
	"github.com/keyward/keyward/keyvalue"
	"github.com/keyward/keyward/limit"
	"github.com/keyward/keyward/llmwire"
	"github.com/valyala/fasthttp"
)

// exchange is the state of one request, pooled: the hot path allocates
// nothing of its own.
type exchange struct {
	start    time.Time
	now      time.Time
	st       *stageEntry
	key      *keyView // &keyBuf once the key is known
	keyBuf   keyView
	stages   map[*stageEntry]*keyStage // where the key may go, with its limits
	charge   limit.Charge
	charged  bool
	reserved int64 // LLM tokens reserved in charge
	sse      llmwire.SSEUsage
	tail     []byte                  // the end of a server-sent-events stream, for its usage
	tailCut  bool                    // tail lost its beginning
	head     []byte                  // the head of the request that goes upstream
	resp     fasthttp.ResponseHeader // what came back
	respBody []byte                  // a buffered response body
	body     upstreamBody            // the response body when it streams through

	// How far the request got, for settling a reservation without usage
	// (unreportedUsage).
	prompt   int64 // bytes of the request body
	sent     bool  // the request was written upstream: it may have been acted on
	replied  bool  // the upstream's response header arrived
	received int64 // bytes of the upstream's response body read so far
	encoded  bool  // the reply has a content coding: its bytes are not its text

	// stripUsage: the gateway asked for usage on a stream the caller asked
	// none for; fwdBody is the body that asks, strip takes the usage chunk
	// out of the reply.
	stripUsage bool
	fwdBody    []byte
	strip      usageFilter
}

// b2s views b as a string without copying, for lookups and matches that
// do not retain it.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// serve is the fasthttp handler: route, authenticate, authorize, limit,
// proxy. Every refusal is a fixed body: nothing the client sent is echoed.
func (g *Gateway) serve(ctx *fasthttp.RequestCtx) {
	if x, rest := g.begin(ctx); x != nil {
		g.forward(ctx, x, rest) // releases x, now or when a stream ends
	}
}

// begin routes, authenticates, authorizes and charges a request. It
// returns the exchange to forward and the path past the stage, or nil
// when the request has been answered (ctx.Response holds the answer).
func (g *Gateway) begin(ctx *fasthttp.RequestCtx) (*exchange, []byte) {
	t := g.table.Load()
	apiName, stageName, rest, ok := splitPath(ctx.Path())
	var st *stageEntry
	if ok {
		if a := t.apis[b2s(apiName)]; a != nil {
			st = a.stage(stageName)
		}
	}
	if st == nil {
		reply(ctx, fasthttp.StatusNotFound, bodyNotFound)
		return nil, nil
	}
	x := g.pool.Get().(*exchange)
	x.start, x.st = time.Now(), st
	x.now = x.start
	if !g.systemClock {
		x.now = g.cfg.Clock.Now()
	}
	if status, done := g.admit(ctx, t, x, rest); done {
		st.metrics.Request(status, time.Since(x.start))
		if x.key != nil {
			x.key.keyStats.Request(status)
		}
		g.release(x)
		return nil, nil
	}
	return x, rest
}

// strips reports whether the usage event is taken out of a reply: an
// event stream the gateway asked usage for, unless it came compressed,
// whose bytes are passed on as they are (there is no event to find in
// them, and a chance match must not cut into them).
func (x *exchange) strips(events bool) bool {
	return events && x.stripUsage && !x.encoded
}

func (g *Gateway) release(x *exchange) {
	x.st, x.key, x.stages, x.charged, x.reserved = nil, nil, nil, false, 0
	x.keyBuf = keyView{}
	x.prompt, x.sent, x.replied, x.received, x.encoded = 0, false, false, 0, false
	x.stripUsage = false
	x.charge = limit.Charge{}
	x.body = upstreamBody{}
	g.pool.Put(x)
}

// admit runs every check in order and charges the limits. It answers and
// returns done when the request must not go upstream.
func (g *Gateway) admit(ctx *fasthttp.RequestCtx, t *table, x *exchange, rest []byte) (status int, done bool) {
	st := x.st
	openai := st.api.openai
	raw, reason := extractKey(&ctx.Request.Header)
	if reason == "" {
		d, res := g.cfg.Hasher.Screen(b2s(raw))
		switch {
		case res != keyvalue.OK:
			reason = reasonMalformed
		case !g.keys.lookup(&d, &x.keyBuf):
			reason = reasonUnknown
		default:
			x.key = &x.keyBuf
			x.stages = g.stagesOf(t, x)
			reason = g.check(x, rest, ctx)
		}
	}
	if reason != "" {
		return g.refuse(ctx, x, reason), true
	}
	k := x.key
	ks := x.stages[st]
	if ks.tooManyLimits {
		// More counters apply than one charge can hold: refuse rather than
		// leave some limits unenforced.
		return g.refuse(ctx, x, reasonLimits), true
	}

	// What the upstream will read: the JSON body of an OpenAI-compatible
	// request, parsed strictly, and nothing in the query string.
	maxTokens := int64(-1)
	body := ctx.Request.Body()
	ct := ctx.Request.Header.ContentType()
	if k.scoped && hasModelQuery(ctx.QueryArgs()) {
		reply(ctx, fasthttp.StatusBadRequest, pick(openai, bodyBadRequest, openAIBadRequest))
		return fasthttp.StatusBadRequest, true
	}
	if openai {
		if hasModelQuery(ctx.QueryArgs()) || (len(body) > 0 && len(ctx.Request.Header.ContentEncoding()) > 0) {
			reply(ctx, fasthttp.StatusBadRequest, openAIBadRequest)
			return fasthttp.StatusBadRequest, true
		}
		// A model-scoped key sends JSON, declared as such: an upstream that
		// reads forms could otherwise see another model in the same bytes.
		if len(body) > 0 && k.scoped && !isJSON(ct) {
			reply(ctx, fasthttp.StatusBadRequest, openAIBadRequest)
			return fasthttp.StatusBadRequest, true
		}
		// Every body but a multipart upload is read: upstreams parse JSON
		// without a Content-Type too, and its max_tokens sizes the
		// reservation.
		if len(body) > 0 && !isMultipart(ct) {
			req, err := llmwire.ParseRequest(body)
			if err != nil {
				reply(ctx, fasthttp.StatusBadRequest, openAIBadBody(err))
				return fasthttp.StatusBadRequest, true
			}
			if k.scoped && (!req.HasModel || !k.allowedModel(b2s(req.Model))) {
				return g.refuse(ctx, x, reasonModel), true
			}
			maxTokens = req.MaxTokens
			if req.Stream && !req.IncludeUsage {
				// Ask the upstream for the stream's usage: without it the
				// stream could only be charged an estimate.
				x.fwdBody = askUsage(x.fwdBody[:0], body, &req)
				x.stripUsage = true
			}
		}
	} else if k.scoped && len(body) > 0 {
		// Model scopes cannot be checked on an API whose bodies keyward does
		// not read: refuse rather than let any model through.
		return g.refuse(ctx, x, reasonModel), true
	}

	method := b2s(ctx.Method())
	if openai && consumesTokens(method, body) {
		x.reserved = ks.reservation(maxTokens, len(body))
		x.prompt = int64(len(body))
	}
	x.charge.Key = k.id // every key has its own counters on a shared plan
	for _, r := range ks.plans {
		r.counters(&x.charge, method, b2s(rest), x.reserved)
	}
	if x.charge.N > 0 {
		d, err := g.limiter.Charge(ctx, x.now, &x.charge)
		if err != nil {
			// The limits could not be checked (a shared limiter that
			// cannot reach its store and fails closed): nothing was
			// charged, and the request is not let through unmetered.
			st.metrics.Refused(refusedUnavailable)
			replyLimitsUnavailable(ctx, openai)
			return fasthttp.StatusServiceUnavailable, true
		}
		if !d.OK {
			st.metrics.Refused(d.Refused.String())
			replyLimited(ctx, openai, x.now, d)
			return fasthttp.StatusTooManyRequests, true
		}
		x.charged = true
	}
	return 0, false
}

// stagesOf resolves where x's key may go against t, or against the
// current table when the key names a combination resolved after t was
// loaded (publishAccess). nil: nowhere.
func (g *Gateway) stagesOf(t *table, x *exchange) map[*stageEntry]*keyStage {
	a := int(x.key.access)
	if a < len(t.access) {
		return t.access[a]
	}
	if cur := g.table.Load(); a < len(cur.access) && cur.stages[x.st.ref] == x.st {
		return cur.access[a]
	}
	return nil
}

// check applies the key's state and scopes, returning a refusal reason or
// "".
func (g *Gateway) check(x *exchange, rest []byte, ctx *fasthttp.RequestCtx) string {
	k := x.key
	switch {
	case !k.enabled:
		return reasonDisabled
	case k.expires != 0 && x.now.UnixNano() >= k.expires:
		return reasonExpired
	}
	switch k.label {
	case labelCurrent:
	case labelPrevious:
		if k.graceUntil == 0 || x.now.UnixNano() >= k.graceUntil {
			return reasonRevoked
		}
	default:
		return reasonRevoked
	}
	if x.stages[x.st] == nil {
		return reasonStage
	}
	if !k.allowedRoute(b2s(ctx.Method()), b2s(rest)) {
		return reasonRoute
	}
	if x.st.api.openai && modelIDOutOfScope(k, rest) {
		return reasonModel
	}
	return ""
}

// refuse answers 403 or 401 (replyRefused) and counts the failure for
// metrics and the audit trail (aggregated per source, reason and API).
func (g *Gateway) refuse(ctx *fasthttp.RequestCtx, x *exchange, reason string) int {
	g.cfg.Metrics.AuthFailure(reason)
	g.fails.add(g.clientIP(ctx).String(), reason, x.st.api.name)
	return replyRefused(ctx, x.st.api.openai, reason)
}

// clientIP is the socket's peer, or the nearest untrusted address in
// X-Forwarded-For when the peer is a trusted proxy (clientip.Resolve). The
// header lines are borrowed from the request, not copied.
func (g *Gateway) clientIP(ctx *fasthttp.RequestCtx) netip.Addr {
	peer := g.peer(ctx)
	if !clientip.Trusted(peer, g.cfg.TrustedProxies) {
		return peer
	}
	var lines [4]string
	xff := lines[:0]
	for _, l := range ctx.Request.Header.PeekAll("X-Forwarded-For") {
		xff = append(xff, b2s(l))
	}
	return clientip.Resolve(peer, xff, g.cfg.TrustedProxies)
}

// peer is the socket's remote address.
func (g *Gateway) peer(ctx *fasthttp.RequestCtx) netip.Addr {
	a, _ := netip.AddrFromSlice(ctx.RemoteIP())
	return a.Unmap()
}
