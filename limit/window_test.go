package limit_test

import (
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/limit"
)

func date(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

func TestWindow(t *testing.T) {
	q := func(p keyward.QuotaPeriod, off int) limit.Counter {
		return limit.Counter{Kind: limit.Quota, Period: p, Offset: off}
	}
	wed := date(2025, 3, 5, 10, 30) // a Wednesday
	tests := []struct {
		name       string
		ct         limit.Counter
		now        time.Time
		start, end time.Time
	}{
		{"Minute", limit.Counter{Kind: limit.TokensPerMinute}, wed.Add(30500 * time.Millisecond), date(2025, 3, 5, 10, 30), date(2025, 3, 5, 10, 31)},
		{"MinuteBeforeEpoch", limit.Counter{Kind: limit.TokensPerMinute}, date(1969, 12, 31, 23, 59).Add(time.Second), date(1969, 12, 31, 23, 59), date(1970, 1, 1, 0, 0)},
		{"TokensDay", limit.Counter{Kind: limit.TokensPerDay}, wed, date(2025, 3, 5, 0, 0), date(2025, 3, 6, 0, 0)},
		{"Day", q(keyward.PeriodDay, 0), wed, date(2025, 3, 5, 0, 0), date(2025, 3, 6, 0, 0)},
		{"DayAtMidnight", q(keyward.PeriodDay, 0), date(2025, 3, 6, 0, 0), date(2025, 3, 6, 0, 0), date(2025, 3, 7, 0, 0)},
		{"DayBeforeEpoch", q(keyward.PeriodDay, 0), date(1969, 7, 20, 20, 17), date(1969, 7, 20, 0, 0), date(1969, 7, 21, 0, 0)},
		{"DayOffsetIgnored", q(keyward.PeriodDay, 5), wed, date(2025, 3, 5, 0, 0), date(2025, 3, 6, 0, 0)},
		{"WeekSunday", q(keyward.PeriodWeek, 0), wed, date(2025, 3, 2, 0, 0), date(2025, 3, 9, 0, 0)},
		{"WeekSundayOnSunday", q(keyward.PeriodWeek, 0), date(2025, 3, 9, 0, 0), date(2025, 3, 9, 0, 0), date(2025, 3, 16, 0, 0)},
		{"WeekSundayOnSaturday", q(keyward.PeriodWeek, 0), date(2025, 3, 8, 23, 59), date(2025, 3, 2, 0, 0), date(2025, 3, 9, 0, 0)},
		{"WeekMonday", q(keyward.PeriodWeek, 1), wed, date(2025, 3, 3, 0, 0), date(2025, 3, 10, 0, 0)},
		{"WeekWednesday", q(keyward.PeriodWeek, 3), wed, date(2025, 3, 5, 0, 0), date(2025, 3, 12, 0, 0)},
		{"WeekThursday", q(keyward.PeriodWeek, 4), wed, date(2025, 2, 27, 0, 0), date(2025, 3, 6, 0, 0)},
		{"WeekSaturday", q(keyward.PeriodWeek, 6), wed, date(2025, 3, 1, 0, 0), date(2025, 3, 8, 0, 0)},
		{"WeekOffset8", q(keyward.PeriodWeek, 8), wed, date(2025, 3, 3, 0, 0), date(2025, 3, 10, 0, 0)},
		{"WeekOffsetMinus1", q(keyward.PeriodWeek, -1), wed, date(2025, 3, 1, 0, 0), date(2025, 3, 8, 0, 0)},
		{"WeekAcrossYear", q(keyward.PeriodWeek, 0), date(2025, 1, 2, 0, 0), date(2024, 12, 29, 0, 0), date(2025, 1, 5, 0, 0)},
		{"WeekBeforeEpoch", q(keyward.PeriodWeek, 0), date(1969, 12, 31, 12, 0), date(1969, 12, 28, 0, 0), date(1970, 1, 4, 0, 0)},
		{"Month", q(keyward.PeriodMonth, 0), wed, date(2025, 3, 1, 0, 0), date(2025, 4, 1, 0, 0)},
		{"MonthOnFirst", q(keyward.PeriodMonth, 0), date(2025, 3, 1, 0, 0), date(2025, 3, 1, 0, 0), date(2025, 4, 1, 0, 0)},
		{"MonthLastInstant", q(keyward.PeriodMonth, 0), date(2025, 3, 1, 0, 0).Add(-1), date(2025, 2, 1, 0, 0), date(2025, 3, 1, 0, 0)},
		{"MonthOffsetStartsToday", q(keyward.PeriodMonth, 4), wed, date(2025, 3, 5, 0, 0), date(2025, 4, 5, 0, 0)},
		{"MonthOffsetStartsTomorrow", q(keyward.PeriodMonth, 5), wed, date(2025, 2, 6, 0, 0), date(2025, 3, 6, 0, 0)},
		{"MonthOffsetAcrossYear", q(keyward.PeriodMonth, 9), date(2025, 1, 3, 0, 0), date(2024, 12, 10, 0, 0), date(2025, 1, 10, 0, 0)},
		{"MonthOffset27February", q(keyward.PeriodMonth, 27), date(2025, 3, 1, 0, 0), date(2025, 2, 28, 0, 0), date(2025, 3, 28, 0, 0)},
		{"MonthOffsetClamped", q(keyward.PeriodMonth, 31), date(2024, 2, 29, 0, 0), date(2024, 2, 28, 0, 0), date(2024, 3, 28, 0, 0)},
		{"MonthOffsetNegative", q(keyward.PeriodMonth, -2), wed, date(2025, 3, 1, 0, 0), date(2025, 4, 1, 0, 0)},
		{"NonUTCInput", q(keyward.PeriodDay, 0), time.Date(2025, 3, 5, 1, 0, 0, 0, time.FixedZone("CET", 3600)), date(2025, 3, 5, 0, 0), date(2025, 3, 6, 0, 0)},
		{"NonUTCInputPreviousDay", q(keyward.PeriodDay, 0), time.Date(2025, 3, 5, 0, 30, 0, 0, time.FixedZone("CET", 3600)), date(2025, 3, 4, 0, 0), date(2025, 3, 5, 0, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start, end, ok := limit.Window(tc.ct, tc.now)
			if !ok || !start.Equal(tc.start) || !end.Equal(tc.end) || start.Location() != time.UTC {
				t.Errorf("Window(%v) = %v, %v, %v; want %v, %v", tc.now, start, end, ok, tc.start, tc.end)
			}
		})
	}
}

func TestWindowNone(t *testing.T) {
	for _, ct := range []limit.Counter{
		{Kind: limit.Throttle},
		{Kind: 0},
		{Kind: limit.Quota, Period: "YEAR"},
		{Kind: limit.Quota},
	} {
		if _, _, ok := limit.Window(ct, base); ok {
			t.Errorf("Window(%+v) ok", ct)
		}
	}
}

// TestWindowContains checks, hour by hour over four years, that every
// window contains now, starts at UTC midnight on the right day and lasts
// what its period says.
func TestWindowContains(t *testing.T) {
	for now := date(2023, 1, 1, 0, 0); now.Year() < 2027; now = now.Add(5 * time.Hour) {
		for off := range 7 {
			s, e, _ := limit.Window(limit.Counter{Kind: limit.Quota, Period: keyward.PeriodWeek, Offset: off}, now)
			if now.Before(s) || !now.Before(e) || int(s.Weekday()) != off || e.Sub(s) != 7*24*time.Hour || s.Hour() != 0 {
				t.Fatalf("week offset %d at %v: [%v, %v)", off, now, s, e)
			}
		}
		for off := range 28 {
			s, e, _ := limit.Window(limit.Counter{Kind: limit.Quota, Period: keyward.PeriodMonth, Offset: off}, now)
			if now.Before(s) || !now.Before(e) || s.Day() != off+1 || e.Day() != off+1 || !s.AddDate(0, 1, 0).Equal(e) || s.Hour() != 0 {
				t.Fatalf("month offset %d at %v: [%v, %v)", off, now, s, e)
			}
		}
	}
}
