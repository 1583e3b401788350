package provider

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/pulumi/pulumi-go-provider/infer"

	"github.com/keyward/keyward"
)

// Update changes the key in place and attaches or detaches the plans whose
// list changed.
func (*APIKey) Update(ctx context.Context, req infer.UpdateRequest[APIKeyArgs, APIKeyState]) (infer.UpdateResponse[APIKeyState], error) {
	old, in := req.State.APIKeyArgs, req.Inputs
	state := APIKeyState{APIKeyArgs: in, Prefix: req.State.Prefix}
	if in.StoreValueInSecret == "" {
		state.Value = req.State.Value
	}
	if req.DryRun {
		return infer.UpdateResponse[APIKeyState]{Output: state}, nil
	}
	c, err := clientFrom(ctx)
	if err != nil {
		return infer.UpdateResponse[APIKeyState]{}, err
	}
	if u, changed, err := keyUpdate(old, in); err != nil {
		return infer.UpdateResponse[APIKeyState]{}, err
	} else if changed {
		k, err := c.UpdateKey(ctx, req.ID, u)
		if err != nil {
			return infer.UpdateResponse[APIKeyState]{}, fmt.Errorf("updating API key %s: %w", req.ID, err)
		}
		state.Prefix = k.Prefix
	}
	for _, ref := range missingFrom(old.UsagePlanIds, in.UsagePlanIds) {
		if err := c.DetachKey(ctx, ref, req.ID); err != nil && !notFound(err) {
			return infer.UpdateResponse[APIKeyState]{}, fmt.Errorf("detaching API key %s from plan %s: %w", req.ID, ref, err)
		}
	}
	for _, ref := range missingFrom(in.UsagePlanIds, old.UsagePlanIds) {
		if err := c.AttachKey(ctx, ref, req.ID); err != nil && keyward.ErrorCode(err) != keyward.ECONFLICT {
			return infer.UpdateResponse[APIKeyState]{}, fmt.Errorf("attaching API key %s to plan %s: %w", req.ID, ref, err)
		}
	}
	return infer.UpdateResponse[APIKeyState]{Output: state}, nil
}

// missingFrom returns the items of a that b lacks.
func missingFrom(a, b []string) []string {
	var out []string
	for _, s := range sortedSet(a) {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// keyUpdate builds the KeyUpdate from old to in, with only what changed.
// Lists and maps that become empty are sent empty, not null, so the server
// clears them.
func keyUpdate(old, in APIKeyArgs) (keyward.KeyUpdate, bool, error) {
	var u keyward.KeyUpdate
	o, n := normKey(old), normKey(in)
	changed := false
	if o.Name != n.Name {
		u.Name, changed = ptr(n.Name), true
	}
	if o.Description != n.Description {
		u.Description, changed = ptr(n.Description), true
	}
	if o.CustomerId != n.CustomerId {
		u.CustomerID, changed = ptr(n.CustomerId), true
	}
	if *o.Enabled != *n.Enabled {
		u.Enabled, changed = ptr(*n.Enabled), true
	}
	if o.ExpiresAt != n.ExpiresAt {
		changed = true
		if n.ExpiresAt == "" {
			u.NoExpiry = true
		} else {
			t, err := time.Parse(time.RFC3339Nano, n.ExpiresAt)
			if err != nil {
				return u, false, fmt.Errorf("expiresAt: %w", err)
			}
			u.ExpiresAt = &t
		}
	}
	if !slices.Equal(o.StageKeys, n.StageKeys) {
		sk := toStageKeys(in.StageKeys)
		if sk == nil {
			sk = []keyward.StageKey{}
		}
		u.StageKeys, changed = &sk, true
	}
	if !equalScopes(o.Scopes, n.Scopes) {
		sc := toScopes(in.Scopes)
		u.Scopes, changed = &sc, true
	}
	if !mapsEqual(o.Tags, n.Tags) {
		tags := map[string]string{}
		for k, v := range in.Tags {
			tags[k] = v
		}
		u.Tags, changed = &tags, true
	}
	if o.RotateEvery != n.RotateEvery || o.RotationGrace != n.RotationGrace {
		r, err := toRotation(n.RotateEvery, n.RotationGrace)
		if err != nil {
			return u, false, fmt.Errorf("rotation: %w", err)
		}
		u.Rotation, u.NoRotation, changed = r, r == nil, true
	}
	return u, changed, nil
}
