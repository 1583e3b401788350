package provider

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/pulumi/pulumi-go-provider/infer"

	"github.com/keyward/keyward"
)

// API is the keyward:index:Api resource: an AI service behind the gateway,
// with its stages. Every field can change in place.
type API struct{}

// Stage is one deployment of an API.
type Stage struct {
	Name           string `pulumi:"name"`
	UpstreamUrl    string `pulumi:"upstreamUrl"`
	UpstreamSecret string `pulumi:"upstreamSecret,optional"`
}

// APIArgs are the inputs of an Api.
type APIArgs struct {
	Name             string  `pulumi:"name,optional"`
	Description      string  `pulumi:"description,optional"`
	OpenaiCompatible bool    `pulumi:"openaiCompatible,optional"`
	KeyPrefix        string  `pulumi:"keyPrefix,optional"`
	Stages           []Stage `pulumi:"stages"`
}

// APIState is the state of an Api: its inputs.
type APIState struct {
	APIArgs
}

var (
	_ infer.CustomCheck[APIArgs]            = (*API)(nil)
	_ infer.CustomDiff[APIArgs, APIState]   = (*API)(nil)
	_ infer.CustomRead[APIArgs, APIState]   = (*API)(nil)
	_ infer.CustomUpdate[APIArgs, APIState] = (*API)(nil)
	_ infer.CustomDelete[APIState]          = (*API)(nil)
)

// Annotate describes the resource.
func (a *API) Annotate(an infer.Annotator) {
	an.SetToken("index", "Api")
	an.Describe(&a, "An AI API behind the keyward gateway, routed as /<name>/<stage>/…. The resource ID is the API ID (api_…).")
}

// Annotate describes the inputs.
func (a *APIArgs) Annotate(an infer.Annotator) {
	an.Describe(&a.Name, "API name, unique, a URL segment (a-z 0-9 _ -). Defaults to the resource name.")
	an.Describe(&a.OpenaiCompatible, "Whether the gateway reads models and token usage (OpenAI-compatible protocol).")
	an.Describe(&a.KeyPrefix, "Value prefix of keys created for this API's stages.")
	an.Describe(&a.Stages, "Stages, each with an upstream base URL and optionally the secret whose CURRENT value is sent upstream.")
}

// Check fills the name from the resource name.
func (*API) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[APIArgs], error) {
	args, failures, err := infer.DefaultCheck[APIArgs](ctx, req.NewInputs)
	if err == nil && len(failures) == 0 && args.Name == "" {
		args.Name = req.Name
	}
	return infer.CheckResponse[APIArgs]{Inputs: args, Failures: failures}, err
}

// Create creates the API.
func (*API) Create(ctx context.Context, req infer.CreateRequest[APIArgs]) (infer.CreateResponse[APIState], error) {
	in := req.Inputs
	if req.DryRun {
		return infer.CreateResponse[APIState]{Output: APIState{in}}, nil
	}
	c, err := clientFrom(ctx)
	if err != nil {
		return infer.CreateResponse[APIState]{}, err
	}
	a, err := c.CreateAPI(ctx, keyward.APICreate{Name: in.Name, Description: in.Description,
		OpenAICompatible: in.OpenaiCompatible, KeyPrefix: in.KeyPrefix, Stages: toStages(in.Stages)})
	if err != nil {
		return infer.CreateResponse[APIState]{}, fmt.Errorf("creating API: %w", err)
	}
	return infer.CreateResponse[APIState]{ID: a.ID, Output: APIState{in}}, nil
}

// Diff compares the normalized inputs; nothing replaces an API.
func (*API) Diff(_ context.Context, req infer.DiffRequest[APIArgs, APIState]) (infer.DiffResponse, error) {
	o, n := req.State.APIArgs, req.Inputs
	d := newDiffer(TypeAPI)
	d.field("name", o.Name, n.Name)
	d.field("description", o.Description, n.Description)
	d.field("openaiCompatible", o.OpenaiCompatible, n.OpenaiCompatible)
	d.field("keyPrefix", o.KeyPrefix, n.KeyPrefix)
	d.field("stages", normStages(o.Stages), normStages(n.Stages))
	return d.response(), nil
}

// normStages sorts stages by name: their order means nothing.
func normStages(s []Stage) []Stage {
	if len(s) == 0 {
		return nil
	}
	out := slices.Clone(s)
	slices.SortStableFunc(out, func(a, b Stage) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Update changes the API in place.
func (*API) Update(ctx context.Context, req infer.UpdateRequest[APIArgs, APIState]) (infer.UpdateResponse[APIState], error) {
	o, n := req.State.APIArgs, req.Inputs
	if req.DryRun {
		return infer.UpdateResponse[APIState]{Output: APIState{n}}, nil
	}
	c, err := clientFrom(ctx)
	if err != nil {
		return infer.UpdateResponse[APIState]{}, err
	}
	var u keyward.APIUpdate
	if o.Name != n.Name {
		u.Name = ptr(n.Name)
	}
	if o.Description != n.Description {
		u.Description = ptr(n.Description)
	}
	if o.OpenaiCompatible != n.OpenaiCompatible {
		u.OpenAICompatible = ptr(n.OpenaiCompatible)
	}
	if o.KeyPrefix != n.KeyPrefix {
		u.KeyPrefix = ptr(n.KeyPrefix)
	}
	if !slices.Equal(normStages(o.Stages), normStages(n.Stages)) {
		stages := toStages(n.Stages)
		u.Stages = &stages
	}
	if _, err := c.UpdateAPI(ctx, req.ID, u); err != nil {
		return infer.UpdateResponse[APIState]{}, fmt.Errorf("updating API %s: %w", req.ID, err)
	}
	return infer.UpdateResponse[APIState]{Output: APIState{n}}, nil
}

// Read reads the API back; an API deleted outside Pulumi reads as gone.
func (*API) Read(ctx context.Context, req infer.ReadRequest[APIArgs, APIState]) (infer.ReadResponse[APIArgs, APIState], error) {
	c, err := clientFrom(ctx)
	if err != nil {
		return infer.ReadResponse[APIArgs, APIState]{}, err
	}
	a, err := c.GetAPI(ctx, req.ID)
	if notFound(err) {
		return infer.ReadResponse[APIArgs, APIState]{}, nil
	}
	if err != nil {
		return infer.ReadResponse[APIArgs, APIState]{}, fmt.Errorf("reading API %s: %w", req.ID, err)
	}
	old := req.Inputs
	if old.Name == "" {
		old = req.State.APIArgs
	}
	stages := make([]Stage, 0, len(a.Stages))
	for _, st := range a.Stages {
		stages = append(stages, Stage{Name: st.Name, UpstreamUrl: st.UpstreamURL, UpstreamSecret: st.UpstreamSecret})
	}
	in := APIArgs{
		Name: a.Name, Description: a.Description, OpenaiCompatible: a.OpenAICompatible, KeyPrefix: a.KeyPrefix,
		Stages: keep(old.Stages, stages, normStages),
	}
	return infer.ReadResponse[APIArgs, APIState]{ID: a.ID, Inputs: in, State: APIState{in}}, nil
}

// Delete deletes the API; one already gone is not an error.
func (*API) Delete(ctx context.Context, req infer.DeleteRequest[APIState]) (infer.DeleteResponse, error) {
	c, err := clientFrom(ctx)
	if err != nil {
		return infer.DeleteResponse{}, err
	}
	if err := c.DeleteAPI(ctx, req.ID); err != nil && !notFound(err) {
		return infer.DeleteResponse{}, fmt.Errorf("deleting API %s: %w", req.ID, err)
	}
	return infer.DeleteResponse{}, nil
}

func toStages(in []Stage) []keyward.Stage {
	out := make([]keyward.Stage, 0, len(in))
	for _, st := range in {
		out = append(out, keyward.Stage{Name: st.Name, UpstreamURL: st.UpstreamUrl, UpstreamSecret: st.UpstreamSecret})
	}
	return out
}
