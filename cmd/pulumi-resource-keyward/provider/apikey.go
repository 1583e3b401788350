package provider

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
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

// createKey calls CreateKey with a client token and retries it while the
// server is unreachable, so a lost answer does not leave a second key
// behind. A retried call that the server answers from its idempotency
// record comes back without the value (it is shown once): when the value
// was to be returned, that key is deleted and a new one created.
func createKey(ctx context.Context, c *httpapi.Client, in keyward.KeyCreate, name string) (*keyward.CreatedKey, error) {
	in.ClientToken = clientToken(name)
	var lastErr error
	for attempt, wait := 0, time.Duration(0); attempt < 4; attempt++ {
		if wait > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(wait):
			}
		}
		out, err := c.CreateKey(ctx, in)
		switch {
		case err == nil && (in.StoreSecret != "" || out.Value != ""):
			return out, nil
		case err == nil && in.Value != "": // a replay of an import: the value is known
			out.Value = in.Value
			return out, nil
		case err == nil: // a replay: the value is gone with the lost answer
			if derr := c.DeleteKey(ctx, out.Key.ID); derr != nil && !notFound(derr) {
				return nil, fmt.Errorf("key %s was created but its value was lost, and deleting it failed: %w", out.Key.ID, derr)
			}
			in.ClientToken = clientToken(name)
			lastErr, wait = keyward.Errorf(keyward.EUNAVAILABLE, "the answer carrying the key value was lost"), 0
		case keyward.ErrorCode(err) == keyward.EUNAVAILABLE && ctx.Err() == nil:
			lastErr, wait = err, time.Duration(attempt+1)*time.Second
		default:
			return nil, err
		}
	}
	return nil, lastErr
}

// clientToken returns an idempotency token for one create: a digest of the
// resource name (to find it in the audit trail) and a random part, so that
// recreating a resource after a destroy, or replacing it, is never answered
// with the key of an earlier create.
func clientToken(name string) string {
	h := sha256.Sum256([]byte(name))
	var r [8]byte
	_, _ = rand.Read(r[:])
	return "pulumi-" + hex.EncodeToString(h[:8]) + "-" + hex.EncodeToString(r[:])
}

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

func equalScopes(a, b *Scopes) bool {
	if a == nil || b == nil {
		return a == b
	}
	return slices.Equal(a.Models, b.Models) && slices.Equal(a.Routes, b.Routes)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

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

// apiRefs finds how the program named an API (by ID or by name) that the
// server reports by ID, so Read keeps the program's spelling.
type apiRefs struct {
	ctx context.Context
	c   *httpapi.Client
	ids map[string]string // reference -> API ID, "" when it names no API
}

func newAPIRefs(ctx context.Context, c *httpapi.Client) *apiRefs {
	return &apiRefs{ctx: ctx, c: c, ids: map[string]string{}}
}

func (a *apiRefs) resolve(ref string) (string, error) {
	if strings.HasPrefix(ref, "api_") { // names never look like IDs
		return ref, nil
	}
	if id, ok := a.ids[ref]; ok {
		return id, nil
	}
	api, err := a.c.GetAPI(a.ctx, ref)
	switch {
	case notFound(err):
		a.ids[ref] = ""
	case err != nil:
		return "", fmt.Errorf("reading API %s: %w", ref, err)
	default:
		a.ids[ref] = api.ID
	}
	return a.ids[ref], nil
}

// ref returns the reference the program used for API id in its (reference,
// stage) pairs old: the one paired with stage, else any naming id, else id.
func (a *apiRefs) ref(id, stage string, old [][2]string) (string, error) {
	found := ""
	for _, o := range old {
		rid, err := a.resolve(o[0])
		if err != nil {
			return "", err
		}
		if rid != id {
			continue
		}
		if o[1] == stage {
			return o[0], nil
		}
		if found == "" {
			found = o[0]
		}
	}
	return cmp.Or(found, id), nil
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
