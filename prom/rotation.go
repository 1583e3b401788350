package prom

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// KeyDeadline is what the rotation gauges count down to for one key; a
// zero time means the key has no such deadline and the gauge is left out.
type KeyDeadline struct {
	KeyID         string
	ExpiresAt     time.Time
	PreviousUntil time.Time
	NextRotation  time.Time
}

// RotationMetrics holds the rotation and webhook metrics:
//
//	keyward_rotations_total{kind,outcome,trigger}
//	keyward_key_expiry_seconds{key_id}             seconds until the key expires
//	keyward_key_previous_grace_seconds{key_id}     seconds until its PREVIOUS value stops working
//	keyward_key_next_rotation_seconds{key_id}      seconds until its next scheduled rotation (negative: overdue)
//	keyward_webhook_attempts_total{event,result}
//
// The gauges are labelled by key ID, never by a value; they are computed at
// scrape time from deadlines, so they count down between scheduler passes.
type RotationMetrics struct {
	rotations *prometheus.CounterVec
	attempts  *prometheus.CounterVec
}

// NewRotationMetrics registers the rotation metrics; deadlines is called
// at each scrape.
func (m *Metrics) NewRotationMetrics(deadlines func() []KeyDeadline, now func() time.Time) *RotationMetrics {
	r := &RotationMetrics{
		rotations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "keyward", Name: "rotations_total",
			Help: "Finished rotations by kind (apikey, secret), outcome (SUCCEEDED, FAILED, ROLLED_BACK, CANCELLED) and trigger.",
		}, []string{"kind", "outcome", "trigger"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "keyward", Subsystem: "webhook", Name: "attempts_total",
			Help: "Webhook delivery attempts by event type and result (ok, error).",
		}, []string{"event", "result"}),
	}
	m.reg.MustRegister(r.rotations, r.attempts, &deadlineCollector{deadlines: deadlines, now: now})
	return r
}

// Rotation counts a finished rotation.
func (r *RotationMetrics) Rotation(kind, outcome, trigger string) {
	r.rotations.WithLabelValues(kind, outcome, trigger).Inc()
}

// WebhookAttempt counts a delivery attempt.
func (r *RotationMetrics) WebhookAttempt(event string, ok bool) {
	result := "error"
	if ok {
		result = "ok"
	}
	r.attempts.WithLabelValues(event, result).Inc()
}

var (
	expiryDesc = prometheus.NewDesc("keyward_key_expiry_seconds",
		"Seconds until the key expires.", []string{"key_id"}, nil)
	graceDesc = prometheus.NewDesc("keyward_key_previous_grace_seconds",
		"Seconds until the key's PREVIOUS value stops working.", []string{"key_id"}, nil)
	nextDesc = prometheus.NewDesc("keyward_key_next_rotation_seconds",
		"Seconds until the key's next scheduled rotation; negative when overdue.", []string{"key_id"}, nil)
)

type deadlineCollector struct {
	deadlines func() []KeyDeadline
	now       func() time.Time
}

func (c *deadlineCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- expiryDesc
	ch <- graceDesc
	ch <- nextDesc
}

func (c *deadlineCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	emit := func(d *prometheus.Desc, t time.Time, keyID string) {
		if !t.IsZero() {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, t.Sub(now).Seconds(), keyID)
		}
	}
	for _, d := range c.deadlines() {
		emit(expiryDesc, d.ExpiresAt, d.KeyID)
		emit(graceDesc, d.PreviousUntil, d.KeyID)
		emit(nextDesc, d.NextRotation, d.KeyID)
	}
}
