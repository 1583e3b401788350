package httpapi_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
)

func TestErrorCodeToStatus(t *testing.T) {
	tests := []struct {
		code   string
		status int
	}{
		{keyward.EINVALID, http.StatusBadRequest},
		{keyward.EUNAUTHORIZED, http.StatusUnauthorized},
		{keyward.EFORBIDDEN, http.StatusForbidden},
		{keyward.ENOTFOUND, http.StatusNotFound},
		{keyward.ECONFLICT, http.StatusConflict},
		{keyward.EPRECONDITION, http.StatusPreconditionFailed},
		{keyward.ETHROTTLED, http.StatusTooManyRequests},
		{keyward.EUNAVAILABLE, http.StatusServiceUnavailable},
		{keyward.EINTERNAL, http.StatusInternalServerError},
	}
	e := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			e.fake.failWith("GetKey", keyward.Errorf(tt.code, "told by the core"))
			resp := e.request(t, http.MethodGet, "/v1/keys/key-1", nil, nil)
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if code, _, _ := errorOf(t, resp); code != tt.code {
				t.Errorf("code = %q, want %q", code, tt.code)
			}
		})
	}
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	const detail = "pq: password authentication failed for user keyward"
	for name, err := range map[string]error{
		"plain error":       errors.New(detail),
		"EINTERNAL message": keyward.Errorf(keyward.EINTERNAL, "%s", detail),
		"unknown code":      &keyward.Error{Code: "teapot", Message: detail},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.fake.failWith("GetKey", err)
			resp := e.request(t, http.MethodGet, "/v1/keys/key-1", nil, nil)
			code, _, raw := errorOf(t, resp)
			if resp.StatusCode != http.StatusInternalServerError || code != keyward.EINTERNAL {
				t.Fatalf("got %d %q, want 500 internal", resp.StatusCode, code)
			}
			if strings.Contains(string(raw), "password") {
				t.Errorf("internal detail reached the client: %s", raw)
			}
			// ... but the operator can find it, by request ID and route.
			reqID := resp.Header.Get("X-Request-Id")
			e.logs.waitRecord(t, reqID)
			found := false
			for _, r := range e.logs.records(t) {
				if r["request_id"] == reqID && r["level"] == "ERROR" {
					found = true
					if r["route"] != "/v1/keys/{id}" || !strings.Contains(r["error"].(string), "password") {
						t.Errorf("error line = %v", r)
					}
				}
			}
			if !found {
				t.Errorf("internal error not logged:\n%s", e.logs.String())
			}
		})
	}
}

func TestAuthenticationFailures(t *testing.T) {
	tests := []struct {
		name   string
		header []string // Authorization values; nil: none
		reason string
	}{
		{"missing", nil, "missing"},
		{"basic scheme", []string{"Basic dXNlcjpwYXNz"}, "malformed"},
		{"bearer without token", []string{"Bearer "}, "malformed"},
		{"two headers", []string{"Bearer " + goodToken, "Bearer " + goodToken}, "malformed"},
		{"token with space", []string{"Bearer kwa_a b"}, "malformed"},
		{"garbage token", []string{"Bearer kwa_garbage_not_a_real_token"}, "unknown"},
		{"too long", []string{"Bearer " + strings.Repeat("k", 4096)}, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			resp := e.request(t, http.MethodGet, "/v1/secrets/prod%2Fopenai/value", nil,
				http.Header{"Authorization": append([]string{""}, tt.header...)})
			code, _, raw := errorOf(t, resp)
			if resp.StatusCode != http.StatusUnauthorized || code != keyward.EUNAUTHORIZED {
				t.Fatalf("got %d %q, want 401 unauthorized", resp.StatusCode, code)
			}
			if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
			}
			if strings.Contains(string(raw), "kwa_") {
				t.Errorf("answer echoes the token: %s", raw)
			}
			if n := e.fake.count(); n != 0 {
				t.Errorf("service called %d times without authentication", n)
			}
			got := e.failures.all()
			if len(got) != 1 {
				t.Fatalf("RecordAuthFailure called %d times, want 1", len(got))
			}
			f := got[0]
			if f.Action != keyward.ActionSecretGetValue || f.Reason != tt.reason {
				t.Errorf("RecordAuthFailure(%q, %q), want (%q, %q)", f.Action, f.Reason, keyward.ActionSecretGetValue, tt.reason)
			}
			if f.Caller.Principal != nil || f.Caller.TokenID != "" {
				t.Errorf("failure caller has a principal: %+v", f.Caller)
			}
			if f.Caller.RequestID != resp.Header.Get("X-Request-Id") || f.Caller.SourceIP != "127.0.0.1" {
				t.Errorf("failure caller = %+v", f.Caller)
			}
			rec := e.logs.waitRecord(t, f.Caller.RequestID)
			if rec["status"] != float64(401) || rec["principal_id"] != "" {
				t.Errorf("access line = %v", rec)
			}
		})
	}
}

func TestAuthenticatorOutage(t *testing.T) {
	e := newEnv(t)
	e.fake.failWith("Authenticate", keyward.Errorf(keyward.EUNAVAILABLE, "store down"))
	resp := e.request(t, http.MethodGet, "/v1/keys", nil, nil)
	if code, _, _ := errorOf(t, resp); resp.StatusCode != http.StatusServiceUnavailable || code != keyward.EUNAVAILABLE {
		t.Fatalf("got %d %q, want 503 unavailable", resp.StatusCode, code)
	}
	if n := len(e.failures.all()); n != 0 {
		t.Errorf("an outage was recorded as %d authentication failures", n)
	}
}

func TestCallerInContext(t *testing.T) {
	e := newEnv(t)
	resp := e.request(t, http.MethodDelete, "/v1/keys/key-7", nil, http.Header{"User-Agent": {"keyward-cli/1.0"}})
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	c := e.fake.last(t, "DeleteKey")
	if !c.HasCtx {
		t.Fatal("no Caller in the service's context")
	}
	want := keyward.Caller{Principal: testPrincipal, TokenID: tokenID, SourceIP: "127.0.0.1",
		UserAgent: "keyward-cli/1.0", RequestID: resp.Header.Get("X-Request-Id")}
	if c.Caller != want {
		t.Errorf("caller = %+v, want %+v", c.Caller, want)
	}
	if c.Args[0] != "key-7" {
		t.Errorf("id = %v", c.Args[0])
	}
	resp2 := e.request(t, http.MethodDelete, "/v1/keys/key-7", nil, nil)
	id1, id2 := resp.Header.Get("X-Request-Id"), resp2.Header.Get("X-Request-Id")
	if len(id1) != 36 || id1 == id2 {
		t.Errorf("request IDs %q, %q: want fresh UUIDs", id1, id2)
	}
}

func TestRequestIDNotTakenFromClient(t *testing.T) {
	e := newEnv(t)
	resp := e.request(t, http.MethodGet, "/healthz", nil, http.Header{"X-Request-Id": {"forged-id"}})
	if got := resp.Header.Get("X-Request-Id"); got == "forged-id" || len(got) != 36 {
		t.Errorf("X-Request-Id = %q", got)
	}
}

func TestBodyDecoding(t *testing.T) {
	const secret = "sk-live-DO-NOT-ECHO-4242"
	tests := []struct {
		name, method, path, body string
		status                   int
	}{
		{"unknown field", "POST", "/v1/keys", `{"name":"k","` + secret + `":1}`, 400},
		{"unknown nested field", "POST", "/v1/apis", `{"name":"a","stages":[{"name":"prod","upstreamUrl":"u","` + secret + `":1}]}`, 400},
		{"malformed", "POST", "/v1/secrets", `{"name":"x","secretString":"` + secret + `",}`, 400},
		{"truncated", "POST", "/v1/secrets", `{"name":"x","secretString":"` + secret, 400},
		{"two values", "POST", "/v1/secrets", `{"name":"x"} {"secretString":"` + secret + `"}`, 400},
		{"trailing garbage", "POST", "/v1/secrets", `{"name":"x"}` + secret, 400},
		{"wrong type", "POST", "/v1/secrets", `{"name":"x","secretString":["` + secret + `"]}`, 400},
		{"bad time", "PATCH", "/v1/keys/k", `{"expiresAt":"` + secret + `"}`, 400},
		{"bad base64", "POST", "/v1/secrets/x/versions", `{"secretBinary":"` + secret + `!"}`, 400},
		{"both payloads", "POST", "/v1/secrets/x/versions", `{"secretString":"` + secret + `","secretBinary":"AAEC"}`, 400},
		{"empty", "POST", "/v1/keys", ``, 400},
		{"not an object", "POST", "/v1/keys", `"` + secret + `"`, 400},
		{"body on a bodiless route", "POST", "/v1/audit/verify", `{"x":"` + secret + `"}`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			resp := e.request(t, tt.method, tt.path, []byte(tt.body), nil)
			code, _, raw := errorOf(t, resp)
			if resp.StatusCode != tt.status || code != keyward.EINVALID {
				t.Fatalf("got %d %q, want %d invalid", resp.StatusCode, code, tt.status)
			}
			if strings.Contains(string(raw), "DO-NOT-ECHO") {
				t.Errorf("answer echoes the body: %s", raw)
			}
			if strings.Contains(e.logs.String(), "DO-NOT-ECHO") {
				t.Errorf("log echoes the body:\n%s", e.logs.String())
			}
			if n := e.fake.count(); n != 0 {
				t.Errorf("service called on a bad body")
			}
		})
	}
}

func TestEmptyBodyAccepted(t *testing.T) {
	e := newEnv(t)
	for _, body := range []string{"", "{}", " \n"} {
		resp := e.request(t, http.MethodPost, "/v1/audit/verify", []byte(body), nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("body %q: status %d", body, resp.StatusCode)
		}
	}
}

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t, withMaxBody(256))
	big := `{"name":"` + strings.Repeat("a", 1024) + `"}`
	for _, path := range []string{"/v1/keys", "/v1/audit/verify"} {
		resp := e.request(t, http.MethodPost, path, []byte(big), nil)
		code, _, _ := errorOf(t, resp)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || code != keyward.EINVALID {
			t.Errorf("%s: got %d %q, want 413 invalid", path, resp.StatusCode, code)
		}
	}
	// Trailing bytes past the limit after a complete value count too.
	resp := e.request(t, http.MethodPost, "/v1/keys", []byte(`{"name":"k"}`+strings.Repeat(" ", 1024)), nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("trailing whitespace past the limit: status %d", resp.StatusCode)
	}
	if n := e.fake.count(); n != 0 {
		t.Errorf("service called %d times", n)
	}
}

func TestDefaultBodyLimit(t *testing.T) {
	e := newEnv(t)
	big := `{"name":"` + strings.Repeat("a", httpapi.DefaultMaxBodyBytes) + `"}`
	resp := e.request(t, http.MethodPost, "/v1/keys", []byte(big), nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d, want 413", resp.StatusCode)
	}
}

func TestQueryParameters(t *testing.T) {
	e := newEnv(t)
	resp := e.request(t, http.MethodGet, "/v1/keys?namePrefix=ci-&customerId=c1&planId=p1&limit=7&position=abc", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	want := keyward.KeyFilter{NamePrefix: "ci-", CustomerID: "c1", PlanID: "p1", Page: keyward.Page{Limit: 7, Position: "abc"}}
	if got := e.fake.last(t, "ListKeys").Args[0]; got != want {
		t.Errorf("filter = %+v, want %+v", got, want)
	}

	resp = e.request(t, http.MethodDelete, "/v1/secrets/s?force=true", nil, nil)
	if got := e.fake.last(t, "DeleteSecret").Args[1]; resp.StatusCode != 200 || got != (keyward.SecretDelete{Force: true}) {
		t.Errorf("status %d, delete = %+v", resp.StatusCode, got)
	}

	for _, q := range []string{
		"/v1/keys?limit=abc",
		"/v1/keys?limit=-1",
		"/v1/keys?limit=99999999999",
		"/v1/keys?limit=1&limit=2",
		"/v1/keys?nameprefix=x", // unknown (case matters)
		"/v1/keys?%zz",
		"/v1/secrets?includeDeleted=yes",
		"/v1/secrets/s?recoveryWindowDays=7d",
		"/v1/audit/records?since=yesterday",
		"/v1/audit/records?afterSeq=1.5",
		"/v1/audit/records?order=newest",
		"/v1/audit/records?beforeSeq=-1",
		"/v1/audit/checkpoints?afterSeq=x",
		"/v1/audit/checkpoints?afterSize=x",
		"/v1/audit/checkpoints?afterSize=5&afterSeq=6",
		"/v1/audit/proof?seq=3&size=-1",
		"/v1/audit/proof?seq=3&from=2",
		"/v1/audit/consistency?from=x",
		"/v1/audit/consistency?from=3&seq=4",
		"/v1/audit/public-key?x=1",
		"/v1/secrets/s/value?versionId=a&versionId=b",
		"/v1/keys/k/usage?from=2025-3-01",
		"/v1/keys/k/usage?from=2025-02-30",
		"/v1/keys/k/usage?to=yesterday",
		"/v1/keys/k/usage?to=2025-03-01T00:00:00Z",
		"/v1/keys/k/usage?days=30",
	} {
		method := http.MethodGet
		if strings.HasPrefix(q, "/v1/secrets/s?") {
			method = http.MethodDelete
		}
		resp := e.request(t, method, q, nil, nil)
		if code, _, _ := errorOf(t, resp); resp.StatusCode != http.StatusBadRequest || code != keyward.EINVALID {
			t.Errorf("%s %s: got %d %q, want 400 invalid", method, q, resp.StatusCode, code)
		}
	}
}

// Checkpoints page by afterSize; afterSeq, its old name, is still read.
func TestCheckpointsAfterSeqAlias(t *testing.T) {
	e := newEnv(t)
	for _, q := range []string{"afterSize=7", "afterSeq=7", "afterSize=7&afterSeq=7"} {
		resp := e.request(t, http.MethodGet, "/v1/audit/checkpoints?"+q+"&limit=3", nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", q, resp.StatusCode)
		}
		if got := e.fake.last(t, "ListCheckpoints").Args; got[0] != int64(7) || got[1] != 3 {
			t.Errorf("%s: service saw %v, want [7 3]", q, got)
		}
	}
}

func TestSecretNameWithSlashReachesService(t *testing.T) {
	e := newEnv(t)
	resp := e.request(t, http.MethodGet, "/v1/secrets/prod%2Fopenai/value?versionStage=PREVIOUS", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	c := e.fake.last(t, "GetSecretValue")
	if c.Args[0] != "prod/openai" {
		t.Errorf("PathValue gave %q, want prod/openai", c.Args[0])
	}
	if c.Args[1] != (keyward.SecretSelector{Stage: "PREVIOUS"}) {
		t.Errorf("selector = %+v", c.Args[1])
	}
	// An unescaped slash is another route: not found, never a secret "prod".
	resp = e.request(t, http.MethodGet, "/v1/secrets/prod/openai", nil, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unescaped slash: status %d, want 404", resp.StatusCode)
	}
}

func TestValueAnswersAreNotCached(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/v1/keys/k1/value", "/v1/secrets/s1/value"} {
		resp := e.request(t, http.MethodGet, p, nil, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: status %d, Cache-Control %q", p, resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
	}
}

func TestXForwardedFor(t *testing.T) {
	xff := http.Header{"X-Forwarded-For": {"198.51.100.1, 203.0.113.7"}}
	tests := []struct {
		name    string
		trusted []string
		want    string
	}{
		{"no trusted proxies: header ignored", nil, "127.0.0.1"},
		{"peer not trusted: header ignored", []string{"10.0.0.0/8"}, "127.0.0.1"},
		{"peer trusted: right-most entry", []string{"127.0.0.0/8"}, "203.0.113.7"},
		{"two trusted hops", []string{"127.0.0.0/8", "203.0.113.0/24"}, "198.51.100.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withTrusted(tt.trusted...))
			resp := e.request(t, http.MethodGet, "/v1/keys/k", nil, xff)
			if got := e.fake.last(t, "GetKey").Caller.SourceIP; got != tt.want {
				t.Errorf("caller source IP = %q, want %q", got, tt.want)
			}
			if rec := e.logs.waitRecord(t, resp.Header.Get("X-Request-Id")); rec["source_ip"] != tt.want {
				t.Errorf("logged source_ip = %v, want %q", rec["source_ip"], tt.want)
			}
		})
	}
}

// allowedLogKeys is the allow-list of the access line, plus slog's own keys.
var allowedLogKeys = map[string]bool{
	"time": true, "level": true, "msg": true,
	"request_id": true, "method": true, "route": true, "status": true, "duration_ms": true,
	"principal_id": true, "source_ip": true, "user_agent": true,
}

func TestAccessLog(t *testing.T) {
	e := newEnv(t)
	resp := e.request(t, http.MethodGet, "/v1/secrets/prod%2Fopenai/value?versionId=VERSION-IN-QUERY", nil,
		http.Header{"User-Agent": {"pipeline/2"}, "X-Custom": {"HEADER-VALUE"}})
	rec := e.logs.waitRecord(t, resp.Header.Get("X-Request-Id"))
	for k := range rec {
		if !allowedLogKeys[k] {
			t.Errorf("access line has field %q outside the allow-list", k)
		}
	}
	want := map[string]any{
		"method": "GET", "route": "/v1/secrets/{name}/value", "status": float64(200),
		"principal_id": testPrincipal.ID, "source_ip": "127.0.0.1", "user_agent": "pipeline/2",
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v", k, rec[k], v)
		}
	}
	if _, ok := rec["duration_ms"].(float64); !ok {
		t.Errorf("duration_ms = %v", rec["duration_ms"])
	}
	logs := e.logs.String()
	for _, leak := range []string{"VERSION-IN-QUERY", "HEADER-VALUE", goodToken, "prod%2Fopenai", "prod/openai", "sk-upstream"} {
		if strings.Contains(logs, leak) {
			t.Errorf("log contains %q:\n%s", leak, logs)
		}
	}
}

// The Go server refuses CR/LF in header values, so the handler is driven
// directly, as it would be behind another front end.
func TestUserAgentControlCharactersStripped(t *testing.T) {
	f := newFake()
	logs := &syncBuffer{}
	h := httpapi.NewHandler(httpapi.Services{Keys: f, Auth: f}, httpapi.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	req := httptest.NewRequest(http.MethodGet, "/v1/keys/k1", nil)
	req.Header.Set("Authorization", "Bearer "+goodToken)
	req.Header["User-Agent"] = []string{"evil\r\nlevel=ERROR msg=forged\x1b[31m\u2028end\x00"}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d", rec.Code)
	}
	records := logs.records(t)
	if len(records) != 1 {
		t.Fatalf("%d log records, want 1", len(records))
	}
	ua, _ := records[0]["user_agent"].(string)
	if ua != "evillevel=ERROR msg=forged[31mend" {
		t.Errorf("user_agent = %q", ua)
	}
	for _, r := range ua {
		if unicode.IsControl(r) || r == '\u2028' {
			t.Errorf("user_agent keeps control character %U", r)
		}
	}
	if got := f.last(t, "GetKey").Caller.UserAgent; got != ua {
		t.Errorf("Caller.UserAgent = %q, want the cleaned %q", got, ua)
	}
}

func TestEveryRouteIsRegistered(t *testing.T) {
	e := newEnv(t)
	for _, rt := range httpapi.Routes() {
		path := fillPattern(rt.Pattern)
		resp := e.request(t, rt.Method, path, nil, http.Header{"Authorization": {""}})
		io.Copy(io.Discard, resp.Body)
		rec := e.logs.waitRecord(t, resp.Header.Get("X-Request-Id"))
		if rec["route"] != rt.Pattern {
			t.Errorf("%s %s: matched route %v", rt.Method, path, rec["route"])
		}
		if rt.Public {
			if resp.StatusCode == http.StatusUnauthorized {
				t.Errorf("public %s %s asks for a token", rt.Method, rt.Pattern)
			}
			continue
		}
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s without token: status %d, want 401", rt.Method, rt.Pattern, resp.StatusCode)
		}
		got := e.failures.all()
		if last := got[len(got)-1]; last.Action != rt.Action {
			t.Errorf("%s %s: auth failure recorded for %q, want %q", rt.Method, rt.Pattern, last.Action, rt.Action)
		}
	}
}

// fillPattern replaces each {wildcard} with a value.
func fillPattern(p string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(p, '{')
		if i < 0 {
			return b.String() + p
		}
		j := strings.IndexByte(p[i:], '}')
		b.WriteString(p[:i] + "x")
		p = p[i+j+1:]
	}
}

func TestUnmatchedRequests(t *testing.T) {
	e := newEnv(t)
	resp := e.request(t, http.MethodGet, "/v1/nothing/here", nil, nil)
	if code, _, _ := errorOf(t, resp); resp.StatusCode != http.StatusNotFound || code != keyward.ENOTFOUND {
		t.Errorf("unknown path: %d %q", resp.StatusCode, code)
	}
	resp = e.request(t, http.MethodPut, "/v1/keys", nil, nil)
	if code, _, _ := errorOf(t, resp); resp.StatusCode != http.StatusMethodNotAllowed || code != keyward.EINVALID {
		t.Errorf("wrong method: %d %q", resp.StatusCode, code)
	}
	if allow := resp.Header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Errorf("Allow = %q", allow)
	}
	resp = e.request(t, "BREW", "/v1/keys", nil, nil)
	io.Copy(io.Discard, resp.Body)
	e.logs.waitRecord(t, resp.Header.Get("X-Request-Id"))
	for _, o := range e.metrics.all() {
		if o.Route != "unmatched" {
			t.Errorf("unmatched request observed as route %q", o.Route)
		}
		if o.Method != "GET" && o.Method != "PUT" && o.Method != "OTHER" {
			t.Errorf("method label %q", o.Method)
		}
	}
}

func TestMetricsUseRouteTemplates(t *testing.T) {
	e := newEnv(t)
	resp := e.request(t, http.MethodGet, "/v1/keys/key-123456", nil, nil)
	io.Copy(io.Discard, resp.Body)
	e.logs.waitRecord(t, resp.Header.Get("X-Request-Id"))
	obs := e.metrics.all()
	if len(obs) != 1 || obs[0] != (observation{"/v1/keys/{id}", "GET", 200}) {
		t.Errorf("observations = %+v", obs)
	}
}

func TestPublicEndpoints(t *testing.T) {
	f := newFake()
	var ready atomic.Bool
	h := httpapi.NewHandler(httpapi.Services{Auth: f}, httpapi.Options{
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Ready: func(context.Context) error {
			if !ready.Load() {
				return errors.New("sqlite: database is locked at /var/lib/keyward")
			}
			return nil
		},
		MetricsHandler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "metric 1\n") }),
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(p string) (*http.Response, string) {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, _ := get("/healthz"); resp.StatusCode != 200 {
		t.Errorf("healthz: %d", resp.StatusCode)
	}
	if resp, body := get("/readyz"); resp.StatusCode != 503 || strings.Contains(body, "sqlite") {
		t.Errorf("readyz when not ready: %d %s", resp.StatusCode, body)
	}
	ready.Store(true)
	if resp, _ := get("/readyz"); resp.StatusCode != 200 {
		t.Errorf("readyz when ready: %d", resp.StatusCode)
	}
	if resp, body := get("/metrics"); resp.StatusCode != 200 || body != "metric 1\n" {
		t.Errorf("metrics: %d %q", resp.StatusCode, body)
	}
	if resp, body := get("/v1/openapi.json"); resp.StatusCode != 200 || !strings.Contains(body, `"openapi": "3.1.0"`) {
		t.Errorf("openapi: %d", resp.StatusCode)
	}
}

func TestKeyUsageQuery(t *testing.T) {
	e := newEnv(t)
	resp := e.request(t, http.MethodGet, "/v1/keys/k1/usage?from=2025-02-27&to=2025-03-01", nil, nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d: %s", resp.StatusCode, body)
	}
	from, to := time.Date(2025, 2, 27, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	if got := e.fake.last(t, "GetKeyUsage").Args; !reflect.DeepEqual(got, []any{"k1", from, to}) {
		t.Errorf("args = %v", got)
	}
	if !strings.HasPrefix(string(body), `{"items":[{"keyId":"k1","day":"2025-02-27","requests":1,"tokensIn":10,"tokensOut":100},`) ||
		strings.Contains(string(body), `"next"`) {
		t.Errorf("body = %s", body)
	}
	// Without from and to the core picks the range; no usage is an empty list.
	resp = e.request(t, http.MethodGet, "/v1/keys/k1/usage", nil, nil)
	body, _ = io.ReadAll(resp.Body)
	if got := e.fake.last(t, "GetKeyUsage").Args; !reflect.DeepEqual(got, []any{"k1", time.Time{}, time.Time{}}) {
		t.Errorf("args = %v", got)
	}
	if strings.TrimSpace(string(body)) != `{"items":[]}` {
		t.Errorf("body = %s", body)
	}
}

// A Keys service that also reports usage serves the usage route when
// Services.Usage is not set.
func TestKeyUsageFromKeysService(t *testing.T) {
	f := newFake()
	h := httpapi.NewHandler(httpapi.Services{Keys: f, Auth: f}, httpapi.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	req := httptest.NewRequest(http.MethodGet, "/v1/keys/k1/usage", nil)
	req.Header.Set("Authorization", "Bearer "+goodToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("got %d %s", rec.Code, rec.Body.String())
	}
	f.last(t, "GetKeyUsage")
}

func TestNilServiceAnswersInternal(t *testing.T) {
	f := newFake()
	h := httpapi.NewHandler(httpapi.Services{Auth: f}, httpapi.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	req := httptest.NewRequest(http.MethodGet, "/v1/keys/k1", nil)
	req.Header.Set("Authorization", "Bearer "+goodToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), `"internal"`) {
		t.Errorf("got %d %s", rec.Code, rec.Body.String())
	}
}
