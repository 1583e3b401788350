package provider

import (
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"github.com/keyward/keyward"
)

// checkScopes applies the domain's scope rules (keyward.Scopes.Validate,
// the ones the server applies), so that a preview already reports a bad
// pattern. Scopes still unknown (a preview, another resource's output)
// decode as "" and are not judged.
func checkScopes(raw property.Map, s *Scopes) []p.CheckFailure {
	if raw.Get("scopes").HasComputed() {
		return nil
	}
	if err := toScopes(s).Validate(); err != nil {
		return []p.CheckFailure{{Property: "scopes", Reason: keyward.ErrorMessage(err)}}
	}
	return nil
}
