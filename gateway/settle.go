package gateway

import (
	"bytes"
	"context"
	"time"

	"github.com/keyward/keyward/limit"
	"github.com/keyward/keyward/llmwire"
)

// consumesTokens reports whether a request may make the upstream spend LLM
// tokens, and so needs a token reservation: any request with a body, and a
// bodiless one unless it is a read (GET, HEAD, OPTIONS) or a DELETE. Model
// lists, listings and retrievals reserve nothing: a reservation they left
// charged would spend a budget on requests that use none of it.
func consumesTokens(method string, body []byte) bool {
	if len(body) > 0 {
		return true
	}
	switch method {
	case "GET", "HEAD", "OPTIONS", "DELETE":
		return false
	}
	return true
}

// bytesPerToken is the estimate's exchange rate: about four bytes of
// English text make a token (OpenAI's own rule of thumb), and the JSON and
// event-stream framing around the text only add bytes, so counting every
// byte of the body and of the reply at this rate errs towards charging
// more tokens than were used, never fewer, for text. It is a fallback for
// replies without usage, not a price: upstreams asked for usage report it.
const bytesPerToken = 4

// estimateTokens is ceil(n / bytesPerToken) for n >= 0.
func estimateTokens(n int64) int64 {
	n = max(n, 0)
	t := n / bytesPerToken
	if n%bytesPerToken != 0 {
		t++
	}
	return t
}

// unreportedUsage is what a token request is charged when the upstream
// reported no usage (a reply without a usage object, a stream without its
// usage chunk, cut, or abandoned by the client, an error after some bytes).
// Never zero once the upstream may have acted on the request:
//   - the request never reached the upstream: nothing;
//   - it was sent but no reply came (a timeout, a dropped connection): the
//     upstream may have worked on it all along, so the reservation stands;
//   - a reply came: the estimate from the prompt and the reply's bytes read
//     so far, ceil(prompt/4) in and ceil(reply/4) out, at least 1 in all;
//   - a reply came with a Content-Encoding (gzip, br, ...), which the
//     gateway asked not to get (Accept-Encoding: identity) and does not
//     decode: its bytes understate its text several times over, so the
//     reservation stands as if no reply came, or the estimate if that is
//     more (contentCoded).
//
// The estimate is not capped at the reservation: without max_tokens the
// upstream's own default applies, and a long stream must cost what it
// streamed.
func (x *exchange) unreportedUsage() (in, out int64) {
	switch {
	case !x.sent:
		return 0, 0
	case !x.replied:
		in = min(estimateTokens(x.prompt), x.reserved)
		return in, x.reserved - in
	}
	in, out = estimateTokens(x.prompt), estimateTokens(x.received)
	if x.encoded {
		out = max(out, x.reserved-min(in, x.reserved))
	}
	if in == 0 && out == 0 {
		out = 1
	}
	return in, out
}

// done ends an exchange that went past admission, on every path: it
// settles the charge (exactly once: every path ends here once), records
// metrics and usage, and releases x. u is the usage the upstream reported,
// when reported; otherwise a reservation settles to unreportedUsage, which
// is also what is recorded, so that a restart's history agrees with the
// limiter.
func (g *Gateway) done(x *exchange, status int, u llmwire.Usage, reported bool) {
	in, out := u.PromptTokens, u.CompletionTokens
	if !reported {
		in, out = 0, 0
		if x.reserved > 0 {
			in, out = x.unreportedUsage()
		}
	}
	if x.charged {
		// A failed Settle leaves the reservation to expire in the
		// shared limiter (see limit.Limiter); the limiter counts it.
		_ = g.limiter.Settle(context.Background(), x.now, &x.charge, limit.AddSat(in, out))
		x.charged = false
	}
	if in > 0 || out > 0 {
		x.st.metrics.Tokens(in, out)
	}
	x.st.metrics.Request(status, time.Since(x.start))
	x.key.keyStats.Request(status)
	g.usage.add(x.key.id, x.now, 1, in, out)
	g.release(x)
}

// contentCoded reports whether a reply's Content-Encoding (fasthttp's
// value: the last of its lines) says its body may not be its text: any
// value at all, "identity" included. RFC 9110 section 8.4.1 reserves
// "identity" for Accept-Encoding, and several lines make one list, so
// "gzip" then "identity" is a gzip body that fasthttp reports as
// "identity" (an attack review's finding).
func contentCoded(v []byte) bool {
	return len(bytes.Trim(v, " \t,")) > 0
}
