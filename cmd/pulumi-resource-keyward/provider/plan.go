package provider

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"slices"

	"github.com/pulumi/pulumi-go-provider/infer"

	"github.com/keyward/keyward"
)

// UsagePlan is the keyward:index:UsagePlan resource: limits shared by the
// keys attached to it. Every field can change in place.
type UsagePlan struct{}

// Throttle is a token bucket: a steady rate per second and a burst.
type Throttle struct {
	RateLimit  float64 `pulumi:"rateLimit"`
	BurstLimit int     `pulumi:"burstLimit"`
}

// Quota allows limit requests per period.
type Quota struct {
	Limit  int    `pulumi:"limit"`
	Period string `pulumi:"period"`
	Offset int    `pulumi:"offset,optional"`
}

// TokenLimits are LLM token budgets.
type TokenLimits struct {
	PerMinute        int `pulumi:"perMinute,optional"`
	PerDay           int `pulumi:"perDay,optional"`
	DefaultMaxTokens int `pulumi:"defaultMaxTokens,optional"`
}

// PlanStage applies the plan to one API stage, optionally with its own
// throttle and per-route throttles ("/path/METHOD" keys).
type PlanStage struct {
	ApiId          string              `pulumi:"apiId"`
	Stage          string              `pulumi:"stage"`
	Throttle       *Throttle           `pulumi:"throttle,optional"`
	RouteThrottles map[string]Throttle `pulumi:"routeThrottles,optional"`
}

// UsagePlanArgs are the inputs of a UsagePlan.
type UsagePlanArgs struct {
	Name          string       `pulumi:"name,optional"`
	Description   string       `pulumi:"description,optional"`
	Throttle      *Throttle    `pulumi:"throttle,optional"`
	Quota         *Quota       `pulumi:"quota,optional"`
	Tokens        *TokenLimits `pulumi:"tokens,optional"`
	ApiStages     []PlanStage  `pulumi:"apiStages,optional"`
	RotateEvery   string       `pulumi:"rotateEvery,optional"`
	RotationGrace string       `pulumi:"rotationGrace,optional"`
}

// UsagePlanState is the state of a UsagePlan: its inputs.
type UsagePlanState struct {
	UsagePlanArgs
}

var (
	_ infer.CustomCheck[UsagePlanArgs]                  = (*UsagePlan)(nil)
	_ infer.CustomDiff[UsagePlanArgs, UsagePlanState]   = (*UsagePlan)(nil)
	_ infer.CustomRead[UsagePlanArgs, UsagePlanState]   = (*UsagePlan)(nil)
	_ infer.CustomUpdate[UsagePlanArgs, UsagePlanState] = (*UsagePlan)(nil)
	_ infer.CustomDelete[UsagePlanState]                = (*UsagePlan)(nil)
)

// Annotate describes the resource.
func (u *UsagePlan) Annotate(a infer.Annotator) {
	a.SetToken("index", "UsagePlan")
	a.Describe(&u, "A usage plan: throttle, quota and LLM token limits for the keys attached to it. The resource ID is the plan ID (plan_…).")
}

// Annotate describes the inputs.
func (u *UsagePlanArgs) Annotate(a infer.Annotator) {
	a.Describe(&u.Name, "Plan name, unique. Defaults to the resource name.")
	a.Describe(&u.Throttle, "Requests per second and burst, per key.")
	a.Describe(&u.Quota, "Requests per DAY, WEEK or MONTH (offset: WEEK 0-6 from Sunday, MONTH 0-27).")
	a.Describe(&u.Tokens, "LLM token budgets per minute and per day, and the max_tokens reserved when a request names none.")
	a.Describe(&u.ApiStages, "API stages (apiId: an API ID or name) the plan opens to its keys.")
	a.Describe(&u.RotateEvery, "Rotate the values of the attached keys that have no rotation policy of their own, "+
		"e.g. \"30d\" or \"720h\" (1m to 1000d). Requires rotationGrace. Changing or removing it updates in place.")
	a.Describe(&u.RotationGrace, docRotationGrace)
}

// Check fills the name from the resource name and checks the rotation
// inputs.
func (*UsagePlan) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[UsagePlanArgs], error) {
	args, failures, err := infer.DefaultCheck[UsagePlanArgs](ctx, req.NewInputs)
	if err != nil || len(failures) > 0 {
		return infer.CheckResponse[UsagePlanArgs]{Inputs: args, Failures: failures}, err
	}
	if args.Name == "" {
		args.Name = req.Name
	}
	failures = checkRotation(req.NewInputs, args.RotateEvery, args.RotationGrace)
	return infer.CheckResponse[UsagePlanArgs]{Inputs: args, Failures: failures}, nil
}

// Create creates the plan.
func (*UsagePlan) Create(ctx context.Context, req infer.CreateRequest[UsagePlanArgs]) (infer.CreateResponse[UsagePlanState], error) {
	in := req.Inputs
	state := UsagePlanState{in}
	if req.DryRun {
		return infer.CreateResponse[UsagePlanState]{Output: state}, nil
	}
	c, err := clientFrom(ctx)
	if err != nil {
		return infer.CreateResponse[UsagePlanState]{}, err
	}
	rotation, err := toRotation(in.RotateEvery, in.RotationGrace)
	if err != nil {
		return infer.CreateResponse[UsagePlanState]{}, fmt.Errorf("rotation: %w", err)
	}
	pl, err := c.CreatePlan(ctx, keyward.PlanCreate{
		Name: in.Name, Description: in.Description, Throttle: toThrottle(in.Throttle),
		Quota: toQuota(in.Quota), Tokens: toTokens(in.Tokens), APIStages: toPlanStages(in.ApiStages),
		Rotation: rotation,
	})
	if err != nil {
		return infer.CreateResponse[UsagePlanState]{}, fmt.Errorf("creating usage plan: %w", err)
	}
	return infer.CreateResponse[UsagePlanState]{ID: pl.ID, Output: state}, nil
}

// Diff compares the normalized inputs; nothing replaces a plan.
func (*UsagePlan) Diff(_ context.Context, req infer.DiffRequest[UsagePlanArgs, UsagePlanState]) (infer.DiffResponse, error) {
	o, n := normPlan(req.State.UsagePlanArgs), normPlan(req.Inputs)
	d := newDiffer(TypeUsagePlan)
	d.field("name", o.Name, n.Name)
	d.field("description", o.Description, n.Description)
	d.field("throttle", o.Throttle, n.Throttle)
	d.field("quota", o.Quota, n.Quota)
	d.field("tokens", o.Tokens, n.Tokens)
	d.field("apiStages", o.ApiStages, n.ApiStages)
	d.field("rotateEvery", o.RotateEvery, n.RotateEvery)
	d.field("rotationGrace", o.RotationGrace, n.RotationGrace)
	return d.response(), nil
}

func normPlan(a UsagePlanArgs) UsagePlanArgs {
	a.Tokens = normTokens(a.Tokens)
	a.ApiStages = normPlanStages(a.ApiStages)
	a.RotateEvery, a.RotationGrace = normDuration(a.RotateEvery), normDuration(a.RotationGrace)
	return a
}

// normTokens treats all-zero token limits as none.
func normTokens(t *TokenLimits) *TokenLimits {
	if t == nil || *t == (TokenLimits{}) {
		return nil
	}
	return t
}

func normPlanStages(s []PlanStage) []PlanStage {
	if len(s) == 0 {
		return nil
	}
	out := make([]PlanStage, 0, len(s))
	for _, ps := range s {
		if len(ps.RouteThrottles) == 0 {
			ps.RouteThrottles = nil
		}
		out = append(out, ps)
	}
	slices.SortStableFunc(out, func(a, b PlanStage) int {
		return cmp.Or(cmp.Compare(a.ApiId, b.ApiId), cmp.Compare(a.Stage, b.Stage))
	})
	return out
}

// Update changes the plan in place; attached keys keep it.
func (*UsagePlan) Update(ctx context.Context, req infer.UpdateRequest[UsagePlanArgs, UsagePlanState]) (infer.UpdateResponse[UsagePlanState], error) {
	in := req.Inputs
	state := UsagePlanState{in}
	if req.DryRun {
		return infer.UpdateResponse[UsagePlanState]{Output: state}, nil
	}
	c, err := clientFrom(ctx)
	if err != nil {
		return infer.UpdateResponse[UsagePlanState]{}, err
	}
	o, n := normPlan(req.State.UsagePlanArgs), normPlan(in)
	var u keyward.PlanUpdate
	if o.Name != n.Name {
		u.Name = ptr(n.Name)
	}
	if o.Description != n.Description {
		u.Description = ptr(n.Description)
	}
	if !reflect.DeepEqual(o.Throttle, n.Throttle) {
		u.Throttle, u.ClearThrottle = toThrottle(n.Throttle), n.Throttle == nil
	}
	if !reflect.DeepEqual(o.Quota, n.Quota) {
		u.Quota, u.ClearQuota = toQuota(n.Quota), n.Quota == nil
	}
	if !reflect.DeepEqual(o.Tokens, n.Tokens) {
		u.Tokens, u.ClearTokens = toTokens(n.Tokens), n.Tokens == nil
	}
	if !reflect.DeepEqual(o.ApiStages, n.ApiStages) {
		stages := toPlanStages(in.ApiStages)
		if stages == nil {
			stages = []keyward.PlanStage{}
		}
		u.APIStages = &stages
	}
	if o.RotateEvery != n.RotateEvery || o.RotationGrace != n.RotationGrace {
		r, err := toRotation(n.RotateEvery, n.RotationGrace)
		if err != nil {
			return infer.UpdateResponse[UsagePlanState]{}, fmt.Errorf("rotation: %w", err)
		}
		u.Rotation, u.ClearRotation = r, r == nil
	}
	if _, err := c.UpdatePlan(ctx, req.ID, u); err != nil {
		return infer.UpdateResponse[UsagePlanState]{}, fmt.Errorf("updating usage plan %s: %w", req.ID, err)
	}
	return infer.UpdateResponse[UsagePlanState]{Output: state}, nil
}

// Read reads the plan back; a plan deleted outside Pulumi reads as gone.
func (*UsagePlan) Read(ctx context.Context, req infer.ReadRequest[UsagePlanArgs, UsagePlanState]) (infer.ReadResponse[UsagePlanArgs, UsagePlanState], error) {
	c, err := clientFrom(ctx)
	if err != nil {
		return infer.ReadResponse[UsagePlanArgs, UsagePlanState]{}, err
	}
	pl, err := c.GetPlan(ctx, req.ID)
	if notFound(err) {
		return infer.ReadResponse[UsagePlanArgs, UsagePlanState]{}, nil
	}
	if err != nil {
		return infer.ReadResponse[UsagePlanArgs, UsagePlanState]{}, fmt.Errorf("reading usage plan %s: %w", req.ID, err)
	}
	old := req.Inputs
	if old.Name == "" {
		old = req.State.UsagePlanArgs
	}
	pairs := make([][2]string, 0, len(old.ApiStages))
	for _, ps := range old.ApiStages {
		pairs = append(pairs, [2]string{ps.ApiId, ps.Stage})
	}
	refs := newAPIRefs(ctx, c)
	var stages []PlanStage
	for _, ps := range pl.APIStages {
		ref, err := refs.ref(ps.APIID, ps.Stage, pairs)
		if err != nil {
			return infer.ReadResponse[UsagePlanArgs, UsagePlanState]{}, err
		}
		stages = append(stages, PlanStage{
			ApiId: ref, Stage: ps.Stage,
			Throttle: fromThrottle(ps.Throttle), RouteThrottles: fromRouteThrottles(ps.RouteThrottles),
		})
	}
	every, grace := fromRotation(pl.Rotation, old.RotateEvery, old.RotationGrace)
	in := UsagePlanArgs{
		Name:          pl.Name,
		Description:   pl.Description,
		Throttle:      fromThrottle(pl.Throttle),
		Quota:         fromQuota(pl.Quota),
		Tokens:        keep(old.Tokens, fromTokens(pl.Tokens), normTokens),
		ApiStages:     keep(old.ApiStages, stages, normPlanStages),
		RotateEvery:   every,
		RotationGrace: grace,
	}
	return infer.ReadResponse[UsagePlanArgs, UsagePlanState]{ID: pl.ID, Inputs: in, State: UsagePlanState{in}}, nil
}

// Delete deletes the plan. The server refuses while keys are attached
// (EPRECONDITION); a plan already gone is not an error.
func (*UsagePlan) Delete(ctx context.Context, req infer.DeleteRequest[UsagePlanState]) (infer.DeleteResponse, error) {
	c, err := clientFrom(ctx)
	if err != nil {
		return infer.DeleteResponse{}, err
	}
	if err := c.DeletePlan(ctx, req.ID); err != nil && !notFound(err) {
		return infer.DeleteResponse{}, fmt.Errorf("deleting usage plan %s: %w", req.ID, err)
	}
	return infer.DeleteResponse{}, nil
}

func toThrottle(t *Throttle) *keyward.Throttle {
	if t == nil {
		return nil
	}
	return &keyward.Throttle{RateLimit: t.RateLimit, BurstLimit: t.BurstLimit}
}

func fromThrottle(t *keyward.Throttle) *Throttle {
	if t == nil {
		return nil
	}
	return &Throttle{RateLimit: t.RateLimit, BurstLimit: t.BurstLimit}
}

func toQuota(q *Quota) *keyward.Quota {
	if q == nil {
		return nil
	}
	return &keyward.Quota{Limit: int64(q.Limit), Period: keyward.QuotaPeriod(q.Period), Offset: q.Offset}
}

func fromQuota(q *keyward.Quota) *Quota {
	if q == nil {
		return nil
	}
	return &Quota{Limit: int(q.Limit), Period: string(q.Period), Offset: q.Offset}
}

func toTokens(t *TokenLimits) *keyward.TokenLimits {
	if t == nil {
		return nil
	}
	return &keyward.TokenLimits{PerMinute: int64(t.PerMinute), PerDay: int64(t.PerDay), DefaultMaxTokens: int64(t.DefaultMaxTokens)}
}

func fromTokens(t *keyward.TokenLimits) *TokenLimits {
	if t == nil {
		return nil
	}
	return &TokenLimits{PerMinute: int(t.PerMinute), PerDay: int(t.PerDay), DefaultMaxTokens: int(t.DefaultMaxTokens)}
}

func toPlanStages(in []PlanStage) []keyward.PlanStage {
	if len(in) == 0 {
		return nil
	}
	out := make([]keyward.PlanStage, 0, len(in))
	for _, ps := range in {
		s := keyward.PlanStage{APIID: ps.ApiId, Stage: ps.Stage, Throttle: toThrottle(ps.Throttle)}
		if len(ps.RouteThrottles) > 0 {
			s.RouteThrottles = map[string]keyward.Throttle{}
			for route, t := range ps.RouteThrottles {
				s.RouteThrottles[route] = keyward.Throttle{RateLimit: t.RateLimit, BurstLimit: t.BurstLimit}
			}
		}
		out = append(out, s)
	}
	return out
}

func fromRouteThrottles(in map[string]keyward.Throttle) map[string]Throttle {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]Throttle, len(in))
	for route, t := range in {
		out[route] = Throttle{RateLimit: t.RateLimit, BurstLimit: t.BurstLimit}
	}
	return out
}
