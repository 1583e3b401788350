package limit

import (
	"time"

	"github.com/keyward/keyward"
)

const (
	minuteNs = int64(time.Minute)
	dayNs    = int64(24 * time.Hour)
)

// Window returns the calendar window [start, end) that contains now for a
// Quota, TokensPerMinute or TokensPerDay counter, in UTC. ok is false for a
// Throttle, an invalid Kind or a Quota with an unknown Period.
func Window(ct Counter, now time.Time) (start, end time.Time, ok bool) {
	s, e, ok := window(&ct, clampNow(now.UnixNano()))
	if !ok {
		return time.Time{}, time.Time{}, false
	}
	return time.Unix(0, s).UTC(), time.Unix(0, e).UTC(), true
}

// window is Window in Unix nanoseconds.
func window(ct *Counter, now int64) (start, end int64, ok bool) {
	switch ct.Kind {
	case TokensPerMinute:
		start = floorDiv(now, minuteNs) * minuteNs
		return start, start + minuteNs, true
	case TokensPerDay:
		start = floorDiv(now, dayNs) * dayNs
		return start, start + dayNs, true
	case Quota:
		switch ct.Period {
		case keyward.PeriodDay:
			start = floorDiv(now, dayNs) * dayNs
			return start, start + dayNs, true
		case keyward.PeriodWeek:
			day := floorDiv(now, dayNs) // days since 1970-01-01, a Thursday
			weekday := mod(day+4, 7)    // Sunday = 0, as time.Weekday
			first := day - mod(weekday-int64(ct.Offset), 7)
			return first * dayNs, (first + 7) * dayNs, true
		case keyward.PeriodMonth:
			first := 1 + min(max(ct.Offset, 0), 27) // day of month the window starts on
			y, m, d := time.Unix(0, now).UTC().Date()
			if d < first {
				m-- // time.Date normalises month 0 to December of y-1
			}
			s := time.Date(y, m, first, 0, 0, 0, 0, time.UTC)
			e := time.Date(y, m+1, first, 0, 0, 0, 0, time.UTC)
			return s.UnixNano(), e.UnixNano(), true
		}
	}
	return 0, 0, false
}

// floorDiv is a/b rounded towards minus infinity, for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// mod is a modulo b in [0, b), for b > 0.
func mod(a, b int64) int64 {
	r := a % b
	if r < 0 {
		r += b
	}
	return r
}
