package provider_test

import (
	"strings"
	"testing"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/cmd/pulumi-resource-keyward/provider"
)

// TestSecondUpIsNoOpAndRefreshSeesDeletes, for every resource type: the
// program's inputs — written with defaults left out, APIs and plans named
// by name, times in another zone, lists in another order — diff as
// unchanged against the state Create wrote and against the state a Read
// (refresh) wrote; and once the resource is deleted behind the provider's
// back, Read returns an empty ID and Delete does not fail.
func TestSecondUpIsNoOpAndRefreshSeesDeletes(t *testing.T) {
	h := start(t)
	api := h.api("chat")
	gold := h.plan("gold", api.ID)
	loose := h.client
	spare := must[*keyward.CreatedKey](t)(loose.CreateKey(h.ctx, keyward.KeyCreate{Name: "spare"})).Key
	expires := time.Now().Add(72 * time.Hour).Truncate(time.Second).In(time.FixedZone("", -5*3600)).Format(time.RFC3339)

	cases := []struct {
		typ, name string
		inputs    property.Map
		deleteOOB func(id string) error
	}{{
		typ: provider.TypeAPI, name: "search",
		inputs: pm(map[string]any{"stages": []any{
			map[string]any{"name": "prod", "upstreamUrl": "http://127.0.0.1:9/p"},
			map[string]any{"name": "dev", "upstreamUrl": "http://127.0.0.1:9/d", "upstreamSecret": "vendor/x"},
		}}),
		deleteOOB: func(id string) error { return loose.DeleteAPI(h.ctx, id) },
	}, {
		typ: provider.TypeUsagePlan, name: "silver",
		inputs: pm(map[string]any{
			"quota":     map[string]any{"limit": 10, "period": "WEEK", "offset": 1},
			"tokens":    map[string]any{},
			"apiStages": []any{map[string]any{"apiId": "chat", "stage": "prod"}, map[string]any{"apiId": api.ID, "stage": "dev"}},
		}),
		deleteOOB: func(id string) error { return loose.DeletePlan(h.ctx, id) },
	}, {
		typ: provider.TypeAPIKey, name: "myApiKey",
		inputs: pm(map[string]any{
			"description":  "API Key for AI Deployment Pipeline",
			"stageKeys":    []any{map[string]any{"apiId": "chat", "stage": "prod"}, map[string]any{"apiId": "chat", "stage": "dev"}},
			"usagePlanIds": []any{"gold"},
			"expiresAt":    expires,
			"scopes":       map[string]any{"models": []any{"b*", "a*"}, "routes": []any{}},
			"tags":         map[string]any{},
		}),
		deleteOOB: func(id string) error { return loose.DeleteKey(h.ctx, id) },
	}, {
		typ: provider.TypeAPIKey, name: "delivered",
		inputs:    pm(map[string]any{"enabled": true, "storeValueInSecret": "pipeline/my-api-key"}),
		deleteOOB: func(id string) error { return loose.DeleteKey(h.ctx, id) },
	}, {
		typ: provider.TypeUsagePlanKey, name: "attach",
		inputs: pm(map[string]any{"planId": "gold", "keyId": spare.ID}),
		deleteOOB: func(id string) error {
			return loose.DetachKey(h.ctx, gold.ID, spare.ID)
		},
	}, {
		typ: provider.TypeSecret, name: "vendor/x",
		inputs: pm(map[string]any{"value": property.New("v-0123456789").WithSecret(true), "tags": map[string]any{"a": "b"}}),
		deleteOOB: func(id string) error {
			_, err := loose.DeleteSecret(h.ctx, id, keyward.SecretDelete{}) // scheduled, not forced
			return err
		},
	}}
	for _, tc := range cases {
		t.Run(tc.typ[strings.LastIndex(tc.typ, ":")+1:]+"/"+tc.name, func(t *testing.T) {
			c := h.create(tc.typ, tc.name, tc.inputs)
			if d := h.diff(c, c.props, tc.inputs); d.HasChanges {
				t.Errorf("second up after create: %+v", d.DetailedDiff)
			}
			r := h.read(c)
			if r.ID != c.id {
				t.Fatalf("read ID %q, want %q", r.ID, c.id)
			}
			refreshed := created{urn: c.urn, id: r.ID, inputs: r.Inputs, props: r.Properties}
			if d := h.diff(refreshed, r.Properties, tc.inputs); d.HasChanges {
				t.Errorf("second up after refresh: %+v\nread inputs %v", d.DetailedDiff, r.Inputs)
			}
			if !r.Properties.Equals(c.props) {
				t.Errorf("refresh changed the state:\n was %v\n now %v", c.props, r.Properties)
			}
			if err := tc.deleteOOB(c.id); err != nil {
				t.Fatal(err)
			}
			if r := h.read(c); r.ID != "" {
				t.Errorf("read after an out-of-band delete: ID %q, want empty", r.ID)
			}
			if err := h.prov.Delete(p.DeleteRequest{ID: c.id, Urn: c.urn, Properties: c.props}); err != nil {
				t.Errorf("delete of a resource already gone: %v", err)
			}
		})
	}
}

// TestKeyValueSecrecy: with storeValueInSecret the value is in no output,
// preview, read or update; without it, it is an output marked secret
// everywhere, and nowhere in plain text.
func TestKeyValueSecrecy(t *testing.T) {
	h := start(t)

	t.Run("storeValueInSecret", func(t *testing.T) {
		inputs := pm(map[string]any{"description": "API Key for AI Deployment Pipeline", "enabled": true,
			"storeValueInSecret": "pipeline/my-api-key"})
		chk, err := h.prov.Check(p.CheckRequest{Urn: urn(provider.TypeAPIKey, "myApiKey"), Inputs: inputs})
		if err != nil {
			t.Fatal(err)
		}
		preview, err := h.prov.Create(p.CreateRequest{Urn: urn(provider.TypeAPIKey, "myApiKey"), Properties: chk.Inputs, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := preview.Properties.GetOk("value"); ok {
			t.Error("preview has a value output")
		}
		c := h.create(provider.TypeAPIKey, "myApiKey", inputs)
		value := string(must[*keyward.SecretValue](t)(h.client.GetSecretValue(h.ctx, "pipeline/my-api-key", keyward.SecretSelector{})).Value)
		if !strings.HasPrefix(value, "kw_") {
			t.Fatalf("secret holds %q…", value[:min(3, len(value))])
		}
		k := must[*keyward.APIKey](t)(h.client.GetKey(h.ctx, c.id))
		if k.Name != "myApiKey" || k.ValueSecret != "pipeline/my-api-key" || !strings.HasPrefix(c.id, "key_") {
			t.Errorf("key %+v", k)
		}
		r := h.read(c)
		up, err := h.prov.Update(p.UpdateRequest{ID: c.id, Urn: c.urn, State: c.props,
			Inputs: c.inputs.Set("description", property.New("changed"))})
		if err != nil {
			t.Fatal(err)
		}
		for name, m := range map[string]property.Map{"create": c.props, "read": r.Properties, "read inputs": r.Inputs, "update": up.Properties} {
			if _, ok := m.GetOk("value"); ok {
				t.Errorf("%s has a value output", name)
			}
			if containsAnywhere(property.New(m), value) {
				t.Errorf("%s contains the key value", name)
			}
		}
	})

	t.Run("returned", func(t *testing.T) {
		inputs := pm(map[string]any{"name": "laptop"})
		chk, err := h.prov.Check(p.CheckRequest{Urn: urn(provider.TypeAPIKey, "laptop"), Inputs: inputs})
		if err != nil {
			t.Fatal(err)
		}
		preview, err := h.prov.Create(p.CreateRequest{Urn: urn(provider.TypeAPIKey, "laptop"), Properties: chk.Inputs, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if v := preview.Properties.Get("value"); !v.IsComputed() && !(v.Secret() && v.WithSecret(false).IsComputed()) {
			t.Errorf("preview value %v: want an unknown secret", v)
		}
		c := h.create(provider.TypeAPIKey, "laptop", inputs)
		v := c.props.Get("value")
		if !v.Secret() || !strings.HasPrefix(v.AsString(), "kw_") {
			t.Fatalf("value output secret=%v", v.Secret())
		}
		value := v.AsString()
		r := h.read(c)
		up, err := h.prov.Update(p.UpdateRequest{ID: c.id, Urn: c.urn, State: c.props,
			Inputs: c.inputs.Set("tags", pv(map[string]any{"a": "b"}))})
		if err != nil {
			t.Fatal(err)
		}
		for name, m := range map[string]property.Map{"create": c.props, "read": r.Properties, "update": up.Properties} {
			if got := m.Get("value"); !got.Secret() || got.AsString() != value {
				t.Errorf("%s: value secret=%v same=%v", name, got.Secret(), got.IsString() && got.AsString() == value)
			}
			if plainCopy(property.New(m), value) {
				t.Errorf("%s has the value in plain text", name)
			}
		}
		// The key works: the value the output carries is the key's.
		k := must[*keyward.APIKey](t)(h.client.GetKey(h.ctx, c.id))
		if len(k.Credentials) != 1 || !strings.HasSuffix(value, strings.TrimPrefix(k.Credentials[0].Hint, "kw_…")) {
			t.Errorf("hint %q does not match the value", k.Credentials[0].Hint)
		}
	})
}

func containsAnywhere(v property.Value, s string) bool {
	v = v.WithSecret(false)
	switch {
	case v.IsString():
		return strings.Contains(v.AsString(), s)
	case v.IsArray():
		for _, e := range v.AsArray().All {
			if containsAnywhere(e, s) {
				return true
			}
		}
	case v.IsMap():
		for _, e := range v.AsMap().All {
			if containsAnywhere(e, s) {
				return true
			}
		}
	}
	return false
}

// TestImportKey: `pulumi import` reads a key by ID alone; the program that
// matches it then diffs as unchanged.
func TestImportKey(t *testing.T) {
	h := start(t)
	api := h.api("chat")
	gold := h.plan("gold", api.ID)
	k := must[*keyward.CreatedKey](t)(h.client.CreateKey(h.ctx, keyward.KeyCreate{Name: "legacy", Description: "made by hand",
		StageKeys: []keyward.StageKey{{APIID: "chat", Stage: "prod"}}, PlanIDs: []string{"gold"}, StoreSecret: "legacy/key"})).Key
	u := urn(provider.TypeAPIKey, "legacy")
	r, err := h.prov.Read(p.ReadRequest{ID: k.ID, Urn: u})
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != k.ID || r.Inputs.Get("name").AsString() != "legacy" || r.Inputs.Get("storeValueInSecret").AsString() != "legacy/key" {
		t.Fatalf("import read %v", r.Inputs)
	}
	program := pm(map[string]any{"name": "legacy", "description": "made by hand", "storeValueInSecret": "legacy/key",
		"stageKeys": []any{map[string]any{"apiId": api.ID, "stage": "prod"}}, "usagePlanIds": []any{gold.ID}})
	imported := created{urn: u, id: r.ID, inputs: r.Inputs, props: r.Properties}
	if d := h.diff(imported, r.Properties, program); d.HasChanges {
		t.Errorf("imported key diffs: %+v", d.DetailedDiff)
	}
	if d := h.diff(imported, r.Properties, program.Set("storeValueInSecret", property.New("other"))); !d.HasChanges ||
		d.DetailedDiff["storeValueInSecret"].Kind != p.UpdateReplace {
		t.Errorf("changing storeValueInSecret: %+v", d)
	}
}

// TestPreviewWithUnknownInputs: an input not known until another resource
// is created counts as a change, a replacement where a change replaces.
func TestPreviewWithUnknownInputs(t *testing.T) {
	h := start(t)
	c := h.create(provider.TypeAPIKey, "k", pm(map[string]any{"storeValueInSecret": "a/b"}))
	unknown := property.New(property.Computed)
	d := h.diff(c, c.props, pm(map[string]any{"storeValueInSecret": unknown}))
	if !d.HasChanges || d.DetailedDiff["storeValueInSecret"].Kind != p.UpdateReplace {
		t.Errorf("unknown storeValueInSecret: %+v", d)
	}
	d = h.diff(c, c.props, pm(map[string]any{"storeValueInSecret": "a/b", "description": unknown}))
	if !d.HasChanges || d.DetailedDiff["description"].Kind != p.Update {
		t.Errorf("unknown description: %+v", d)
	}
}

// TestDriftIsRepaired: changes made outside Pulumi show in a refresh and
// the next up puts the program's values back.
func TestDriftIsRepaired(t *testing.T) {
	h := start(t)
	inputs := pm(map[string]any{"name": "drifty", "description": "as declared", "tags": map[string]any{"a": "b"}})
	c := h.create(provider.TypeAPIKey, "drifty", inputs)
	if _, err := h.client.UpdateKey(h.ctx, c.id, keyward.KeyUpdate{Enabled: new(bool), Description: ptr("by hand")}); err != nil {
		t.Fatal(err)
	}
	r := h.read(c)
	refreshed := created{urn: c.urn, id: r.ID, inputs: r.Inputs, props: r.Properties}
	d := h.diff(refreshed, r.Properties, inputs)
	if !d.HasChanges || d.DetailedDiff["enabled"].Kind != p.Update || d.DetailedDiff["description"].Kind != p.Update {
		t.Fatalf("drift diff %+v", d)
	}
	chk, err := h.prov.Check(p.CheckRequest{Urn: c.urn, State: r.Inputs, Inputs: inputs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.prov.Update(p.UpdateRequest{ID: c.id, Urn: c.urn, State: r.Properties, Inputs: chk.Inputs}); err != nil {
		t.Fatal(err)
	}
	k := must[*keyward.APIKey](t)(h.client.GetKey(h.ctx, c.id))
	if !k.Enabled || k.Description != "as declared" {
		t.Errorf("not repaired: %+v", k)
	}

	// A secret value written outside Pulumi is written back.
	sc := h.create(provider.TypeSecret, "s", pm(map[string]any{"value": "declared-0123456789"}))
	if _, err := h.client.PutSecretValue(h.ctx, "s", keyward.SecretPut{Value: []byte("by-hand")}); err != nil {
		t.Fatal(err)
	}
	sr := h.read(sc)
	sd := h.diff(created{urn: sc.urn, id: sr.ID, inputs: sr.Inputs, props: sr.Properties}, sr.Properties, pm(map[string]any{"value": "declared-0123456789"}))
	if !sd.HasChanges || sd.DetailedDiff["value"].Kind != p.Add {
		t.Errorf("secret drift diff %+v", sd)
	}
}

func ptr[T any](v T) *T { return &v }

// A read from state alone (no inputs, as `pulumi refresh` of an old state
// or a resource `get`) keeps a key value secret: it must not reach the
// state unmarked.
func TestReadFromStateKeepsValuesSecret(t *testing.T) {
	h := start(t)
	c := h.create(provider.TypeAPIKey, "plain", pm(map[string]any{"name": "plain"}))
	if v, ok := c.props.GetOk("value"); !ok || !v.Secret() {
		t.Fatalf("created value: %v %v", ok, v.Secret())
	}
	// The state as an old provider might have left it: the value unmarked.
	plainProps := c.props.Set("value", property.New(c.props.Get("value").AsString()))
	r, err := h.prov.Read(p.ReadRequest{ID: c.id, Urn: c.urn, Properties: plainProps})
	if err != nil {
		t.Fatal(err)
	}
	for what, m := range map[string]property.Map{"inputs": r.Inputs, "properties": r.Properties} {
		if v, ok := m.GetOk("value"); ok && !v.IsNull() && !v.Secret() {
			t.Errorf("read returned the key value unmarked in %s", what)
		}
	}
}
