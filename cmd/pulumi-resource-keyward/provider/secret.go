package provider

import (
	"context"
	"fmt"
	"slices"

	"github.com/pulumi/pulumi-go-provider/infer"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
)

// Secret is the keyward:index:Secret resource: a named, versioned,
// encrypted value. Its ID is its name. A new value becomes a new CURRENT
// version; deleting it deletes at once, without a recovery window.
type Secret struct{}

// SecretArgs are the inputs of a Secret.
type SecretArgs struct {
	Name        string            `pulumi:"name,optional" provider:"replaceOnChanges"`
	Description string            `pulumi:"description,optional"`
	Tags        map[string]string `pulumi:"tags,optional"`
	Value       *string           `pulumi:"value,optional" provider:"secret"`
}

// SecretState is the state of a Secret: its inputs (the value always
// secret), its ARN and the ID of its CURRENT version.
type SecretState struct {
	SecretArgs
	Arn       string `pulumi:"arn"`
	VersionId string `pulumi:"versionId,optional"`
}

var (
	_ infer.CustomCheck[SecretArgs]                       = (*Secret)(nil)
	_ infer.CustomDiff[SecretArgs, SecretState]           = (*Secret)(nil)
	_ infer.CustomRead[SecretArgs, SecretState]           = (*Secret)(nil)
	_ infer.CustomUpdate[SecretArgs, SecretState]         = (*Secret)(nil)
	_ infer.CustomDelete[SecretState]                     = (*Secret)(nil)
	_ infer.ExplicitDependencies[SecretArgs, SecretState] = (*Secret)(nil)
)

// Annotate describes the resource.
func (s *Secret) Annotate(a infer.Annotator) {
	a.SetToken("index", "Secret")
	a.Describe(&s, "A keyward secret. The resource ID is the secret name.")
}

// Annotate describes the inputs.
func (s *SecretArgs) Annotate(a infer.Annotator) {
	a.Describe(&s.Name, "Secret name (A-Z a-z 0-9 / _ + = . @ -). Defaults to the resource name. Changing it replaces the secret.")
	a.Describe(&s.Value, "The value; each change is written as a new CURRENT version. Unset: the secret has no version.")
}

// Annotate describes the outputs.
func (s *SecretState) Annotate(a infer.Annotator) {
	a.Describe(&s.Arn, "kw:secret/<name>.")
	a.Describe(&s.VersionId, "ID of the CURRENT version.")
}

// WireDependencies keeps the value secret in the outputs whatever the
// program passed.
func (*Secret) WireDependencies(f infer.FieldSelector, _ *SecretArgs, state *SecretState) {
	f.OutputField(&state.Value).AlwaysSecret()
}

// Check fills the name from the resource name.
func (*Secret) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[SecretArgs], error) {
	args, failures, err := infer.DefaultCheck[SecretArgs](ctx, req.NewInputs)
	if err == nil && len(failures) == 0 && args.Name == "" {
		args.Name = req.Name
	}
	return infer.CheckResponse[SecretArgs]{Inputs: args, Failures: failures}, err
}

// Create creates the secret, with a first version when a value is given.
func (*Secret) Create(ctx context.Context, req infer.CreateRequest[SecretArgs]) (infer.CreateResponse[SecretState], error) {
	in := req.Inputs
	state := SecretState{SecretArgs: in, Arn: keyward.SecretARN(in.Name)}
	if req.DryRun {
		return infer.CreateResponse[SecretState]{Output: state}, nil
	}
	c, err := clientFrom(ctx)
	if err != nil {
		return infer.CreateResponse[SecretState]{}, err
	}
	sc := keyward.SecretCreate{Name: in.Name, Description: in.Description, Tags: in.Tags}
	if v := deref(in.Value); v != "" {
		sc.Value, sc.ClientToken = []byte(v), clientToken(in.Name)
	}
	ref, err := createSecret(ctx, c, sc)
	if err != nil {
		return infer.CreateResponse[SecretState]{}, err
	}
	state.Arn, state.VersionId = ref.ARN, ref.VersionID
	return infer.CreateResponse[SecretState]{ID: in.Name, Output: state}, nil
}

// createSecret creates a secret, retrying once while the server is
// unreachable when a client token makes the retry safe.
func createSecret(ctx context.Context, c *httpapi.Client, sc keyward.SecretCreate) (*keyward.SecretVersionRef, error) {
	ref, err := c.CreateSecret(ctx, sc)
	if keyward.ErrorCode(err) == keyward.EUNAVAILABLE && sc.ClientToken != "" && ctx.Err() == nil {
		ref, err = c.CreateSecret(ctx, sc)
	}
	if keyward.ErrorCode(err) == keyward.ECONFLICT {
		if sec, derr := c.DescribeSecret(ctx, sc.Name); derr == nil && sec.DeletionDate != nil {
			return nil, fmt.Errorf("secret %s is scheduled for deletion: restore it (keyward secrets restore) and import it, "+
				"or delete it for good (keyward secrets delete --force) first: %w", sc.Name, err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("creating secret %s: %w", sc.Name, err)
	}
	return ref, nil
}

// Diff compares the normalized inputs. A new name replaces the secret.
// Removing the value only stops managing it: the secret and its versions
// stay, since a key's value or a stage's upstream credential may live
// there, and deleting it would take them away.
func (*Secret) Diff(_ context.Context, req infer.DiffRequest[SecretArgs, SecretState]) (infer.DiffResponse, error) {
	o, n := normSecret(req.State.SecretArgs), normSecret(req.Inputs)
	d := newDiffer(TypeSecret)
	d.field("name", o.Name, n.Name)
	d.field("description", o.Description, n.Description)
	d.field("tags", o.Tags, n.Tags)
	d.field("value", o.Value, n.Value)
	resp := d.response()
	resp.DeleteBeforeReplace = d.replaces() && o.Name == n.Name
	return resp, nil
}

func normSecret(a SecretArgs) SecretArgs {
	a.Tags = normMap(a.Tags)
	if deref(a.Value) == "" {
		a.Value = nil
	}
	return a
}

// Update writes a new metadata and, when the value changed, a new version.
func (*Secret) Update(ctx context.Context, req infer.UpdateRequest[SecretArgs, SecretState]) (infer.UpdateResponse[SecretState], error) {
	o, n := normSecret(req.State.SecretArgs), normSecret(req.Inputs)
	state := SecretState{SecretArgs: req.Inputs, Arn: req.State.Arn, VersionId: req.State.VersionId}
	if req.DryRun {
		return infer.UpdateResponse[SecretState]{Output: state}, nil
	}
	c, err := clientFrom(ctx)
	if err != nil {
		return infer.UpdateResponse[SecretState]{}, err
	}
	var u keyward.SecretUpdate
	if o.Description != n.Description {
		u.Description = ptr(n.Description)
	}
	if !mapsEqual(o.Tags, n.Tags) {
		tags := map[string]string{}
		for k, v := range n.Tags {
			tags[k] = v
		}
		u.Tags = &tags
	}
	if u.Description != nil || u.Tags != nil {
		if _, err := c.UpdateSecret(ctx, req.ID, u); err != nil {
			return infer.UpdateResponse[SecretState]{}, fmt.Errorf("updating secret %s: %w", req.ID, err)
		}
	}
	if n.Value != nil && deref(o.Value) != *n.Value {
		put := keyward.SecretPut{Value: []byte(*n.Value), ClientToken: clientToken(req.ID)}
		ref, err := c.PutSecretValue(ctx, req.ID, put)
		if keyward.ErrorCode(err) == keyward.EUNAVAILABLE && ctx.Err() == nil {
			ref, err = c.PutSecretValue(ctx, req.ID, put) // same token: at most one version
		}
		if err != nil {
			return infer.UpdateResponse[SecretState]{}, fmt.Errorf("writing a new value of secret %s: %w", req.ID, err)
		}
		state.VersionId = ref.VersionID
	}
	return infer.UpdateResponse[SecretState]{Output: state}, nil
}

// Read reads the metadata back. The value is not read (that would be an
// audited value read on every refresh): when the CURRENT version is no
// longer the one this resource wrote, the value reads as unset, so the next
// `up` writes the program's value again. A secret deleted outside Pulumi,
// or scheduled for deletion, reads as gone.
func (*Secret) Read(ctx context.Context, req infer.ReadRequest[SecretArgs, SecretState]) (infer.ReadResponse[SecretArgs, SecretState], error) {
	var none infer.ReadResponse[SecretArgs, SecretState]
	c, err := clientFrom(ctx)
	if err != nil {
		return none, err
	}
	sec, err := c.DescribeSecret(ctx, req.ID)
	if notFound(err) {
		return none, nil
	}
	if err != nil {
		return none, fmt.Errorf("reading secret %s: %w", req.ID, err)
	}
	if sec.DeletionDate != nil {
		return none, nil
	}
	old := req.Inputs
	if old.Name == "" {
		old = req.State.SecretArgs
	}
	current := currentVersion(sec)
	in := SecretArgs{
		Name: sec.Name, Description: sec.Description, Tags: keep(old.Tags, sec.Tags, normMap),
	}
	if current != "" && current == req.State.VersionId {
		in.Value = old.Value
	}
	state := SecretState{SecretArgs: in, Arn: sec.ARN, VersionId: current}
	return infer.ReadResponse[SecretArgs, SecretState]{ID: sec.Name, Inputs: in, State: state}, nil
}

func currentVersion(sec *keyward.Secret) string {
	for id, stages := range sec.VersionIDsToStages {
		if slices.Contains(stages, keyward.StageCurrent) {
			return id
		}
	}
	return ""
}

// Delete deletes the secret at once (forced: no recovery window); one
// already gone is not an error.
func (*Secret) Delete(ctx context.Context, req infer.DeleteRequest[SecretState]) (infer.DeleteResponse, error) {
	c, err := clientFrom(ctx)
	if err != nil {
		return infer.DeleteResponse{}, err
	}
	if _, err := c.DeleteSecret(ctx, req.ID, keyward.SecretDelete{Force: true}); err != nil && !notFound(err) {
		return infer.DeleteResponse{}, fmt.Errorf("deleting secret %s: %w", req.ID, err)
	}
	return infer.DeleteResponse{}, nil
}
