package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi-go-provider/infer"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
)

// Read reads the key back. A key deleted outside Pulumi reads as gone
// (empty ID). The value cannot be read back: the state keeps the one
// returned at creation.
func (*APIKey) Read(ctx context.Context, req infer.ReadRequest[APIKeyArgs, APIKeyState]) (infer.ReadResponse[APIKeyArgs, APIKeyState], error) {
	c, err := clientFrom(ctx)
	if err != nil {
		return infer.ReadResponse[APIKeyArgs, APIKeyState]{}, err
	}
	k, err := c.GetKey(ctx, req.ID)
	if notFound(err) {
		return infer.ReadResponse[APIKeyArgs, APIKeyState]{}, nil
	}
	if err != nil {
		return infer.ReadResponse[APIKeyArgs, APIKeyState]{}, fmt.Errorf("reading API key %s: %w", req.ID, err)
	}
	old := req.Inputs
	if old.Name == "" {
		old = req.State.APIKeyArgs
	}
	imported := old.Name == "" // `pulumi import`: nothing known but the ID
	stageKeys, err := stageKeysFromServer(ctx, c, k.StageKeys, old.StageKeys)
	if err != nil {
		return infer.ReadResponse[APIKeyArgs, APIKeyState]{}, err
	}
	plans := k.PlanIDs
	if !imported {
		if plans, err = managedPlans(ctx, c, k.PlanIDs, old.UsagePlanIds); err != nil {
			return infer.ReadResponse[APIKeyArgs, APIKeyState]{}, err
		}
	}
	var expires string
	if k.ExpiresAt != nil {
		expires = k.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	every, grace := fromRotation(k.Rotation, old.RotateEvery, old.RotationGrace)
	in := APIKeyArgs{
		Name:               k.Name,
		Description:        k.Description,
		CustomerId:         k.CustomerID,
		Enabled:            keep(old.Enabled, ptr(k.Enabled), normEnabled),
		StageKeys:          keep(old.StageKeys, stageKeys, normStageKeys),
		UsagePlanIds:       keep(old.UsagePlanIds, plans, sortedSet),
		ExpiresAt:          keep(old.ExpiresAt, expires, normTime),
		Scopes:             keep(old.Scopes, fromScopes(k.Scopes), normScopes),
		Tags:               keep(old.Tags, k.Tags, normMap),
		StoreValueInSecret: k.ValueSecret,
		ImportValue:        old.ImportValue,
		RotateEvery:        every,
		RotationGrace:      grace,
	}
	state := APIKeyState{APIKeyArgs: in, Prefix: k.Prefix}
	if in.StoreValueInSecret == "" {
		state.Value = req.State.Value
	}
	return infer.ReadResponse[APIKeyArgs, APIKeyState]{ID: k.ID, Inputs: in, State: state}, nil
}

// managedPlans returns the plan references of the program (refs) whose plan
// the key is still attached to: attachments this resource did not make are
// not its business, and one it made that is gone is drift.
func managedPlans(ctx context.Context, c *httpapi.Client, attached, refs []string) ([]string, error) {
	var out []string
	for _, ref := range refs {
		id := ref
		if !strings.HasPrefix(ref, "plan_") {
			pl, err := c.GetPlan(ctx, ref)
			if notFound(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("reading plan %s: %w", ref, err)
			}
			id = pl.ID
		}
		if slices.Contains(attached, id) {
			out = append(out, ref)
		}
	}
	return out, nil
}

// stageKeysFromServer turns the server's stage keys (API IDs) back into the
// program's references where an API was named by name.
func stageKeysFromServer(ctx context.Context, c *httpapi.Client, srv []keyward.StageKey, old []StageKey) ([]StageKey, error) {
	pairs := make([][2]string, 0, len(old))
	for _, sk := range old {
		pairs = append(pairs, [2]string{sk.ApiId, sk.Stage})
	}
	refs := newAPIRefs(ctx, c)
	var out []StageKey
	for _, sk := range srv {
		ref, err := refs.ref(sk.APIID, sk.Stage, pairs)
		if err != nil {
			return nil, err
		}
		out = append(out, StageKey{ApiId: ref, Stage: sk.Stage})
	}
	return out, nil
}
