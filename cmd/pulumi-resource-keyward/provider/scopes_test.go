package provider_test

import (
	"testing"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"github.com/keyward/keyward/cmd/pulumi-resource-keyward/provider"
)

// TestCheckScopes: Check applies keyward.Scopes.Validate (whose table is in
// the root package), so a preview reports a bad scope; scopes still unknown
// are not judged.
func TestCheckScopes(t *testing.T) {
	h := start(t)
	unknown := property.New(property.Computed)
	tests := []struct {
		name   string
		scopes any
		fails  bool
	}{
		{"valid", map[string]any{"models": []any{"gpt-4o-*"}, "routes": []any{map[string]any{"method": "POST", "path": "/v1/*"}}}, false},
		{"model with a space", map[string]any{"models": []any{"gpt 4"}}, true},
		{"model with a class", map[string]any{"models": []any{"gpt-[45]"}}, true},
		{"lower-case method", map[string]any{"routes": []any{map[string]any{"method": "post", "path": "/v1"}}}, true},
		{"relative path", map[string]any{"routes": []any{map[string]any{"method": "*", "path": "v1/*"}}}, true},
		{"scopes unknown", unknown, false},
		{"a model unknown", map[string]any{"models": []any{unknown}}, false},
	}
	for _, tt := range tests {
		chk, err := h.prov.Check(p.CheckRequest{Urn: urn(provider.TypeAPIKey, "k"), Inputs: pm(map[string]any{"scopes": tt.scopes})})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		switch {
		case tt.fails && (len(chk.Failures) != 1 || chk.Failures[0].Property != "scopes"):
			t.Errorf("%s: failures %+v, want one on scopes", tt.name, chk.Failures)
		case !tt.fails && len(chk.Failures) != 0:
			t.Errorf("%s: failures %+v, want none", tt.name, chk.Failures)
		}
	}
}
