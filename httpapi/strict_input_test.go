package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// TestBodiesEveryParserReadsAlike sends bodies that encoding/json would
// quietly repair or read one of two ways: invalid UTF-8 and unpaired
// surrogates (replaced by U+FFFD) and repeated keys (the last one wins) at
// any depth. Each is a 400 before any service is called; a repeated key is
// named, and no value is echoed.
func TestBodiesEveryParserReadsAlike(t *testing.T) {
	const secret = "sk-live-DO-NOT-ECHO-4242"
	tests := []struct {
		name, method, path, body, says string
	}{
		{"invalid UTF-8 in a name", "POST", "/v1/keys", "{\"name\":\"k\xff\"}", "request body is not valid UTF-8 (byte 10)"},
		{"invalid UTF-8 in a key", "POST", "/v1/keys", "{\"name\":\"k\",\"tags\":{\"\xc3\":\"" + secret + "\"}}", "request body is not valid UTF-8"},
		{"invalid UTF-8 in a secret value", "POST", "/v1/secrets", "{\"name\":\"x\",\"secretString\":\"" + secret + "\xed\xa0\x80\"}", "request body is not valid UTF-8"},
		{"invalid UTF-8 in a policy document", "POST", "/v1/policies", "{\"name\":\"p\",\"document\":{\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"kw:secret/\xfe\"}]}}", "not valid UTF-8"},
		{"invalid UTF-8 between values", "POST", "/v1/keys", "{\"name\":\"k\"}\xff", "not valid UTF-8"},
		{"unpaired surrogate", "POST", "/v1/secrets", `{"name":"x","secretString":"` + secret + `\ud800"}`, "unpaired UTF-16 surrogate escape"},
		{"repeated field", "POST", "/v1/keys", `{"name":"a","name":"b"}`, `request body repeats the key "name"`},
		{"repeated field by escape", "POST", "/v1/keys", `{"name":"a","n\u0061me":"b"}`, `repeats the key "name"`},
		{"repeated secret field", "POST", "/v1/secrets", `{"name":"x","secretString":"` + secret + `","secretString":"` + secret + `2"}`, `repeats the key "secretString"`},
		{"repeated tag", "POST", "/v1/keys", `{"name":"k","tags":{"env":"prod","env":"dev"}}`, `repeats the key "env"`},
		{"repeated key in a policy", "POST", "/v1/policies", `{"name":"p","document":{"Statement":[{"Effect":"Deny","Effect":"Allow","Action":"*","Resource":"*"}]}}`, `repeats the key "Effect"`},
		{"repeated key deep in a condition", "POST", "/v1/policies", `{"name":"p","document":{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"kw:SourceIp":"10.0.0.0/8","kw:SourceIp":"0.0.0.0/0"}}}]}}`, `repeats the key "kw:SourceIp"`},
		{"repeated key in a stage list", "POST", "/v1/apis", `{"name":"a","stages":[{"name":"prod","name":"dev","upstreamUrl":"http://127.0.0.1"}]}`, `repeats the key "name"`},
		{"a long repeated key is clipped", "POST", "/v1/keys", `{"name":"k","tags":{"` + strings.Repeat("t", 100) + `":"a","` + strings.Repeat("t", 100) + `":"b"}}`, `repeats the key "` + strings.Repeat("t", 64) + `"…`},
		{"too deep", "POST", "/v1/keys", `{"name":"k","tags":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, "nested deeper than 64 levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			resp := e.request(t, tt.method, tt.path, []byte(tt.body), nil)
			code, msg, raw := errorOf(t, resp)
			if resp.StatusCode != http.StatusBadRequest || code != keyward.EINVALID {
				t.Fatalf("got %d %q (%s), want 400 invalid", resp.StatusCode, code, msg)
			}
			if !strings.Contains(msg, tt.says) {
				t.Errorf("message %q does not say %q", msg, tt.says)
			}
			if strings.Contains(string(raw), "DO-NOT-ECHO") || strings.Contains(e.logs.String(), "DO-NOT-ECHO") {
				t.Errorf("answer or log echoes a value: %s", raw)
			}
			if n := e.fake.count(); n != 0 {
				t.Errorf("service called on a refused body")
			}
		})
	}
}

// TestBodiesStrictButNotFussy: escapes and non-ASCII text are fine. (Keys
// that differ only by case are one key, tags included: encoding/json would
// match either to a struct field and keep the last.)
func TestBodiesStrictButNotFussy(t *testing.T) {
	e := newEnv(t)
	resp := e.request(t, http.MethodPost, "/v1/keys", []byte(`{"name":"cl\u00e9","tags":{"env":"a","Team":"b","é":"\ud83d\ude00"}}`), nil)
	if resp.StatusCode != http.StatusCreated {
		code, msg, _ := errorOf(t, resp)
		t.Fatalf("status %d %s %s", resp.StatusCode, code, msg)
	}
	in := e.fake.last(t, "CreateKey").Args[0].(keyward.KeyCreate)
	if in.Name != "clé" || len(in.Tags) != 3 || in.Tags["é"] != "😀" {
		t.Errorf("service got %+v", in)
	}
}

// TestURLsInValidUTF8 refuses a path or query string that percent-decodes to
// invalid UTF-8, on routes that read the query and routes that do not.
func TestURLsInValidUTF8(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct{ method, path, says string }{
		{"GET", "/v1/keys/key_%FF", "request path is not valid UTF-8"},
		{"GET", "/v1/secrets/prod%2F%C3/value", "request path is not valid UTF-8"},
		{"DELETE", "/v1/policies/%ED%A0%80", "request path is not valid UTF-8"},
		{"GET", "/v1/keys?position=%FF", "query string is not valid UTF-8"},
		{"GET", "/v1/keys?%FE=1", "query string is not valid UTF-8"},
		{"POST", "/v1/audit/verify?x=%C0%AF", "query string is not valid UTF-8"},
	} {
		resp := e.request(t, tt.method, tt.path, nil, nil)
		code, msg, _ := errorOf(t, resp)
		if resp.StatusCode != http.StatusBadRequest || code != keyward.EINVALID || msg != tt.says {
			t.Errorf("%s %s: got %d %q %q, want 400 invalid %q", tt.method, tt.path, resp.StatusCode, code, msg, tt.says)
		}
	}
	if n := e.fake.count(); n != 0 {
		t.Errorf("service called %d times on refused URLs", n)
	}
	// Valid UTF-8, percent-encoded, still reaches the service.
	resp := e.request(t, http.MethodGet, "/v1/secrets/caf%C3%A9/value?versionStage=CURRENT", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("valid UTF-8 path: status %d", resp.StatusCode)
	}
	if got := e.fake.last(t, "GetSecretValue").Args[0]; got != "café" {
		t.Errorf("PathValue = %q, want café", got)
	}
}
