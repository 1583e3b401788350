package gateway

import "time"

// Metrics is what the gateway reports, through handles resolved once per
// stage or key when a table is built, so that the hot path only bumps
// counters. NopMetrics is the default; package prom has the Prometheus
// adapter. Labels are API and stage names, status classes and fixed
// reason words; key IDs only when the adapter is told to, and never a key
// value.
type Metrics interface {
	Stage(api, stage string) StageMetrics
	Key(keyID string) KeyMetrics
	// AuthFailure counts a refused key by reason: missing, malformed,
	// unknown, disabled, expired, revoked, stage, route, model.
	AuthFailure(reason string)
}

// StageMetrics are one API stage's handles.
type StageMetrics interface {
	Request(status int, d time.Duration)
	Refused(kind string) // "throttle", "quota", "tokens_minute", "tokens_day", "unavailable"
	Tokens(in, out int64)
}

// KeyMetrics are one key's handles; adapters with key labels switched off
// return a no-op.
type KeyMetrics interface {
	Request(status int)
}

// NopMetrics reports nothing.
type NopMetrics struct{}

func (NopMetrics) Stage(string, string) StageMetrics { return nopStage{} }
func (NopMetrics) Key(string) KeyMetrics             { return nopKey{} }
func (NopMetrics) AuthFailure(string)                {}

type nopStage struct{}

func (nopStage) Request(int, time.Duration) {}
func (nopStage) Refused(string)             {}
func (nopStage) Tokens(int64, int64)        {}

type nopKey struct{}

func (nopKey) Request(int) {}
