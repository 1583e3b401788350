package gateway

import (
	"errors"
	"net"

	"github.com/valyala/fasthttp"
)

// Fixed reply bodies: nothing a client sent (least of all its key) is
// ever echoed back.
var (
	bodyForbidden  = []byte(`{"message":"Forbidden"}`)
	bodyNotFound   = []byte(`{"message":"Not Found"}`)
	bodyTooMany    = []byte(`{"message":"Too Many Requests"}`)
	bodyQuota      = []byte(`{"message":"Limit Exceeded"}`)
	bodyBadRequest = []byte(`{"message":"Bad Request"}`)
	bodyTooLarge   = []byte(`{"message":"Request Entity Too Large"}`)
	bodyBadGateway = []byte(`{"message":"Bad Gateway"}`)
	bodyTimeout    = []byte(`{"message":"Gateway Timeout"}`)
	bodyLimitsDown = []byte(`{"message":"Service Unavailable"}`)
	// OpenAI-compatible APIs answer as OpenAI does, so that its SDKs raise
	// the matching error: 401 AuthenticationError for a key that is not
	// one, 403 PermissionDeniedError for a key that may not do this.
	openAIInvalidKey = []byte(`{"error":{"message":"Incorrect or missing API key.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`)
	openAIModel      = []byte(`{"error":{"message":"The model is not allowed for this API key: name one of the models it is scoped to, in the JSON body.","type":"invalid_request_error","param":"model","code":"model_not_allowed"}}`)
	openAIForbidden  = []byte(`{"error":{"message":"This API key is not allowed to make this request.","type":"invalid_request_error","param":null,"code":"permission_denied"}}`)
	openAILimitsDown = []byte(`{"error":{"message":"Usage limits cannot be checked right now. Retry shortly.","type":"server_error","param":null,"code":"limits_unavailable"}}`)
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

var wwwAuthenticate = []byte("Bearer")

// replyRefused answers a refused key: 403 with one fixed body on other
// APIs, as API Gateway does; on OpenAI-compatible ones 401 when the key is
// not a usable key at all, and 403 naming the model scope or a generic
// permission error when a good key may not make this request.
func replyRefused(ctx *fasthttp.RequestCtx, openai bool, reason string) int {
	if !openai {
		reply(ctx, fasthttp.StatusForbidden, bodyForbidden)
		return fasthttp.StatusForbidden
	}
	switch reason {
	case reasonStage, reasonRoute, reasonLimits:
		reply(ctx, fasthttp.StatusForbidden, openAIForbidden)
		return fasthttp.StatusForbidden
	case reasonModel:
		reply(ctx, fasthttp.StatusForbidden, openAIModel)
		return fasthttp.StatusForbidden
	}
	reply(ctx, fasthttp.StatusUnauthorized, openAIInvalidKey)
	ctx.Response.Header.SetBytesV("WWW-Authenticate", wwwAuthenticate)
	return fasthttp.StatusUnauthorized
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

var retryAfterOne = []byte("1")

// replyLimitsUnavailable answers 503 with Retry-After: 1 when the limiter
// could not decide (limit.Limiter's error): the client's SDK retries
// shortly, and the limiter switches back by itself once its store answers.
func replyLimitsUnavailable(ctx *fasthttp.RequestCtx, openai bool) {
	reply(ctx, fasthttp.StatusServiceUnavailable, pick(openai, bodyLimitsDown, openAILimitsDown))
	ctx.Response.Header.SetBytesV("Retry-After", retryAfterOne)
}

// refusedUnavailable is the metric's word for a request refused because
// the limiter could not decide.
const refusedUnavailable = "unavailable"
