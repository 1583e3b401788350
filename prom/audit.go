package prom

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// AuditState is what the audit gauges read at each scrape.
type AuditState struct {
	Intact      bool
	TailRecords int64
	TailSince   time.Time // zero: no tail
	Verified    int64
}

// RegisterAudit registers the audit log's gauges, read from state at each
// scrape:
//
//	keyward_audit_log_intact             1, or 0 once the log failed verification (alarm)
//	keyward_audit_tail_records           records after the last checkpoint (not yet verified)
//	keyward_audit_tail_age_seconds       age of the oldest of them (0: none)
//	keyward_audit_verified_records       records covered by the last full verification
func (m *Metrics) RegisterAudit(state func() AuditState, now func() time.Time) {
	gauge := func(name, help string, f func(AuditState) float64) prometheus.GaugeFunc {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "keyward", Subsystem: "audit", Name: name, Help: help},
			func() float64 { return f(state()) })
	}
	m.reg.MustRegister(
		gauge("log_intact", "1 while the audit log matches its witness, checkpoints and tags; 0 once it failed (admin changes are then refused).",
			func(s AuditState) float64 {
				if s.Intact {
					return 1
				}
				return 0
			}),
		gauge("tail_records", "Audit records after the last signed checkpoint: tagged, not yet covered by a signature.",
			func(s AuditState) float64 { return float64(s.TailRecords) }),
		gauge("tail_age_seconds", "Age of the oldest audit record not yet covered by a signed checkpoint (0: none).",
			func(s AuditState) float64 {
				if s.TailSince.IsZero() || s.TailRecords == 0 {
					return 0
				}
				return now().Sub(s.TailSince).Seconds()
			}),
		gauge("verified_records", "Audit records covered by a signed checkpoint at the last full verification.",
			func(s AuditState) float64 { return float64(s.Verified) }),
	)
}
