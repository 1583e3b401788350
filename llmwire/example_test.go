package llmwire_test

import (
	"errors"
	"fmt"
	"slices"

	"github.com/keyward/keyward/llmwire"
)

func ExampleParseRequest() {
	allowed := []string{"gpt-4o-mini"}
	for _, body := range []string{
		`{"model":"gpt-4o-mini","messages":[]}`,
		`{"model":"gpt-4o-mini","Model":"gpt-4o"}`,
		`{"model":"gpt-4o-mini","mod\u0065l":"gpt-4o"}`,
		`{"model":"gpt-4o"}`,
	} {
		req, err := llmwire.ParseRequest([]byte(body))
		switch {
		case err != nil: // every error is a bad request; errors.Is tells which
			fmt.Println("400:", err, errors.Is(err, llmwire.ErrDuplicateKey))
		case !req.HasModel || !slices.Contains(allowed, string(req.Model)):
			fmt.Println("403: model not allowed")
		default:
			fmt.Printf("forward %s\n", req.Model)
		}
	}
	// Output:
	// forward gpt-4o-mini
	// 400: llmwire: key differs from a known field only in case, Unicode folding, '_' or '-' (model) at byte 23 false
	// 400: llmwire: duplicate key (model) at byte 23 true
	// 403: model not allowed
}

func ExampleSSEUsage() {
	var u llmwire.SSEUsage
	u.Write([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}],\"usage\":null}\n\ndata: {\"choices\":[],\"usa"))
	u.Write([]byte("ge\":{\"prompt_tokens\":9,\"completion_tokens\":1}}\r\n\r\ndata: [DONE]\n\n"))
	fmt.Println(u.Usage())
	// Output: {9 1} true
}
