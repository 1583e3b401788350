package keyward

import "context"

// DataPlaneSnapshot is everything a gateway needs to serve requests, read
// in one consistent view of the store. Keys carry their credentials'
// digests and their PlanIDs. UpstreamSecrets holds the CURRENT value of
// every secret a stage names as its upstream credential; it never leaves
// the process.
type DataPlaneSnapshot struct {
	APIs            []*API
	Plans           []*UsagePlan
	Keys            []*APIKey
	UpstreamSecrets map[string][]byte // secret name -> CURRENT value
}

// DataPlaneSource is how a gateway reads its configuration and reports
// what keys used. It is trusted server-side code, not an admin caller: it
// bypasses policies, and the core audits the upstream secret values it
// hands out.
type DataPlaneSource interface {
	// LoadDataPlane reads the whole configuration in one consistent view
	// of the store: it hands the APIs, plans and upstream secrets (Keys
	// nil) to begin, then every key, in ID order, to the function begin
	// returned, without holding them all: a million keys stream through.
	// An error from either stops the load and is returned. The gateway
	// must not use what it built unless LoadDataPlane returns nil (an
	// upstream secret's read is audited last, and fails closed).
	LoadDataPlane(ctx context.Context, begin func(*DataPlaneSnapshot) (func(*APIKey) error, error)) error
	// DataPlaneKeys reads keys as LoadDataPlane gives them (their
	// credentials' digests, their PlanIDs), leaving out those that are
	// gone, so that a change to some keys is applied without reading all.
	DataPlaneKeys(ctx context.Context, ids []string) ([]*APIKey, error)
	// RecordUsage adds usage counted by the gateway.
	RecordUsage(ctx context.Context, rows []UsageDay) error
	// UsageSince returns every key's usage rows for the days from fromDay
	// on (inclusive), ordered by key and day, so that quota and token
	// counters survive a restart.
	UsageSince(ctx context.Context, fromDay string) ([]UsageDay, error)
	// RecordAuthFailures audits refused gateway requests, one record per
	// source and reason for each window the gateway aggregates over.
	RecordAuthFailures(ctx context.Context, counts []AuthFailureCount) error
}

// AuthFailureCount is how many gateway requests from one source were
// refused for one reason in a window.
type AuthFailureCount struct {
	SourceIP string
	Reason   string // fixed words: missing, malformed, unknown, disabled, ...
	API      string // API name, when the route was known
	Count    int64
}
