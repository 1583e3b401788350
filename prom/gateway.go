package prom

import (
	"time"

	"github.com/keyward/keyward/gateway"
	"github.com/prometheus/client_golang/prometheus"
)

// GatewayMetrics is the Prometheus adapter for gateway.Metrics:
//
//	keyward_gateway_requests_total{api,stage,status}            status "2xx", "4xx", ...
//	keyward_gateway_request_duration_seconds{api,stage}
//	keyward_gateway_limited_total{api,stage,limit}              limit "throttle", "quota", "tokens_minute", "tokens_day", "unavailable" (limits could not be checked: 503)
//	keyward_gateway_auth_failures_total{reason}
//	keyward_gateway_tokens_total{api,stage,direction}           direction "in" (prompt) or "out" (completion)
//	keyward_gateway_key_requests_total{key_id,status}           only with key labels on
//
// Handles are resolved once per stage and key when the gateway builds its
// table, so a request only bumps counters.
type GatewayMetrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	limited   *prometheus.CounterVec
	failures  *prometheus.CounterVec
	tokens    *prometheus.CounterVec
	byKey     *prometheus.CounterVec
	keyLabels bool
}

var _ gateway.Metrics = (*GatewayMetrics)(nil)

// NewGatewayMetrics registers the gateway's metrics on m's registry.
// keyLabels adds a per-key-ID request counter; switch it off when there
// are too many keys for one series each.
func (m *Metrics) NewGatewayMetrics(keyLabels bool) *GatewayMetrics {
	g := &GatewayMetrics{
		keyLabels: keyLabels,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "keyward", Subsystem: "gateway", Name: "requests_total",
			Help: "Gateway requests by API, stage and status class.",
		}, []string{"api", "stage", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "keyward", Subsystem: "gateway", Name: "request_duration_seconds",
			Help:    "Gateway request latency, upstream included, by API and stage.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"api", "stage"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "keyward", Subsystem: "gateway", Name: "limited_total",
			Help: "Requests refused with 429 by API, stage and the limit that refused them.",
		}, []string{"api", "stage", "limit"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "keyward", Subsystem: "gateway", Name: "auth_failures_total",
			Help: "Requests refused with 403 by reason.",
		}, []string{"reason"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "keyward", Subsystem: "gateway", Name: "tokens_total",
			Help: "LLM tokens reported by upstreams, by API, stage and direction.",
		}, []string{"api", "stage", "direction"}),
		byKey: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "keyward", Subsystem: "gateway", Name: "key_requests_total",
			Help: "Gateway requests by key ID (never the key value) and status class.",
		}, []string{"key_id", "status"}),
	}
	m.reg.MustRegister(g.requests, g.duration, g.limited, g.failures, g.tokens)
	if keyLabels {
		m.reg.MustRegister(g.byKey)
	}
	return g
}

var classes = [...]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

func classIndex(status int) int {
	if status < 100 || status > 599 {
		return 0
	}
	return status / 100
}

// Stage resolves one stage's handles.
func (g *GatewayMetrics) Stage(api, stage string) gateway.StageMetrics {
	s := &stageMetrics{
		duration: g.duration.WithLabelValues(api, stage),
		tokensIn: g.tokens.WithLabelValues(api, stage, "in"), tokensOut: g.tokens.WithLabelValues(api, stage, "out"),
		limited: map[string]prometheus.Counter{},
	}
	for i, c := range classes {
		s.requests[i] = g.requests.WithLabelValues(api, stage, c)
	}
	for _, l := range []string{"throttle", "quota", "tokens_minute", "tokens_day", "unavailable"} {
		s.limited[l] = g.limited.WithLabelValues(api, stage, l)
	}
	return s
}

// Key resolves one key's handles (a no-op with key labels off).
func (g *GatewayMetrics) Key(keyID string) gateway.KeyMetrics {
	if !g.keyLabels {
		return gateway.NopMetrics{}.Key(keyID)
	}
	k := &keyMetrics{}
	for i, c := range classes {
		k.requests[i] = g.byKey.WithLabelValues(keyID, c)
	}
	return k
}

// AuthFailure counts a refusal; reason is one of the gateway's fixed words.
func (g *GatewayMetrics) AuthFailure(reason string) { g.failures.WithLabelValues(reason).Inc() }

type stageMetrics struct {
	requests            [len(classes)]prometheus.Counter
	duration            prometheus.Observer
	tokensIn, tokensOut prometheus.Counter
	limited             map[string]prometheus.Counter
}

func (s *stageMetrics) Request(status int, d time.Duration) {
	s.requests[classIndex(status)].Inc()
	s.duration.Observe(d.Seconds())
}

func (s *stageMetrics) Refused(kind string) {
	if c := s.limited[kind]; c != nil {
		c.Inc()
	}
}

func (s *stageMetrics) Tokens(in, out int64) {
	s.tokensIn.Add(float64(in))
	s.tokensOut.Add(float64(out))
}

type keyMetrics struct {
	requests [len(classes)]prometheus.Counter
}

func (k *keyMetrics) Request(status int) { k.requests[classIndex(status)].Inc() }
