package provider_test

import (
	"testing"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/cmd/pulumi-resource-keyward/provider"
)

// policy returns the rotation policy every/grace, for comparisons.
func policy(every, grace time.Duration) keyward.RotationPolicy {
	return keyward.RotationPolicy{Every: keyward.Duration(every), Grace: keyward.Duration(grace)}
}

func samePolicy(got *keyward.RotationPolicy, want keyward.RotationPolicy) bool {
	return got != nil && *got == want
}

const day = 24 * time.Hour

// TestAPIKeyRotationLifecycle: rotateEvery and rotationGrace create the
// key's policy, change it in place and, removed, clear it; the key ID and
// value stay throughout.
func TestAPIKeyRotationLifecycle(t *testing.T) {
	h := start(t)
	var id, value string
	key := func() *keyward.APIKey { return must[*keyward.APIKey](t)(h.client.GetKey(h.ctx, id)) }
	integration.LifeCycleTest{
		Resource: provider.TypeAPIKey,
		Create: integration.Operation{
			Inputs: pm(map[string]any{"name": "rotated", "rotateEvery": "720h", "rotationGrace": "1d"}),
			Hook: func(_, out property.Map) {
				ks := h.keysNamed("rotated")
				if len(ks) != 1 {
					t.Fatalf("%d keys", len(ks))
				}
				id, value = ks[0].ID, out.Get("value").AsString()
				if k := key(); !samePolicy(k.Rotation, policy(30*day, day)) {
					t.Errorf("created with rotation %+v", k.Rotation)
				}
				// The outputs keep the program's spelling.
				if out.Get("rotateEvery").AsString() != "720h" || out.Get("rotationGrace").AsString() != "1d" {
					t.Errorf("outputs %v %v", out.Get("rotateEvery"), out.Get("rotationGrace"))
				}
			},
		},
		Updates: []integration.Operation{{
			Inputs: pm(map[string]any{"name": "rotated", "rotateEvery": "7d", "rotationGrace": "0s"}),
			Hook: func(_, out property.Map) {
				k := key()
				if !samePolicy(k.Rotation, policy(7*day, 0)) || len(h.keysNamed("rotated")) != 1 {
					t.Errorf("not updated in place: rotation %+v", k.Rotation)
				}
				if out.Get("value").AsString() != value {
					t.Error("value output changed by a rotation policy update")
				}
			},
		}, {
			Inputs: pm(map[string]any{"name": "rotated"}),
			Hook: func(_, out property.Map) {
				if k := key(); k.Rotation != nil {
					t.Errorf("rotation not cleared: %+v", k.Rotation)
				}
				for _, f := range []string{"rotateEvery", "rotationGrace"} {
					if v, ok := out.GetOk(f); ok && !v.IsNull() {
						t.Errorf("%s still in the outputs: %v", f, v)
					}
				}
			},
		}},
	}.Run(t, h.prov)
	_, err := h.client.GetKey(h.ctx, id)
	mustCode(t, err, keyward.ENOTFOUND)
}

// TestUsagePlanRotationLifecycle: the same for a plan's policy, which the
// attached keys without one of their own follow.
func TestUsagePlanRotationLifecycle(t *testing.T) {
	h := start(t)
	var id string
	plan := func() *keyward.UsagePlan { return must[*keyward.UsagePlan](t)(h.client.GetPlan(h.ctx, "rotating")) }
	integration.LifeCycleTest{
		Resource: provider.TypeUsagePlan,
		Create: integration.Operation{
			Inputs: pm(map[string]any{"name": "rotating", "rotateEvery": "90d", "rotationGrace": "48h"}),
			Hook: func(_, _ property.Map) {
				pl := plan()
				id = pl.ID
				if !samePolicy(pl.Rotation, policy(90*day, 2*day)) {
					t.Errorf("created with rotation %+v", pl.Rotation)
				}
			},
		},
		Updates: []integration.Operation{{
			Inputs: pm(map[string]any{"name": "rotating", "rotateEvery": "30d", "rotationGrace": "48h",
				"throttle": map[string]any{"rateLimit": 1, "burstLimit": 2}}),
			Hook: func(_, _ property.Map) {
				pl := plan()
				if pl.ID != id || !samePolicy(pl.Rotation, policy(30*day, 2*day)) || pl.Throttle == nil {
					t.Errorf("not updated in place: %+v rotation %+v", pl, pl.Rotation)
				}
			},
		}, {
			Inputs: pm(map[string]any{"name": "rotating", "throttle": map[string]any{"rateLimit": 1, "burstLimit": 2}}),
			Hook: func(_, _ property.Map) {
				pl := plan()
				if pl.ID != id || pl.Rotation != nil || pl.Throttle == nil {
					t.Errorf("rotation not cleared (or more than it): %+v rotation %+v", pl, pl.Rotation)
				}
			},
		}},
	}.Run(t, h.prov)
	_, err := h.client.GetPlan(h.ctx, id)
	mustCode(t, err, keyward.ENOTFOUND)
}

// TestRotationSpellingIsNoOp: the server answers "30d" for a declared
// "720h"; neither a second up, nor a refresh, nor a program that switches
// to the other spelling of the same durations shows a change. A policy
// changed outside Pulumi does show, and the next up puts the declared one
// back.
func TestRotationSpellingIsNoOp(t *testing.T) {
	h := start(t)
	cases := []struct {
		typ, name         string
		declared, respelt property.Map
		server            func(id string) *keyward.RotationPolicy
		outOfBand         func(id string) error
	}{{
		typ: provider.TypeAPIKey, name: "spelt",
		declared: pm(map[string]any{"rotateEvery": "720h", "rotationGrace": "1440m"}),
		respelt:  pm(map[string]any{"rotateEvery": "30d", "rotationGrace": "1d"}),
		server: func(id string) *keyward.RotationPolicy {
			return must[*keyward.APIKey](t)(h.client.GetKey(h.ctx, id)).Rotation
		},
		outOfBand: func(id string) error {
			_, err := h.client.UpdateKey(h.ctx, id, keyward.KeyUpdate{Rotation: &keyward.RotationPolicy{Every: keyward.Duration(14 * day)}})
			return err
		},
	}, {
		typ: provider.TypeUsagePlan, name: "spelt",
		declared: pm(map[string]any{"rotateEvery": "168h", "rotationGrace": "0m"}),
		respelt:  pm(map[string]any{"rotateEvery": "7d", "rotationGrace": "0s"}),
		server: func(id string) *keyward.RotationPolicy {
			return must[*keyward.UsagePlan](t)(h.client.GetPlan(h.ctx, id)).Rotation
		},
		outOfBand: func(id string) error {
			_, err := h.client.UpdatePlan(h.ctx, id, keyward.PlanUpdate{ClearRotation: true})
			return err
		},
	}}
	for _, tc := range cases {
		t.Run(tc.typ, func(t *testing.T) {
			c := h.create(tc.typ, tc.name, tc.declared)
			want := *tc.server(c.id)
			for what, inputs := range map[string]property.Map{"same": tc.declared, "respelt": tc.respelt} {
				if d := h.diff(c, c.props, inputs); d.HasChanges {
					t.Errorf("second up (%s) after create: %+v", what, d.DetailedDiff)
				}
			}
			r := h.read(c)
			if !r.Properties.Equals(c.props) || !r.Inputs.Equals(c.inputs) {
				t.Errorf("refresh changed the state:\n was %v\n now %v", c.props, r.Properties)
			}
			refreshed := created{urn: c.urn, id: r.ID, inputs: r.Inputs, props: r.Properties}
			for what, inputs := range map[string]property.Map{"same": tc.declared, "respelt": tc.respelt} {
				if d := h.diff(refreshed, r.Properties, inputs); d.HasChanges {
					t.Errorf("second up (%s) after refresh: %+v", what, d.DetailedDiff)
				}
			}
			// `pulumi import` (no inputs) reads the server's spelling, which
			// the program's spelling then matches.
			imp, err := h.prov.Read(p.ReadRequest{ID: c.id, Urn: c.urn})
			if err != nil {
				t.Fatal(err)
			}
			if imp.Inputs.Get("rotateEvery").AsString() != tc.respelt.Get("rotateEvery").AsString() {
				t.Errorf("import read rotateEvery %v", imp.Inputs.Get("rotateEvery"))
			}
			imported := created{urn: c.urn, id: imp.ID, inputs: imp.Inputs, props: imp.Properties}
			if d := h.diff(imported, imp.Properties, tc.declared.Set("name", imp.Inputs.Get("name"))); d.HasChanges {
				t.Errorf("imported resource diffs: %+v", d.DetailedDiff)
			}

			if err := tc.outOfBand(c.id); err != nil {
				t.Fatal(err)
			}
			drift := h.read(c)
			d := h.diff(created{urn: c.urn, id: drift.ID, inputs: drift.Inputs, props: drift.Properties}, drift.Properties, tc.declared)
			if !d.HasChanges {
				t.Fatalf("a policy changed outside Pulumi does not diff; read %v", drift.Inputs)
			}
			chk, err := h.prov.Check(p.CheckRequest{Urn: c.urn, State: drift.Inputs, Inputs: tc.declared})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.prov.Update(p.UpdateRequest{ID: c.id, Urn: c.urn, State: drift.Properties, Inputs: chk.Inputs}); err != nil {
				t.Fatal(err)
			}
			if got := tc.server(c.id); !samePolicy(got, want) {
				t.Errorf("not repaired: %+v, want %+v", got, want)
			}
		})
	}
}

// TestRotationInvalid: Check refuses one input without the other, text
// that is no duration, and a grace not shorter than the period; what the
// server refuses (bounds, and the same relation when Check is skipped)
// fails the create or update with EINVALID and leaves the server as it was.
func TestRotationInvalid(t *testing.T) {
	h := start(t)
	for _, typ := range []string{provider.TypeAPIKey, provider.TypeUsagePlan} {
		for name, tc := range map[string]struct {
			inputs property.Map
			fails  string
		}{
			"grace equal":        {pm(map[string]any{"rotateEvery": "1d", "rotationGrace": "24h"}), "rotationGrace"},
			"grace longer":       {pm(map[string]any{"rotateEvery": "1h", "rotationGrace": "2h"}), "rotationGrace"},
			"grace alone":        {pm(map[string]any{"rotationGrace": "1h"}), "rotationGrace"},
			"every alone":        {pm(map[string]any{"rotateEvery": "30d"}), "rotationGrace"},
			"every not duration": {pm(map[string]any{"rotateEvery": "monthly", "rotationGrace": "1d"}), "rotateEvery"},
			"every negative":     {pm(map[string]any{"rotateEvery": "-1h", "rotationGrace": "0s"}), "rotateEvery"},
			"grace not duration": {pm(map[string]any{"rotateEvery": "30d", "rotationGrace": "1 day"}), "rotationGrace"},
		} {
			chk, err := h.prov.Check(p.CheckRequest{Urn: urn(typ, "bad"), Inputs: tc.inputs})
			if err != nil {
				t.Fatalf("%s %s: %v", typ, name, err)
			}
			if len(chk.Failures) != 1 || chk.Failures[0].Property != tc.fails {
				t.Errorf("%s %s: failures %+v, want one on %s", typ, name, chk.Failures, tc.fails)
			}
		}
		// An input still unknown in a preview is not judged.
		chk, err := h.prov.Check(p.CheckRequest{Urn: urn(typ, "later"),
			Inputs: pm(map[string]any{"rotateEvery": property.New(property.Computed), "rotationGrace": "1d"})})
		if err != nil || len(chk.Failures) != 0 {
			t.Errorf("%s with an unknown rotateEvery: %v %+v", typ, err, chk.Failures)
		}
	}

	// The server refuses what Check lets through (bounds), and is the last
	// word on the rest too: a create that skips Check fails with EINVALID
	// and leaves nothing behind.
	for _, tc := range []struct{ typ, name, every, grace string }{
		{provider.TypeAPIKey, "fast", "30s", "0s"},
		{provider.TypeAPIKey, "equal", "1h", "1h"},
		{provider.TypeUsagePlan, "rare", "1001d", "1d"},
		{provider.TypeUsagePlan, "long-grace", "365d", "91d"},
	} {
		_, err := h.prov.Create(p.CreateRequest{Urn: urn(tc.typ, tc.name),
			Properties: pm(map[string]any{"name": tc.name, "rotateEvery": tc.every, "rotationGrace": tc.grace})})
		mustCode(t, err, keyward.EINVALID)
	}
	if ks := h.keysNamed("fast"); len(ks) != 0 {
		t.Errorf("%d keys created with an invalid policy", len(ks))
	}
	if ks := h.keysNamed("equal"); len(ks) != 0 {
		t.Errorf("%d keys created with an invalid policy", len(ks))
	}
	for _, name := range []string{"rare", "long-grace"} {
		_, err := h.client.GetPlan(h.ctx, name)
		mustCode(t, err, keyward.ENOTFOUND)
	}

	// ... and at update, which leaves the policy as it was.
	c := h.create(provider.TypeAPIKey, "slow", pm(map[string]any{"rotateEvery": "30d", "rotationGrace": "1d"}))
	chk, err := h.prov.Check(p.CheckRequest{Urn: c.urn, State: c.inputs,
		Inputs: pm(map[string]any{"rotateEvery": "1001d", "rotationGrace": "1d"})})
	if err != nil || len(chk.Failures) != 0 {
		t.Fatalf("check: %v %+v", err, chk.Failures)
	}
	_, err = h.prov.Update(p.UpdateRequest{ID: c.id, Urn: c.urn, State: c.props, Inputs: chk.Inputs})
	mustCode(t, err, keyward.EINVALID)
	if k := must[*keyward.APIKey](t)(h.client.GetKey(h.ctx, c.id)); !samePolicy(k.Rotation, policy(30*day, day)) {
		t.Errorf("rotation after a refused update: %+v", k.Rotation)
	}
}
