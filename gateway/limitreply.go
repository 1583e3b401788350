package gateway

import (
	"strconv"
	"time"

	"github.com/keyward/keyward/limit"
	"github.com/valyala/fasthttp"
)

// maxRetryWait is the longest wait a 429 invites a client to sit out. The
// OpenAI SDKs sleep for whatever Retry-After says when x-should-retry is
// true, so a longer wait (a spent quota or day budget) is answered with
// x-should-retry: false and, for those, no Retry-After at all: the caller
// gets an error at once instead of a call that hangs for hours.
const maxRetryWait = 60 * time.Second

// neverWait is a wait no calendar window reaches (the longest is a
// month): the request cannot pass under the current limits at all.
const neverWait = 32 * 24 * time.Hour

var (
	hdrRetryAfter   = []byte("Retry-After")
	hdrRetryAfterMs = []byte("retry-after-ms")
	hdrShouldRetry  = []byte("x-should-retry")
	hdrResetReqs    = []byte("x-ratelimit-reset-requests")
	hdrResetTokens  = []byte("x-ratelimit-reset-tokens")
	valueTrue       = []byte("true")
	valueFalse      = []byte("false")
)

// replyLimited answers a request the limiter refused: 429, with headers
// that tell clients (the OpenAI SDKs among them) whether to retry and
// when the refusing limit resets, and on OpenAI-compatible APIs an
// OpenAI error body that says when, too. See the README's table of
// gateway replies.
func replyLimited(ctx *fasthttp.RequestCtx, openai bool, now time.Time, d limit.Decision) {
	wait := d.RetryAfter
	never := wait >= neverWait
	secs := int64((wait + time.Second - 1) / time.Second)
	secs = max(secs, 1)
	short := !never && wait <= maxRetryWait
	// A throttle or a per-minute token window refills soon: worth a retry.
	// A quota or a day's token budget is spent until its window ends.
	rate := d.Refused == limit.Throttle || d.Refused == limit.TokensPerMinute
	retry := rate && short

	var buf [256]byte
	if openai {
		ctx.Response.Reset()
		ctx.SetStatusCode(fasthttp.StatusTooManyRequests)
		ctx.Response.Header.SetContentTypeBytes(contentTypeJSON)
		ctx.Response.SetBody(limitBody(buf[:0], d.Refused, never, now.Add(time.Duration(secs)*time.Second)))
	} else {
		body := bodyTooMany
		if d.Refused == limit.Quota {
			body = bodyQuota
		}
		reply(ctx, fasthttp.StatusTooManyRequests, body)
	}
	h := &ctx.Response.Header
	if retry {
		h.SetBytesKV(hdrShouldRetry, valueTrue)
	} else {
		h.SetBytesKV(hdrShouldRetry, valueFalse)
	}
	if never {
		return // waiting cannot help (the request exceeds the limit itself): nothing to wait for
	}
	// A throttle keeps its Retry-After however long (API Gateway clients
	// read it); x-should-retry above keeps the SDKs from sleeping it out.
	if d.Refused == limit.Throttle || retry {
		h.SetBytesKV(hdrRetryAfter, strconv.AppendInt(buf[:0], secs, 10))
	}
	if retry {
		ms := int64((wait + time.Millisecond - 1) / time.Millisecond)
		h.SetBytesKV(hdrRetryAfterMs, strconv.AppendInt(buf[:0], max(ms, 1), 10))
	}
	name := hdrResetReqs
	if d.Refused == limit.TokensPerMinute || d.Refused == limit.TokensPerDay {
		name = hdrResetTokens
	}
	h.SetBytesKV(name, appendResetDuration(buf[:0], secs))
}

// limitBody is the OpenAI-style error body of a 429: the limit that
// refused, and when it resets (reset_at, RFC 3339 UTC), unless never.
func limitBody(b []byte, refused limit.Kind, never bool, resetAt time.Time) []byte {
	var msg, typ, code string
	switch refused {
	case limit.Throttle:
		msg, typ, code = "Rate limit reached for this API key", "requests", "rate_limit_exceeded"
	case limit.Quota:
		msg, typ, code = "You exceeded this API key's request quota", "insufficient_quota", "insufficient_quota"
	default:
		msg, typ, code = "Token budget reached for this API key", "tokens", "rate_limit_exceeded"
	}
	b = append(b, `{"error":{"message":"`...)
	b = append(b, msg...)
	if never {
		if refused == limit.Throttle || refused == limit.Quota {
			b = append(b, `: its plan admits no further request.`...)
		} else {
			b = append(b, `: this request may use more tokens (max_tokens plus the prompt) than the budget allows at all; lower max_tokens.`...)
		}
	} else {
		b = append(b, `; it resets at `...)
		b = resetAt.UTC().AppendFormat(b, time.RFC3339)
		b = append(b, '.')
	}
	b = append(b, `","type":"`...)
	b = append(b, typ...)
	b = append(b, `","param":null,"code":"`...)
	b = append(b, code...)
	b = append(b, '"')
	if !never {
		b = append(b, `,"reset_at":"`...)
		b = resetAt.UTC().AppendFormat(b, time.RFC3339)
		b = append(b, '"')
	}
	return append(b, "}}"...)
}

// appendResetDuration writes secs as OpenAI writes its
// x-ratelimit-reset-* headers (Go's duration format): 1s, 6m0s, 2h0m5s.
func appendResetDuration(b []byte, secs int64) []byte {
	if h := secs / 3600; h > 0 {
		b = append(strconv.AppendInt(b, h, 10), 'h')
	}
	if secs >= 60 {
		b = append(strconv.AppendInt(b, secs%3600/60, 10), 'm')
	}
	return append(strconv.AppendInt(b, secs%60, 10), 's')
}
