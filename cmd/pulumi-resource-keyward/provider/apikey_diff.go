package provider

import (
	"cmp"
	"context"
	"slices"

	"github.com/pulumi/pulumi-go-provider/infer"
)

// Diff compares the normalized inputs.
func (*APIKey) Diff(_ context.Context, req infer.DiffRequest[APIKeyArgs, APIKeyState]) (infer.DiffResponse, error) {
	o, n := normKey(req.State.APIKeyArgs), normKey(req.Inputs)
	d := newDiffer(TypeAPIKey)
	d.field("name", o.Name, n.Name)
	d.field("description", o.Description, n.Description)
	d.field("customerId", o.CustomerId, n.CustomerId)
	d.field("enabled", o.Enabled, n.Enabled)
	d.field("stageKeys", o.StageKeys, n.StageKeys)
	d.field("usagePlanIds", o.UsagePlanIds, n.UsagePlanIds)
	d.field("expiresAt", o.ExpiresAt, n.ExpiresAt)
	d.field("scopes", o.Scopes, n.Scopes)
	d.field("tags", o.Tags, n.Tags)
	d.field("storeValueInSecret", o.StoreValueInSecret, n.StoreValueInSecret)
	d.field("importValue", o.ImportValue, n.ImportValue)
	d.field("rotateEvery", o.RotateEvery, n.RotateEvery)
	d.field("rotationGrace", o.RotationGrace, n.RotationGrace)
	resp := d.response()
	// One imported value cannot belong to two keys: when a key keeping its
	// imported value is replaced, the old one goes first.
	resp.DeleteBeforeReplace = d.replaces() && n.ImportValue != nil && sameString(o.ImportValue, n.ImportValue)
	return resp, nil
}

func sameString(a, b *string) bool { return deref(a) == deref(b) }

// normKey is the normal form Diff compares.
func normKey(a APIKeyArgs) APIKeyArgs {
	a.Enabled = normEnabled(a.Enabled)
	a.StageKeys = normStageKeys(a.StageKeys)
	a.UsagePlanIds = sortedSet(a.UsagePlanIds)
	a.ExpiresAt = normTime(a.ExpiresAt)
	a.Scopes = normScopes(a.Scopes)
	a.Tags = normMap(a.Tags)
	if deref(a.ImportValue) == "" {
		a.ImportValue = nil
	}
	a.RotateEvery, a.RotationGrace = normDuration(a.RotateEvery), normDuration(a.RotationGrace)
	return a
}

func normEnabled(e *bool) *bool { return ptr(e == nil || *e) }

func normStageKeys(s []StageKey) []StageKey {
	if len(s) == 0 {
		return nil
	}
	out := slices.Clone(s)
	slices.SortFunc(out, func(a, b StageKey) int {
		return cmp.Or(cmp.Compare(a.ApiId, b.ApiId), cmp.Compare(a.Stage, b.Stage))
	})
	return slices.Compact(out)
}

func normScopes(s *Scopes) *Scopes {
	if s == nil || (len(s.Models) == 0 && len(s.Routes) == 0) {
		return nil
	}
	out := &Scopes{Models: sortedSet(s.Models)}
	if len(s.Routes) > 0 {
		out.Routes = slices.Clone(s.Routes)
		slices.SortFunc(out.Routes, func(a, b Route) int {
			return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Method, b.Method))
		})
		out.Routes = slices.Compact(out.Routes)
	}
	return out
}

func equalScopes(a, b *Scopes) bool {
	if a == nil || b == nil {
		return a == b
	}
	return slices.Equal(a.Models, b.Models) && slices.Equal(a.Routes, b.Routes)
}
