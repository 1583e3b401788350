package gateway

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/glob"
	"github.com/keyward/keyward/keyvalue"
	"github.com/keyward/keyward/limit"
)

// table is the configuration the gateway serves from, apart from its keys
// (keyTable): APIs, stages, plans, and what each combination of stages
// and plans that keys name resolves to. Requests read the current table
// through an atomic pointer; a change to APIs, plans or secrets builds a
// new one and swaps it in. A table is never changed once published,
// except that a key naming a combination no key named before appends its
// resolution (on a copy, see Gateway.publishAccess).
type table struct {
	apis map[string]*apiEntry // by API name, as it appears in the path
	// What key changes are resolved against; never written once the
	// table is published.
	stages map[string]*stageEntry        // by "apiID/stage"
	plans  map[string]*keyward.UsagePlan // by ID
	// access resolves keyTable.access by index: the stages a key may call
	// with the limits that apply there. Keys configured alike (most of
	// them) share one map and its plan rules.
	access []map[*stageEntry]*keyStage
}

type apiEntry struct {
	id, name string
	openai   bool
	stages   []*stageEntry
}

func (a *apiEntry) stage(name []byte) *stageEntry {
	for _, s := range a.stages {
		if s.name == string(name) {
			return s
		}
	}
	return nil
}

// stageEntry is where requests for one API stage go.
type stageEntry struct {
	api      *apiEntry
	name     string
	ref      string // "apiID/stage"
	up       *upstream
	basePath string // upstream URL path without its trailing slash
	// auth is the Authorization header value sent upstream ("" for none);
	// authMissing means the stage names a secret the gateway cannot use,
	// so requests fail with 502 rather than go out without credentials.
	auth        []byte
	authMissing bool
	metrics     StageMetrics
}

// keyStage is one stage a key may call, with the limits that apply there.
type keyStage struct {
	plans []*planRule
	// tooManyLimits: the plans' counters for one request (a throttle, a
	// quota and two token windows each) exceed what one atomic charge
	// holds; such a key is refused on this stage, never half-limited.
	tooManyLimits bool
}

// planRule is one usage plan's limits as they apply to one API stage.
type planRule struct {
	throttle       *keyward.Throttle
	throttleScope  string
	routeThrottles []routeThrottle
	quota          *keyward.Quota
	quotaScope     string
	tokens         *keyward.TokenLimits
	tokensScope    string
}

// routeThrottle overrides the throttle for requests matching method and a
// path glob; keys of PlanStage.RouteThrottles are "/path/METHOD", as AWS
// writes them.
type routeThrottle struct {
	route    keyward.RoutePattern
	throttle keyward.Throttle
	scope    string
}

// builder turns snapshots into tables, reusing upstream connection pools
// and metric handles across rebuilds.
type builder struct {
	hasher    *keyvalue.Hasher
	upstreams *upstreams
	metrics   Metrics
}

// begin makes a table of a snapshot's APIs, stages and plans, for keys to
// be added to as they stream in.
func (b *builder) begin(snap *keyward.DataPlaneSnapshot) (*table, error) {
	t := &table{apis: map[string]*apiEntry{}, stages: map[string]*stageEntry{}, plans: map[string]*keyward.UsagePlan{}}
	stages := t.stages
	for _, a := range snap.APIs {
		ae := &apiEntry{id: a.ID, name: a.Name, openai: a.OpenAICompatible}
		for _, st := range a.Stages {
			u, err := url.Parse(st.UpstreamURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, fmt.Errorf("api %s stage %s: bad upstream URL", a.ID, st.Name)
			}
			se := &stageEntry{
				api: ae, name: st.Name, ref: a.ID + "/" + st.Name,
				up:       b.upstreams.get(u.Scheme == "https", u.Host),
				basePath: strings.TrimSuffix(u.EscapedPath(), "/"),
				metrics:  b.metrics.Stage(a.Name, st.Name),
			}
			if st.UpstreamSecret != "" {
				v, ok := snap.UpstreamSecrets[st.UpstreamSecret]
				if ok && validHeaderValue(v) {
					se.auth = append([]byte("Bearer "), v...)
				} else {
					se.authMissing = true
				}
			}
			ae.stages = append(ae.stages, se)
			stages[se.ref] = se
		}
		t.apis[a.Name] = ae
	}
	for _, p := range snap.Plans {
		t.plans[p.ID] = p
	}
	return t, nil
}

// resolve returns the stages a key with access signature sig may call,
// with the limits that apply there.
func (t *table) resolve(sig *accessSig) map[*stageEntry]*keyStage {
	stages, plans := t.stages, t.plans
	m := map[*stageEntry]*keyStage{}
	if t.lacksPlan(sig.plans) {
		// Without that plan's limits the key would go unlimited: it may
		// call nothing until a table that holds the plan resolves it again.
		return m
	}
	// A key may call the stages it names and the stages of the plans it
	// is attached to (as with API Gateway usage plans).
	for _, ref := range sig.stages {
		if se := stages[ref]; se != nil {
			m[se] = &keyStage{}
		}
	}
	for _, pid := range sig.plans {
		for _, ps := range plans[pid].APIStages {
			if se := stages[ps.APIID+"/"+ps.Stage]; se != nil && m[se] == nil {
				m[se] = &keyStage{}
			}
		}
	}
	for se, ks := range m {
		counters := 0
		for _, pid := range sig.plans {
			if r, ok := planRuleFor(plans[pid], se); ok {
				ks.plans = append(ks.plans, r)
				counters += r.maxCounters()
			}
		}
		ks.tooManyLimits = counters > limit.MaxCounters
	}
	return m
}

// lacksPlan reports whether t does not hold one of the plans planIDs. A
// plan with keys attached cannot be deleted, so such a plan exists and t
// has not loaded it yet: a cluster's notices arrive in any order, and a
// full load publishes keys before its table.
func (t *table) lacksPlan(planIDs []string) bool {
	for _, pid := range planIDs {
		if t.plans[pid] == nil {
			return true
		}
	}
	return false
}

// planRuleFor returns plan p's limits for stage se: a plan with no API
// stages applies everywhere its keys go; otherwise only on its stages,
// where a stage's own throttle overrides the plan's.
func planRuleFor(p *keyward.UsagePlan, se *stageEntry) (*planRule, bool) {
	r := &planRule{throttle: p.Throttle, quota: p.Quota, tokens: p.Tokens}
	if len(p.APIStages) > 0 {
		var ps *keyward.PlanStage
		for i := range p.APIStages {
			if p.APIStages[i].APIID+"/"+p.APIStages[i].Stage == se.ref {
				ps = &p.APIStages[i]
			}
		}
		if ps == nil {
			return nil, false
		}
		if ps.Throttle != nil {
			r.throttle = ps.Throttle
			r.throttleScope = p.ID + "|" + se.ref
		}
		for k, th := range ps.RouteThrottles {
			route, err := keyward.ParseRouteKey(k)
			if err != nil {
				continue // the admin side refuses such keys when a plan is written
			}
			r.routeThrottles = append(r.routeThrottles, routeThrottle{
				route: route, throttle: th, scope: p.ID + "|" + se.ref + "|" + k,
			})
		}
	}
	if r.throttleScope == "" {
		r.throttleScope = p.ID // one bucket across the plan's stages, as API Gateway does
	}
	r.quotaScope = p.ID
	r.tokensScope = p.ID
	return r, true
}

// maxCounters is how many counters the rule can add to one charge.
func (r *planRule) maxCounters() int {
	n := 0
	if r.throttle != nil || len(r.routeThrottles) > 0 {
		n++
	}
	if r.quota != nil {
		n++
	}
	if r.tokens != nil {
		n += 2
	}
	return n
}

// counters adds the plan's counters for one request to c; cost is the
// tokens reserved (0 when the request does not go to an LLM).
func (r *planRule) counters(c *limit.Charge, method, p string, tokens int64) {
	th, scope := r.throttle, r.throttleScope
	for i := range r.routeThrottles {
		rt := &r.routeThrottles[i]
		if rt.route.Matches(method, p) {
			th, scope = &rt.throttle, rt.scope
			break
		}
	}
	if th != nil {
		c.Add(limit.Counter{Kind: limit.Throttle, Scope: scope, Rate: th.RateLimit, Burst: int64(th.BurstLimit), Cost: 1})
	}
	if q := r.quota; q != nil {
		c.Add(limit.Counter{Kind: limit.Quota, Scope: r.quotaScope, Limit: q.Limit, Period: q.Period, Offset: q.Offset, Cost: 1})
	}
	if tl := r.tokens; tl != nil && tokens > 0 {
		if tl.PerMinute > 0 {
			c.Add(limit.Counter{Kind: limit.TokensPerMinute, Scope: r.tokensScope, Limit: tl.PerMinute, Cost: tokens})
		}
		if tl.PerDay > 0 {
			c.Add(limit.Counter{Kind: limit.TokensPerDay, Scope: r.tokensScope, Limit: tl.PerDay, Cost: tokens})
		}
	}
}

// defaultMaxTokens is reserved for a request that names no max_tokens when
// its plan sets no default either.
const defaultMaxTokens = 4096

// reservation is how many LLM tokens a request may consume, for plans with
// token limits: its completion cap plus an upper bound on its prompt (a
// token is at least one byte of the body).
func (ks *keyStage) reservation(maxTokens int64, bodyLen int) int64 {
	var need bool
	def := int64(0)
	for _, r := range ks.plans {
		if r.tokens != nil && (r.tokens.PerMinute > 0 || r.tokens.PerDay > 0) {
			need = true
			def = max(def, r.tokens.DefaultMaxTokens)
		}
	}
	if !need {
		return 0
	}
	if maxTokens < 0 {
		maxTokens = def
		if maxTokens == 0 {
			maxTokens = defaultMaxTokens
		}
	}
	// llmwire bounds max_tokens (MaxTokensLimit) and the server the body,
	// but a plan's default is any int64: the sum saturates rather than
	// wrap to a negative cost, which the limiter would charge as nothing.
	// At least 1: a request on a token route always holds a reservation
	// to settle.
	return max(limit.AddSat(maxTokens, int64(bodyLen)), 1)
}

// allowedRoute reports whether the key's route scopes admit method and p.
func (k *keyView) allowedRoute(method, p string) bool {
	if len(k.routes) == 0 {
		return true
	}
	for _, r := range k.routes {
		if r.Matches(method, p) {
			return true
		}
	}
	return false
}

// allowedModel reports whether the key's model scopes admit model.
func (k *keyView) allowedModel(model string) bool {
	for _, m := range k.models {
		if glob.Scopes.Match(m, model) {
			return true
		}
	}
	return false
}

// validHeaderValue reports whether v can go into a header line as is: no
// control characters, so a secret cannot smuggle a header upstream.
func validHeaderValue(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	for _, c := range v {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
