package limit

import "math"

// Every count the limiter and the gateway keep (tokens, requests, window
// uses) is a non-negative int64 built from numbers a caller or an upstream
// chose. A plain sum of two of them can wrap negative, and a negative use or
// cost reads as 0: a wrapped sum would hand out a budget. These helpers
// saturate instead.

// AddSat returns a+b, reading a negative a or b as 0 and saturating at
// math.MaxInt64: never negative, never wrapped.
func AddSat(a, b int64) int64 {
	a, b = max(a, 0), max(b, 0)
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// subSat returns a-b clamped to the int64 range.
func subSat(a, b int64) int64 {
	d := a - b
	// Overflow happened iff the operands have different signs and the
	// result's sign differs from a's.
	if (a >= 0) != (b >= 0) && (d >= 0) != (a >= 0) {
		if a >= 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return d
}

// maxNow bounds the Unix nanosecond times the limiter computes with: far
// enough from the int64 range's ends that a window's end (at most about a
// month after its start) and the differences between two such times fit.
// time.Time.UnixNano is undefined past these years (1678 and 2262) anyway.
const maxNow = math.MaxInt64 - 64*dayNs

// clampNow bounds t to [-maxNow, maxNow].
func clampNow(t int64) int64 { return min(max(t, -maxNow), maxNow) }
