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

// table is the configuration the gateway serves from, built from a
// DataPlaneSnapshot. Requests read the current table through an atomic
// pointer. A change to APIs, plans or secrets builds a new table and swaps
// it in; a change to one key replaces that key's entries in the verifier's
// index under its lock (updateKey, removeKey), so its cost does not grow
// with the number of keys. Either way a request never sees half an update.
type table struct {
	apis     map[string]*apiEntry // by API name, as it appears in the path
	verifier keyvalue.Verifier[*credEntry]
	// What a key change is applied against; written only under the
	// gateway's reloadMu, never read by requests.
	stages map[string]*stageEntry        // by "apiID/stage"
	plans  map[string]*keyward.UsagePlan // by ID
	keys   map[string][]keyvalue.Digest  // key ID -> its credentials' digests in the index
	// access interns what keys may call, by the stages and plans they
	// name: keys configured alike (most of them) share one map and its
	// plan rules instead of holding copies, which at a million keys is
	// the difference between megabytes and gigabytes.
	access map[string]map[*stageEntry]*keyStage
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

// keyEntry is what the gateway knows of one API key.
type keyEntry struct {
	id       string
	enabled  bool
	expires  int64 // Unix nanoseconds; 0: never (8 bytes, not time.Time's 24: there is one per key)
	stages   map[*stageEntry]*keyStage
	models   []string
	routes   []keyward.RoutePattern
	scoped   bool // has model scopes
	keyStats KeyMetrics
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

// credEntry is one accepted value of a key.
type credEntry struct {
	key        *keyEntry
	label      keyward.CredentialLabel
	graceUntil int64 // Unix nanoseconds; 0: none
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
	t := &table{apis: map[string]*apiEntry{}, stages: map[string]*stageEntry{}, plans: map[string]*keyward.UsagePlan{},
		keys: map[string][]keyvalue.Digest{}, access: map[string]map[*stageEntry]*keyStage{}}
	t.verifier = keyvalue.Verifier[*credEntry]{Hasher: b.hasher, Index: &keyvalue.Index[*credEntry]{}}
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

// addKey adds a key to a table being built.
func (b *builder) addKey(t *table, k *keyward.APIKey) {
	creds := b.keyEntry(t, k)
	digests := make([]keyvalue.Digest, 0, len(creds))
	for d, ce := range creds {
		digests = append(digests, d)
		t.verifier.Index.Put(d, ce)
	}
	t.keys[k.ID] = digests
}

// keyEntry builds what the gateway knows of key k, against t's stages and
// plans, as the index entries of its credentials.
func (b *builder) keyEntry(t *table, k *keyward.APIKey) map[keyvalue.Digest]*credEntry {
	ke := &keyEntry{
		id: k.ID, enabled: k.Enabled, stages: t.accessOf(k),
		models: k.Scopes.Models, routes: k.Scopes.Routes, scoped: len(k.Scopes.Models) > 0,
		keyStats: b.metrics.Key(k.ID),
	}
	if k.ExpiresAt != nil {
		ke.expires = k.ExpiresAt.UnixNano()
	}
	creds := make(map[keyvalue.Digest]*credEntry, len(k.Credentials))
	for _, c := range k.Credentials {
		ce := &credEntry{key: ke, label: c.Label}
		if c.GraceUntil != nil {
			ce.graceUntil = c.GraceUntil.UnixNano()
		}
		creds[keyvalue.Digest(c.Digest)] = ce
	}
	return creds
}

// accessOf returns the stages key k may call with the limits there, shared
// with every key that names the same stages and plans in the same order.
func (t *table) accessOf(k *keyward.APIKey) map[*stageEntry]*keyStage {
	var sig strings.Builder
	for _, sk := range k.StageKeys {
		sig.WriteString(sk.String())
		sig.WriteByte(' ')
	}
	sig.WriteByte('|')
	for _, pid := range k.PlanIDs {
		sig.WriteString(pid)
		sig.WriteByte(' ')
	}
	if m, ok := t.access[sig.String()]; ok {
		return m
	}
	stages, plans := t.stages, t.plans
	m := map[*stageEntry]*keyStage{}
	// A key may call the stages it names and the stages of the plans it
	// is attached to (as with API Gateway usage plans).
	for _, sk := range k.StageKeys {
		if se := stages[sk.String()]; se != nil {
			m[se] = &keyStage{}
		}
	}
	for _, pid := range k.PlanIDs {
		p := plans[pid]
		if p == nil {
			continue
		}
		for _, ps := range p.APIStages {
			if se := stages[ps.APIID+"/"+ps.Stage]; se != nil && m[se] == nil {
				m[se] = &keyStage{}
			}
		}
	}
	for se, ks := range m {
		counters := 0
		for _, pid := range k.PlanIDs {
			if p := plans[pid]; p != nil {
				if r, ok := planRuleFor(p, se); ok {
					ks.plans = append(ks.plans, r)
					counters += r.maxCounters()
				}
			}
		}
		ks.tooManyLimits = counters > limit.MaxCounters
	}
	t.access[sig.String()] = m
	return m
}

// updateKey puts key k into t in place of what t held for it: its old
// credentials leave the index and its new ones enter it in one step.
func (b *builder) updateKey(t *table, k *keyward.APIKey) {
	creds := b.keyEntry(t, k)
	digests := make([]keyvalue.Digest, 0, len(creds))
	for d := range creds {
		digests = append(digests, d)
	}
	t.verifier.Index.Replace(t.keys[k.ID], creds)
	t.keys[k.ID] = digests
}

// removeKey takes a deleted key out of t.
func (t *table) removeKey(id string) {
	t.verifier.Index.Replace(t.keys[id], nil)
	delete(t.keys, id)
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
func (k *keyEntry) allowedRoute(method, p string) bool {
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
func (k *keyEntry) allowedModel(model string) bool {
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
