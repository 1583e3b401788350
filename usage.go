package keyward

import (
	"context"
	"time"
)

// UsageDay is what one key used on one UTC day, as the gateway counted it.
type UsageDay struct {
	KeyID     string `json:"keyId"`
	Day       string `json:"day"` // YYYY-MM-DD, UTC
	Requests  int64  `json:"requests"`
	TokensIn  int64  `json:"tokensIn"`  // prompt tokens reported by the upstream
	TokensOut int64  `json:"tokensOut"` // completion tokens reported by the upstream
	// LastUsed is when the last of these requests came (the gateway sets
	// it; the store keeps the latest per key, to the minute, as
	// APIKey.LastUsedAt). Not part of the usage reports.
	LastUsed time.Time `json:"-"`
}

// DayFormat is the layout of UsageDay.Day.
const DayFormat = "2006-01-02"

// UsageService reports what keys used.
type UsageService interface {
	// GetKeyUsage returns the key's usage per UTC day for the days from
	// through to (both inclusive, times truncated to their UTC day),
	// ordered by day; days without use are left out. A zero to means
	// today, a zero from 29 days before to (30 days in all). ENOTFOUND,
	// EINVALID (to before from, or a range over 366 days), EFORBIDDEN.
	GetKeyUsage(ctx context.Context, keyID string, from, to time.Time) ([]UsageDay, error)
}

// UsageStore keeps usage counters per key and day. Rows outlive the key
// they count, for reporting.
type UsageStore interface {
	// AddUsage adds each row's counts to what is stored for its key and day.
	AddUsage(ctx context.Context, rows []UsageDay) error
	// ListUsage returns the rows of keyID with fromDay <= Day <= toDay,
	// ordered by day.
	ListUsage(ctx context.Context, keyID, fromDay, toDay string) ([]UsageDay, error)
	// ListUsageSince returns every key's rows with Day >= fromDay, ordered
	// by key ID, then day.
	ListUsageSince(ctx context.Context, fromDay string) ([]UsageDay, error)
}
