// Package keyward is the domain of keyward, a self-hosted API key management
// plane and gateway for AI services.
//
// This package holds the concepts (API keys and their credentials, APIs and
// stages, usage plans, secrets and versions, principals, policies, audit
// events), the error codes every layer speaks, and the interfaces that
// adapters implement: the Store (sqlite/, later postgres/), and the service
// interfaces implemented both by the core (core/, server side) and by the
// HTTP client (http/, used by the CLI and the Pulumi provider). It imports
// nothing of the project, so the domain can be read on its own.
package keyward

import (
	"context"
	"time"
)

// Clock tells the time. Stores and services take one so that expiry, grace
// periods, quotas and audit times are tested without sleeping.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock, in UTC.
type SystemClock struct{}

// Now returns the current time in UTC.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// Caller describes who makes an admin call and from where. The HTTP adapter
// builds it from the authenticated token and the connection; the core reads it
// to authorize and to audit.
type Caller struct {
	Principal *Principal
	TokenID   string // the admin token used, for the audit trail
	SourceIP  string // from the socket unless a trusted proxy says otherwise
	UserAgent string
	RequestID string
}

type callerKey struct{}

// WithCaller returns a context that carries c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller carried by ctx. A context without one has no
// principal, and every authorization check on it is denied.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// Page asks for one page of a list.
type Page struct {
	Limit    int    // 0 means the default (25); at most 500
	Position string // opaque, from the previous page's Next
}

// Normalized returns p with its limit clamped to 1..500 (default 25).
func (p Page) Normalized() Page {
	switch {
	case p.Limit <= 0:
		p.Limit = 25
	case p.Limit > 500:
		p.Limit = 500
	}
	return p
}
