package prom

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LimitsMetrics is what a shared limiter (redislimit.Metrics) reports:
//
//	keyward_limits_redis_seconds{op}        histogram of Redis calls: charge, settle, return, forget, heartbeat
//	keyward_limits_redis_errors_total{op}   calls that failed
//	keyward_limits_mode{mode}               1 for the current mode: redis, fallback (fail open), refusing (fail closed)
type LimitsMetrics struct {
	seconds *prometheus.HistogramVec
	errors  *prometheus.CounterVec
	mode    *prometheus.GaugeVec
	mu      sync.Mutex
	current string
}

// limitsModes are the modes the gauge always shows (0 or 1).
var limitsModes = []string{"redis", "fallback", "refusing"}

// NewLimitsMetrics registers the shared limiter's metrics.
func (m *Metrics) NewLimitsMetrics() *LimitsMetrics {
	l := &LimitsMetrics{
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "keyward", Subsystem: "limits", Name: "redis_seconds",
			Help:    "Time of the limiter's calls to Redis, by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25}}, []string{"op"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "keyward", Subsystem: "limits", Name: "redis_errors_total",
			Help: "The limiter's calls to Redis that failed, by operation."}, []string{"op"}),
		mode: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "keyward", Subsystem: "limits", Name: "mode",
			Help: "1 for the limiter's current mode: redis (shared limits), fallback (Redis unreachable, failing open with a per-node share) or refusing (Redis unreachable, failing closed)."}, []string{"mode"}),
	}
	for _, op := range []string{"charge", "settle", "return", "forget", "heartbeat"} {
		l.seconds.WithLabelValues(op)
		l.errors.WithLabelValues(op)
	}
	for _, md := range limitsModes {
		l.mode.WithLabelValues(md)
	}
	m.reg.MustRegister(l.seconds, l.errors, l.mode)
	return l
}

// Call implements redislimit.Metrics.
func (l *LimitsMetrics) Call(op string, took time.Duration, err error) {
	l.seconds.WithLabelValues(op).Observe(took.Seconds())
	if err != nil {
		l.errors.WithLabelValues(op).Inc()
	}
}

// Mode implements redislimit.Metrics.
func (l *LimitsMetrics) Mode(mode string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, md := range limitsModes {
		v := 0.0
		if md == mode {
			v = 1
		}
		l.mode.WithLabelValues(md).Set(v)
	}
	l.current = mode
}
