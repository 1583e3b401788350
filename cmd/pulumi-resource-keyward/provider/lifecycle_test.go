package provider_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/cmd/pulumi-resource-keyward/provider"
)

// The lifecycle tests drive each resource through the integration
// package's LifeCycleTest (check, preview, create, diff, preview, update or
// replace, delete) against a real keyward server, and check the server's
// side of every step through the admin client.

func (h *harness) api(name string) *keyward.API {
	h.t.Helper()
	return must[*keyward.API](h.t)(h.client.CreateAPI(h.ctx, keyward.APICreate{Name: name,
		Stages: []keyward.Stage{{Name: "prod", UpstreamURL: "http://127.0.0.1:9/v1"}, {Name: "dev", UpstreamURL: "http://127.0.0.1:9/dev"}}}))
}

func (h *harness) plan(name string, apiID string) *keyward.UsagePlan {
	h.t.Helper()
	return must[*keyward.UsagePlan](h.t)(h.client.CreatePlan(h.ctx, keyward.PlanCreate{Name: name,
		Throttle: &keyward.Throttle{RateLimit: 1, BurstLimit: 2}, APIStages: []keyward.PlanStage{{APIID: apiID, Stage: "prod"}}}))
}

// keysNamed returns the keys whose name is name.
func (h *harness) keysNamed(name string) []*keyward.APIKey {
	h.t.Helper()
	all, _, err := h.client.ListKeys(h.ctx, keyward.KeyFilter{NamePrefix: name})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []*keyward.APIKey
	for _, k := range all {
		if k.Name == name {
			out = append(out, k)
		}
	}
	return out
}

// plainCopy reports whether s appears in v outside any secret.
func plainCopy(v property.Value, s string) bool {
	switch {
	case v.Secret():
		return false
	case v.IsString():
		return strings.Contains(v.AsString(), s)
	case v.IsArray():
		for _, e := range v.AsArray().All {
			if plainCopy(e, s) {
				return true
			}
		}
	case v.IsMap():
		for _, e := range v.AsMap().All {
			if plainCopy(e, s) {
				return true
			}
		}
	}
	return false
}

func TestAPILifecycle(t *testing.T) {
	h := start(t)
	var id string
	integration.LifeCycleTest{
		Resource: provider.TypeAPI,
		Create: integration.Operation{
			Inputs: pm(map[string]any{"name": "chat", "stages": []any{
				map[string]any{"name": "prod", "upstreamUrl": "http://127.0.0.1:9/v1"},
			}}),
			Hook: func(_, _ property.Map) {
				a := must[*keyward.API](t)(h.client.GetAPI(h.ctx, "chat"))
				id = a.ID
				if len(a.Stages) != 1 || a.OpenAICompatible {
					t.Errorf("created %+v", a)
				}
			},
		},
		Updates: []integration.Operation{{
			Inputs: pm(map[string]any{"name": "chat", "description": "Chat completions", "openaiCompatible": true, "keyPrefix": "chat",
				"stages": []any{
					map[string]any{"name": "prod", "upstreamUrl": "http://127.0.0.1:9/v1"},
					map[string]any{"name": "dev", "upstreamUrl": "http://127.0.0.1:9/dev"},
				}}),
			Hook: func(_, _ property.Map) {
				a := must[*keyward.API](t)(h.client.GetAPI(h.ctx, "chat"))
				if a.ID != id || a.Description != "Chat completions" || !a.OpenAICompatible || a.KeyPrefix != "chat" || len(a.Stages) != 2 {
					t.Errorf("not updated in place: %+v (id was %s)", a, id)
				}
			},
		}, {
			Inputs: pm(map[string]any{"name": "chat2", "stages": []any{
				map[string]any{"name": "prod", "upstreamUrl": "http://127.0.0.1:9/v2"},
			}}),
			Hook: func(_, _ property.Map) {
				a := must[*keyward.API](t)(h.client.GetAPI(h.ctx, "chat2"))
				if a.ID != id || a.OpenAICompatible || a.KeyPrefix != "" || len(a.Stages) != 1 || a.Stages[0].UpstreamURL != "http://127.0.0.1:9/v2" {
					t.Errorf("rename: %+v", a)
				}
			},
		}},
	}.Run(t, h.prov)
	_, err := h.client.GetAPI(h.ctx, id)
	mustCode(t, err, keyward.ENOTFOUND)
}

func TestUsagePlanLifecycle(t *testing.T) {
	h := start(t)
	api := h.api("chat")
	var id string
	integration.LifeCycleTest{
		Resource: provider.TypeUsagePlan,
		Create: integration.Operation{
			Inputs: pm(map[string]any{"name": "gold",
				"throttle":  map[string]any{"rateLimit": 10, "burstLimit": 20},
				"quota":     map[string]any{"limit": 1000, "period": "MONTH"},
				"apiStages": []any{map[string]any{"apiId": "chat", "stage": "prod"}},
			}),
			Hook: func(_, _ property.Map) {
				pl := must[*keyward.UsagePlan](t)(h.client.GetPlan(h.ctx, "gold"))
				id = pl.ID
				if pl.Throttle == nil || *pl.Throttle != (keyward.Throttle{RateLimit: 10, BurstLimit: 20}) ||
					pl.Quota == nil || pl.Quota.Limit != 1000 || pl.Tokens != nil ||
					len(pl.APIStages) != 1 || pl.APIStages[0].APIID != api.ID {
					t.Errorf("created %+v", pl)
				}
			},
		},
		Updates: []integration.Operation{{
			Inputs: pm(map[string]any{"name": "gold",
				"throttle": map[string]any{"rateLimit": 5, "burstLimit": 10},
				"tokens":   map[string]any{"perMinute": 5000, "defaultMaxTokens": 256},
				"apiStages": []any{map[string]any{"apiId": api.ID, "stage": "prod",
					"throttle":       map[string]any{"rateLimit": 1, "burstLimit": 2},
					"routeThrottles": map[string]any{"/chat/completions/POST": map[string]any{"rateLimit": 0.5, "burstLimit": 1}}}},
			}),
			Hook: func(_, _ property.Map) {
				pl := must[*keyward.UsagePlan](t)(h.client.GetPlan(h.ctx, "gold"))
				if pl.ID != id || pl.Throttle.RateLimit != 5 || pl.Quota != nil || pl.Tokens == nil || pl.Tokens.PerMinute != 5000 ||
					pl.APIStages[0].Throttle == nil || pl.APIStages[0].RouteThrottles["/chat/completions/POST"].RateLimit != 0.5 {
					t.Errorf("not updated in place: %+v", pl)
				}
			},
		}, {
			Inputs: pm(map[string]any{"name": "silver"}),
			Hook: func(_, _ property.Map) {
				pl := must[*keyward.UsagePlan](t)(h.client.GetPlan(h.ctx, "silver"))
				if pl.ID != id || pl.Throttle != nil || pl.Tokens != nil || len(pl.APIStages) != 0 {
					t.Errorf("rename and clear: %+v", pl)
				}
			},
		}},
	}.Run(t, h.prov)
	_, err := h.client.GetPlan(h.ctx, id)
	mustCode(t, err, keyward.ENOTFOUND)
}

func TestAPIKeyLifecycle(t *testing.T) {
	h := start(t)
	api := h.api("chat")
	gold := h.plan("gold", api.ID)
	expires := time.Now().Add(48 * time.Hour).Truncate(time.Second).In(time.FixedZone("", 2*3600))
	var id, value string
	integration.LifeCycleTest{
		Resource: provider.TypeAPIKey,
		Create: integration.Operation{
			Inputs: pm(map[string]any{
				"name":         "pipeline",
				"stageKeys":    []any{map[string]any{"apiId": "chat", "stage": "prod"}},
				"usagePlanIds": []any{"gold"},
				"scopes": map[string]any{"models": []any{"gpt-4o*"},
					"routes": []any{map[string]any{"method": "POST", "path": "/chat/*"}}},
				"tags": map[string]any{"team": "ml"},
			}),
			Hook: func(_, out property.Map) {
				v := out.Get("value")
				if !v.Secret() || !v.IsString() || !strings.HasPrefix(v.AsString(), "kw_") {
					t.Fatalf("value output %v: want a secret kw_ value", v)
				}
				value = v.AsString()
				if plainCopy(property.New(out), value) {
					t.Fatal("the key value appears outside a secret in the outputs")
				}
				ks := h.keysNamed("pipeline")
				if len(ks) != 1 {
					t.Fatalf("%d keys", len(ks))
				}
				k := ks[0]
				id = k.ID
				if !k.Enabled || !slices.Equal(k.PlanIDs, []string{gold.ID}) || len(k.StageKeys) != 1 || k.StageKeys[0].APIID != api.ID ||
					k.Tags["team"] != "ml" || len(k.Scopes.Models) != 1 || k.ValueSecret != "" || k.ExpiresAt != nil {
					t.Errorf("created %+v", k)
				}
			},
		},
		Updates: []integration.Operation{{
			Inputs: pm(map[string]any{
				"name":         "pipeline",
				"description":  "rotated by CI",
				"enabled":      false,
				"expiresAt":    expires.Format(time.RFC3339),
				"stageKeys":    []any{map[string]any{"apiId": "chat", "stage": "dev"}},
				"usagePlanIds": []any{},
				"scopes":       map[string]any{"models": []any{"gpt-4o-mini"}},
				"tags":         map[string]any{"team": "ml", "env": "prod"},
			}),
			Hook: func(_, out property.Map) {
				if v := out.Get("value"); !v.Secret() || v.AsString() != value {
					t.Errorf("value output after an in-place update: secret=%v same=%v", v.Secret(), v.IsString() && v.AsString() == value)
				}
				k := must[*keyward.APIKey](t)(h.client.GetKey(h.ctx, id))
				if k.Enabled || k.Description != "rotated by CI" || len(k.PlanIDs) != 0 || k.ExpiresAt == nil || !k.ExpiresAt.Equal(expires) ||
					k.StageKeys[0].Stage != "dev" || len(k.Scopes.Routes) != 0 || k.Tags["env"] != "prod" {
					t.Errorf("not updated in place: %+v", k)
				}
			},
		}, {
			// Delivering the value to a secret replaces the key.
			Inputs: pm(map[string]any{"name": "pipeline", "storeValueInSecret": "pipeline/key", "usagePlanIds": []any{gold.ID}}),
			Hook: func(_, out property.Map) {
				if _, ok := out.GetOk("value"); ok {
					t.Errorf("value output with storeValueInSecret: %v", out.Get("value"))
				}
				sv := must[*keyward.SecretValue](t)(h.client.GetSecretValue(h.ctx, "pipeline/key", keyward.SecretSelector{}))
				delivered := string(sv.Value)
				if !strings.HasPrefix(delivered, "kw_") || delivered == value || plainCopy(property.New(out), delivered) {
					t.Errorf("delivered value %q...", delivered[:min(4, len(delivered))])
				}
				var replacement *keyward.APIKey
				for _, k := range h.keysNamed("pipeline") {
					if k.ID != id {
						replacement = k
					}
				}
				if replacement == nil || replacement.ValueSecret != "pipeline/key" || !slices.Equal(replacement.PlanIDs, []string{gold.ID}) || !replacement.Enabled {
					t.Errorf("replacement %+v", replacement)
				}
			},
		}},
	}.Run(t, h.prov)
	if ks := h.keysNamed("pipeline"); len(ks) != 0 {
		t.Errorf("%d keys left after delete", len(ks))
	}
}

func TestUsagePlanKeyLifecycle(t *testing.T) {
	h := start(t)
	api := h.api("chat")
	gold := h.plan("gold", api.ID)
	k1 := must[*keyward.CreatedKey](t)(h.client.CreateKey(h.ctx, keyward.KeyCreate{Name: "k1"})).Key
	k2 := must[*keyward.CreatedKey](t)(h.client.CreateKey(h.ctx, keyward.KeyCreate{Name: "k2"})).Key
	plans := func(id string) []string { return must[*keyward.APIKey](t)(h.client.GetKey(h.ctx, id)).PlanIDs }
	integration.LifeCycleTest{
		Resource: provider.TypeUsagePlanKey,
		Create: integration.Operation{
			Inputs: pm(map[string]any{"planId": "gold", "keyId": k1.ID}),
			Hook: func(_, _ property.Map) {
				if !slices.Equal(plans(k1.ID), []string{gold.ID}) {
					t.Errorf("k1 plans %v", plans(k1.ID))
				}
			},
		},
		Updates: []integration.Operation{{
			Inputs: pm(map[string]any{"planId": "gold", "keyId": k2.ID}),
			Hook: func(_, _ property.Map) {
				if len(plans(k1.ID)) != 0 || !slices.Equal(plans(k2.ID), []string{gold.ID}) {
					t.Errorf("after replace: k1 %v, k2 %v", plans(k1.ID), plans(k2.ID))
				}
			},
		}, {
			// The same attachment named by plan ID instead of name: replaced,
			// the old one detached first, so the new attach does not conflict.
			Inputs: pm(map[string]any{"planId": gold.ID, "keyId": k2.ID}),
			Hook: func(_, _ property.Map) {
				if !slices.Equal(plans(k2.ID), []string{gold.ID}) {
					t.Errorf("k2 plans %v", plans(k2.ID))
				}
			},
		}},
	}.Run(t, h.prov)
	if len(plans(k2.ID)) != 0 {
		t.Errorf("k2 still attached: %v", plans(k2.ID))
	}
}

func TestSecretLifecycle(t *testing.T) {
	h := start(t)
	get := func() string {
		return string(must[*keyward.SecretValue](t)(h.client.GetSecretValue(h.ctx, "vendor/openai", keyward.SecretSelector{})).Value)
	}
	var version string
	integration.LifeCycleTest{
		Resource: provider.TypeSecret,
		Create: integration.Operation{
			// A value the program did not mark secret is kept secret all the same.
			Inputs: pm(map[string]any{"name": "vendor/openai", "description": "vendor key", "value": "sk-one-0123456789"}),
			Hook: func(in, out property.Map) {
				if !in.Get("value").Secret() || !out.Get("value").Secret() || plainCopy(property.New(out), "sk-one") {
					t.Errorf("value not secret: inputs %v outputs %v", in.Get("value").Secret(), out.Get("value").Secret())
				}
				if get() != "sk-one-0123456789" {
					t.Error("value not written")
				}
				version = out.Get("versionId").AsString()
			},
		},
		Updates: []integration.Operation{{
			Inputs: pm(map[string]any{"name": "vendor/openai", "description": "vendor key",
				"value": property.New("sk-two-0123456789").WithSecret(true), "tags": map[string]any{"owner": "ml"}}),
			Hook: func(_, out property.Map) {
				if get() != "sk-two-0123456789" || out.Get("versionId").AsString() == version || !out.Get("value").Secret() {
					t.Errorf("new value not written as a new version: %v", out.Get("versionId"))
				}
				sec := must[*keyward.Secret](t)(h.client.DescribeSecret(h.ctx, "vendor/openai"))
				if sec.Tags["owner"] != "ml" || len(sec.VersionIDsToStages) != 2 {
					t.Errorf("secret %+v", sec)
				}
			},
		}, {
			// Removing the value stops managing it: the secret and its versions
			// stay (a key's value or an upstream credential may live there).
			Inputs: pm(map[string]any{"name": "vendor/openai"}),
			Hook: func(_, out property.Map) {
				sec := must[*keyward.Secret](t)(h.client.DescribeSecret(h.ctx, "vendor/openai"))
				if len(sec.VersionIDsToStages) != 2 || sec.Description != "" || get() != "sk-two-0123456789" {
					t.Errorf("after removing the value: %+v", sec)
				}
				if v, ok := out.GetOk("value"); ok && !v.IsNull() {
					t.Errorf("value still in the outputs")
				}
			},
		}},
	}.Run(t, h.prov)
	_, err := h.client.DescribeSecret(h.ctx, "vendor/openai")
	mustCode(t, err, keyward.ENOTFOUND) // deleted for good, not pending deletion
}

// TestImportedValueReplacement: a key replaced while keeping its imported
// value is deleted before its replacement is created (one value cannot
// belong to two keys).
func TestImportedValueReplacement(t *testing.T) {
	h := start(t)
	imported := property.New("legacy-vendor-key-0123456789").WithSecret(true)
	var first string
	integration.LifeCycleTest{
		Resource: provider.TypeAPIKey,
		Create: integration.Operation{
			Inputs: pm(map[string]any{"name": "legacy", "importValue": imported}),
			Hook: func(in, out property.Map) {
				if !in.Get("importValue").Secret() || !out.Get("importValue").Secret() || !out.Get("value").Secret() {
					t.Error("imported value not secret")
				}
				if out.Get("value").AsString() != "legacy-vendor-key-0123456789" {
					t.Error("value output is not the imported value")
				}
				first = h.keysNamed("legacy")[0].ID
			},
		},
		Updates: []integration.Operation{{
			Inputs: pm(map[string]any{"name": "legacy", "importValue": imported, "storeValueInSecret": "legacy/key"}),
			Hook: func(_, out property.Map) {
				ks := h.keysNamed("legacy")
				if len(ks) != 1 || ks[0].ID == first || !ks[0].Imported || ks[0].ValueSecret != "legacy/key" {
					t.Errorf("after replacement: %d keys, %+v", len(ks), ks)
				}
				if _, ok := out.GetOk("value"); ok {
					t.Error("value output with storeValueInSecret")
				}
			},
		}},
	}.Run(t, h.prov)
}

// TestCheckRejectsBadExpiry: expiresAt must be RFC 3339.
func TestCheckRejectsBadExpiry(t *testing.T) {
	h := start(t)
	chk, err := h.prov.Check(p.CheckRequest{Urn: urn(provider.TypeAPIKey, "k"), Inputs: pm(map[string]any{"expiresAt": "next tuesday"})})
	if err != nil {
		t.Fatal(err)
	}
	if len(chk.Failures) != 1 || chk.Failures[0].Property != "expiresAt" {
		t.Errorf("failures %+v", chk.Failures)
	}
}
