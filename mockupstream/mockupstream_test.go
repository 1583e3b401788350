package mockupstream

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestChatReportsUsage(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"two words"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || out.Usage.CompletionTokens != 7 || out.Usage.PromptTokens != 2 {
		t.Fatalf("status %d usage %+v", resp.StatusCode, out.Usage)
	}
}

func TestChatStreamsEvents(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o-mini","stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.WriteString(string(buf[:n]))
		if err != nil {
			break
		}
	}
	if got := strings.Count(b.String(), "data: "); got != 9 || !strings.HasSuffix(b.String(), "data: [DONE]\n\n") {
		t.Fatalf("got %d events:\n%s", got, b.String())
	}
}

func TestChatRejectsMissingModel(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func post(t *testing.T, h http.Handler, path, body string) (int, string, error) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestOptions(t *testing.T) {
	asked := HandlerWith(Options{Usage: UsageAsked})
	if _, b, _ := post(t, asked, "/v1/chat/completions", `{"model":"m","stream":true}`); strings.Contains(b, `"usage"`) {
		t.Errorf("UsageAsked streamed usage unasked:\n%s", b)
	}
	if _, b, _ := post(t, asked, "/v1/chat/completions", `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`); !strings.Contains(b, `"usage":{`) {
		t.Errorf("UsageAsked streamed no usage when asked:\n%s", b)
	}
	if _, b, _ := post(t, asked, "/v1/embeddings", `{"model":"e","input":"three short words"}`); !strings.Contains(b, `"prompt_tokens":3`) {
		t.Errorf("embeddings: %s", b)
	}
	never := HandlerWith(Options{Usage: UsageNever})
	for _, p := range []string{"/v1/chat/completions", "/v1/embeddings"} {
		if s, b, _ := post(t, never, p, `{"model":"m","input":"x","stream":false}`); s != 200 || strings.Contains(b, "usage") {
			t.Errorf("UsageNever %s: %d %s", p, s, b)
		}
	}
	if s, b, _ := post(t, HandlerWith(Options{FailStatus: 503}), "/v1/chat/completions", `{"model":"m"}`); s != 503 || !strings.Contains(b, "on purpose") {
		t.Errorf("FailStatus: %d %s", s, b)
	}
	s, b, err := post(t, HandlerWith(Options{CutAfter: 2}), "/v1/chat/completions", `{"model":"m","stream":true}`)
	if s != 200 || err == nil || strings.Count(b, "data: ") != 2 {
		t.Errorf("CutAfter 2: %d %v %q", s, err, b)
	}
}
