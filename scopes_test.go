package keyward_test

import (
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// TestScopesValidate is the one table for scope validation, which the core,
// the CLI (routes) and the Pulumi provider share.
func TestScopesValidate(t *testing.T) {
	route := func(method, path string) keyward.Scopes {
		return keyward.Scopes{Routes: []keyward.RoutePattern{{Method: method, Path: path}}}
	}
	models := func(m ...string) keyward.Scopes { return keyward.Scopes{Models: m} }
	many := make([]string, keyward.MaxScopeItems+1)
	for i := range many {
		many[i] = "m"
	}
	manyRoutes := keyward.Scopes{Routes: make([]keyward.RoutePattern, keyward.MaxScopeItems+1)}
	tests := []struct {
		name    string
		scopes  keyward.Scopes
		wantErr string // "" for valid
	}{
		{"none", keyward.Scopes{}, ""},
		{"model glob", models("gpt-4o-*", "meta-llama/*"), ""},
		{"route any method", route("*", "/v1/*"), ""},
		{"route method", route("POST", "/v1/chat/completions"), ""},
		{"route question mark", route("GET", "/v?/models"), ""},
		{"as many models as allowed", models(many[1:]...), ""},
		{"too many models", models(many...), "at most 100 models and 100 routes"},
		{"too many routes", manyRoutes, "at most 100 models and 100 routes"},
		{"empty model", models(""), "scope model must be a non-empty pattern"},
		{"model with a space", models("gpt 4"), "scope model must be a non-empty pattern"},
		{"model with a newline", models("gpt\n"), "scope model must be a non-empty pattern"},
		{"model too long", models(strings.Repeat("m", 257)), "at most 256 bytes"},
		{"model of 256 bytes", models(strings.Repeat("m", 256)), ""},
		{"model with a class", models("gpt-[45]"), `scope model must not contain "["`},
		{"model with an escape", models(`gpt\*`), `scope model must not contain "["`},
		{"lower-case method", route("post", "/v1"), "scope route method must be an upper-case HTTP method or *"},
		{"empty method", route("", "/v1"), "scope route method"},
		{"method too long", route(strings.Repeat("A", 17), "/v1"), "scope route method"},
		{"method of 16 letters", route(strings.Repeat("A", 16), "/v1"), ""},
		{"method with a digit", route("GET2", "/v1"), "scope route method"},
		{"relative path", route("GET", "v1/*"), "scope route path must start with /"},
		{"empty path", route("GET", ""), "scope route path must start with /"},
		{"path with a space", route("GET", "/v1/a b"), "scope route path must be a non-empty pattern"},
		{"path with a class", route("GET", "/v1/[ab]"), `scope route path must not contain "["`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.scopes.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if keyward.ErrorCode(err) != keyward.EINVALID || !strings.Contains(keyward.ErrorMessage(err), tt.wantErr) {
				t.Fatalf("Validate() = %v, want EINVALID containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestRouteKeysAndMatching is the one table for route throttle keys and
// for matching a request against a route (scopes and throttles alike).
func TestRouteKeysAndMatching(t *testing.T) {
	for key, want := range map[string]keyward.RoutePattern{
		"/v1/chat/completions/POST": {Method: "POST", Path: "/v1/chat/completions"},
		"/v1/chat/completions/post": {Method: "POST", Path: "/v1/chat/completions"},
		"/v1/*/ANY":                 {Method: "*", Path: "/v1/*"},
		"/v1/chat/*/*":              {Method: "*", Path: "/v1/chat/*"},
		"/*/GET":                    {Method: "GET", Path: "/*"},
	} {
		got, err := keyward.ParseRouteKey(key)
		if err != nil || got != want {
			t.Errorf("ParseRouteKey(%q) = %+v, %v; want %+v", key, got, err, want)
		}
	}
	for _, key := range []string{"", "POST", "/POST", "/v1/chat/completions", "v1/chat/POST", "/v1/[x]/POST", "/v1/chat/BREW"} {
		if got, err := keyward.ParseRouteKey(key); err == nil {
			t.Errorf("ParseRouteKey(%q) = %+v, want an error", key, got)
		}
	}
	r := keyward.RoutePattern{Method: "POST", Path: "/v1/chat/*"}
	for _, c := range []struct {
		method, path string
		want         bool
	}{
		{"POST", "/v1/chat/completions", true},
		{"post", "/v1/chat/completions", true}, // a method in another case is the same method
		{"GET", "/v1/chat/completions", false},
		{"POST", "/v1/embeddings", false},
		{"POST", "/v1/chat/completions/x", true}, // a trailing /* takes the subtree
	} {
		if got := r.Matches(c.method, c.path); got != c.want {
			t.Errorf("%+v.Matches(%q, %q) = %v, want %v", r, c.method, c.path, got, c.want)
		}
	}
}
