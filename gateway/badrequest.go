package gateway

import (
	"errors"

	"github.com/keyward/keyward/llmwire"
)

// Fixed 400 bodies for a token limit out of range, naming the field (the
// OpenAI SDKs show param): kept apart from reply.go's other bodies.
var (
	openAIBadMaxTokens           = []byte(`{"error":{"message":"max_tokens must be an integer from 0 to 2147483647.","type":"invalid_request_error","param":"max_tokens","code":"invalid_value"}}`)
	openAIBadMaxCompletionTokens = []byte(`{"error":{"message":"max_completion_tokens must be an integer from 0 to 2147483647.","type":"invalid_request_error","param":"max_completion_tokens","code":"invalid_value"}}`)
)

// openAIBadBody is the 400 body for a request body llmwire refused.
func openAIBadBody(err error) []byte {
	var e *llmwire.Error
	if errors.As(err, &e) && errors.Is(e.Err, llmwire.ErrInvalidMaxTokens) {
		if e.Field == "max_completion_tokens" {
			return openAIBadMaxCompletionTokens
		}
		return openAIBadMaxTokens
	}
	return openAIBadRequest
}
