// Package mockupstream is a small OpenAI-compatible server: the upstream
// that `keyward quickstart` puts behind keyward, and a realistic peer for
// tests and benchmarks. It answers chat completions (JSON, or server-sent
// events when the request asks to stream) with a usage block, embeddings,
// and lists models; HandlerWith makes it leave usage out, cut streams or
// fail, as real upstreams sometimes do. It never needs a network beyond loopback.
package mockupstream

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Models are the model names it claims to serve.
var Models = []string{"gpt-4o-mini", "llama-3-8b"}

// Handler returns the mock upstream's handler: usage in every chat reply.
func Handler() http.Handler { return HandlerWith(Options{}) }

// Usage says when the mock reports token usage.
type Usage uint8

const (
	// UsageAlways: in every JSON reply and at the end of every stream.
	UsageAlways Usage = iota
	// UsageAsked: as OpenAI does, in every JSON reply, and at the end of a
	// stream only when the request says stream_options.include_usage.
	UsageAsked
	// UsageNever: no usage anywhere, as some upstreams do.
	UsageNever
)

// Options make the mock misbehave the ways real upstreams do, for tests of
// what a gateway charges when usage is missing.
type Options struct {
	Usage Usage
	// Pause is how long a stream waits between events.
	Pause time.Duration
	// CutAfter, when positive, drops the connection after that many
	// content events of a stream, without ending the response.
	CutAfter int
	// FailStatus, when set, answers every chat and embeddings request with
	// that status and an error body sent in two parts, without usage.
	FailStatus int
}

// HandlerWith returns the mock upstream's handler with opts. It also
// serves embeddings (POST /v1/embeddings).
func HandlerWith(opts Options) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", models)
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) { chat(w, r, opts) })
	mux.HandleFunc("POST /v1/embeddings", func(w http.ResponseWriter, r *http.Request) { embeddings(w, r, opts) })
	return mux
}

// fail answers status with an error body in two flushed parts.
func fail(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, `{"error":{"message":"the mock upstream failed`)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	io.WriteString(w, ` on purpose","type":"server_error"}}`)
}

type embeddingsRequest struct {
	Model string `json:"model"`
	Input string `json:"input"`
}

func embeddings(w http.ResponseWriter, r *http.Request, opts Options) {
	if opts.FailStatus != 0 {
		fail(w, opts.FailStatus)
		return
	}
	var req embeddingsRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || req.Model == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
			"message": "invalid request: a JSON body with a model and a string input is required", "type": "invalid_request_error"}})
		return
	}
	out := map[string]any{"object": "list", "model": req.Model,
		"data": []any{map[string]any{"object": "embedding", "index": 0, "embedding": []float64{0.25, -0.5, 0.125}}}}
	if opts.Usage != UsageNever {
		n := len(strings.Fields(req.Input))
		out["usage"] = map[string]any{"prompt_tokens": n, "total_tokens": n}
	}
	writeJSON(w, http.StatusOK, out)
}

func models(w http.ResponseWriter, _ *http.Request) {
	data := make([]map[string]any, 0, len(Models))
	for _, m := range Models {
		data = append(data, map[string]any{"id": m, "object": "model", "owned_by": "keyward-mock"})
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

type chatRequest struct {
	Model     string `json:"model"`
	MaxTokens int    `json:"max_tokens"`
	Stream    bool   `json:"stream"`
	Options   *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Messages []struct {
		Content string `json:"content"`
	} `json:"messages"`
}

func chat(w http.ResponseWriter, r *http.Request, opts Options) {
	if opts.FailStatus != 0 {
		fail(w, opts.FailStatus)
		return
	}
	var req chatRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || req.Model == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
			"message": "invalid request: a JSON body with a model is required", "type": "invalid_request_error"}})
		return
	}
	words := []string{"Hello", " from", " the", " keyward", " mock", " upstream", "."}
	prompt := 0
	for _, m := range req.Messages {
		prompt += len(strings.Fields(m.Content))
	}
	usage := map[string]any{"prompt_tokens": prompt, "completion_tokens": len(words), "total_tokens": prompt + len(words)}
	id := fmt.Sprintf("chatcmpl-mock-%d", time.Now().UnixNano())
	if !req.Stream {
		out := map[string]any{
			"id": id, "object": "chat.completion", "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": strings.Join(words, "")}}},
		}
		if opts.Usage != UsageNever {
			out["usage"] = usage
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	asked := req.Options != nil && req.Options.IncludeUsage
	sendUsage := opts.Usage == UsageAlways || opts.Usage == UsageAsked && asked
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	flusher, _ := w.(http.Flusher)
	for i, word := range words {
		if i > 0 && opts.Pause > 0 {
			select {
			case <-time.After(opts.Pause):
			case <-r.Context().Done():
				return
			}
		}
		if opts.CutAfter > 0 && i == opts.CutAfter {
			panic(http.ErrAbortHandler) // drops the connection mid-response
		}
		chunk, _ := json.Marshal(map[string]any{"id": id, "object": "chat.completion.chunk", "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"content": word}}}})
		fmt.Fprintf(w, "data: %s\n\n", chunk)
		if flusher != nil {
			flusher.Flush()
		}
	}
	if sendUsage {
		final, _ := json.Marshal(map[string]any{"id": id, "object": "chat.completion.chunk", "model": req.Model, "choices": []any{}, "usage": usage})
		fmt.Fprintf(w, "data: %s\n\n", final)
	}
	io.WriteString(w, "data: [DONE]\n\n")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
