package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// openAIError is the error object of an OpenAI-style reply.
type openAIError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    string  `json:"code"`
		ResetAt string  `json:"reset_at"`
	} `json:"error"`
}

func parseOpenAIError(t *testing.T, r result) openAIError {
	t.Helper()
	var oa openAIError
	if err := json.Unmarshal([]byte(r.body), &oa); err != nil || oa.Error.Message == "" || oa.Error.Type == "" {
		t.Fatalf("not an OpenAI error body: %d %s", r.status, r.body)
	}
	return oa
}

// On an OpenAI-compatible API a key that is not one gets 401
// invalid_api_key (the SDKs' AuthenticationError), a good key outside its
// scopes 403 saying why; other APIs keep API Gateway's one 403.
func TestKeyRefusalReplies(t *testing.T) {
	e := newEnv(t)
	chat := e.api("chat", true)
	plain := e.api("plain", false)
	both := []keyward.StageKey{{APIID: chat.ID, Stage: "prod"}, {APIID: plain.ID, Stage: "prod"}}
	_, good := e.key(keyward.KeyCreate{Name: "good", StageKeys: both,
		Scopes: keyward.Scopes{Models: []string{"gpt-4o*"}, Routes: []keyward.RoutePattern{{Method: "*", Path: "/v1/*"}}}})
	off, offValue := e.key(keyward.KeyCreate{Name: "off", StageKeys: both})
	must[*keyward.APIKey](t)(e.srv.Service().Keys.UpdateKey(e.admin, off.ID, keyward.KeyUpdate{Enabled: new(bool)}))
	e.sync()

	chatURL := "/chat/prod/v1/chat/completions"
	for _, c := range []struct {
		name, key, path, body string
		hdr                   []string
		status                int
		code                  string
	}{
		{"missing", "", chatURL, chatBody, nil, 401, "invalid_api_key"},
		{"unknown", "sk-this-is-not-a-key-anyone-has-0000", chatURL, chatBody, nil, 401, "invalid_api_key"},
		{"malformed", "kw_short", chatURL, chatBody, nil, 401, "invalid_api_key"},
		{"disabled", offValue, chatURL, chatBody, nil, 401, "invalid_api_key"},
		{"two keys", good, chatURL, chatBody, []string{"Authorization", "Bearer " + offValue}, 401, "invalid_api_key"},
		{"model out of scope", good, chatURL, `{"model":"llama-3-8b"}`, nil, 403, "model_not_allowed"},
		{"route out of scope", good, "/chat/prod/admin", "", nil, 403, "permission_denied"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.call("POST", c.path, c.key, c.body, c.hdr...)
			if r.status != c.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, c.status)
			}
			oa := parseOpenAIError(t, r)
			if oa.Error.Code != c.code {
				t.Fatalf("code %q, want %q: %s", oa.Error.Code, c.code, r.body)
			}
			if c.status == 401 && (r.header.Get("WWW-Authenticate") != "Bearer" || oa.Error.Type != "invalid_request_error") {
				t.Fatalf("401 without WWW-Authenticate or with type %q", oa.Error.Type)
			}
			if c.code == "model_not_allowed" && !strings.Contains(oa.Error.Message, "model is not allowed for this API key") {
				t.Fatalf("message %q", oa.Error.Message)
			}
			if strings.Contains(oa.Error.Message, "Incorrect") && c.status == 403 {
				t.Fatalf("a scope refusal reads as a bad key: %q", oa.Error.Message)
			}
		})
	}
	for _, v := range []string{"", "sk-this-is-not-a-key-anyone-has-0000", offValue} {
		if r := e.call("GET", "/plain/prod/v1/models", v, ""); r.status != 403 || r.body != `{"message":"Forbidden"}` {
			t.Errorf("plain API, bad key: %d %s", r.status, r.body)
		}
	}
}

// check429 checks a 429's status and headers: x-should-retry, whether it
// has a Retry-After (and retry-after-ms when to retry), and the one
// x-ratelimit-reset-* header resetHeader ("" for none).
func check429(t *testing.T, what string, r result, retry bool, retryAfter bool, resetHeader string) {
	t.Helper()
	if r.status != 429 {
		t.Fatalf("%s: %d %s", what, r.status, r.body)
	}
	if got := r.header.Get("X-Should-Retry"); got != strconv.FormatBool(retry) {
		t.Errorf("%s: x-should-retry %q, want %v", what, got, retry)
	}
	if got := r.header.Get("Retry-After"); (got != "") != retryAfter {
		t.Errorf("%s: Retry-After %q, want one: %v", what, got, retryAfter)
	}
	if retry {
		secs, err := strconv.Atoi(r.header.Get("Retry-After"))
		ms, err2 := strconv.Atoi(r.header.Get("Retry-After-Ms"))
		if err != nil || err2 != nil || secs < 1 || secs > 60 || ms < 1 || ms > secs*1000 {
			t.Errorf("%s: Retry-After %q, retry-after-ms %q", what, r.header.Get("Retry-After"), r.header.Get("Retry-After-Ms"))
		}
	} else if r.header.Get("Retry-After-Ms") != "" {
		t.Errorf("%s: retry-after-ms on a reply not to retry", what)
	}
	for _, h := range []string{"X-Ratelimit-Reset-Requests", "X-Ratelimit-Reset-Tokens"} {
		got := r.header.Get(h)
		if h != resetHeader {
			if got != "" {
				t.Errorf("%s: %s %q", what, h, got)
			}
			continue
		}
		if d, err := time.ParseDuration(got); err != nil || d < time.Second {
			t.Errorf("%s: %s %q", what, h, got)
		}
	}
}

// 429s that the OpenAI SDKs handle: a throttle says retry soon; a spent
// quota or day budget says do not retry and when it resets, with no
// Retry-After to sleep on; a request over the budget itself names no
// reset at all.
func TestLimitReplies(t *testing.T) {
	e := newEnv(t)
	a := e.api("chat", true)
	plain := e.api("plain", false)
	onStage := []keyward.PlanStage{{APIID: a.ID, Stage: "prod"}, {APIID: plain.ID, Stage: "prod"}}
	keyOn := func(name string, p keyward.PlanCreate) string {
		p.Name, p.APIStages = name, onStage
		_, v := e.key(keyward.KeyCreate{Name: name, PlanIDs: []string{e.plan(p).ID}})
		return v
	}
	chatURL := "/chat/prod/v1/chat/completions"
	start := time.Now()

	fast := keyOn("fast", keyward.PlanCreate{Throttle: &keyward.Throttle{RateLimit: 1, BurstLimit: 1}})
	e.call("POST", chatURL, fast, chatBody)
	r := e.call("POST", chatURL, fast, chatBody)
	check429(t, "throttle", r, true, true, "X-Ratelimit-Reset-Requests")
	if oa := parseOpenAIError(t, r); oa.Error.Code != "rate_limit_exceeded" || oa.Error.Type != "requests" || !resetAfter(oa.Error.ResetAt, start) {
		t.Errorf("throttle body %s", r.body)
	}

	slow := keyOn("slow", keyward.PlanCreate{Throttle: &keyward.Throttle{RateLimit: 0.001, BurstLimit: 1}})
	e.call("POST", chatURL, slow, chatBody)
	check429(t, "throttle refilling in 1000 s", e.call("POST", chatURL, slow, chatBody), false, true, "X-Ratelimit-Reset-Requests")

	quota := keyOn("quota", keyward.PlanCreate{Quota: &keyward.Quota{Limit: 1, Period: keyward.PeriodMonth}})
	e.call("POST", chatURL, quota, chatBody)
	r = e.call("POST", chatURL, quota, chatBody)
	check429(t, "quota", r, false, false, "X-Ratelimit-Reset-Requests")
	if oa := parseOpenAIError(t, r); oa.Error.Code != "insufficient_quota" || !resetAfter(oa.Error.ResetAt, start) || !strings.Contains(oa.Error.Message, oa.Error.ResetAt) {
		t.Errorf("quota body %s", r.body)
	}
	r = e.call("GET", "/plain/prod/x", quota, "")
	check429(t, "quota, plain API", r, false, false, "X-Ratelimit-Reset-Requests")
	if r.body != `{"message":"Limit Exceeded"}` {
		t.Errorf("plain API quota body %s", r.body)
	}

	// A day's budget spent by what the upstream reported.
	day := keyOn("day", keyward.PlanCreate{Tokens: &keyward.TokenLimits{PerDay: 100000}})
	big := strings.Replace(completion, `"completion_tokens":5`, `"completion_tokens":199993`, 1)
	e.up.set(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, big)
	})
	if r := e.call("POST", chatURL, day, `{"model":"m","max_tokens":10}`); r.status != 200 {
		t.Fatalf("first call on the day budget: %d", r.status)
	}
	e.up.set(chatHandler)
	r = e.call("POST", chatURL, day, `{"model":"m","max_tokens":10}`)
	check429(t, "day budget", r, false, false, "X-Ratelimit-Reset-Tokens")
	if oa := parseOpenAIError(t, r); oa.Error.Type != "tokens" || !resetAfter(oa.Error.ResetAt, start) {
		t.Errorf("day budget body %s", r.body)
	}
	r = e.call("POST", chatURL, day, `{"model":"m","max_tokens":1000000}`)
	check429(t, "over the budget itself", r, false, false, "")
	if oa := parseOpenAIError(t, r); oa.Error.ResetAt != "" || !strings.Contains(oa.Error.Message, "lower max_tokens") {
		t.Errorf("over-budget body %s", r.body)
	}

	minute := keyOn("minute", keyward.PlanCreate{Tokens: &keyward.TokenLimits{PerMinute: 1000}})
	e.up.set(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, big)
	})
	e.call("POST", chatURL, minute, `{"model":"m","max_tokens":10}`)
	e.up.set(chatHandler)
	check429(t, "minute budget", e.call("POST", chatURL, minute, `{"model":"m","max_tokens":10}`), true, true, "X-Ratelimit-Reset-Tokens")
}

// resetAfter reports whether s is an RFC 3339 time after start.
func resetAfter(s string, start time.Time) bool {
	at, err := time.Parse(time.RFC3339, s)
	return err == nil && at.After(start)
}
