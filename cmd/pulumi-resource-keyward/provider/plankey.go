package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-go-provider/infer"

	"github.com/keyward/keyward"
)

// UsagePlanKey is the keyward:index:UsagePlanKey resource: one key attached
// to one plan. Its ID is "<planId>/<keyId>". Any change replaces it, the old
// attachment going first.
type UsagePlanKey struct{}

// UsagePlanKeyArgs are the inputs of a UsagePlanKey.
type UsagePlanKeyArgs struct {
	PlanId string `pulumi:"planId" provider:"replaceOnChanges"`
	KeyId  string `pulumi:"keyId" provider:"replaceOnChanges"`
}

// UsagePlanKeyState is the state of a UsagePlanKey: its inputs.
type UsagePlanKeyState struct {
	UsagePlanKeyArgs
}

var (
	_ infer.CustomDiff[UsagePlanKeyArgs, UsagePlanKeyState] = (*UsagePlanKey)(nil)
	_ infer.CustomRead[UsagePlanKeyArgs, UsagePlanKeyState] = (*UsagePlanKey)(nil)
	_ infer.CustomDelete[UsagePlanKeyState]                 = (*UsagePlanKey)(nil)
)

// Annotate describes the resource.
func (u *UsagePlanKey) Annotate(a infer.Annotator) {
	a.SetToken("index", "UsagePlanKey")
	a.Describe(&u, "Attaches an API key to a usage plan. The resource ID is \"<planId>/<keyId>\".")
}

// Annotate describes the inputs.
func (u *UsagePlanKeyArgs) Annotate(a infer.Annotator) {
	a.Describe(&u.PlanId, "The plan, by ID or name.")
	a.Describe(&u.KeyId, "The key ID.")
}

// Create attaches the key. An attachment that already exists is an error:
// it belongs to something else (another UsagePlanKey, an ApiKey's
// usagePlanIds, the CLI) that would remove it behind this one's back.
func (*UsagePlanKey) Create(ctx context.Context, req infer.CreateRequest[UsagePlanKeyArgs]) (infer.CreateResponse[UsagePlanKeyState], error) {
	in := req.Inputs
	state := UsagePlanKeyState{in}
	if req.DryRun {
		return infer.CreateResponse[UsagePlanKeyState]{Output: state}, nil
	}
	c, err := clientFrom(ctx)
	if err != nil {
		return infer.CreateResponse[UsagePlanKeyState]{}, err
	}
	pl, err := c.GetPlan(ctx, in.PlanId)
	if err != nil {
		return infer.CreateResponse[UsagePlanKeyState]{}, fmt.Errorf("reading usage plan %s: %w", in.PlanId, err)
	}
	if err := c.AttachKey(ctx, pl.ID, in.KeyId); err != nil {
		if keyward.ErrorCode(err) == keyward.ECONFLICT {
			return infer.CreateResponse[UsagePlanKeyState]{}, fmt.Errorf("API key %s is already attached to plan %s "+
				"(declare each attachment once: a UsagePlanKey or the key's usagePlanIds): %w", in.KeyId, pl.Name, err)
		}
		return infer.CreateResponse[UsagePlanKeyState]{}, fmt.Errorf("attaching API key %s to plan %s: %w", in.KeyId, pl.Name, err)
	}
	return infer.CreateResponse[UsagePlanKeyState]{ID: pl.ID + "/" + in.KeyId, Output: state}, nil
}

// Diff: any change replaces, deleting first (the same pair may be named
// differently, a plan by name then by ID).
func (*UsagePlanKey) Diff(_ context.Context, req infer.DiffRequest[UsagePlanKeyArgs, UsagePlanKeyState]) (infer.DiffResponse, error) {
	d := newDiffer(TypeUsagePlanKey)
	d.field("planId", req.State.PlanId, req.Inputs.PlanId)
	d.field("keyId", req.State.KeyId, req.Inputs.KeyId)
	resp := d.response()
	resp.DeleteBeforeReplace = d.replaces()
	return resp, nil
}

// Read reports the attachment gone when the key is gone or no longer
// attached to the plan.
func (*UsagePlanKey) Read(ctx context.Context, req infer.ReadRequest[UsagePlanKeyArgs, UsagePlanKeyState]) (infer.ReadResponse[UsagePlanKeyArgs, UsagePlanKeyState], error) {
	var none infer.ReadResponse[UsagePlanKeyArgs, UsagePlanKeyState]
	planID, keyID, err := splitPlanKeyID(req.ID)
	if err != nil {
		return none, err
	}
	c, err := clientFrom(ctx)
	if err != nil {
		return none, err
	}
	k, err := c.GetKey(ctx, keyID)
	if notFound(err) {
		return none, nil
	}
	if err != nil {
		return none, fmt.Errorf("reading API key %s: %w", keyID, err)
	}
	if !slices.Contains(k.PlanIDs, planID) {
		return none, nil
	}
	in := req.Inputs
	if in.PlanId == "" {
		in = req.State.UsagePlanKeyArgs
	}
	if in.PlanId == "" || in.KeyId != keyID { // import
		in = UsagePlanKeyArgs{PlanId: planID, KeyId: keyID}
	}
	return infer.ReadResponse[UsagePlanKeyArgs, UsagePlanKeyState]{ID: req.ID, Inputs: in, State: UsagePlanKeyState{in}}, nil
}

// Delete detaches the key; an attachment already gone is not an error.
func (*UsagePlanKey) Delete(ctx context.Context, req infer.DeleteRequest[UsagePlanKeyState]) (infer.DeleteResponse, error) {
	planID, keyID, err := splitPlanKeyID(req.ID)
	if err != nil {
		return infer.DeleteResponse{}, err
	}
	c, err := clientFrom(ctx)
	if err != nil {
		return infer.DeleteResponse{}, err
	}
	if err := c.DetachKey(ctx, planID, keyID); err != nil && !notFound(err) {
		return infer.DeleteResponse{}, fmt.Errorf("detaching API key %s from plan %s: %w", keyID, planID, err)
	}
	return infer.DeleteResponse{}, nil
}

func splitPlanKeyID(id string) (planID, keyID string, err error) {
	planID, keyID, ok := strings.Cut(id, "/")
	if !ok || planID == "" || keyID == "" || strings.Contains(keyID, "/") {
		return "", "", fmt.Errorf("invalid UsagePlanKey ID %q: want <planId>/<keyId>", id)
	}
	return planID, keyID, nil
}
