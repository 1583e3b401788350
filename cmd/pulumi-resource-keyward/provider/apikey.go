package provider

import (
	"context"
	"fmt"
	"slices"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"

	"github.com/keyward/keyward"
)

// APIKey is the keyward:index:ApiKey resource. Its ID is the key ID, the
// one thing a pipeline exports.
type APIKey struct{}

// StageKey names one stage of one API the key may call.
type StageKey struct {
	ApiId string `pulumi:"apiId"`
	Stage string `pulumi:"stage"`
}

// Route is an HTTP method ("*" for any) and a path glob.
type Route struct {
	Method string `pulumi:"method"`
	Path   string `pulumi:"path"`
}

// Scopes narrow what a key may do within its stages.
type Scopes struct {
	Models []string `pulumi:"models,optional"`
	Routes []Route  `pulumi:"routes,optional"`
}

// APIKeyArgs are the inputs of an ApiKey.
type APIKeyArgs struct {
	Name               string            `pulumi:"name,optional"`
	Description        string            `pulumi:"description,optional"`
	CustomerId         string            `pulumi:"customerId,optional"`
	Enabled            *bool             `pulumi:"enabled,optional"`
	StageKeys          []StageKey        `pulumi:"stageKeys,optional"`
	UsagePlanIds       []string          `pulumi:"usagePlanIds,optional"`
	ExpiresAt          string            `pulumi:"expiresAt,optional"`
	Scopes             *Scopes           `pulumi:"scopes,optional"`
	Tags               map[string]string `pulumi:"tags,optional"`
	StoreValueInSecret string            `pulumi:"storeValueInSecret,optional" provider:"replaceOnChanges"`
	ImportValue        *string           `pulumi:"importValue,optional" provider:"secret,replaceOnChanges"`
	RotateEvery        string            `pulumi:"rotateEvery,optional"`
	RotationGrace      string            `pulumi:"rotationGrace,optional"`
}

// APIKeyState is the state of an ApiKey: its inputs, the value prefix and,
// only when the value is not delivered to a secret, the value (always
// secret).
type APIKeyState struct {
	APIKeyArgs
	Prefix string  `pulumi:"prefix"`
	Value  *string `pulumi:"value,optional" provider:"secret"`
}

var (
	_ infer.CustomCheck[APIKeyArgs]                       = (*APIKey)(nil)
	_ infer.CustomDiff[APIKeyArgs, APIKeyState]           = (*APIKey)(nil)
	_ infer.CustomRead[APIKeyArgs, APIKeyState]           = (*APIKey)(nil)
	_ infer.CustomUpdate[APIKeyArgs, APIKeyState]         = (*APIKey)(nil)
	_ infer.CustomDelete[APIKeyState]                     = (*APIKey)(nil)
	_ infer.ExplicitDependencies[APIKeyArgs, APIKeyState] = (*APIKey)(nil)
)

// Annotate names and describes the resource.
func (k *APIKey) Annotate(a infer.Annotator) {
	a.SetToken("index", "ApiKey")
	a.Describe(&k, "An API key: a stable ID (the resource ID, key_…) and a secret value. "+
		"With storeValueInSecret the value is written to that keyward secret and never reaches Pulumi; "+
		"otherwise it is the always-secret `value` output.")
}

// Annotate describes the inputs.
func (a *APIKeyArgs) Annotate(an infer.Annotator) {
	an.Describe(&a.Name, "Key name (not unique). Defaults to the resource name.")
	an.Describe(&a.Description, "Free text.")
	an.Describe(&a.CustomerId, "Customer the key belongs to, for filtering.")
	an.Describe(&a.Enabled, "Whether the gateway accepts the key.")
	an.SetDefault(&a.Enabled, true)
	an.Describe(&a.StageKeys, "API stages the key may call (apiId is an API ID or name).")
	an.Describe(&a.UsagePlanIds, "Usage plans (IDs or names) this resource attaches the key to. "+
		"Attachments made elsewhere (UsagePlanKey) are left alone; do not declare one attachment in both places.")
	an.Describe(&a.ExpiresAt, "Expiry, an RFC 3339 time in the future; unset: never.")
	an.Describe(&a.Scopes, "Models and routes the key is limited to; unset: everything on its stages.")
	an.Describe(&a.Tags, "Tags.")
	an.Describe(&a.StoreValueInSecret, "Name of a keyward secret the value is written to (as its CURRENT version, "+
		"creating the secret if needed). The value is then never returned. Changing it replaces the key.")
	an.Describe(&a.ImportValue, "A value to import instead of generating one (20-256 printable characters). Changing it replaces the key.")
	an.Describe(&a.RotateEvery, "Rotate the key's value on a schedule, e.g. \"30d\" or \"720h\" (1m to 1000d); the key ID stays. "+
		"Requires rotationGrace. Unset: the policy of the key's usage plans, if any. Changing or removing it updates in place. "+
		"The server rotates keys whose value goes to storeValueInSecret; for a key whose value is the `value` output "+
		"it only gives a key.rotation_due notice.")
	an.Describe(&a.RotationGrace, docRotationGrace)
}

// Annotate describes the outputs.
func (s *APIKeyState) Annotate(a infer.Annotator) {
	a.Describe(&s.Prefix, "Prefix of the key's value, e.g. kw.")
	a.Describe(&s.Value, "The key's value, only when storeValueInSecret is not set; always secret.")
}

// WireDependencies marks the value outputs always secret: an output tagged
// secret is not wrapped as one by itself (see shared/PULUMI.md), and a
// program without a generated SDK would then store the value in plaintext.
func (*APIKey) WireDependencies(f infer.FieldSelector, _ *APIKeyArgs, state *APIKeyState) {
	f.OutputField(&state.Value).AlwaysSecret()
	f.OutputField(&state.ImportValue).AlwaysSecret()
}

// Check fills the defaults: enabled true, the name from the resource name.
func (*APIKey) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[APIKeyArgs], error) {
	args, failures, err := infer.DefaultCheck[APIKeyArgs](ctx, req.NewInputs)
	if err != nil || len(failures) > 0 {
		return infer.CheckResponse[APIKeyArgs]{Inputs: args, Failures: failures}, err
	}
	if args.Name == "" {
		args.Name = req.Name
	}
	if args.ExpiresAt != "" {
		if _, err := time.Parse(time.RFC3339Nano, args.ExpiresAt); err != nil {
			failures = append(failures, p.CheckFailure{Property: "expiresAt",
				Reason: "expiresAt must be an RFC 3339 time such as 2030-01-02T15:04:05Z"})
		}
	}
	failures = append(failures, checkScopes(req.NewInputs, args.Scopes)...)
	failures = append(failures, checkRotation(req.NewInputs, args.RotateEvery, args.RotationGrace)...)
	return infer.CheckResponse[APIKeyArgs]{Inputs: args, Failures: failures}, nil
}

// Create creates the key. The value is returned (as a secret) only when it
// is not delivered to a secret.
func (*APIKey) Create(ctx context.Context, req infer.CreateRequest[APIKeyArgs]) (infer.CreateResponse[APIKeyState], error) {
	in := req.Inputs
	state := APIKeyState{APIKeyArgs: in}
	if req.DryRun {
		if in.StoreValueInSecret == "" {
			state.Value = ptr("") // unknown until created
		}
		return infer.CreateResponse[APIKeyState]{Output: state}, nil
	}
	c, err := clientFrom(ctx)
	if err != nil {
		return infer.CreateResponse[APIKeyState]{}, err
	}
	kc := keyward.KeyCreate{
		Name: in.Name, Description: in.Description, CustomerID: in.CustomerId, Enabled: in.Enabled,
		StageKeys: toStageKeys(in.StageKeys), Scopes: toScopes(in.Scopes), Tags: in.Tags,
		PlanIDs: in.UsagePlanIds, StoreSecret: in.StoreValueInSecret, Value: deref(in.ImportValue),
	}
	if in.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339Nano, in.ExpiresAt)
		if err != nil {
			return infer.CreateResponse[APIKeyState]{}, fmt.Errorf("expiresAt: %w", err)
		}
		kc.ExpiresAt = &t
	}
	if kc.Rotation, err = toRotation(in.RotateEvery, in.RotationGrace); err != nil {
		return infer.CreateResponse[APIKeyState]{}, fmt.Errorf("rotation: %w", err)
	}
	created, err := createKey(ctx, c, kc, req.Name)
	if err != nil {
		return infer.CreateResponse[APIKeyState]{}, fmt.Errorf("creating API key: %w", err)
	}
	state.Prefix = created.Key.Prefix
	if in.StoreValueInSecret == "" {
		state.Value = ptr(created.Value)
	}
	return infer.CreateResponse[APIKeyState]{ID: created.Key.ID, Output: state}, nil
}

// Delete deletes the key (its plan attachments go with it). A key already
// gone is not an error. The secret its value was delivered to stays: it may
// hold the value of the key that replaced this one.
func (*APIKey) Delete(ctx context.Context, req infer.DeleteRequest[APIKeyState]) (infer.DeleteResponse, error) {
	c, err := clientFrom(ctx)
	if err != nil {
		return infer.DeleteResponse{}, err
	}
	if err := c.DeleteKey(ctx, req.ID); err != nil && !notFound(err) {
		return infer.DeleteResponse{}, fmt.Errorf("deleting API key %s: %w", req.ID, err)
	}
	return infer.DeleteResponse{}, nil
}

func toStageKeys(in []StageKey) []keyward.StageKey {
	if len(in) == 0 {
		return nil
	}
	out := make([]keyward.StageKey, 0, len(in))
	for _, sk := range in {
		out = append(out, keyward.StageKey{APIID: sk.ApiId, Stage: sk.Stage})
	}
	return out
}

func toScopes(s *Scopes) keyward.Scopes {
	var out keyward.Scopes
	if s == nil {
		return out
	}
	out.Models = slices.Clone(s.Models)
	for _, r := range s.Routes {
		out.Routes = append(out.Routes, keyward.RoutePattern{Method: r.Method, Path: r.Path})
	}
	return out
}

func fromScopes(s keyward.Scopes) *Scopes {
	if len(s.Models) == 0 && len(s.Routes) == 0 {
		return nil
	}
	out := &Scopes{Models: slices.Clone(s.Models)}
	for _, r := range s.Routes {
		out.Routes = append(out.Routes, Route{Method: r.Method, Path: r.Path})
	}
	return out
}
