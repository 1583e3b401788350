package gateway

import (
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/keyward/keyward/limit"
	"github.com/valyala/fasthttp"
)

// Fixed reply bodies: nothing a client sent (least of all its key) is
// ever echoed back.
var (
	bodyForbidden    = []byte(`{"message":"Forbidden"}`)
	bodyNotFound     = []byte(`{"message":"Not Found"}`)
	bodyTooMany      = []byte(`{"message":"Too Many Requests"}`)
	bodyQuota        = []byte(`{"message":"Limit Exceeded"}`)
	bodyBadRequest   = []byte(`{"message":"Bad Request"}`)
	bodyTooLarge     = []byte(`{"message":"Request Entity Too Large"}`)
	bodyBadGateway   = []byte(`{"message":"Bad Gateway"}`)
	bodyTimeout      = []byte(`{"message":"Gateway Timeout"}`)
	openAIForbidden  = []byte(`{"error":{"message":"Incorrect or missing API key, or the key may not be used for this request.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`)
	openAITooMany    = []byte(`{"error":{"message":"Rate limit reached for this API key. Retry after the time in the Retry-After header.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)
	openAIQuota      = []byte(`{"error":{"message":"You exceeded your current quota.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`)
	openAITokens     = []byte(`{"error":{"message":"Token budget reached for this API key. Retry after the time in the Retry-After header.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}`)
	openAIBadRequest = []byte(`{"error":{"message":"The request body must be one JSON object (sent as application/json when the key is limited to models) that names its model once, in the body only.","type":"invalid_request_error","param":null,"code":null}}`)
)

var contentTypeJSON = []byte("application/json")

func reply(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.Response.Reset()
	ctx.SetStatusCode(status)
	ctx.Response.Header.SetContentTypeBytes(contentTypeJSON)
	ctx.Response.SetBodyRaw(body)
}

func pick(openai bool, plain, oa []byte) []byte {
	if openai {
		return oa
	}
	return plain
}

// replyLimited answers 429 with Retry-After in whole seconds, rounded up.
func replyLimited(ctx *fasthttp.RequestCtx, body []byte, after time.Duration) {
	reply(ctx, fasthttp.StatusTooManyRequests, body)
	if after >= limit.Never-time.Second || after > 31*24*time.Hour {
		return // waiting cannot help (the request exceeds the limit itself): no Retry-After to loop on
	}
	secs := int64((after + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	var buf [20]byte
	ctx.Response.Header.SetBytesV("Retry-After", strconv.AppendInt(buf[:0], secs, 10))
}

// replyUnreadable answers a request fasthttp could not read (the server's
// ErrorHandler): 413 for a body over MaxBodyBytes, as documented, where
// fasthttp's default says 400; otherwise fasthttp's default statuses.
// Fixed bodies: nothing of the request is echoed.
func replyUnreadable(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var netErr *net.OpError
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		reply(ctx, fasthttp.StatusRequestEntityTooLarge, bodyTooLarge)
	case errors.As(err, &small):
		ctx.Error("Too big request header", fasthttp.StatusRequestHeaderFieldsTooLarge)
	case errors.As(err, &netErr) && netErr.Timeout():
		ctx.Error("Request timeout", fasthttp.StatusRequestTimeout)
	default:
		ctx.Error("Error when parsing request", fasthttp.StatusBadRequest)
	}
}
